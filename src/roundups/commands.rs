//! What editors may ask of roundups and their press links, as typed
//! commands: the members of each (`RoundupMembers`, `LinkMembers`, also what
//! an article's create and the site import carry), their creates
//! (`NewRoundup`, `NewLink`, with a `position`) and their merge patches
//! (`RoundupPatch`, `LinkPatch`). Their schemas publish the limits in
//! `crate::validate`, which the `check`s apply; the tests below hold the two
//! equal.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::views::{ListedLink, Roundup};
use crate::error::AppError;
use crate::validate::{Fields, SHORT_SLUG_MAX, TITLE_MAX};

/// The members of a new roundup (a create may also give `position`).
pub const ROUNDUP_FIELDS: [&str; 2] = ["title", "links"];
/// What a patch of a roundup may change: its links have their own endpoints.
pub const ROUNDUP_PATCH_FIELDS: [&str; 1] = ["title"];
/// The members of a press link (a create may also give `position`).
pub const LINK_FIELDS: [&str; 3] = ["headline", "outlet", "url"];

/// One headline in a roundup: what a press link is made of.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkMembers {
    /// The linked article's headline.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub headline: String,
    /// The slug of the outlet that published it (an outlet that exists).
    #[schema(min_length = 1, max_length = 100, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub outlet: String,
    /// The linked article: an absolute `http(s)` URL with a host, stored in
    /// the form the URL parser writes it, at most 2000 characters.
    #[schema(format = "uri", min_length = 1, max_length = 2000)]
    pub url: String,
}

impl LinkMembers {
    /// Checks the members a press link has, each problem at its pointer; the
    /// outlet it cites is noted, to be checked against those stored.
    pub fn check(fields: &mut Fields<'_>, outlets: &mut Vec<(String, String)>) {
        fields.text("headline", true, true, TITLE_MAX);
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
        fields.url("url", true);
    }

    /// The link as a create body would give it, for a merge patch to apply to.
    pub fn document(link: &ListedLink) -> Result<Value, AppError> {
        serde_json::to_value(Self {
            headline: link.link.headline.clone(),
            outlet: link.link.outlet.slug.clone(),
            url: link.link.url.clone(),
        })
        .map_err(AppError::internal)
    }
}

crate::positioned! {
    /// A new press link of a roundup: its members, and where it goes.
    NewLink { link: LinkMembers }
}

/// A JSON merge patch (RFC 7396) of a press link: each member given
/// replaces the stored one (none may be removed). The result is checked
/// whole, as a create would be.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkPatch {
    /// The linked article's headline.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub headline: Option<String>,
    /// The slug of an outlet that exists.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 100,
        pattern = "^[a-z0-9]+(-[a-z0-9]+)*$"
    )]
    pub outlet: Option<String>,
    /// The linked article, `http(s)://…`.
    #[schema(nullable = false, format = "uri", min_length = 1, max_length = 2000)]
    pub url: Option<String>,
}

/// A titled list of press links: what a roundup is made of.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundupMembers {
    /// E.g. "From Pakistan Press".
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub title: String,
    /// Its links, in reading order.
    #[serde(default)]
    #[schema(nullable)]
    pub links: Vec<LinkMembers>,
}

impl RoundupMembers {
    /// Checks a roundup's title and the links it comes with.
    pub fn check(fields: &mut Fields<'_>, outlets: &mut Vec<(String, String)>) {
        fields.text("title", true, true, TITLE_MAX);
        fields.objects("links", &LINK_FIELDS, |mut link| {
            LinkMembers::check(&mut link, outlets)
        });
    }

    /// The roundup's own members, for a merge patch to apply to.
    pub fn document(roundup: &Roundup) -> Value {
        json!({"title": roundup.title})
    }
}

crate::positioned! {
    /// A new roundup of an article, with its links: its members, and where it goes.
    NewRoundup { roundup: RoundupMembers }
}

/// A JSON merge patch (RFC 7396) of a roundup's title; its links have
/// endpoints of their own.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundupPatch {
    /// E.g. "From Pakistan Press".
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    pub title: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validate::schema_json;

    #[test]
    fn the_published_limits_are_the_checked_ones() {
        for schema in [
            schema_json::<LinkMembers>(),
            schema_json::<NewLink>(),
            schema_json::<LinkPatch>(),
        ] {
            crate::validate::assert_cites(&schema, "url");
        }
        for schema in [
            schema_json::<RoundupMembers>(),
            schema_json::<NewRoundup>(),
            schema_json::<RoundupPatch>(),
        ] {
            assert_eq!(schema["properties"]["title"]["maxLength"], json!(TITLE_MAX));
            assert_eq!(schema["additionalProperties"], json!(false));
        }
        assert_eq!(
            schema_json::<LinkMembers>()["required"],
            json!(["headline", "outlet", "url"])
        );
        assert_eq!(
            schema_json::<RoundupMembers>()["required"],
            json!(["title"])
        );
        assert_eq!(
            schema_json::<NewLink>()["properties"]["position"]["minimum"],
            json!(1)
        );
    }
}
