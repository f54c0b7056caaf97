//! What editors may ask of an excerpt. Its members are checked exactly as in
//! an article created with excerpts (`articles::commands::check_excerpt`).

use serde_json::Value;

use super::views::Excerpt;
use crate::error::AppError;
use crate::site::SiteExcerpt;

/// The members of an excerpt in a body (a create may also give `position`).
pub const FIELDS: [&str; 7] = [
    "headline",
    "bylines",
    "outlet",
    "source_published_on",
    "source_url",
    "call_to_action",
    "body_markdown",
];

/// The excerpt as a create body would give it, for a merge patch to apply to.
pub fn document(excerpt: &Excerpt) -> Result<Value, AppError> {
    serde_json::to_value(SiteExcerpt {
        headline: excerpt.headline.clone(),
        bylines: excerpt.bylines.clone(),
        outlet: excerpt.outlet.slug.clone(),
        source_published_on: excerpt.source_published_on,
        source_url: excerpt.source_url.clone(),
        call_to_action: excerpt.call_to_action.clone(),
        body_markdown: excerpt.body_markdown.clone(),
    })
    .map_err(AppError::internal)
}
