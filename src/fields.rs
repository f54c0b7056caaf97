//! Sparse fieldsets: `fields=slug,title` keeps only those members of a
//! resource, or of each item of a list page, for clients that want less on
//! the wire.
//!
//! The names a resource offers are read from its OpenAPI schema, the same
//! one the published document shows, so the two cannot disagree.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;
use utoipa::PartialSchema;

use crate::error::{AppError, InvalidInput};
use crate::representation::Representation;

/// The members of one resource type, as its schema names them.
#[derive(Debug)]
pub struct Members(BTreeSet<String>);

impl Members {
    /// The top-level properties of `T`'s schema.
    pub fn of<T: PartialSchema>() -> Self {
        let schema = serde_json::to_value(T::schema()).unwrap_or_default();
        let names = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|properties| properties.keys().cloned().collect())
            .unwrap_or_default();
        Self(names)
    }

    fn list(&self) -> String {
        self.0
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The members a request asked for; `All` when it did not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fieldset {
    All,
    Only(BTreeSet<String>),
}

/// The longest `fields` value read: more than every member's name of the
/// largest resource, comma-separated.
const MAX_LEN: usize = 1024;

impl Fieldset {
    /// Reads `fields`: member names separated by commas, each one of `members`.
    pub fn parse(raw: Option<&str>, members: &Members) -> Result<Self, InvalidInput> {
        let Some(raw) = raw else {
            return Ok(Self::All);
        };
        if raw.len() > MAX_LEN {
            return Err(InvalidInput::new(
                "fields",
                format!("is longer than {MAX_LEN} characters"),
            ));
        }
        let asked: BTreeSet<String> = raw
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect();
        if asked.is_empty() {
            return Err(InvalidInput::new(
                "fields",
                format!(
                    "names no member: give member names separated by commas, from {}",
                    members.list()
                ),
            ));
        }
        let unknown: Vec<&str> = asked
            .iter()
            .filter(|name| !members.0.contains(*name))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(InvalidInput::new(
                "fields",
                format!(
                    "names unknown members ({}); the members are {}",
                    unknown.join(", "),
                    members.list()
                ),
            ));
        }
        Ok(Self::Only(asked))
    }

    /// The representation of `value` with only the asked members.
    pub fn represent<T: Serialize>(&self, value: &T) -> Result<Representation, AppError> {
        self.trimmed(value, |fields, value| fields.retain_in(value))
    }

    /// The representation of a list page with only the asked members in
    /// each item of its `data`.
    pub fn represent_items<T: Serialize>(&self, page: &T) -> Result<Representation, AppError> {
        self.trimmed(page, |fields, page| {
            if let Some(items) = page.get_mut("data").and_then(Value::as_array_mut) {
                items.iter_mut().for_each(|item| fields.retain_in(item));
            }
        })
    }

    fn trimmed<T: Serialize>(
        &self,
        value: &T,
        trim: impl FnOnce(&BTreeSet<String>, &mut Value),
    ) -> Result<Representation, AppError> {
        match self {
            Self::All => Representation::of(value),
            Self::Only(fields) => {
                let mut value = serde_json::to_value(value).map_err(AppError::internal)?;
                trim(fields, &mut value);
                Representation::of(&value)
            }
        }
    }
}

trait Retain {
    fn retain_in(&self, value: &mut Value);
}

impl Retain for BTreeSet<String> {
    fn retain_in(&self, value: &mut Value) {
        if let Some(object) = value.as_object_mut() {
            object.retain(|name, _| self.contains(name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use utoipa::ToSchema;

    #[derive(Serialize, ToSchema)]
    struct Thing {
        slug: String,
        title: String,
        body: String,
    }

    fn thing() -> Thing {
        Thing {
            slug: "a".into(),
            title: "A".into(),
            body: "long".into(),
        }
    }

    #[test]
    fn members_come_from_the_schema() {
        assert_eq!(Members::of::<Thing>().list(), "body, slug, title");
    }

    #[test]
    fn only_asked_members_are_kept() {
        let fields = Fieldset::parse(Some("slug, title"), &Members::of::<Thing>()).unwrap();
        let body = fields.represent(&thing()).unwrap().body;
        assert_eq!(body, json!({"slug": "a", "title": "A"}).to_string());
        let page = json!({"data": [{"slug": "a", "body": "x"}], "next_cursor": "c"});
        let body = fields.represent_items(&page).unwrap().body;
        assert_eq!(
            body,
            json!({"data": [{"slug": "a"}], "next_cursor": "c"}).to_string()
        );
        let whole = Fieldset::All.represent(&thing()).unwrap().body;
        assert_eq!(whole, serde_json::to_string(&thing()).unwrap());
    }

    #[test]
    fn unknown_or_empty_names_are_refused_and_named() {
        let members = Members::of::<Thing>();
        let error = Fieldset::parse(Some("slug,secret"), &members).unwrap_err();
        assert!(error.detail.contains("secret"), "{}", error.detail);
        assert!(Fieldset::parse(Some(" , "), &members).is_err());
        assert!(Fieldset::parse(Some(&"a".repeat(2000)), &members).is_err());
        assert_eq!(Fieldset::parse(None, &members).unwrap(), Fieldset::All);
    }
}
