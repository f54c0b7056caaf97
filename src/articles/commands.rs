//! What editors may ask of articles, as typed commands: `NewArticle` (with
//! its excerpts and roundups) and `ArticlePatch`, parsed from JSON bodies.
//! Every problem in a body is reported at once (422), before anything is
//! written. The limits live once, in `crate::validate`: the checks apply
//! them, the `#[schema]` attributes publish them, and the tests below hold
//! the two equal (attributes take literals only, so the constants cannot be
//! written into them; a test per type is what keeps them from drifting).

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{AppError, InvalidInput};
use crate::excerpts::commands::ExcerptMembers;
use crate::outlets::commands::check_outlets;
use crate::roundups::commands::{RoundupMembers, ROUNDUP_FIELDS};
use crate::validate::{self, Problems, SHORT_SLUG_MAX, SUMMARY_MAX, TITLE_MAX};
use crate::visibility::PUBLISHED;

pub const STATUSES: [&str; 2] = ["draft", "published"];

/// Whether an article is visible: a draft never is, a published article
/// from its `published_at` on.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Draft,
    Published,
}

/// A new article, with the excerpts and roundups it comes with.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewArticle {
    /// Its name in URLs: lowercase letters and digits separated by single
    /// hyphens, at most 200 characters, unused by other articles.
    #[schema(min_length = 1, max_length = 200, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: String,
    /// Headline of the post.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub title: String,
    /// A short standfirst.
    #[schema(max_length = 2000, pattern = "^[^\\u0000]*$")]
    pub summary: Option<String>,
    /// The editor's commentary, as Markdown (bounded in size and nesting).
    #[serde(default)]
    #[schema(nullable, pattern = "^[^\\u0000]*$")]
    pub body_markdown: String,
    /// `draft` (the default) or `published`.
    #[serde(default = "draft")]
    #[schema(value_type = Option<Status>, default = "draft")]
    pub status: String,
    /// When it was or will be published, in the years 1 to 9999 (UTC); a
    /// future date schedules it, and publishing without one publishes now.
    pub published_at: Option<DateTime<Utc>>,
    /// Tag slugs, each at most 100 characters; unknown tags are created.
    #[serde(default)]
    #[schema(schema_with = nullable_tag_slugs)]
    pub tags: Vec<String>,
    /// Quoted source articles, in reading order.
    #[serde(default)]
    #[schema(nullable)]
    pub excerpts: Vec<ExcerptMembers>,
    /// Press roundups, in reading order.
    #[serde(default)]
    #[schema(nullable)]
    pub roundups: Vec<RoundupMembers>,
}

fn draft() -> String {
    "draft".into()
}

fn tag_slugs() -> utoipa::openapi::schema::Array {
    validate::text_list(
        SHORT_SLUG_MAX,
        Some(validate::SLUG_PATTERN),
        "Tag slugs, each at most 100 characters; unknown tags are created.",
    )
}

fn nullable_tag_slugs() -> utoipa::openapi::schema::Array {
    validate::or_null(tag_slugs())
}

/// A new article with its excerpts and roundups, checked against the stored outlets.
pub async fn parse_new_article(
    conn: &mut AsyncPgConnection,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<NewArticle, AppError> {
    let mut problems = Problems::new();
    let mut outlets = Vec::new();
    let mut status = None;
    let mut published_at = None;
    // A new article may bring its excerpts and roundups; updates may not.
    let known: Vec<&str> = OWN_FIELDS
        .iter()
        .chain(&["excerpts", "roundups"])
        .copied()
        .collect();
    // Checked in a copy that the checks leave in the form to store (links).
    let mut document = body.clone();
    if let Some(mut fields) = problems.object(&mut document, &known) {
        fields.slug("slug", true);
        fields.text("title", true, true, TITLE_MAX);
        fields.text("summary", false, false, SUMMARY_MAX);
        fields.markdown("body_markdown", false, false);
        status = fields.choice("status", false, &STATUSES);
        published_at = fields.timestamp("published_at");
        fields.strings("tags", SHORT_SLUG_MAX, true);
        fields.objects(
            "excerpts",
            &crate::excerpts::commands::FIELDS,
            |mut excerpt| ExcerptMembers::check(&mut excerpt, &mut outlets),
        );
        fields.objects("roundups", &ROUNDUP_FIELDS, |mut roundup| {
            RoundupMembers::check(&mut roundup, &mut outlets)
        });
    }
    check_outlets(conn, &outlets, &mut problems).await?;
    problems.finish()?;

    drop_nulls(&mut document);
    let status = status.unwrap_or_else(|| "draft".into());
    // Publishing without a date means publishing now.
    if status == PUBLISHED && published_at.is_none() {
        document["published_at"] = Value::String(now.to_rfc3339());
    }
    document["status"] = Value::String(status);
    serde_json::from_value(document)
        .map_err(|e| AppError::Unprocessable(vec![InvalidInput::field("", e.to_string())]))
}

/// Removes `null` members at every depth: on creation, `null` means absent.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(members) => {
            members.retain(|_, member| !member.is_null());
            members.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// A JSON merge patch (RFC 7396) of an article's own fields: each member
/// given replaces the stored one; `null` removes `summary` or
/// `published_at`, and no other. Excerpts and roundups have endpoints of
/// their own, so their ids stay stable.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticlePatch {
    /// A new slug; the old one then redirects here.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = "^[a-z0-9]+(-[a-z0-9]+)*$"
    )]
    pub slug: Option<String>,
    /// Headline of the post.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub title: Option<String>,
    /// A short standfirst; `null` removes it.
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(max_length = 2000, pattern = "^[^\\u0000]*$")]
    pub summary: Option<Option<String>>,
    /// The editor's commentary, as Markdown.
    #[schema(nullable = false, pattern = "^[^\\u0000]*$")]
    pub body_markdown: Option<String>,
    /// `draft` or `published`.
    #[schema(nullable = false, value_type = Option<Status>)]
    pub status: Option<String>,
    /// When it was or will be published; `null` removes it (a published
    /// article is then published now).
    #[serde(default, deserialize_with = "validate::present")]
    pub published_at: Option<Option<DateTime<Utc>>>,
    /// Its tag slugs, all of them.
    #[schema(nullable = false, schema_with = tag_slugs)]
    pub tags: Option<Vec<String>>,
}

/// The article's own fields, which a merge patch may change.
pub const OWN_FIELDS: [&str; 7] = [
    "slug",
    "title",
    "summary",
    "body_markdown",
    "status",
    "published_at",
    "tags",
];

impl ArticlePatch {
    /// True when the patch changes nothing at all.
    pub fn is_empty(&self) -> bool {
        self.slug.is_none()
            && self.title.is_none()
            && self.summary.is_none()
            && self.body_markdown.is_none()
            && self.status.is_none()
            && self.published_at.is_none()
            && self.tags.is_none()
    }

    pub fn parse(body: &Value) -> Result<Self, AppError> {
        let mut problems = Problems::new();
        let mut patch = Self::default();
        let mut document = body.clone();
        if let Some(mut fields) = problems.object(&mut document, &OWN_FIELDS) {
            let nulled = |name: &str| body.get(name).is_some_and(Value::is_null);
            for required in ["slug", "title", "body_markdown", "status", "tags"] {
                if nulled(required) {
                    fields.problem(required, "cannot be removed");
                }
            }
            patch.slug = fields.slug("slug", false);
            patch.title = fields.text("title", false, true, TITLE_MAX);
            patch.summary = if nulled("summary") {
                Some(None)
            } else {
                fields.text("summary", false, false, SUMMARY_MAX).map(Some)
            };
            patch.body_markdown = fields.markdown("body_markdown", false, false);
            patch.status = fields.choice("status", false, &STATUSES);
            patch.published_at = if nulled("published_at") {
                Some(None)
            } else {
                fields.timestamp("published_at").map(Some)
            };
            patch.tags = fields.strings("tags", SHORT_SLUG_MAX, true);
        }
        problems.finish()?;
        Ok(patch)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validate::{schema_json, NOT_BLANK_PATTERN, NO_NUL_PATTERN, SLUG_MAX, SLUG_PATTERN};

    #[test]
    fn the_published_limits_are_the_checked_ones() {
        for schema in [schema_json::<NewArticle>(), schema_json::<ArticlePatch>()] {
            let member = |name: &str| schema["properties"][name].clone();
            assert_eq!(member("slug")["maxLength"], json!(SLUG_MAX));
            assert_eq!(member("slug")["pattern"], json!(SLUG_PATTERN));
            assert_eq!(member("title")["maxLength"], json!(TITLE_MAX));
            assert_eq!(member("title")["pattern"], json!(NOT_BLANK_PATTERN));
            assert_eq!(member("summary")["pattern"], json!(NO_NUL_PATTERN));
            assert_eq!(member("body_markdown")["pattern"], json!(NO_NUL_PATTERN));
            assert_eq!(member("summary")["maxLength"], json!(SUMMARY_MAX));
            assert_eq!(member("tags")["items"]["maxLength"], json!(SHORT_SLUG_MAX));
            assert_eq!(member("tags")["items"]["pattern"], json!(SLUG_PATTERN));
            assert_eq!(schema["additionalProperties"], json!(false));
        }
        assert_eq!(
            schema_json::<NewArticle>()["required"],
            json!(["slug", "title"])
        );
        assert_eq!(
            serde_json::to_value(<Status as utoipa::PartialSchema>::schema()).unwrap()["enum"],
            json!(STATUSES)
        );
    }
}
