//! Roundups and press links on the wire.

use serde::Serialize;
use utoipa::ToSchema;

use super::queries::{LinkRecord, RoundupRecord, RoundupRow};
use crate::articles::views::ArticleRef;
use crate::outlets::views::OutletRef;

/// A titled list of press links, such as "From Pakistan Press".
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Roundup {
    #[schema(example = 1)]
    pub id: i64,
    /// Order within the article, from 1.
    #[schema(example = 1)]
    pub position: i32,
    #[schema(example = "From Pakistan Press")]
    pub title: String,
    /// The article this roundup belongs to.
    pub article: ArticleRef,
    /// The links, in their order.
    pub links: Vec<RoundupLink>,
    /// This roundup in the API.
    #[schema(example = "/v1/roundups/1")]
    pub url: String,
}

/// One press link inside a roundup.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoundupLink {
    #[schema(example = 1)]
    pub id: i64,
    /// Order within the roundup, from 1.
    #[schema(example = 1)]
    pub position: i32,
    #[schema(example = "Pakistan tells U.S. ready to arrange Taliban talks: report")]
    pub headline: String,
    /// The linked article at the outlet.
    #[schema(example = "https://www.thenews.com.pk/")]
    pub url: String,
    pub outlet: OutletRef,
}

/// Which roundup a listed press link belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoundupRef {
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "From Pakistan Press")]
    pub title: String,
    #[schema(example = "/v1/roundups/1")]
    pub url: String,
}

/// A press link on its own, saying which roundup and article it belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedLink {
    #[serde(flatten)]
    pub link: RoundupLink,
    pub roundup: RoundupRef,
    pub article: ArticleRef,
}

impl From<RoundupRow> for RoundupRef {
    fn from(row: RoundupRow) -> Self {
        Self {
            url: format!("/v1/roundups/{}", row.id),
            id: row.id,
            title: row.title,
        }
    }
}

impl From<LinkRecord> for ListedLink {
    fn from((link, outlet, roundup, article): LinkRecord) -> Self {
        Self {
            link: RoundupLink {
                id: link.id,
                position: link.position,
                headline: link.headline,
                url: link.url,
                outlet: outlet.into(),
            },
            roundup: roundup.into(),
            article: article.into(),
        }
    }
}

/// Puts each link under its roundup; links arrive ordered by roundup and position.
pub fn assemble(roundups: Vec<RoundupRecord>, links: Vec<LinkRecord>) -> Vec<Roundup> {
    let mut assembled: Vec<Roundup> = roundups
        .into_iter()
        .map(|(row, article)| Roundup {
            url: format!("/v1/roundups/{}", row.id),
            id: row.id,
            position: row.position,
            title: row.title,
            article: article.into(),
            links: Vec::new(),
        })
        .collect();
    for record in links {
        let roundup_id = record.0.roundup_id;
        if let Some(roundup) = assembled.iter_mut().find(|r| r.id == roundup_id) {
            roundup.links.push(ListedLink::from(record).link);
        }
    }
    assembled
}
