//! What admins may ask of webhooks, as typed commands: `NewWebhook` and
//! `WebhookPatch`, each checked whole (every problem at its JSON pointer in
//! one 422) before anything is written. The target rule is the one for
//! stored links (`validate::http_url`), without user info, and, unless
//! private targets are allowed, not an IP literal inward.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::outbound;
use super::WebhookAudience;
use crate::error::{AppError, InvalidInput};
use crate::validate::{Fields, Problems, URL_RULE};

/// The members of a webhook in a body.
pub const FIELDS: [&str; 5] = ["url", "event_types", "audience", "secret", "active"];

/// The shortest secret a client may choose, in characters.
pub const SECRET_MIN: usize = 24;
/// The longest.
pub const SECRET_MAX: usize = 200;

/// A new webhook.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where events are POSTed: an absolute `http(s)` URL with a host and no
    /// user info, stored in the form the URL parser writes it. An IP literal
    /// in a loopback, private, link-local, shared, multicast, unspecified or
    /// unique-local range is refused, and so, at delivery, is a host name
    /// that resolves only to such addresses.
    #[schema(format = "uri", min_length = 1, max_length = 2000)]
    pub url: String,
    /// The event types to deliver, `kind.action` (`article.published`);
    /// empty or absent: every type.
    #[serde(default)]
    #[schema(nullable = true, example = json!(["article.published", "article.unpublished"]))]
    pub event_types: Option<Vec<String>>,
    /// `public` (the default): only the events the public may read, as it
    /// reads them; `editor`: every event.
    #[serde(default)]
    #[schema(nullable = true)]
    pub audience: Option<WebhookAudience>,
    /// The key of the `Broadsheet-Signature` HMAC, 24 to 200 characters;
    /// when absent the server makes one (32 random bytes, base64url). Shown
    /// only in this response.
    #[serde(default)]
    #[schema(nullable = true, min_length = 24, max_length = 200)]
    pub secret: Option<String>,
    /// Whether events are delivered; `true` when absent.
    #[serde(default)]
    #[schema(nullable = true)]
    pub active: Option<bool>,
}

/// A JSON merge patch (RFC 7396) of a webhook: each member given replaces
/// the stored one. `active: true` on a failing webhook resumes it at the
/// event it gave up on. A new `secret` is shown in the response.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    #[schema(nullable = false, format = "uri", min_length = 1, max_length = 2000)]
    pub url: Option<String>,
    /// `null` or `[]`: every type.
    #[schema(nullable = true)]
    pub event_types: Option<Vec<String>>,
    #[schema(nullable = false)]
    pub audience: Option<WebhookAudience>,
    #[schema(nullable = false, min_length = 24, max_length = 200)]
    pub secret: Option<String>,
    #[schema(nullable = false)]
    pub active: Option<bool>,
}

/// Checks a whole body (a create's, or a stored webhook with a patch
/// applied), every problem at its pointer; the members, in the form they
/// are stored in.
pub fn parse(document: &Value, allow_private: bool) -> Result<NewWebhook, AppError> {
    let mut document = document.clone();
    if let Some(object) = document.as_object_mut() {
        // `null` means absent, as in every create.
        object.retain(|_, value| !value.is_null());
    }
    let mut problems = Problems::new();
    let mut active_problem = None;
    if let Some(active) = document.get("active") {
        if !active.is_boolean() {
            active_problem = Some(InvalidInput::field("/active", "must be true or false"));
        }
    }
    let mut types = None;
    if let Some(mut fields) = problems.object(&mut document, &FIELDS) {
        types = check(&mut fields, allow_private);
    }
    let known: Vec<String> = crate::changes::event_types().collect();
    for (index, name) in types.iter().flatten().enumerate() {
        if !known.contains(name) {
            problems.0.push(InvalidInput::field(
                format!("/event_types/{index}"),
                format!("is not an event type (`kind.action`, e.g. article.published): `{name}`"),
            ));
        }
    }
    problems.0.extend(active_problem);
    problems.finish()?;
    serde_json::from_value(document)
        .map_err(|e| AppError::Unprocessable(vec![InvalidInput::field("", e.to_string())]))
}

/// Checks the members `Fields` can; the event types given, to be checked
/// against the known ones.
fn check(fields: &mut Fields<'_>, allow_private: bool) -> Option<Vec<String>> {
    if let Some(url) = fields.url("url", true) {
        if let Ok(parsed) = url::Url::parse(&url) {
            if !parsed.username().is_empty() || parsed.password().is_some() {
                fields.problem("url", "must not carry user info (`user:password@`)");
            } else if !allow_private {
                if let Some(ip) = outbound::refused_literal(&parsed) {
                    fields.problem(
                        "url",
                        format!(
                            "names {ip}, a loopback, private, link-local or otherwise \
                             internal address, which webhooks may not target"
                        ),
                    );
                }
            }
        } else {
            fields.problem("url", format!("must be {URL_RULE}"));
        }
    }
    let types = fields.strings("event_types", 64, false);
    fields.choice("audience", false, &["public", "editor"]);
    if let Some(secret) = fields.text("secret", false, true, SECRET_MAX) {
        if secret.chars().count() < SECRET_MIN {
            fields.problem(
                "secret",
                format!("must be at least {SECRET_MIN} characters"),
            );
        } else if secret.chars().any(char::is_control) {
            fields.problem("secret", "must not contain control characters");
        }
    }
    types
}

/// 32 random bytes, base64url: a secret for a webhook created without one.
pub fn generate_secret() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::internal(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validate::{schema_json, URL_MAX};

    #[test]
    fn the_published_limits_are_the_checked_ones() {
        for schema in [schema_json::<NewWebhook>(), schema_json::<WebhookPatch>()] {
            let member = |name: &str| schema["properties"][name].clone();
            assert_eq!(member("url")["maxLength"], json!(URL_MAX));
            assert_eq!(member("secret")["minLength"], json!(SECRET_MIN));
            assert_eq!(member("secret")["maxLength"], json!(SECRET_MAX));
            assert_eq!(schema["additionalProperties"], json!(false));
        }
        assert_eq!(schema_json::<NewWebhook>()["required"], json!(["url"]));
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let refused = parse(
            &json!({"url": "ftp://x", "event_types": ["article.eaten"], "secret": "short", "active": 1}),
            false,
        );
        let Err(AppError::Unprocessable(problems)) = refused else {
            panic!("{refused:?}");
        };
        let pointers: Vec<String> = problems
            .iter()
            .map(|p| {
                serde_json::to_value(p).unwrap()["pointer"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(pointers, ["/url", "/secret", "/event_types/0", "/active"]);
    }

    #[test]
    fn user_info_and_private_literals_are_refused() {
        for url in [
            "https://user:pw@example.org/",
            "http://127.0.0.1/",
            "http://[::1]:8080/",
            "http://10.0.0.8/",
        ] {
            assert!(parse(&json!({ "url": url }), false).is_err(), "{url}");
        }
        assert!(parse(&json!({"url": "http://127.0.0.1:9/"}), true).is_ok());
        assert!(parse(&json!({"url": "https://hooks.example.org/x"}), false).is_ok());
    }
}
