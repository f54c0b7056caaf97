//! Integration tests: the real server on a random port, a real database per test.

#![allow(clippy::unwrap_used)]

mod helpers;

mod article_writes;
mod articles;
mod authorization;
mod bench_generator;
mod bodies;
mod cache;
mod caching;
mod changes;
mod citation_writes;
mod cli;
mod cluster;
mod demo;
mod edge;
mod errors;
mod excerpts;
mod faults;
mod feeds;
mod fields;
mod headers;
mod health;
mod keys_cli;
mod migrations;
mod openapi;
mod outlets;
mod popularity;
mod rankings;
mod rendering;
mod replicas;
mod roundups;
mod rules;
mod search;
mod storms;
mod tags;
mod tls;
mod transfer;
mod validation;
mod views;
mod webhooks;
