//! The filters shared by the two citation lists, excerpts and press links:
//! which outlet is cited, by which article, and where the page resumes.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::AppError;
use crate::pagination::{CursorKey, Scope};
use crate::params::{self, Checker};

/// Query parameters of the excerpt and press-link lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CitationQuery {
    /// Only those citing this outlet (an outlet slug).
    #[param(example = "bloomberg")]
    pub outlet: Option<String>,
    /// Only those of this article (an article slug).
    #[param(example = "secretary-clintons-message-to-pakistan")]
    pub article: Option<String>,
    /// Page size.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Comma-separated members of each item to keep (e.g. `id,headline`);
    /// all when absent. An unknown name is a 400 naming it.
    pub fields: Option<String>,
}

/// A validated `CitationQuery`: filters by slug and the id to resume after.
#[derive(Debug)]
pub struct CitationFilter {
    pub outlet: Option<String>,
    pub article: Option<String>,
    pub after: Option<i64>,
    pub limit: u32,
    pub scope: Scope,
}

impl CitationQuery {
    /// Validates the filters of the list named `endpoint`, naming every bad
    /// parameter; `key` seals its cursors.
    pub fn validate(&self, key: &CursorKey, endpoint: &str) -> Result<CitationFilter, AppError> {
        let mut checker = Checker::new();
        let outlet = checker
            .check(params::slug("outlet", self.outlet.as_deref()))
            .flatten();
        let article = checker
            .check(params::slug("article", self.article.as_deref()))
            .flatten();
        let limit = checker.check(params::limit(self.limit.as_deref(), 20, 100));
        let scope = Scope::new(
            key,
            endpoint,
            &[
                ("outlet", self.outlet.as_deref()),
                ("article", self.article.as_deref()),
            ],
        );
        let after = checker
            .check(scope.after_id(self.cursor.as_deref()))
            .flatten();
        checker.finish()?;
        Ok(CitationFilter {
            outlet,
            article,
            after,
            limit: limit.unwrap_or_default(),
            scope,
        })
    }
}
