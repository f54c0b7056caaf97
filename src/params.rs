//! Parsing query and path parameters into domain values, collecting every
//! problem so that one 400 names each bad parameter.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{Ref, Required};
use utoipa::IntoParams;

use crate::error::{AppError, InvalidInput};
use crate::validate;

/// Collects parameter problems while a handler parses its inputs.
#[derive(Default)]
pub struct Checker {
    problems: Vec<InvalidInput>,
}

impl Checker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value, or records the problem and yields `None`.
    pub fn check<T>(&mut self, result: Result<T, InvalidInput>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(problem) => {
                self.problems.push(problem);
                None
            }
        }
    }

    /// `Err` naming every problem recorded, if any.
    pub fn finish(self) -> Result<(), AppError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(AppError::InvalidInputs(self.problems))
        }
    }
}

pub use crate::validate::is_slug;

/// An optional slug filter such as `tag` or `outlet`.
pub fn slug(name: &str, raw: Option<&str>) -> Result<Option<String>, InvalidInput> {
    match raw {
        None => Ok(None),
        Some(value) if is_slug(value) => Ok(Some(value.to_string())),
        Some(_) => Err(InvalidInput::new(
            name,
            "must be a slug: lowercase letters and digits separated by single hyphens",
        )),
    }
}

/// `limit`: a whole number in `1..=max`, `default` when absent.
pub fn limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32, InvalidInput> {
    match raw {
        None => Ok(default),
        Some(value) => match value.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(InvalidInput::new(
                "limit",
                format!("must be a whole number from 1 to {max}"),
            )),
        },
    }
}

/// An RFC 3339 timestamp, or a date meaning its midnight UTC.
///
/// Years are limited to those Broadsheet stores (`validate::YEARS`, in UTC):
/// chrono parses far wider ranges than PostgreSQL stores, and no
/// publication date lies outside these.
pub fn timestamp(name: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, InvalidInput> {
    let Some(value) = raw else { return Ok(None) };
    let parsed = DateTime::parse_from_rfc3339(value)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .and_then(|day| day.and_hms_opt(0, 0, 0))
                .map(|midnight| midnight.and_utc())
        });
    match parsed {
        Some(at) if validate::in_years(at) => Ok(Some(at)),
        _ => Err(InvalidInput::new(
            name,
            "must be an RFC 3339 timestamp (2011-10-24T00:00:00Z) or a date (2011-10-24), in years 1 to 9999",
        )),
    }
}

/// A numeric path id: a positive 64-bit integer.
pub fn id(name: &str, raw: &str) -> Result<i64, AppError> {
    match raw.parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(AppError::invalid(name, "must be a positive whole number")),
    }
}

/// A slug in a path: anything else cannot name a resource, so it is a 404
/// answered without touching the database.
pub fn path_slug<'a>(what: &str, raw: &'a str) -> Result<&'a str, AppError> {
    if is_slug(raw) {
        Ok(raw)
    } else {
        Err(AppError::not_found(what, raw.escape_default()))
    }
}

/// The `{slug}` of a path as actix decodes it.
#[derive(Deserialize)]
struct SlugSegment {
    slug: String,
}

/// The `{id}` of a path, still text: a bad one is the handler's 400, not
/// actix's.
#[derive(Deserialize)]
struct IdSegment {
    id: String,
}

fn segment<T: for<'de> Deserialize<'de>>(req: &HttpRequest) -> Result<T, AppError> {
    req.match_info()
        .load()
        .map_err(|error| AppError::BadRequest(format!("invalid path: {error}")))
}

/// Writes a path extractor for a `{slug}` segment naming `$what`: anything
/// but a slug cannot name one, so it is a 404 without a database query.
macro_rules! slug_in_path {
    ($(#[$doc:meta])* $name:ident, $what:literal, $described:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub String);

        impl FromRequest for $name {
            type Error = AppError;
            type Future = Ready<Result<Self, AppError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(segment::<SlugSegment>(req).and_then(|raw| {
                    path_slug($what, &raw.slug)?;
                    Ok(Self(raw.slug))
                }))
            }
        }

        impl IntoParams for $name {
            fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                vec![in_path("slug", $described, "Slug")]
            }
        }
    };
}

slug_in_path!(
    /// The `{slug}` of an article's path.
    ArticleSlug,
    "article",
    "The article's slug"
);
slug_in_path!(
    /// The `{slug}` of an outlet's path.
    OutletSlug,
    "outlet",
    "The outlet's slug"
);
slug_in_path!(
    /// The `{slug}` of an old slug's path.
    OldSlug,
    "old slug",
    "The old slug"
);

/// The `{id}` of a path: a positive 64-bit integer, or a 400.
#[derive(Debug, Clone, Copy)]
pub struct ResourceId(pub i64);

impl FromRequest for ResourceId {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(segment::<IdSegment>(req).and_then(|raw| id("id", &raw.id).map(Self)))
    }
}

impl IntoParams for ResourceId {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![in_path("id", "The id the path names", "Id")]
    }
}

/// A required path parameter whose schema is the component `schema`.
fn in_path(name: &str, description: &str, schema: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(Ref::from_schema_name(schema)))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_hyphenated_runs() {
        for good in ["clinton-pakistan-2011", "a", "2011", "a-b-c"] {
            assert!(is_slug(good), "{good:?} should be a slug");
        }
        assert!(is_slug(&"a".repeat(validate::SLUG_MAX)));
        assert!(!is_slug(&"a".repeat(validate::SLUG_MAX + 1)));
        for bad in [
            "", "-", "-a", "a-", "a--b", "A", "a b", "../etc", "a\0b", "é", "a_b",
        ] {
            assert!(!is_slug(bad), "{bad:?} should not be a slug");
        }
    }

    #[test]
    fn limits_outside_the_range_are_refused() {
        assert_eq!(limit(None, 20, 100).unwrap(), 20);
        assert_eq!(limit(Some("100"), 20, 100).unwrap(), 100);
        for bad in ["0", "101", "-1", "ten", ""] {
            assert!(limit(Some(bad), 20, 100).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timestamps_take_rfc3339_or_a_date() {
        assert!(timestamp("t", Some("2011-10-24T10:00:00+05:00"))
            .unwrap()
            .is_some());
        assert!(timestamp("t", Some("2011-10-24")).unwrap().is_some());
        assert!(timestamp("t", Some("yesterday")).is_err());
        assert!(timestamp("t", Some("-5000-01-01")).is_err());
        assert!(timestamp("t", Some("0000-01-01T00:00:00Z")).is_err());
    }
}

#[cfg(test)]
mod fuzz {
    use chrono::SecondsFormat;
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing::{config, hostile_text, number_text, timestamp_text};

    fn slug_like() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9]{1,12}(-[a-z0-9]{1,12}){0,4}",
            "[a-z0-9-]{0,12}",
            "[a-z0-9]{200,201}",
            hostile_text(),
        ]
    }

    proptest! {
        #![proptest_config(config(256))]

        /// `limit`: accepted only as a whole number in `1..=max`, which
        /// printed back is accepted as the same; refused naming `limit`.
        #[test]
        fn fuzz_a_limit_is_within_its_range(raw in number_text(), max in 1u32..2000) {
            match limit(Some(&raw), 20, max) {
                Ok(n) => {
                    prop_assert!((1..=max).contains(&n));
                    prop_assert_eq!(raw.parse::<u32>().ok(), Some(n));
                    prop_assert_eq!(limit(Some(&n.to_string()), 20, max).ok(), Some(n));
                }
                Err(problem) => prop_assert_eq!(problem.parameter.as_deref(), Some("limit")),
            }
        }

        /// A slug filter or path segment: accepted exactly when it matches
        /// the published pattern within the length cap, and as given.
        #[test]
        fn fuzz_a_slug_matches_the_published_pattern(raw in slug_like()) {
            let pattern = regex::Regex::new(validate::SLUG_PATTERN).unwrap();
            let rule = pattern.is_match(&raw) && raw.len() <= validate::SLUG_MAX;
            prop_assert_eq!(is_slug(&raw), rule);
            match slug("tag", Some(&raw)) {
                Ok(kept) => prop_assert_eq!(kept.as_deref(), Some(raw.as_str())),
                Err(problem) => {
                    prop_assert!(!rule);
                    prop_assert_eq!(problem.parameter.as_deref(), Some("tag"));
                }
            }
            prop_assert_eq!(path_slug("article", &raw).is_ok(), rule);
        }

        /// A timestamp: accepted only within the years stored, and printed
        /// back (as RFC 3339, as the API writes them) it reads as the same
        /// instant; refused naming its parameter.
        #[test]
        fn fuzz_a_timestamp_is_within_the_years_stored(raw in timestamp_text()) {
            match timestamp("published_after", Some(&raw)) {
                Ok(at) => {
                    let at = at.unwrap();
                    prop_assert!(validate::in_years(at));
                    for printed in [
                        at.to_rfc3339(),
                        at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                    ] {
                        prop_assert_eq!(timestamp("t", Some(&printed)).ok(), Some(Some(at)));
                    }
                }
                Err(problem) => {
                    prop_assert_eq!(problem.parameter.as_deref(), Some("published_after"));
                }
            }
        }

        /// Every instant and day in the years stored is accepted as RFC 3339
        /// or as a date.
        #[test]
        fn fuzz_every_time_in_the_years_stored_is_accepted(
            seconds in -62_135_596_800i64..253_402_300_800,
            nanos in 0u32..1_000_000_000,
        ) {
            let at = DateTime::from_timestamp(seconds, nanos).unwrap();
            prop_assert_eq!(timestamp("t", Some(&at.to_rfc3339())).ok(), Some(Some(at)));
            let day = at.date_naive();
            let midnight = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
            let printed = day.format("%Y-%m-%d").to_string();
            prop_assert_eq!(timestamp("t", Some(&printed)).ok(), Some(Some(midnight)));
        }

        /// A path id: a positive 64-bit integer, which printed back reads
        /// the same; anything else a 400.
        #[test]
        fn fuzz_an_id_is_positive(raw in number_text()) {
            match id("id", &raw) {
                Ok(n) => {
                    prop_assert!(n > 0);
                    prop_assert_eq!(id("id", &n.to_string()).ok(), Some(n));
                }
                Err(error) => prop_assert_eq!(
                    actix_web::ResponseError::status_code(&error),
                    actix_web::http::StatusCode::BAD_REQUEST
                ),
            }
        }
    }
}
