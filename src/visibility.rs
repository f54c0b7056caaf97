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
