//! What the public may see: published articles whose publication time has
//! come. Every public query filters through here, so a draft or a scheduled
//! post cannot leak through one endpoint that forgot the rule.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::schema::articles;

pub const PUBLISHED: &str = "published";

/// True for articles a reader may see at `now`.
#[diesel::dsl::auto_type]
pub fn is_public(now: DateTime<Utc>) -> _ {
    let published: &'static str = PUBLISHED;
    articles::status
        .eq(published)
        .and(articles::published_at.le(now))
}

/// Who is looking: the public sees published articles whose time has come;
/// an editor (any valid key) also sees drafts and scheduled posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Public(DateTime<Utc>),
    Editor,
}

impl Viewer {
    /// The time public visibility is judged at, when it applies.
    pub fn public_at(self) -> Option<DateTime<Utc>> {
        match self {
            Self::Public(now) => Some(now),
            Self::Editor => None,
        }
    }
}

/// What an article's status means to a reader: `scheduled` is a published
/// article whose time has not come yet.
pub fn effective_status(
    status: &str,
    published_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> &'static str {
    match (status, published_at) {
        (PUBLISHED, Some(at)) if at > now => "scheduled",
        (PUBLISHED, _) => "published",
        _ => "draft",
    }
}
