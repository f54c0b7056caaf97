//! Tags on the wire.

use serde::Serialize;
use utoipa::ToSchema;

use super::queries::TagRow;

/// A label on an article.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TagRef {
    #[schema(example = "pakistan")]
    pub slug: String,
    #[schema(example = "Pakistan")]
    pub name: String,
}

impl From<TagRow> for TagRef {
    fn from(row: TagRow) -> Self {
        Self {
            slug: row.slug,
            name: row.name,
        }
    }
}

/// A tag with the number of published articles that carry it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tag {
    #[schema(example = "pakistan")]
    pub slug: String,
    #[schema(example = "Pakistan")]
    pub name: String,
    /// Published articles with this tag.
    #[schema(example = 4)]
    pub article_count: i64,
    /// The tag's articles in the API.
    #[schema(example = "/v1/articles?tag=pakistan")]
    pub articles_url: String,
}

impl From<(TagRow, i64)> for Tag {
    fn from((row, article_count): (TagRow, i64)) -> Self {
        Self {
            articles_url: format!("/v1/articles?tag={}", row.slug),
            slug: row.slug,
            name: row.name,
            article_count,
        }
    }
}
