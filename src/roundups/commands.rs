//! What editors may ask of roundups and their links. Links are checked
//! exactly as in an article created with roundups
//! (`articles::commands::check_link`).

use serde_json::{json, Value};

use super::views::{ListedLink, Roundup};
use crate::articles::commands::check_link;
use crate::error::AppError;
use crate::site::SiteLink;
use crate::validate::Fields;

const TITLE_MAX: usize = 500;

/// The members of a new roundup (a create may also give `position`).
pub const ROUNDUP_FIELDS: [&str; 2] = ["title", "links"];
/// What a patch of a roundup may change: its links have their own endpoints.
pub const ROUNDUP_PATCH_FIELDS: [&str; 1] = ["title"];
/// The members of a press link (a create may also give `position`).
pub const LINK_FIELDS: [&str; 3] = ["headline", "outlet", "url"];

/// Checks a roundup's title and the links it comes with.
pub fn check_roundup(fields: &mut Fields<'_>, outlets: &mut Vec<(String, String)>) {
    fields.text("title", true, true, TITLE_MAX);
    fields.objects("links", &LINK_FIELDS, |mut link| {
        check_link(&mut link, outlets)
    });
}

/// The roundup's own members, for a merge patch to apply to.
pub fn roundup_document(roundup: &Roundup) -> Value {
    json!({"title": roundup.title})
}

/// The link as a create body would give it, for a merge patch to apply to.
pub fn link_document(link: &ListedLink) -> Result<Value, AppError> {
    serde_json::to_value(SiteLink {
        headline: link.link.headline.clone(),
        outlet: link.link.outlet.slug.clone(),
        url: link.link.url.clone(),
    })
    .map_err(AppError::internal)
}
