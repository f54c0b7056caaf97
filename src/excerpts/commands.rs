//! What editors may ask of an excerpt, as typed commands: the members of an
//! excerpt (`ExcerptMembers`, also what an article's create and the site
//! import carry), its create (`NewExcerpt`, with a `position`) and its merge
//! patch (`ExcerptPatch`). Their schemas publish the limits in
//! `crate::validate`, which `ExcerptMembers::check` applies; the tests below
//! hold the two equal.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::Excerpt;
use crate::error::AppError;
use crate::validate::{self, Fields, Rule, CALL_TO_ACTION_MAX, SHORT_SLUG_MAX, TITLE_MAX};

/// The members of an excerpt (a create may also give `position`).
pub const FIELDS: [&str; 7] = [
    "headline",
    "bylines",
    "outlet",
    "source_published_on",
    "source_url",
    "call_to_action",
    "body_markdown",
];

/// A long quotation from a source article: what an excerpt is made of.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExcerptMembers {
    /// The source article's headline.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub headline: String,
    /// Its authors, each 1 to 200 characters.
    #[serde(default)]
    #[schema(schema_with = nullable_bylines)]
    pub bylines: Vec<String>,
    /// The slug of the outlet that published it (an outlet that exists).
    #[schema(min_length = 1, max_length = 100, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub outlet: String,
    /// The source article's date, in the years 1 to 9999.
    pub source_published_on: Option<NaiveDate>,
    /// The complete source article: an absolute `http(s)` URL with a host,
    /// stored in the form the URL parser writes it, at most 2000 characters.
    #[schema(format = "uri", min_length = 1, max_length = 2000)]
    pub source_url: String,
    /// The link text to it, e.g. "For complete article, click here".
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub call_to_action: Option<String>,
    /// The quoted text, as Markdown (bounded in size and nesting).
    #[schema(
        min_length = 1,
        pattern = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub body_markdown: String,
}

fn bylines() -> utoipa::openapi::schema::Array {
    validate::text_list(
        validate::BYLINE_MAX,
        None,
        "Its authors, each 1 to 200 characters, not blank.",
    )
}

impl ExcerptMembers {
    /// Checks the members an excerpt has, each problem at its pointer; the
    /// outlet it cites is noted, to be checked against those stored.
    pub fn check(fields: &mut Fields<'_>, outlets: &mut Vec<(String, String)>) {
        fields.text("headline", true, true, TITLE_MAX);
        fields.strings("bylines", validate::BYLINE_MAX, false);
        if let Some(outlet) = fields.slug("outlet", true) {
            if outlet.len() > SHORT_SLUG_MAX {
                fields.problem(
                    "outlet",
                    format!("must be at most {SHORT_SLUG_MAX} characters"),
                );
            } else {
                outlets.push((fields.pointer_of("outlet"), outlet));
            }
        }
        fields.date("source_published_on");
        fields.url("source_url", true);
        fields.text("call_to_action", false, true, CALL_TO_ACTION_MAX);
        fields.markdown("body_markdown", true, true);
    }

    /// Checks the members as an import reads them, in its words: the first
    /// problem, naming the member. (Links and Markdown are the importer's.)
    pub fn check_stored(&self) -> Result<(), String> {
        let text = validate::stored_text;
        text("headline", &self.headline, Rule::Text { max: TITLE_MAX })?;
        for byline in &self.bylines {
            text(
                "byline",
                byline,
                Rule::Text {
                    max: validate::BYLINE_MAX,
                },
            )?;
        }
        if let Some(day) = self
            .source_published_on
            .filter(|d| !validate::day_in_years(*d))
        {
            return Err(format!(
                "source_published_on {day} is outside the years 1 to 9999"
            ));
        }
        if let Some(call_to_action) = &self.call_to_action {
            let rule = Rule::Text {
                max: CALL_TO_ACTION_MAX,
            };
            text("call_to_action", call_to_action, rule)?;
        }
        Ok(())
    }

    /// Brings old content within the rules where that is deterministic
    /// (`validate::shorten`; blank bylines and a blank call to action are
    /// dropped), noting each repair under `at`.
    pub fn repair(&mut self, at: &str, repairs: &mut Vec<String>) {
        validate::shorten(
            &mut self.headline,
            TITLE_MAX,
            &format!("{at}: headline"),
            repairs,
        );
        let before = self.bylines.len();
        self.bylines.retain(|byline| !validate::is_blank(byline));
        if self.bylines.len() < before {
            repairs.push(format!("{at}: blank bylines dropped"));
        }
        for byline in &mut self.bylines {
            let field = format!("{at}: byline");
            validate::shorten(byline, validate::BYLINE_MAX, &field, repairs);
        }
        if self
            .call_to_action
            .as_deref()
            .is_some_and(validate::is_blank)
        {
            self.call_to_action = None;
            repairs.push(format!("{at}: blank call_to_action dropped"));
        }
        if let Some(call_to_action) = &mut self.call_to_action {
            let field = format!("{at}: call_to_action");
            validate::shorten(call_to_action, CALL_TO_ACTION_MAX, &field, repairs);
        }
    }

    /// The excerpt as a create body would give it, for a merge patch to apply to.
    pub fn of(excerpt: &Excerpt) -> Self {
        Self {
            headline: excerpt.headline.clone(),
            bylines: excerpt.bylines.clone(),
            outlet: excerpt.outlet.slug.clone(),
            source_published_on: excerpt.source_published_on,
            source_url: excerpt.source_url.clone(),
            call_to_action: excerpt.call_to_action.clone(),
            body_markdown: excerpt.body_markdown.clone(),
        }
    }

    /// `of`, as the JSON a merge patch applies to.
    pub fn document(excerpt: &Excerpt) -> Result<serde_json::Value, AppError> {
        serde_json::to_value(Self::of(excerpt)).map_err(AppError::internal)
    }
}

crate::positioned! {
    /// A new excerpt of an article: its members, and where it goes.
    NewExcerpt { excerpt: ExcerptMembers }
}

/// A JSON merge patch (RFC 7396) of an excerpt: each member given replaces
/// the stored one; `null` removes an optional member. The result is checked
/// whole, as a create would be.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExcerptPatch {
    /// The source article's headline.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub headline: Option<String>,
    /// Its authors, each 1 to 200 characters; `null` removes them all.
    #[schema(schema_with = nullable_bylines)]
    pub bylines: Option<Vec<String>>,
    /// The slug of an outlet that exists.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 100,
        pattern = "^[a-z0-9]+(-[a-z0-9]+)*$"
    )]
    pub outlet: Option<String>,
    /// The source article's date; `null` removes it.
    #[serde(default, deserialize_with = "validate::present")]
    pub source_published_on: Option<Option<NaiveDate>>,
    /// The complete source article, `http(s)://…`.
    #[schema(nullable = false, format = "uri", min_length = 1, max_length = 2000)]
    pub source_url: Option<String>,
    /// The link text; `null` removes it.
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub call_to_action: Option<Option<String>>,
    /// The quoted text, as Markdown.
    #[schema(nullable = false, min_length = 1)]
    pub body_markdown: Option<String>,
}

fn nullable_bylines() -> utoipa::openapi::schema::Array {
    validate::or_null(bylines())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validate::{schema_json, BYLINE_MAX, NOT_BLANK_PATTERN};

    #[test]
    fn the_published_limits_are_the_checked_ones() {
        for schema in [
            schema_json::<ExcerptMembers>(),
            schema_json::<NewExcerpt>(),
            schema_json::<ExcerptPatch>(),
        ] {
            crate::validate::assert_cites(&schema, "source_url");
            let member = |name: &str| schema["properties"][name].clone();
            assert_eq!(member("bylines")["items"]["maxLength"], json!(BYLINE_MAX));
            assert_eq!(
                member("call_to_action")["maxLength"],
                json!(CALL_TO_ACTION_MAX)
            );
            assert_eq!(
                member("call_to_action")["pattern"],
                json!(NOT_BLANK_PATTERN)
            );
        }
        let required = json!(["headline", "outlet", "source_url", "body_markdown"]);
        assert_eq!(schema_json::<ExcerptMembers>()["required"], required);
        assert_eq!(
            schema_json::<NewExcerpt>()["properties"]["position"]["minimum"],
            json!(1)
        );
        assert_eq!(schema_json::<ExcerptPatch>()["required"], json!(null));
    }

    #[test]
    fn a_new_excerpt_reads_its_position_beside_its_members() {
        let body = json!({
            "headline": "Quoted", "outlet": "dawn", "source_url": "https://www.dawn.com/",
            "body_markdown": "Text.", "position": 2,
        });
        let new: NewExcerpt = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(
            (new.position, new.excerpt.outlet.as_str()),
            (Some(2), "dawn")
        );
        let mut unknown = body;
        unknown["colour"] = json!("red");
        let refused = serde_json::from_value::<NewExcerpt>(unknown).unwrap_err();
        assert!(
            refused.to_string().contains("unknown field `colour`"),
            "{refused}"
        );
    }
}
