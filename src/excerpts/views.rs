//! Excerpts on the wire.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::queries::ExcerptRecord;
use crate::articles::views::ArticleRef;
use crate::outlets::views::OutletRef;

/// A passage quoted from a source article, with its attribution.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Excerpt {
    #[schema(example = 1)]
    pub id: i64,
    /// Order within the quoting article, from 1.
    #[schema(example = 1)]
    pub position: i32,
    /// The source article's headline.
    #[schema(example = "Clinton Pressing Pakistan for Joint Covert Action on Islamic Insurgents")]
    pub headline: String,
    /// The source article's authors, as credited.
    #[schema(example = json!(["Indira A.R. Lakshmanan"]))]
    pub bylines: Vec<String>,
    /// The outlet that published the source article.
    pub outlet: OutletRef,
    /// When the source article was published.
    #[schema(example = "2011-10-24")]
    pub source_published_on: Option<NaiveDate>,
    /// The complete source article.
    #[schema(example = "https://www.bloomberg.com/")]
    pub source_url: String,
    /// The words that lead to the complete article.
    #[schema(example = "For complete article, click here")]
    pub call_to_action: Option<String>,
    /// The quoted passage in Markdown, sub-headings included.
    pub body_markdown: String,
    /// The quoted passage rendered to sanitized HTML, once, when it was written.
    pub body_html: String,
    /// The article that quotes this excerpt.
    pub article: ArticleRef,
}

impl From<ExcerptRecord> for Excerpt {
    fn from((row, outlet, article): ExcerptRecord) -> Self {
        Self {
            id: row.id,
            position: row.position,
            headline: row.headline,
            bylines: row.bylines,
            outlet: outlet.into(),
            source_published_on: row.source_published_on,
            source_url: row.source_url,
            call_to_action: row.call_to_action,
            body_html: row.body_html,
            body_markdown: row.body,
            article: article.into(),
        }
    }
}
