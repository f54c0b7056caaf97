//! Outlets on the wire.

use serde::Serialize;
use utoipa::ToSchema;

use super::queries::{OutletRow, OutletWithCounts};

/// An outlet as cited by an excerpt or a press link.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutletRef {
    /// Stable, URL-safe identifier.
    #[schema(example = "bloomberg")]
    pub slug: String,
    #[schema(example = "Bloomberg")]
    pub name: String,
    /// The outlet's home page.
    #[schema(example = "https://www.bloomberg.com/")]
    pub home_url: String,
    /// ISO 3166-1 alpha-2 country code, when the outlet has a home country.
    #[schema(example = "US")]
    pub country_code: Option<String>,
    /// This outlet in the API.
    #[schema(example = "/v1/outlets/bloomberg")]
    pub url: String,
}

impl From<OutletRow> for OutletRef {
    fn from(row: OutletRow) -> Self {
        Self {
            url: format!("/v1/outlets/{}", row.slug),
            slug: row.slug,
            name: row.name,
            home_url: row.home_url,
            country_code: row.country_code,
        }
    }
}

/// An outlet with how often published articles cite it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Outlet {
    #[serde(flatten)]
    pub outlet: OutletRef,
    /// Excerpts in published articles that quote this outlet.
    pub excerpt_count: i64,
    /// Press-roundup links in published articles that point to this outlet.
    pub link_count: i64,
}

impl From<OutletWithCounts> for Outlet {
    fn from(row: OutletWithCounts) -> Self {
        Self {
            outlet: row.outlet.into(),
            excerpt_count: row.excerpt_count,
            link_count: row.link_count,
        }
    }
}
