//! Articles on the wire: the list item, the whole post, and the reference
//! that excerpts and links carry back to their article.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::queries::{ArticleRefRow, ArticleRow, ArticleSummaryRow};
use crate::excerpts::views::Excerpt;
use crate::roundups::views::Roundup;
use crate::tags::views::TagRef;
use crate::visibility::effective_status;

/// An article's URL in the API.
pub fn api_url(slug: &str) -> String {
    format!("/v1/articles/{slug}")
}

/// Which article an excerpt, roundup or link belongs to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ArticleRef {
    #[schema(example = "secretary-clintons-message-to-pakistan")]
    pub slug: String,
    #[schema(
        example = "Secretary Clinton's Message to Pakistan: Help us Negotiate with Taliban and Haqqani Group"
    )]
    pub title: String,
    /// The whole article in the API.
    #[schema(example = "/v1/articles/secretary-clintons-message-to-pakistan")]
    pub url: String,
}

impl From<ArticleRefRow> for ArticleRef {
    fn from(row: ArticleRefRow) -> Self {
        Self {
            url: api_url(&row.slug),
            slug: row.slug,
            title: row.title,
        }
    }
}

/// An article in a list: everything but the bodies.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ArticleSummary {
    #[schema(example = "secretary-clintons-message-to-pakistan")]
    pub slug: String,
    #[schema(
        example = "Secretary Clinton's Message to Pakistan: Help us Negotiate with Taliban and Haqqani Group"
    )]
    pub title: String,
    /// A short standfirst, when the editor wrote one.
    pub summary: Option<String>,
    /// `published`; editors also see `draft` and `scheduled` (published, with a future date).
    #[schema(example = "published")]
    pub status: &'static str,
    /// When the article was (or will be) published; null for drafts.
    pub published_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub tags: Vec<TagRef>,
    /// The whole article in the API.
    #[schema(example = "/v1/articles/secretary-clintons-message-to-pakistan")]
    pub url: String,
    /// Quoted passages, in order, as in the single article; present only
    /// when the list was asked for them (`include=excerpts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub excerpts: Option<Vec<Excerpt>>,
    /// Press roundups, in order, each with its links, as in the single
    /// article; present only when the list was asked for them (`include=roundups`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub roundups: Option<Vec<Roundup>>,
}

impl ArticleSummary {
    pub fn new(row: ArticleSummaryRow, tags: Vec<TagRef>, now: DateTime<Utc>) -> Self {
        Self {
            url: api_url(&row.slug),
            status: effective_status(&row.status, row.published_at, now),
            slug: row.slug,
            title: row.title,
            summary: row.summary,
            published_at: row.published_at,
            updated_at: row.updated_at,
            tags,
            excerpts: None,
            roundups: None,
        }
    }
}

/// A whole post: the editor's commentary with its excerpts and press roundups.
#[derive(Debug, Serialize, ToSchema)]
pub struct Article {
    #[schema(example = "secretary-clintons-message-to-pakistan")]
    pub slug: String,
    #[schema(
        example = "Secretary Clinton's Message to Pakistan: Help us Negotiate with Taliban and Haqqani Group"
    )]
    pub title: String,
    /// A short standfirst, when the editor wrote one.
    pub summary: Option<String>,
    /// The editor's commentary in Markdown.
    pub body_markdown: String,
    /// The commentary rendered to sanitized HTML, once, when it was written.
    pub body_html: String,
    /// `published`; editors also see `draft` and `scheduled` (published, with a future date).
    #[schema(example = "published")]
    pub status: &'static str,
    /// When the article was (or will be) published; null for drafts.
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub tags: Vec<TagRef>,
    /// Quoted passages, in order.
    pub excerpts: Vec<Excerpt>,
    /// Press roundups, in order, each with its links.
    pub roundups: Vec<Roundup>,
    /// This article in the API.
    #[schema(example = "/v1/articles/secretary-clintons-message-to-pakistan")]
    pub url: String,
}

impl Article {
    pub fn new(
        row: ArticleRow,
        tags: Vec<TagRef>,
        excerpts: Vec<Excerpt>,
        roundups: Vec<Roundup>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            url: api_url(&row.slug),
            status: effective_status(&row.status, row.published_at, now),
            body_html: row.body_html,
            body_markdown: row.body,
            slug: row.slug,
            title: row.title,
            summary: row.summary,
            published_at: row.published_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            tags,
            excerpts,
            roundups,
        }
    }
}
