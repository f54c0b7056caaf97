//! What editors may ask of outlets, parsed from JSON bodies.

use diesel_async::AsyncPgConnection;
use serde_json::Value;

use super::views::Outlet;
use crate::editing;
use crate::error::AppError;
use crate::site::SiteOutlet;
use crate::validate::{Fields, Problems};

/// The members of an outlet in a body.
pub const FIELDS: [&str; 4] = ["slug", "name", "home_url", "country_code"];
const SLUG_MAX: usize = 100;
const NAME_MAX: usize = 200;

/// Checks the members an outlet has. Outlets cite no outlets: the second
/// argument is there to match the other bodies' checks.
pub fn check_outlet(fields: &mut Fields<'_>, _: &mut Vec<(String, String)>) {
    if let Some(slug) = fields.slug("slug", true) {
        if slug.len() > SLUG_MAX {
            fields.problem("slug", format!("must be at most {SLUG_MAX} characters"));
        }
    }
    fields.text("name", true, true, NAME_MAX);
    fields.url("home_url", true);
    if let Some(code) = fields.text("country_code", false, true, 16) {
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            fields.problem(
                "country_code",
                "must be an ISO 3166-1 alpha-2 code: two capital letters",
            );
        }
    }
}

/// A new outlet, every problem named at once.
pub async fn parse_new_outlet(
    conn: &mut AsyncPgConnection,
    body: &Value,
) -> Result<SiteOutlet, AppError> {
    editing::parse(conn, body, &FIELDS, Problems::new(), check_outlet).await
}

/// The outlet as a create body would give it, for a merge patch to apply to.
pub fn document(outlet: &Outlet) -> Result<Value, AppError> {
    serde_json::to_value(SiteOutlet {
        slug: outlet.outlet.slug.clone(),
        name: outlet.outlet.name.clone(),
        home_url: outlet.outlet.home_url.clone(),
        country_code: outlet.outlet.country_code.clone(),
    })
    .map_err(AppError::internal)
}
