//! The editorial side of press roundups and their links: add, retitle or
//! change, delete, and reorder. Each request is one transaction that locks
//! the article first; each also moves the article's `updated_at`.

use actix_web::{delete, patch, post, put};

use super::commands::{LinkPatch, NewLink, NewRoundup, RoundupPatch};
use super::views::{ListedLink, Roundup};
use crate::articles::queries::ArticleRow;
use crate::articles::views::Article;
use crate::body::JsonBody;
use crate::db::DbPool;
use crate::editing::{self, operations::positioned_operations, Kind, Locked};
use crate::error::{responses, AppError};
use crate::idempotency::IdempotencyKey;
use crate::keys::{Authorized, Editor};
use crate::params::{ArticleSlug, ResourceId};

positioned_operations! {
    tag: "roundups",
    view: Roundup,

    /// Add a roundup
    ///
    /// A new press roundup in the article (a draft, scheduled or published),
    /// with its `title` and optionally its `links`, each as in an article
    /// created with roundups; outlets are named by slug and must exist.
    /// `position` (from 1) puts it there and moves those at and after it down
    /// one; without it the roundup goes last. Send an `Idempotency-Key` to make
    /// retries safe: a repeat returns the first response and adds nothing.
    add create_roundup: POST "/v1/articles/{slug}/roundups", under ArticleSlug,
        body NewRoundup "The roundup with its links, and optionally where it goes",
        located "The new roundup's URL";

    /// Retitle a roundup
    ///
    /// A JSON merge patch (RFC 7396) of the roundup's `title`; its links have
    /// endpoints of their own. Send `If-Match` with the ETag you edited, so that
    /// a concurrent change is refused (412) instead of overwritten.
    change update_roundup: PATCH "/v1/roundups/{id}",
        body RoundupPatch "A JSON merge patch of the roundup's title",
        answers "The updated roundup", EditErrors;

    /// Delete a roundup
    ///
    /// Deletes the roundup with its links; the roundups after it move up one
    /// place. Honors `If-Match`.
    delete delete_roundup: DELETE "/v1/roundups/{id}";

    /// Reorder an article's roundups
    ///
    /// Puts the article's roundups in the order of `ids`, which must list each
    /// of them exactly once. Answers with the article. `If-Match` is checked
    /// against the article's ETag.
    reorder order_roundups: PUT "/v1/articles/{slug}/roundups/order", under ArticleSlug,
        locking ArticleRow, Kind::Roundup,
        body "Every roundup id of the article, in the new order",
        answers Article "The article, its roundups in the new order",
        "Strong entity tag of the article's new representation";
}

positioned_operations! {
    tag: "roundups",
    view: ListedLink,

    /// Add a press link
    ///
    /// A new link in the roundup: `headline`, `outlet` (a slug, which must
    /// exist) and `url`. `position` (from 1) puts it there and moves those at
    /// and after it down one; without it the link goes last. Send an
    /// `Idempotency-Key` to make retries safe: a repeat returns the first
    /// response and adds nothing.
    add create_link: POST "/v1/roundups/{id}/links", under ResourceId,
        body NewLink "The link, and optionally where it goes",
        located "The new link's URL";

    /// Update a press link
    ///
    /// A JSON merge patch (RFC 7396) of the link's `headline`, `outlet` (a
    /// slug) and `url`, checked as a new link would be. Send `If-Match` with
    /// the ETag you edited, so that a concurrent change is refused (412)
    /// instead of overwritten.
    change update_link: PATCH "/v1/roundup-links/{id}",
        body LinkPatch "A JSON merge patch of the link's members",
        answers "The updated link", PatchErrors;

    /// Delete a press link
    ///
    /// Deletes the link; those after it in its roundup move up one place.
    /// Honors `If-Match`.
    delete delete_link: DELETE "/v1/roundup-links/{id}";

    /// Reorder a roundup's links
    ///
    /// Puts the roundup's links in the order of `ids`, which must list each of
    /// them exactly once. Answers with the roundup. `If-Match` is checked
    /// against the roundup's ETag.
    reorder order_links: PUT "/v1/roundups/{id}/links/order", under ResourceId,
        locking Locked<Roundup>, Kind::Link,
        body "Every link id of the roundup, in the new order",
        answers Roundup "The roundup, its links in the new order",
        "Strong entity tag of the roundup's new representation";
}
