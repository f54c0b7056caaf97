//! Rankings on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::articles::views::ArticleSummary;

/// The span of time a ranking counts views over, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Window {
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
    #[serde(rename = "all")]
    All,
}

impl Window {
    pub const NAMES: [&'static str; 4] = ["24h", "7d", "30d", "all"];

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "24h" => Some(Self::Day),
            "7d" => Some(Self::Week),
            "30d" => Some(Self::Month),
            "all" => Some(Self::All),
            _ => None,
        }
    }

    /// Views in buckets starting after this instant count; `None` counts all.
    pub fn since(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let hours = match self {
            Self::Day => 24,
            Self::Week => 7 * 24,
            Self::Month => 30 * 24,
            Self::All => return None,
        };
        Some(now - chrono::Duration::hours(hours))
    }
}

/// One place in a ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankedArticle {
    /// 1 for the most viewed; articles with equal views share a rank.
    #[schema(example = 1)]
    pub rank: u32,
    /// Views within the window.
    #[schema(example = 1520)]
    pub views: i64,
    pub article: ArticleSummary,
}

/// The most viewed published articles in a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ranking {
    pub window: Window,
    /// The tag the ranking is limited to, if any.
    pub tag: Option<String>,
    /// When this ranking was computed.
    pub generated_at: DateTime<Utc>,
    pub data: Vec<RankedArticle>,
}

/// Competition ranks ("1224"): equal views share a rank, the next rank skips.
pub fn rank(rows: Vec<(ArticleSummary, i64)>) -> Vec<RankedArticle> {
    let mut ranked: Vec<RankedArticle> = Vec::with_capacity(rows.len());
    for (index, (article, views)) in rows.into_iter().enumerate() {
        let rank = match ranked.last() {
            Some(previous) if previous.views == views => previous.rank,
            _ => index as u32 + 1,
        };
        ranked.push(RankedArticle {
            rank,
            views,
            article,
        });
    }
    ranked
}
