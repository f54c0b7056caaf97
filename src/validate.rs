//! The one rule set for what Broadsheet stores, and turning a JSON body into
//! a typed command, naming every bad member at once (422, each with a JSON
//! pointer), before anything is written.
//!
//! The rules (blank means Unicode whitespace, lengths are caps in
//! characters, slugs, links in the form the URL parser writes them, dates in
//! the years 1 to 9999) are applied alike by the API's checks, by the site
//! import and by the database's CHECK constraints; `STORED` lists them per
//! column, and `tests/api/rules.rs` walks each against the database.
//!
//! Each limit lives once, as a constant here. The command types publish
//! them in their `#[schema(...)]` attributes, which take only literals: a
//! unit test beside each command holds the published numbers and patterns
//! equal to these constants. That was chosen over deriving the checks from
//! `T::schema()` because the checks say things a schema cannot (Markdown
//! depth, link normal forms, outlets that must exist, "cannot be removed"
//! in a patch) and their messages are part of the API; a walker would need
//! a hook for most members, while the constants keep one source of numbers
//! with the checks and messages as they were.

use std::ops::RangeInclusive;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::{Map, Value};

use crate::error::{AppError, InvalidInput};

/// The longest link a client may send, in characters as sent (what the
/// command schemas publish as `maxLength`).
pub const URL_MAX: usize = 2000;

/// The longest link stored, in characters of the form it is stored in. The
/// parser's form of a URI is at most one character longer than the URI (a
/// `/` for an empty path), so every link of `URL_MAX` characters that the
/// schemas call a URI fits; the margin keeps the two rules from meeting.
pub const STORED_URL_MAX: usize = 2048;

// The one set of length caps, in characters (`char_length` in SQL). The
// command types publish them (`#[schema(max_length = …)]`, held equal to
// these by each command module's tests), the checks below apply them, the
// import applies them, and the CHECK constraints of migration
// `2026-11-30-000009_one_rule_set` hold the database to them.

/// An article's or a roundup's title; an excerpt's or a press link's headline.
pub const TITLE_MAX: usize = 500;
/// An article's summary.
pub const SUMMARY_MAX: usize = 2000;
/// Each of an excerpt's bylines.
pub const BYLINE_MAX: usize = 200;
/// An excerpt's link text.
pub const CALL_TO_ACTION_MAX: usize = 200;
/// An outlet's or a tag's display name.
pub const NAME_MAX: usize = 200;
/// An article's slug (and its old slugs).
pub const SLUG_MAX: usize = 200;
/// An outlet's or a tag's slug.
pub const SHORT_SLUG_MAX: usize = 100;

/// What a slug is, as a regular expression (the same in JSON Schema and in
/// PostgreSQL's CHECKs).
pub const SLUG_PATTERN: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";

/// A slug is lowercase ASCII letters and digits in hyphen-separated runs.
///
/// One pass over the bytes: the view beacon checks a slug on every page view.
pub fn is_slug(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > SLUG_MAX {
        return false;
    }
    let mut after_hyphen = true; // a slug cannot start with a hyphen
    for &b in bytes {
        if b == b'-' {
            if after_hyphen {
                return false;
            }
            after_hyphen = true;
        } else if b.is_ascii_lowercase() || b.is_ascii_digit() {
            after_hyphen = false;
        } else {
            return false;
        }
    }
    !after_hyphen
}

/// A text that is not blank has one character outside this class: exactly
/// the characters Rust's `char::is_whitespace` (Unicode `White_Space`)
/// calls blank, written out because JSON Schema's `\s` and PostgreSQL's
/// `btrim` each mean something else. The migration's `broadsheet_blank`
/// spells the same class.
pub const NOT_BLANK_PATTERN: &str =
    "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$";

/// A text that may be blank but, as PostgreSQL stores no NUL, holds none.
pub const NO_NUL_PATTERN: &str = "^[^\\u0000]*$";

/// Whether a text is blank: empty, or only whitespace as Unicode defines it.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(char::is_whitespace)
}

/// What `http_url` accepts, to complete "must be …" or "is not …".
pub const URL_RULE: &str = "an absolute http(s) URL with a host, without whitespace or control \
                            characters, at most 2000 characters long";

/// The one rule for the links Broadsheet stores (an outlet's `home_url`, an
/// excerpt's `source_url`, a press link's `url`), however they arrive: an
/// absolute `http` or `https` URL with a host, given without whitespace or
/// control characters (which the URL parser would silently drop or encode).
/// Returns the form to store: the one the WHATWG URL parser serializes
/// (scheme in lower case, `//` before the host, `\` read as `/`, non-ASCII
/// percent-encoded or punycoded), because the text as given may be refused
/// by the database's `^https?://[^\s]+$` (`HTTP://x`, `http:x`) where that
/// form never is. Storing that form also makes the rule idempotent: a stored
/// link passes it unchanged.
pub fn http_url(text: &str) -> Option<String> {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let url = url::Url::parse(text).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    let stored = String::from(url);
    let shaped = (stored.starts_with("http://") || stored.starts_with("https://"))
        && !stored.chars().any(|c| c.is_whitespace() || c.is_control());
    (shaped && stored.chars().count() <= STORED_URL_MAX).then_some(stored)
}

/// The years of the timestamps and dates Broadsheet stores, in UTC: what RFC
/// 3339 can write, and what the list filters accept.
pub const YEARS: RangeInclusive<i32> = 1..=9999;

/// Whether a timestamp falls in `YEARS` once in UTC (an offset can carry
/// `9999-12-31T23:59:59-14:00` into year 10000).
pub fn in_years(at: DateTime<Utc>) -> bool {
    YEARS.contains(&at.year())
}

/// Whether a date falls in `YEARS`.
pub fn day_in_years(day: NaiveDate) -> bool {
    YEARS.contains(&day.year())
}

/// What a stored text column allows, the one rule that the API's checks,
/// the import and the database's CHECK constraints apply alike
/// (`tests/api/rules.rs` walks each against the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Not blank, at most `max` characters.
    Text { max: usize },
    /// At most `max` characters, blank or not.
    Any { max: usize },
    /// Each item of a list not blank, at most `max` characters.
    Texts { max: usize },
    /// A slug of at most `max` characters.
    Slug { max: usize },
    /// A link in the form it is stored in (`http_url`).
    Link,
    /// Two capital letters.
    CountryCode,
}

impl Rule {
    /// Whether a value (for `Texts`, a list of this one item) may be stored.
    pub fn accepts(self, value: &str) -> bool {
        let fits = |max: usize| !value.contains('\0') && value.chars().count() <= max;
        match self {
            Rule::Text { max } | Rule::Texts { max } => !is_blank(value) && fits(max),
            Rule::Any { max } => fits(max),
            Rule::Slug { max } => is_slug(value) && value.len() <= max,
            Rule::Link => http_url(value).as_deref() == Some(value),
            Rule::CountryCode => value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()),
        }
    }
}

/// Every constrained text column of the content, with its rule.
pub const STORED: &[(&str, &str, Rule)] = &[
    (
        "outlets",
        "slug",
        Rule::Slug {
            max: SHORT_SLUG_MAX,
        },
    ),
    ("outlets", "name", Rule::Text { max: NAME_MAX }),
    ("outlets", "home_url", Rule::Link),
    ("outlets", "country_code", Rule::CountryCode),
    (
        "tags",
        "slug",
        Rule::Slug {
            max: SHORT_SLUG_MAX,
        },
    ),
    ("tags", "name", Rule::Text { max: NAME_MAX }),
    ("articles", "slug", Rule::Slug { max: SLUG_MAX }),
    ("articles", "title", Rule::Text { max: TITLE_MAX }),
    ("articles", "summary", Rule::Any { max: SUMMARY_MAX }),
    ("article_slug_history", "slug", Rule::Slug { max: SLUG_MAX }),
    ("excerpts", "headline", Rule::Text { max: TITLE_MAX }),
    ("excerpts", "bylines", Rule::Texts { max: BYLINE_MAX }),
    ("excerpts", "source_url", Rule::Link),
    (
        "excerpts",
        "call_to_action",
        Rule::Text {
            max: CALL_TO_ACTION_MAX,
        },
    ),
    ("roundups", "title", Rule::Text { max: TITLE_MAX }),
    ("roundup_links", "headline", Rule::Text { max: TITLE_MAX }),
    ("roundup_links", "url", Rule::Link),
    ("webhooks", "url", Rule::Link),
];

/// Text held to its rule (`validate::Rule`), the one the API and the
/// database's CHECKs apply: no NUL characters (PostgreSQL stores none),
/// not blank where required, at most so many characters.
pub fn stored_text(field: &str, value: &str, rule: Rule) -> Result<(), String> {
    let max = match rule {
        Rule::Text { max } | Rule::Any { max } | Rule::Texts { max } => max,
        _ => usize::MAX,
    };
    let length = value.chars().count();
    if value.contains('\0') {
        Err(format!("{field} contains a NUL character"))
    } else if matches!(rule, Rule::Text { .. }) && is_blank(value) {
        Err(format!("{field} is blank"))
    } else if length > max {
        Err(format!(
            "{field} is {length} characters long, more than {max} (`--lenient` shortens it)"
        ))
    } else {
        Ok(())
    }
}

/// Cuts a text longer than `max` characters to fit, noting it in `repairs`.
pub fn shorten(value: &mut String, max: usize, field: &str, repairs: &mut Vec<String>) {
    let length = value.chars().count();
    if length <= max {
        return;
    }
    let trimmed = value.trim();
    *value = if trimmed.chars().count() <= max {
        trimmed.to_string()
    } else {
        let mut cut: String = trimmed.chars().take(max - 1).collect();
        cut.truncate(cut.trim_end().len());
        cut.push('…');
        cut
    };
    repairs.push(format!(
        "{field} shortened from {length} to {} characters",
        value.chars().count()
    ));
}

/// The schema of a list of texts of 1 to `max` characters, not blank, each
/// matching `pattern` too when given: what `Fields::strings` accepts.
/// (`schema_with` replaces a member's doc comment: `description` is it.)
pub fn text_list(
    max: usize,
    pattern: Option<&str>,
    description: &str,
) -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let item = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(pattern.unwrap_or(NOT_BLANK_PATTERN)));
    ArrayBuilder::new()
        .items(item)
        .description(Some(description))
        .build()
}

/// Test support: asserts that a citing command's schema (an excerpt's or a
/// press link's) publishes the limits its checks apply to the headline,
/// the outlet and the link named `link`, and refuses unknown members.
#[cfg(test)]
pub fn assert_cites(schema: &Value, link: &str) {
    let member = |name: &str| schema["properties"][name].clone();
    assert_eq!(member("headline")["maxLength"], TITLE_MAX);
    assert_eq!(member("headline")["pattern"], NOT_BLANK_PATTERN);
    assert_eq!(member("outlet")["maxLength"], SHORT_SLUG_MAX);
    assert_eq!(member("outlet")["pattern"], SLUG_PATTERN);
    assert_eq!(member(link)["maxLength"], URL_MAX);
    assert_eq!(schema["additionalProperties"], false);
}

/// A list that a create body may also give as `null`, which means absent
/// (as it does for every member of a create).
pub fn or_null(mut list: utoipa::openapi::schema::Array) -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{SchemaType, Type};
    list.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    list
}

/// Adds a create's `position` (an integer from 1; last when absent) to the
/// object schema of the members it creates.
pub fn with_position(
    members: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
    use utoipa::openapi::RefOr;
    let RefOr::T(Schema::Object(mut object)) = members else {
        return members;
    };
    let position = ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::Integer,
            Type::Null,
        ]))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Int32,
        )))
        .minimum(Some(1))
        .description(Some(
            "Where it goes, from 1; what was there and after it moves down one. Last when absent \
             or `null`.",
        ));
    object.properties.insert("position".into(), position.into());
    object.description = Some(description.into());
    RefOr::T(Schema::Object(object))
}

/// For a merge patch's optional members: present (`Some`), with `null`
/// (`Some(None)`) meaning "remove it"; absent stays `None` by `default`.
pub fn present<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// A type's published schema as JSON, for tests that hold it to the rules.
#[cfg(test)]
pub fn schema_json<T: utoipa::PartialSchema>() -> Value {
    serde_json::to_value(T::schema()).expect("a schema serializes")
}

/// Declares a create body that is a resource's members plus `position`:
/// the struct, its `Deserialize` (the members refuse unknown fields, so
/// serde's `flatten` cannot be used), and its schema (the members' object
/// with `position` added, so `additionalProperties: false` stays true).
#[macro_export]
macro_rules! positioned {
    ($(#[doc = $doc:literal])* $name:ident { $field:ident: $members:ty }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            pub $field: $members,
            /// From 1; last when absent.
            pub position: Option<i32>,
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                use serde::de::Error;
                let mut object = serde_json::Map::deserialize(deserializer)?;
                let position = object
                    .remove("position")
                    .filter(|value| !value.is_null())
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(D::Error::custom)?;
                let $field = serde_json::from_value(serde_json::Value::Object(object))
                    .map_err(D::Error::custom)?;
                Ok(Self { $field, position })
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::validate::with_position(
                    <$members as utoipa::PartialSchema>::schema(),
                    concat!($($doc, "\n"),*).trim(),
                )
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

/// Walks one JSON object, collecting problems under a pointer prefix. Values
/// that are stored in a normal form (links) are replaced by that form in the
/// object, so the document read afterwards is exactly what gets written.
pub struct Fields<'a> {
    object: &'a mut Map<String, Value>,
    prefix: String,
    problems: &'a mut Vec<InvalidInput>,
}

/// Collects the problems of a whole body; `finish` turns them into a 422.
#[derive(Default)]
pub struct Problems(pub Vec<InvalidInput>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    /// Fields of the top-level object, which must allow only `known` members.
    pub fn object<'a>(&'a mut self, value: &'a mut Value, known: &[&str]) -> Option<Fields<'a>> {
        Fields::open(value, String::new(), known, &mut self.0)
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Unprocessable(self.0))
        }
    }
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

impl<'a> Fields<'a> {
    fn open(
        value: &'a mut Value,
        prefix: String,
        known: &[&str],
        problems: &'a mut Vec<InvalidInput>,
    ) -> Option<Self> {
        let Some(object) = value.as_object_mut() else {
            problems.push(InvalidInput::field(prefix, "must be an object"));
            return None;
        };
        for name in object.keys() {
            if !known.contains(&name.as_str()) {
                problems.push(InvalidInput::field(
                    format!("{prefix}/{}", escape(name)),
                    format!("is not a field here (expected one of {})", known.join(", ")),
                ));
            }
        }
        Some(Self {
            object,
            prefix,
            problems,
        })
    }

    /// The JSON pointer of one of this object's members.
    pub fn pointer_of(&self, name: &str) -> String {
        self.pointer(name)
    }

    fn pointer(&self, name: &str) -> String {
        format!("{}/{}", self.prefix, escape(name))
    }

    pub fn problem(&mut self, name: &str, detail: impl Into<String>) {
        let pointer = self.pointer(name);
        self.problems.push(InvalidInput::field(pointer, detail));
    }

    /// The member, or a problem when it is absent and `required`.
    fn get(&mut self, name: &str, required: bool) -> Option<&Value> {
        if self.object.get(name).is_none_or(Value::is_null) {
            if required {
                self.problem(name, "is required");
            }
            return None;
        }
        self.object.get(name)
    }

    /// A string with no NUL bytes, trimmed of nothing; `max` characters at most.
    pub fn text(
        &mut self,
        name: &str,
        required: bool,
        non_empty: bool,
        max: usize,
    ) -> Option<String> {
        let text = self.get(name, required)?.as_str().map(str::to_string);
        let Some(text) = text else {
            self.problem(name, "must be a string");
            return None;
        };
        if text.contains('\0') {
            self.problem(name, "must not contain NUL characters");
        } else if non_empty && is_blank(&text) {
            self.problem(name, "must not be empty");
        } else if text.chars().count() > max {
            self.problem(name, format!("must be at most {max} characters"));
        } else {
            return Some(text);
        }
        None
    }

    /// Markdown: text held to the one rule on what may be rendered and
    /// stored (`markdown::check`: its size and how deeply it nests).
    pub fn markdown(&mut self, name: &str, required: bool, non_empty: bool) -> Option<String> {
        // No length of its own: `markdown::check` bounds the bytes.
        let text = self.text(name, required, non_empty, usize::MAX)?;
        match crate::markdown::check(&text) {
            Ok(()) => Some(text),
            Err(detail) => {
                self.problem(name, detail);
                None
            }
        }
    }

    pub fn slug(&mut self, name: &str, required: bool) -> Option<String> {
        let slug = self.text(name, required, true, SLUG_MAX)?;
        if is_slug(&slug) {
            Some(slug)
        } else {
            self.problem(
                name,
                "must be a slug: lowercase letters and digits separated by single hyphens",
            );
            None
        }
    }

    /// A link (`http_url`), replaced in the object by the form it is stored in.
    pub fn url(&mut self, name: &str, required: bool) -> Option<String> {
        let text = self.text(name, required, true, STORED_URL_MAX)?;
        let Some(stored) = http_url(&text) else {
            self.problem(name, format!("must be {URL_RULE}"));
            return None;
        };
        // A link already in its stored form passes as it is: a patch that
        // leaves a stored link alone must not be refused for its length.
        if text.chars().count() > URL_MAX && stored != text {
            self.problem(name, format!("must be at most {URL_MAX} characters"));
            return None;
        }
        self.object
            .insert(name.to_string(), Value::String(stored.clone()));
        Some(stored)
    }

    /// An RFC 3339 timestamp in `YEARS` once converted to UTC, as it is stored.
    pub fn timestamp(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let text = self.text(name, false, true, 64)?;
        match DateTime::parse_from_rfc3339(&text).map(|at| at.with_timezone(&Utc)) {
            Ok(at) if in_years(at) => Some(at),
            Ok(at) => {
                self.problem(
                    name,
                    format!(
                        "must fall in the years 1 to 9999 in UTC, which {text} does not ({})",
                        at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                    ),
                );
                None
            }
            Err(_) => {
                self.problem(
                    name,
                    "must be an RFC 3339 timestamp such as 2011-10-25T09:00:00Z",
                );
                None
            }
        }
    }

    pub fn date(&mut self, name: &str) -> Option<NaiveDate> {
        let text = self.text(name, false, true, 32)?;
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(day) if day_in_years(day) => Some(day),
            _ => {
                self.problem(name, "must be a date such as 2011-10-24");
                None
            }
        }
    }

    /// One of `choices`.
    pub fn choice(&mut self, name: &str, required: bool, choices: &[&str]) -> Option<String> {
        let text = self.text(name, required, true, 64)?;
        if choices.contains(&text.as_str()) {
            Some(text)
        } else {
            self.problem(name, format!("must be one of {}", choices.join(", ")));
            None
        }
    }

    /// A list of strings, each checked by `item`.
    pub fn strings(&mut self, name: &str, max_len: usize, slugs: bool) -> Option<Vec<String>> {
        let items = match self.get(name, false)? {
            Value::Array(items) => Some(items.clone()),
            _ => None,
        };
        let Some(items) = items else {
            self.problem(name, "must be a list of strings");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let pointer = format!("{}/{index}", self.pointer(name));
            match item.as_str() {
                Some(s) if slugs && !is_slug(s) => self
                    .problems
                    .push(InvalidInput::field(pointer, "must be a slug")),
                Some(s) if is_blank(s) || s.contains('\0') || s.chars().count() > max_len => {
                    self.problems.push(InvalidInput::field(
                        pointer,
                        format!("must be 1 to {max_len} characters of text"),
                    ))
                }
                Some(s) => out.push(s.to_string()),
                None => self
                    .problems
                    .push(InvalidInput::field(pointer, "must be a string")),
            }
        }
        Some(out)
    }

    /// The objects of a list member, each opened with `known` members.
    pub fn objects(&mut self, name: &str, known: &[&str], mut each: impl FnMut(Fields<'_>)) {
        let base = self.pointer(name);
        match self.object.get_mut(name) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (index, item) in items.iter_mut().enumerate() {
                    let prefix = format!("{base}/{index}");
                    if let Some(fields) = Fields::open(item, prefix, known, self.problems) {
                        each(fields);
                    }
                }
            }
            Some(_) => self
                .problems
                .push(InvalidInput::field(base, "must be a list of objects")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns the schemas publish say what `is_blank` and the NUL
    /// check say, for every kind of character that matters to either.
    #[test]
    fn published_text_patterns_are_the_rule() {
        let not_blank = regex::Regex::new(NOT_BLANK_PATTERN).expect("pattern");
        let no_nul = regex::Regex::new(NO_NUL_PATTERN).expect("pattern");
        let blanks = (0..=0x3000u32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace());
        for c in blanks.chain(['a', 'é', '\u{feff}', '\u{200b}', '\0', '\u{1f}']) {
            for text in [c.to_string(), format!(" {c} "), format!("x{c}")] {
                let accepted = !is_blank(&text) && !text.contains('\0');
                assert_eq!(not_blank.is_match(&text), accepted, "{text:?}");
                assert_eq!(no_nul.is_match(&text), !text.contains('\0'), "{text:?}");
            }
        }
        assert!(!not_blank.is_match(""));
    }

    #[test]
    fn links_are_stored_as_the_url_parser_writes_them() {
        for (given, stored) in [
            ("HTTP://example.org/", "http://example.org/"),
            ("http:example.org", "http://example.org/"),
            ("http:/example.org", "http://example.org/"),
            ("https:\\\\example.org\\x", "https://example.org/x"),
            (
                "https://Example.ORG:443/a/../b?q=é#f",
                "https://example.org/b?q=%C3%A9#f",
            ),
            ("http://bücher.de", "http://xn--bcher-kva.de/"),
            ("https://www.dawn.com/", "https://www.dawn.com/"),
        ] {
            assert_eq!(http_url(given).as_deref(), Some(stored), "{given}");
            assert_eq!(http_url(stored).as_deref(), Some(stored), "{stored}");
        }
    }

    #[test]
    fn links_without_a_host_or_with_spaces_are_refused() {
        for given in [
            "",
            "ftp://example.org/",
            "mailto:desk@example.org",
            "http://",
            "https:",
            "example.org",
            "/relative",
            "http://exa mple.org/",
            " http://example.org/",
            "http://example.org/\n",
            "http://example.org/\u{b}",
            "http://example.org/\u{a0}",
            "http://ex\u{0}ample.org/",
        ] {
            assert_eq!(http_url(given), None, "{given:?}");
        }
        assert!(URL_RULE.contains(&format!("at most {URL_MAX} characters")));
        let long = format!("https://example.org/{}", "a".repeat(STORED_URL_MAX));
        assert_eq!(http_url(&long), None);
        // Within the limit as given, past it once percent-encoded.
        let encoded = format!("https://example.org/{}", "é".repeat(400));
        assert_eq!(http_url(&encoded), None);
    }

    #[test]
    fn timestamps_are_bounded_in_utc() {
        let utc = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc)
        };
        assert!(in_years(utc("9999-12-31T23:59:59Z")));
        assert!(!in_years(utc("9999-12-31T23:59:59-14:00")));
        assert!(in_years(utc("0001-01-01T00:00:00-01:00")));
        assert!(!in_years(utc("0001-01-01T00:00:00+01:00")));
    }
}
