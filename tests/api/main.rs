//! Integration tests: the real server on a random port, a real database per test.

#![allow(clippy::unwrap_used)]

mod helpers;

mod article_writes;
mod articles;
mod bodies;
mod citation_writes;
mod cluster;
mod demo;
mod errors;
mod excerpts;
mod headers;
mod health;
mod keys_cli;
mod migrations;
mod openapi;
mod outlets;
mod popularity;
mod rankings;
mod roundups;
mod tags;
mod transfer;
mod views;
