//! Rankings on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::articles::views::ArticleSummary;

/// The span of time a ranking counts views over, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
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
    pub const ALL: [Self; 4] = [Self::Day, Self::Week, Self::Month, Self::All];

    /// How long the window is; `None` for all time.
    pub fn length(self) -> Option<chrono::TimeDelta> {
        match self {
            Self::Day => Some(chrono::TimeDelta::hours(24)),
            Self::Week => Some(chrono::TimeDelta::days(7)),
            Self::Month => Some(chrono::TimeDelta::days(30)),
            Self::All => None,
        }
    }

    /// The window's name on the wire.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// A SQL column name for the window's views.
    pub fn column(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::All => "all_time",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|window| window.name() == value)
    }

    /// Views in buckets starting after this instant count; `None` counts all.
    pub fn since(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.length().map(|length| now - length)
    }
}

/// One place in a ranking.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RankedArticle {
    /// 1 for the most viewed; articles with equal views share a rank.
    #[schema(example = 1)]
    pub rank: u32,
    /// Views within the window.
    #[schema(example = 1520)]
    pub views: i64,
    /// The rank in the previous window of the same length (the 24 hours before
    /// the last 24 hours, say); null when unranked then, and for `all`.
    #[schema(example = 3)]
    pub previous_rank: Option<u32>,
    /// `previous_rank - rank`: positive when the article climbed.
    #[schema(example = 2)]
    pub rank_change: Option<i64>,
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

/// An article gaining views faster than usual.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrendingArticle {
    #[schema(example = 1)]
    pub rank: u32,
    /// Views in the last 24 hours.
    #[schema(example = 420)]
    pub views_24h: i64,
    /// Average views per day over the 7 days before the last 24 hours.
    #[schema(example = 35.5)]
    pub daily_average_before: f64,
    /// `views_24h` over that average (an average below 1 counts as 1).
    #[schema(example = 11.83)]
    pub ratio: f64,
    pub article: ArticleSummary,
}

/// Articles gaining fastest, by their own standard.
#[derive(Debug, Serialize, ToSchema)]
pub struct Trending {
    /// When this ranking was computed.
    pub generated_at: DateTime<Utc>,
    /// Articles with fewer views in the last 24 hours do not trend.
    #[schema(example = 10)]
    pub min_views_24h: i64,
    pub data: Vec<TrendingArticle>,
}

/// Views of one day.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayViews {
    #[schema(example = "2011-10-25")]
    pub date: chrono::NaiveDate,
    #[schema(example = 310)]
    pub views: i64,
}

/// An article's views per day, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleStats {
    #[schema(example = "secretary-clintons-message-to-pakistan")]
    pub slug: String,
    pub days: Vec<DayViews>,
}
