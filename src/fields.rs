//! Sparse fieldsets: `fields=slug,title` keeps only those members of a
//! resource, or of each item of a list page. The members a type has are read
//! from its OpenAPI schema, the one place that already lists them, so the
//! names accepted are exactly the names documented.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, InvalidInput};

/// The `fields` query parameter of a single resource.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FieldsQuery {
    /// Comma-separated members to keep (e.g. `slug,title`); all when absent.
    /// An unknown name is a 400 naming it.
    #[param(example = "slug,title")]
    pub fields: Option<String>,
}

/// The members a client asked to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields(BTreeSet<String>);

impl Fields {
    /// The members named by a `fields` parameter, each one a member of
    /// `T`'s schema; `None` keeps every member.
    pub fn parse<T: ToSchema>(fields: Option<&str>) -> Result<Option<Self>, InvalidInput> {
        let Some(fields) = fields else {
            return Ok(None);
        };
        let known = members::<T>();
        let asked: BTreeSet<String> = fields
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect();
        if asked.is_empty() {
            return Err(InvalidInput::new(
                "fields",
                "names no member; list members separated by commas, e.g. `fields=slug,title`",
            ));
        }
        let unknown: Vec<&str> = asked
            .iter()
            .filter(|name| !known.contains(*name))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(InvalidInput::new(
                "fields",
                format!(
                    "names no member {}; the members are {}",
                    unknown.join(", "),
                    known.into_iter().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        Ok(Some(Self(asked)))
    }

    /// As `parse`, as a handler's error.
    pub fn of<T: ToSchema>(fields: Option<&str>) -> Result<Option<Self>, AppError> {
        Self::parse::<T>(fields).map_err(|problem| AppError::InvalidInputs(vec![problem]))
    }

    /// Drops the members not asked for from each item of a list's `data`.
    pub fn keep_items(&self, list: &mut Value) {
        if let Some(Value::Array(items)) = list.get_mut("data") {
            items.iter_mut().for_each(|item| self.keep(item));
        }
    }

    /// Drops the members of `object` not asked for.
    pub fn keep(&self, object: &mut Value) {
        if let Value::Object(members) = object {
            members.retain(|name, _| self.0.contains(name));
        }
    }
}

/// The names of the members of `T`'s schema, through `allOf` (a flattened
/// struct) and references to the schemas `T` names.
fn members<T: ToSchema>() -> BTreeSet<String> {
    let mut named = Vec::new();
    T::schemas(&mut named);
    let mut found = BTreeSet::new();
    collect(&T::schema(), &named, &mut found, 0);
    found
}

fn collect(
    schema: &RefOr<Schema>,
    named: &[(String, RefOr<Schema>)],
    found: &mut BTreeSet<String>,
    depth: usize,
) {
    // References among a type's own members are shallow; bound them anyway.
    if depth > 8 {
        return;
    }
    match schema {
        RefOr::Ref(reference) => {
            let name = reference
                .ref_location
                .rsplit('/')
                .next()
                .unwrap_or_default();
            if let Some((_, schema)) = named.iter().find(|(candidate, _)| candidate == name) {
                collect(schema, named, found, depth + 1);
            }
        }
        RefOr::T(Schema::Object(object)) => found.extend(object.properties.keys().cloned()),
        RefOr::T(Schema::AllOf(all)) => {
            for item in &all.items {
                collect(item, named, found, depth + 1);
            }
        }
        RefOr::T(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shaped like the views (a summary flattened into a counted form, a
    // link naming what holds it), without depending on the resources.
    #[derive(serde::Serialize, ToSchema)]
    struct Summary {
        slug: String,
        name: String,
        url: String,
    }

    #[derive(serde::Serialize, ToSchema)]
    struct Outlet {
        #[serde(flatten)]
        summary: Summary,
        excerpt_count: i64,
        link_count: i64,
    }

    #[derive(serde::Serialize, ToSchema)]
    struct Held {
        id: i64,
        headline: String,
        outlet: Summary,
    }

    #[derive(serde::Serialize, ToSchema)]
    struct ListedLink {
        #[serde(flatten)]
        link: Held,
        roundup: i64,
        article: String,
    }

    #[test]
    fn members_come_from_the_schema_through_flattened_structs() {
        let outlet = members::<Outlet>();
        for name in ["slug", "name", "url", "excerpt_count", "link_count"] {
            assert!(outlet.contains(name), "{outlet:?}");
        }
        let link = members::<ListedLink>();
        for name in ["id", "headline", "outlet", "roundup", "article"] {
            assert!(link.contains(name), "{link:?}");
        }
    }

    #[test]
    fn unknown_members_are_named() {
        let problem = Fields::parse::<Outlet>(Some("slug,nope,zzz")).unwrap_err();
        assert_eq!(problem.parameter.as_deref(), Some("fields"));
        assert!(problem.detail.contains("nope, zzz"), "{}", problem.detail);
        assert!(Fields::parse::<Outlet>(Some(" , ")).is_err());
        assert_eq!(Fields::parse::<Outlet>(None).unwrap(), None);

        let fields = Fields::parse::<Outlet>(Some("slug, name"))
            .unwrap()
            .unwrap();
        let mut outlet =
            serde_json::json!({"slug": "dawn", "name": "Dawn", "url": "/v1/outlets/dawn"});
        fields.keep(&mut outlet);
        assert_eq!(outlet, serde_json::json!({"slug": "dawn", "name": "Dawn"}));
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::articles::views::ArticleSummary;
    use crate::fuzzing::{config, hostile_text, json_value};

    fn fields_text() -> impl Strategy<Value = String> {
        let known: Vec<String> = members::<ArticleSummary>().into_iter().collect();
        prop_oneof![
            proptest::collection::vec(
                prop_oneof![
                    3 => proptest::sample::select(known),
                    1 => hostile_text(),
                    1 => Just(" ".to_string()),
                ],
                0..6
            )
            .prop_map(|names| names.join(",")),
            hostile_text(),
        ]
    }

    proptest! {
        #![proptest_config(config(256))]

        /// `fields=`: accepted only when it names members and each is one of
        /// the type's; printed back it reads the same; refused naming
        /// `fields`. Keeping them keeps exactly those of an item's members.
        #[test]
        fn fuzz_fields_name_only_members(raw in fields_text(), item in json_value()) {
            let known = members::<ArticleSummary>();
            match Fields::parse::<ArticleSummary>(Some(&raw)) {
                Ok(Some(fields)) => {
                    prop_assert!(!fields.0.is_empty());
                    prop_assert!(fields.0.iter().all(|name| known.contains(name)));
                    let printed = fields.0.iter().cloned().collect::<Vec<_>>().join(",");
                    prop_assert_eq!(
                        Fields::parse::<ArticleSummary>(Some(&printed)).ok(),
                        Some(Some(fields.clone()))
                    );
                    let mut kept = item.clone();
                    fields.keep(&mut kept);
                    if let (Value::Object(before), Value::Object(after)) = (&item, &kept) {
                        for (name, value) in before {
                            let wanted = fields.0.contains(name);
                            prop_assert_eq!(after.get(name), wanted.then_some(value));
                        }
                    } else {
                        prop_assert_eq!(&kept, &item);
                    }
                    let mut page = serde_json::json!({"data": [item.clone()]});
                    fields.keep_items(&mut page);
                }
                Ok(None) => prop_assert!(false, "a parameter given keeps every member"),
                Err(problem) => prop_assert_eq!(problem.parameter.as_deref(), Some("fields")),
            }
        }
    }
}
