//! What every editorial write shares: one transaction per request, the
//! resource locked and checked against `If-Match` before it changes, bodies
//! checked whole before anything is written, creates answered with 201 (and
//! replayed for a repeated `Idempotency-Key`), and the positions of an
//! article's excerpts and roundups and of a roundup's links kept 1, 2, 3, …
//!
//! A write to anything an article contains locks that article first, so
//! writers to one article take turns in one order and cannot deadlock; it
//! also moves the article's `updated_at`, which aggregators sync by.

pub mod operations;
pub mod positions;

pub use positions::{Child, Kind, Locked, Order, Positioned, Siblings};

use std::fmt::Display;
use std::future::Future;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::scoped_futures::{ScopedBoxFuture, ScopedFutureExt};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::body::JsonBody;
use crate::changes::seal as changes;
use crate::db::replica::Databases;
use crate::db::DbPool;
use crate::error::{AppError, InvalidInput};
use crate::fields;
use crate::idempotency::{self, IdempotencyKey};
use crate::keys::{Caller, MaybeCaller};
use crate::params;
use crate::representation::{Audience, IfMatch, Representation};
use crate::schema::articles;
use crate::validate::{Fields, Problems};

/// A resource that writes lock, and whose current representation they check
/// `If-Match` against before changing it.
pub trait Guarded: Sized + Send {
    /// What names the resource in its URL.
    type Key: Display + Send + Sync;
    /// Its representation, as editors see it.
    type View: Serialize + Send;
    /// What a 404 calls it.
    const WHAT: &'static str;

    /// The resource, locked until the transaction ends (after the article it
    /// belongs to); `None` when nothing has this key.
    fn lock(
        conn: &mut AsyncPgConnection,
        key: &Self::Key,
    ) -> impl Future<Output = QueryResult<Option<Self>>> + Send;

    /// Its representation now.
    fn view(
        &self,
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Self::View, AppError>> + Send;

    /// The resource, locked, or a 404.
    fn locked(
        conn: &mut AsyncPgConnection,
        key: &Self::Key,
    ) -> impl Future<Output = Result<Self, AppError>> + Send {
        async move {
            Self::lock(conn, key)
                .await?
                .ok_or_else(|| AppError::not_found(Self::WHAT, key))
        }
    }
}

/// A resource that holds positioned rows: an article its excerpts and
/// roundups, a roundup its links.
pub trait Parent: Guarded {
    /// Its id, which its rows name as their parent.
    fn id(&self) -> i64;
    /// The article it is, or belongs to.
    fn article_id(&self) -> i64;
}

/// Runs `write` in one transaction on the locked resource, after checking the
/// request's `If-Match` against its current representation (412 when it names
/// another). Two writers holding the same ETag take turns on the lock, and the
/// second finds the representation changed.
pub async fn guarded<'a, G, T, F>(
    req: &HttpRequest,
    pool: &DbPool,
    key: G::Key,
    write: F,
) -> Result<T, AppError>
where
    G: Guarded + 'a,
    T: Send + 'a,
    F: for<'r> FnOnce(
            &'r mut AsyncPgConnection,
            G,
            G::View,
            DateTime<Utc>,
        ) -> ScopedBoxFuture<'a, 'r, Result<T, AppError>>
        + Send
        + 'a,
{
    let if_match = IfMatch::of(req);
    let now = Utc::now();
    let mut conn = pool.get().await?;
    conn.transaction::<_, AppError, _>(|conn| {
        async move {
            let locked = G::locked(conn, &key).await?;
            let current = locked.view(conn, now).await?;
            if_match.check(Representation::of(&current)?.etag())?;
            let written = write(conn, locked, current, now).await?;
            changes::seal(conn, Utc::now()).await?;
            Ok(written)
        }
        .scope_boxed()
    })
    .await
}

/// A guarded write that answers with the resource's new representation.
pub async fn update<'a, G, F>(
    req: &HttpRequest,
    pool: &DbPool,
    key: G::Key,
    write: F,
) -> Result<HttpResponse, AppError>
where
    G: Guarded + 'a,
    F: for<'r> FnOnce(
            &'r mut AsyncPgConnection,
            G,
            G::View,
            DateTime<Utc>,
        ) -> ScopedBoxFuture<'a, 'r, Result<Representation, AppError>>
        + Send
        + 'a,
{
    let representation = guarded(req, pool, key, write).await?;
    Ok(representation.respond(req, StatusCode::OK, Audience::Private))
}

/// How a body's members are checked: each problem noted in the fields, each
/// outlet cited noted as (pointer, slug) to be checked against those stored.
pub type Check = fn(&mut Fields<'_>, &mut Vec<(String, String)>);

/// What a body may cite that must be stored: checked after its members and
/// before anything is written, each problem at its pointer. The resource
/// that owns what is cited implements it, so that this module names none.
pub trait Cited {
    fn check(
        conn: &mut AsyncPgConnection,
        cited: &[(String, String)],
        problems: &mut Problems,
    ) -> impl Future<Output = Result<(), AppError>> + Send;
}

/// For bodies that cite nothing.
pub struct CitesNothing;

impl Cited for CitesNothing {
    async fn check(
        _: &mut AsyncPgConnection,
        _: &[(String, String)],
        _: &mut Problems,
    ) -> Result<(), AppError> {
        Ok(())
    }
}

/// A resource that a JSON merge patch (RFC 7396) edits: the patch applies to
/// its members as a create body gives them, and the result is checked whole,
/// as a create would be.
pub trait Patchable: Guarded {
    /// The members, as a body gives them.
    type Members: DeserializeOwned + Send;
    /// What the members may cite.
    type Cites: Cited;
    /// The members a patch may name.
    const FIELDS: &'static [&'static str];
    const CHECK: Check;

    /// The current members, read from the current representation.
    fn members(current: &Self::View) -> Result<Value, AppError>;

    /// Writes changed members; the representation afterwards.
    fn write(
        &self,
        conn: &mut AsyncPgConnection,
        members: Self::Members,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Self::View, AppError>> + Send;
}

/// Applies the body, a merge patch, to the locked resource and answers with
/// its new representation. A patch that changes nothing writes nothing.
pub async fn patch<G: Patchable>(
    req: &HttpRequest,
    pool: &DbPool,
    key: G::Key,
    body: &JsonBody,
) -> Result<HttpResponse, AppError> {
    update::<G, _>(req, pool, key, |conn, locked, current, now| {
        async move {
            let members = without_nulls(&G::members(&current)?);
            let changed = merge(members.clone(), &body.value);
            let view = if changed == members {
                current
            } else {
                let changed =
                    parse::<_, G::Cites>(conn, &changed, G::FIELDS, Problems::new(), G::CHECK)
                        .await?;
                locked.write(conn, changed, now).await?
            };
            Representation::of(&view)
        }
        .scope_boxed()
    })
    .await
}

/// A positioned row that a create adds under its parent.
pub trait Added: Positioned {
    /// What holds it.
    type Parent: Parent;
    /// Its members, as a body gives them.
    type Members: DeserializeOwned + Send;
    /// What the members may cite.
    type Cites: Cited;
    /// The members a create may name, besides `position`.
    const FIELDS: &'static [&'static str];
    const CHECK: Check;

    /// Writes it at `position` under its parent, where room was made; its id.
    fn insert(
        conn: &mut AsyncPgConnection,
        parent_id: i64,
        position: i32,
        members: &Self::Members,
    ) -> impl Future<Output = Result<i64, AppError>> + Send;

    /// Its URL.
    fn location(id: i64) -> String;
}

/// Adds a row under the locked parent, at the body's `position` or last,
/// and answers 201 with it.
pub async fn add<V: Added>(
    req: &HttpRequest,
    pool: &DbPool,
    caller: &Caller,
    key: IdempotencyKey,
    parent: <V::Parent as Guarded>::Key,
    body: &JsonBody,
) -> Result<HttpResponse, AppError> {
    let now = Utc::now();
    let value = &body.value;
    let mut conn = pool.get().await?;
    create(req, &mut conn, caller, key, body, |conn| {
        async move {
            let parent = V::Parent::locked(conn, &parent).await?;
            let siblings = Siblings {
                kind: V::KIND,
                parent_id: parent.id(),
            };
            let (members, position) = siblings
                .prepare::<V::Members, V::Cites>(conn, value, V::FIELDS, V::CHECK)
                .await?;
            let id = V::insert(conn, parent.id(), position, &members).await?;
            touch_article(conn, parent.article_id(), now).await?;
            Created::new(&V::written(conn, id).await?, V::location(id))
        }
        .scope_boxed()
    })
    .await
}

/// Puts the parent's rows of this kind in the order the body's `ids` give,
/// and answers with the parent's new representation.
pub async fn reorder<P: Parent>(
    req: &HttpRequest,
    pool: &DbPool,
    key: P::Key,
    kind: Kind,
    body: &JsonBody,
) -> Result<HttpResponse, AppError> {
    update::<P, _>(req, pool, key, |conn, parent, _, now| {
        async move {
            let siblings = Siblings {
                kind,
                parent_id: parent.id(),
            };
            siblings.reorder(conn, &body.value).await?;
            touch_article(conn, parent.article_id(), now).await?;
            Representation::of(&parent.view(conn, now).await?)
        }
        .scope_boxed()
    })
    .await
}

/// Deletes a positioned row (with what it holds), closing the gap it leaves.
pub async fn delete<V: Positioned>(
    req: &HttpRequest,
    pool: &DbPool,
    id: i64,
) -> Result<HttpResponse, AppError> {
    guarded::<Locked<V>, _, _>(req, pool, id, |conn, row, _, now| {
        async move { Ok(row.0.delete(conn, now).await?) }.scope_boxed()
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Answers a read of one positioned row by its id: the public sees those of
/// published articles, a key also those of drafts and scheduled posts.
pub async fn read<V: Positioned + utoipa::ToSchema>(
    req: &HttpRequest,
    databases: &Databases,
    caller: &MaybeCaller,
    id: &str,
    fields: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let id = params::id("id", id)?;
    let fields = fields::Fields::of::<V>(fields)?;
    let viewer = caller.viewer(Utc::now());
    let (view, shown) = databases
        .read(req, move |conn| {
            V::find(conn, id, viewer).scope_boxed_local()
        })
        .await?
        .ok_or_else(|| {
            AppError::not_found(&format!("{} of a published article", V::KIND.noun()), id)
        })?;
    Ok(Representation::of_fields(&view, fields.as_ref())?
        .shows(&shown)
        .respond(req, StatusCode::OK, caller.audience()))
}

/// What a create made: its representation and its URL.
pub struct Created {
    pub representation: Representation,
    pub location: String,
}

impl Created {
    pub fn new<T: Serialize>(view: &T, location: String) -> Result<Self, AppError> {
        Ok(Self {
            representation: Representation::of(view)?,
            location,
        })
    }
}

/// Runs a create in one transaction and answers 201 with `Location` and
/// `ETag`. With an `Idempotency-Key`, the key is claimed before anything is
/// written and the answer recorded in the same transaction, so that a repeat
/// gets the first answer again instead of creating twice.
pub async fn create<'a, F>(
    req: &HttpRequest,
    conn: &mut AsyncPgConnection,
    caller: &'a Caller,
    key: IdempotencyKey,
    body: &JsonBody,
    write: F,
) -> Result<HttpResponse, AppError>
where
    F: for<'r> FnOnce(
            &'r mut AsyncPgConnection,
        ) -> ScopedBoxFuture<'a, 'r, Result<Created, AppError>>
        + Send
        + 'a,
{
    let fingerprint = idempotency::fingerprint("POST", req.path(), &body.bytes);
    let outcome = conn
        .transaction::<_, AppError, _>(|conn| {
            async move {
                if let Some(key) = &key.0 {
                    if let Some(first) =
                        idempotency::claim(conn, caller.key_id, key, &fingerprint).await?
                    {
                        return Ok(Err(first));
                    }
                }
                let created = write(conn).await?;
                changes::seal(conn, Utc::now()).await?;
                if let Some(key) = &key.0 {
                    let headers = [
                        ("Location", created.location.as_str()),
                        ("ETag", created.representation.etag()),
                    ];
                    idempotency::record(
                        conn,
                        caller.key_id,
                        key,
                        StatusCode::CREATED,
                        &headers,
                        &created.representation.body,
                    )
                    .await?;
                }
                Ok(Ok(created))
            }
            .scope_boxed()
        })
        .await?;
    Ok(match outcome {
        Err(first) => first.replay(),
        Ok(Created {
            representation,
            location,
        }) => {
            let mut response = representation.respond(req, StatusCode::CREATED, Audience::Private);
            if let Ok(location) = header::HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
    })
}

/// Applies a JSON merge patch (RFC 7396) to a document: members set to
/// `null` are removed, objects are merged member by member, anything else
/// replaces what was there.
pub fn merge(target: Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut merged = match target {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    for (name, value) in patch {
        if value.is_null() {
            merged.remove(name);
        } else {
            let current = merged.remove(name).unwrap_or(Value::Null);
            merged.insert(name.clone(), merge(current, value));
        }
    }
    Value::Object(merged)
}

/// Checks a whole document as `check` says (its members among `known`, the
/// outlets it cites among the stored ones), adding to `problems` found
/// before, and reads it as a `T`, with the values the checks put in the form
/// they are stored in (links). Every problem is named at once (422). A
/// member that is `null` counts as absent.
pub async fn parse<T: DeserializeOwned, C: Cited>(
    conn: &mut AsyncPgConnection,
    document: &Value,
    known: &[&str],
    mut problems: Problems,
    check: Check,
) -> Result<T, AppError> {
    let mut document = without_nulls(document);
    let mut outlets = Vec::new();
    if let Some(mut fields) = problems.object(&mut document, known) {
        check(&mut fields, &mut outlets);
    }
    C::check(conn, &outlets, &mut problems).await?;
    problems.finish()?;
    serde_json::from_value(document)
        .map_err(|e| AppError::Unprocessable(vec![InvalidInput::field("", e.to_string())]))
}

/// The document with its `null` members (at any depth of objects) removed.
fn without_nulls(document: &Value) -> Value {
    merge(Value::Object(serde_json::Map::new()), document)
}

/// Marks the article as changed now, for those who sync by `updated_at`.
pub async fn touch_article(
    conn: &mut AsyncPgConnection,
    id: i64,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(articles::table.find(id))
        .set(articles::updated_at.eq(now))
        .execute(conn)
        .await
        .map(drop)
}

/// The failure of a resource that was locked and then not found.
pub fn vanished(what: &str, key: impl Display) -> AppError {
    AppError::internal(format!("{what} {key} vanished inside its own transaction"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge;

    #[test]
    fn a_merge_patch_sets_replaces_and_removes_members() {
        let current = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]});
        let patch = json!({"a": null, "b": {"c": null, "f": 4}, "e": [3], "g": "new"});
        assert_eq!(
            merge(current, &patch),
            json!({"b": {"d": 3, "f": 4}, "e": [3], "g": "new"})
        );
        assert_eq!(merge(json!({"a": 1}), &json!([1])), json!([1]));
        assert_eq!(merge(json!("x"), &json!({"a": null})), json!({}));
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::{merge, without_nulls};
    use crate::fuzzing::{config, json_value};

    /// Whether an object anywhere under objects (not arrays) holds `null`.
    fn holds_null_members(value: &Value) -> bool {
        match value {
            Value::Object(members) => members
                .values()
                .any(|member| member.is_null() || holds_null_members(member)),
            _ => false,
        }
    }

    proptest! {
        #![proptest_config(config(256))]

        /// JSON merge patch (RFC 7396) on any documents: a patch that is
        /// not an object replaces the target; an object patch removes the
        /// members it nulls, merges the rest member by member and keeps
        /// what it does not name; applying it twice is applying it once.
        #[test]
        fn fuzz_a_merge_patch_follows_rfc_7396(target in json_value(), patch in json_value()) {
            let merged = merge(target.clone(), &patch);
            let Value::Object(patch_members) = &patch else {
                prop_assert_eq!(merged, patch);
                return Ok(());
            };
            let Value::Object(members) = &merged else {
                prop_assert!(false, "an object patch makes an object");
                return Ok(());
            };
            for (name, value) in patch_members {
                if value.is_null() {
                    prop_assert!(!members.contains_key(name));
                } else {
                    let before = target.get(name).cloned().unwrap_or(Value::Null);
                    prop_assert_eq!(members.get(name), Some(&merge(before, value)));
                }
            }
            if let Value::Object(before) = &target {
                for (name, value) in before {
                    if !patch_members.contains_key(name) {
                        prop_assert_eq!(members.get(name), Some(value));
                    }
                }
            }
            prop_assert_eq!(merge(merged.clone(), &patch), merged);
        }

        /// A body read with its nulls dropped holds no `null` member at any
        /// depth of objects, and keeps every other member.
        #[test]
        fn fuzz_a_body_without_nulls_holds_none(document in json_value()) {
            let cleaned = without_nulls(&document);
            prop_assert!(!holds_null_members(&cleaned));
            if document.is_object() && !holds_null_members(&document) {
                prop_assert_eq!(cleaned, document);
            }
        }
    }
}
