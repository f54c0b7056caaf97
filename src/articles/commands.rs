//! What editors may ask of articles, parsed from JSON bodies. Every problem
//! in a body is reported at once (422), before anything is written.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde_json::Value;

use crate::error::{AppError, InvalidInput};
use crate::site::SiteArticle;
use crate::validate::{Fields, Problems};
use crate::visibility::PUBLISHED;

pub const STATUSES: [&str; 2] = ["draft", "published"];
const TITLE_MAX: usize = 500;
const SUMMARY_MAX: usize = 2000;

const ROUNDUP_FIELDS: [&str; 2] = ["title", "links"];

/// Checks the members an excerpt has, as on creation.
pub fn check_excerpt(fields: &mut Fields<'_>, outlets: &mut Vec<(String, String)>) {
    fields.text("headline", true, true, TITLE_MAX);
    fields.strings("bylines", 200, false);
    if let Some(outlet) = fields.slug("outlet", true) {
        outlets.push((fields.pointer_of("outlet"), outlet));
    }
    fields.date("source_published_on");
    fields.url("source_url", true);
    fields.text("call_to_action", false, true, 200);
    fields.markdown("body_markdown", true, true);
}

/// Checks the members a press link has, as on creation.
pub fn check_link(fields: &mut Fields<'_>, outlets: &mut Vec<(String, String)>) {
    fields.text("headline", true, true, TITLE_MAX);
    if let Some(outlet) = fields.slug("outlet", true) {
        outlets.push((fields.pointer_of("outlet"), outlet));
    }
    fields.url("url", true);
}

/// Refuses outlet slugs that name no outlet, each at its pointer.
pub async fn check_outlets(
    conn: &mut AsyncPgConnection,
    cited: &[(String, String)],
    problems: &mut Problems,
) -> Result<(), AppError> {
    if cited.is_empty() {
        return Ok(());
    }
    let known = crate::site::outlet_ids(conn).await?;
    for (pointer, slug) in cited {
        if !known.contains_key(slug) {
            problems.0.push(InvalidInput::field(
                pointer.clone(),
                format!("names no outlet: `{slug}`"),
            ));
        }
    }
    Ok(())
}

/// A new article with its excerpts and roundups, checked against the stored outlets.
pub async fn parse_new_article(
    conn: &mut AsyncPgConnection,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<SiteArticle, AppError> {
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
        fields.strings("tags", 100, true);
        fields.objects(
            "excerpts",
            &crate::excerpts::commands::FIELDS,
            |mut excerpt| check_excerpt(&mut excerpt, &mut outlets),
        );
        fields.objects("roundups", &ROUNDUP_FIELDS, |mut roundup| {
            roundup.text("title", true, true, TITLE_MAX);
            roundup.objects(
                "links",
                &crate::roundups::commands::LINK_FIELDS,
                |mut link| check_link(&mut link, &mut outlets),
            );
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

/// A JSON merge patch (RFC 7396) of an article's own fields. Excerpts and
/// roundups have endpoints of their own, so their ids stay stable.
#[derive(Debug, Default, Clone)]
pub struct ArticlePatch {
    pub slug: Option<String>,
    pub title: Option<String>,
    pub summary: Option<Option<String>>,
    pub body_markdown: Option<String>,
    pub status: Option<String>,
    pub published_at: Option<Option<DateTime<Utc>>>,
    pub tags: Option<Vec<String>>,
}

/// The article's own fields, which a merge patch may change.
const OWN_FIELDS: [&str; 7] = [
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
            patch.tags = fields.strings("tags", 100, true);
        }
        problems.finish()?;
        Ok(patch)
    }
}
