//! What editors may ask of outlets, as typed commands: `NewOutlet` (also
//! what the site import carries) and `OutletPatch`; and the one check that
//! the outlets a body cites exist, which every citing body shares. The
//! limits live once, in `crate::validate`; the tests below hold the
//! published schema to them.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::views::Outlet;
use crate::editing;
use crate::error::{AppError, InvalidInput};
use crate::schema::outlets;
use crate::validate::{Fields, Problems, NAME_MAX, SHORT_SLUG_MAX};

/// The members of an outlet in a body.
pub const FIELDS: [&str; 4] = ["slug", "name", "home_url", "country_code"];

/// A publication that excerpts and press links cite.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, Insertable)]
#[diesel(table_name = outlets)]
#[serde(deny_unknown_fields)]
pub struct NewOutlet {
    /// Its name in URLs and citations: lowercase letters and digits separated
    /// by single hyphens, at most 100 characters, unused by other outlets.
    #[schema(min_length = 1, max_length = 100, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: String,
    /// Display name.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub name: String,
    /// The outlet's home page: an absolute `http(s)` URL with a host, stored
    /// in the form the URL parser writes it, at most 2000 characters.
    #[schema(format = "uri", min_length = 1, max_length = 2000)]
    pub home_url: String,
    /// ISO 3166-1 alpha-2, upper case.
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country_code: Option<String>,
}

/// A JSON merge patch (RFC 7396) of an outlet: each member given replaces
/// the stored one; `null` removes `country_code`, and no other.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutletPatch {
    /// A new slug, unused by other outlets.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 100,
        pattern = "^[a-z0-9]+(-[a-z0-9]+)*$"
    )]
    pub slug: Option<String>,
    /// Display name.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub name: Option<String>,
    /// The outlet's home page, `http(s)://…`.
    #[schema(nullable = false, format = "uri", min_length = 1, max_length = 2000)]
    pub home_url: Option<String>,
    /// ISO 3166-1 alpha-2, upper case; `null` removes it.
    #[serde(default, deserialize_with = "crate::validate::present")]
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country_code: Option<Option<String>>,
}

impl NewOutlet {
    /// Checks the members an outlet has. Outlets cite no outlets: the second
    /// argument is there to match the other bodies' checks.
    pub fn check(fields: &mut Fields<'_>, _: &mut Vec<(String, String)>) {
        if let Some(slug) = fields.slug("slug", true) {
            if slug.len() > SHORT_SLUG_MAX {
                fields.problem(
                    "slug",
                    format!("must be at most {SHORT_SLUG_MAX} characters"),
                );
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

    /// The outlet as a create body would give it, for a merge patch to apply to.
    pub fn document(outlet: &Outlet) -> Result<Value, AppError> {
        serde_json::to_value(Self {
            slug: outlet.outlet.slug.clone(),
            name: outlet.outlet.name.clone(),
            home_url: outlet.outlet.home_url.clone(),
            country_code: outlet.outlet.country_code.clone(),
        })
        .map_err(AppError::internal)
    }
}

/// A new outlet, every problem named at once.
pub async fn parse_new_outlet(
    conn: &mut AsyncPgConnection,
    body: &Value,
) -> Result<NewOutlet, AppError> {
    editing::parse::<_, editing::CitesNothing>(
        conn,
        body,
        &FIELDS,
        Problems::new(),
        NewOutlet::check,
    )
    .await
}

/// The ids of all outlets, by slug.
pub async fn ids(conn: &mut AsyncPgConnection) -> QueryResult<HashMap<String, i64>> {
    Ok(outlets::table
        .select((outlets::slug, outlets::id))
        .load(conn)
        .await?
        .into_iter()
        .collect())
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
    let known = ids(conn).await?;
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

/// Bodies that cite outlets, by slug.
pub struct Outlets;

impl editing::Cited for Outlets {
    async fn check(
        conn: &mut AsyncPgConnection,
        cited: &[(String, String)],
        problems: &mut Problems,
    ) -> Result<(), AppError> {
        check_outlets(conn, cited, problems).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validate::{schema_json, NOT_BLANK_PATTERN, SLUG_PATTERN, URL_MAX};

    #[test]
    fn the_published_limits_are_the_checked_ones() {
        for schema in [schema_json::<NewOutlet>(), schema_json::<OutletPatch>()] {
            let member = |name: &str| schema["properties"][name].clone();
            assert_eq!(member("slug")["maxLength"], json!(SHORT_SLUG_MAX));
            assert_eq!(member("slug")["pattern"], json!(SLUG_PATTERN));
            assert_eq!(member("name")["maxLength"], json!(NAME_MAX));
            assert_eq!(member("name")["pattern"], json!(NOT_BLANK_PATTERN));
            assert_eq!(member("home_url")["maxLength"], json!(URL_MAX));
            assert_eq!(schema["additionalProperties"], json!(false));
        }
        assert_eq!(
            schema_json::<NewOutlet>()["required"],
            json!(["slug", "name", "home_url"])
        );
    }
}
