//! The editorial side of excerpts: add one to an article, change it, delete
//! it, and put an article's excerpts in order. Each request is one
//! transaction that locks the article first; each also moves the article's
//! `updated_at`.

use actix_web::{delete, patch, post, put};

use super::commands::{ExcerptPatch, NewExcerpt};
use super::views::Excerpt;
use crate::articles::queries::ArticleRow;
use crate::articles::views::Article;
use crate::body::JsonBody;
use crate::db::DbPool;
use crate::editing::{self, operations::positioned_operations, Kind};
use crate::error::{responses, AppError};
use crate::idempotency::IdempotencyKey;
use crate::keys::{Authorized, Editor};
use crate::params::{ArticleSlug, ResourceId};

positioned_operations! {
    tag: "excerpts",
    view: Excerpt,

    /// Add an excerpt
    ///
    /// A new excerpt quoted by the article (a draft, scheduled or published),
    /// with the members an excerpt has when an article is created with it; its
    /// outlet is named by slug and must exist. `position` (from 1) puts it
    /// there and moves those at and after it down one; without it the excerpt
    /// goes last. Send an `Idempotency-Key` to make retries safe: a repeat
    /// returns the first response and adds nothing.
    add create_excerpt: POST "/v1/articles/{slug}/excerpts", under ArticleSlug,
        body NewExcerpt "The excerpt, and optionally where it goes",
        located "The new excerpt's URL";

    /// Update an excerpt
    ///
    /// A JSON merge patch (RFC 7396) of the excerpt's members: `headline`,
    /// `bylines`, `outlet` (a slug), `source_published_on`, `source_url`,
    /// `call_to_action`, `body_markdown`. `null` removes `source_published_on`
    /// or `call_to_action`. The result is checked as a new excerpt would be.
    /// Send `If-Match` with the ETag you edited, so that a concurrent change is
    /// refused (412) instead of overwritten.
    change update_excerpt: PATCH "/v1/excerpts/{id}",
        body ExcerptPatch "A JSON merge patch of the excerpt's members",
        answers "The updated excerpt", PatchErrors;

    /// Delete an excerpt
    ///
    /// Deletes the excerpt; those after it move up one place. Honors `If-Match`.
    delete delete_excerpt: DELETE "/v1/excerpts/{id}";

    /// Reorder an article's excerpts
    ///
    /// Puts the article's excerpts in the order of `ids`, which must list each
    /// of them exactly once. Answers with the article. `If-Match` is checked
    /// against the article's ETag.
    reorder order_excerpts: PUT "/v1/articles/{slug}/excerpts/order", under ArticleSlug,
        locking ArticleRow, Kind::Excerpt,
        body "Every excerpt id of the article, in the new order",
        answers Article "The article, its excerpts in the new order",
        "Strong entity tag of the article's new representation";
}
