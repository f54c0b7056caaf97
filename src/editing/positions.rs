//! Positions: an article's excerpts and roundups, and a roundup's links, are
//! numbered 1, 2, 3, … under their parent. A create makes room where the new
//! row goes, a delete closes the gap it leaves, and a reorder renumbers them
//! all in one statement: the unique position constraints are deferrable, so
//! PostgreSQL checks them at the end of each statement, not row by row.

use std::collections::HashSet;
use std::future::Future;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_query;
use diesel::sql_types::{Array, BigInt, Integer};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::Guarded;
use crate::error::{AppError, InvalidInput};
use crate::representation::Provenance;
use crate::validate::Problems;
use crate::visibility::Viewer;

/// The kinds of positioned rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Excerpt,
    Roundup,
    Link,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Self::Excerpt => "excerpts",
            Self::Roundup => "roundups",
            Self::Link => "roundup_links",
        }
    }

    fn parent(self) -> &'static str {
        match self {
            Self::Excerpt | Self::Roundup => "article_id",
            Self::Link => "roundup_id",
        }
    }

    /// SQL for the id of the article that row `$1` belongs to.
    fn article_of(self) -> &'static str {
        match self {
            Self::Excerpt => "SELECT article_id FROM excerpts WHERE id = $1",
            Self::Roundup => "SELECT article_id FROM roundups WHERE id = $1",
            Self::Link => {
                "SELECT r.article_id FROM roundup_links l JOIN roundups r ON r.id = l.roundup_id \
                 WHERE l.id = $1"
            }
        }
    }

    /// What the API calls one.
    pub const fn noun(self) -> &'static str {
        match self {
            Self::Excerpt => "excerpt",
            Self::Roundup => "roundup",
            Self::Link => "press link",
        }
    }
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Placed {
    #[diesel(sql_type = BigInt)]
    parent_id: i64,
    #[diesel(sql_type = Integer)]
    position: i32,
}

/// A positioned row, locked with its article until the transaction ends.
#[derive(Debug, Clone, Copy)]
pub struct Child {
    pub id: i64,
    pub article_id: i64,
    pub position: i32,
    pub siblings: Siblings,
}

impl Child {
    /// Locks the article the row belongs to, then the row: every write to an
    /// article's contents takes the article's lock first.
    pub async fn lock(
        conn: &mut AsyncPgConnection,
        kind: Kind,
        id: i64,
    ) -> QueryResult<Option<Self>> {
        let article: Option<Id> = sql_query(format!(
            "SELECT id FROM articles WHERE id = ({}) FOR UPDATE",
            kind.article_of()
        ))
        .bind::<BigInt, _>(id)
        .get_result(conn)
        .await
        .optional()?;
        let Some(article) = article else {
            return Ok(None);
        };
        let placed: Option<Placed> = sql_query(format!(
            "SELECT {} AS parent_id, position FROM {} WHERE id = $1 FOR UPDATE",
            kind.parent(),
            kind.table()
        ))
        .bind::<BigInt, _>(id)
        .get_result(conn)
        .await
        .optional()?;
        Ok(placed.map(|placed| Self {
            id,
            article_id: article.id,
            position: placed.position,
            siblings: Siblings {
                kind,
                parent_id: placed.parent_id,
            },
        }))
    }

    /// Deletes the row (and what it holds), closes the gap it leaves and
    /// marks its article changed.
    pub async fn delete(
        &self,
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
    ) -> QueryResult<()> {
        sql_query(format!(
            "DELETE FROM {} WHERE id = $1",
            self.siblings.kind.table()
        ))
        .bind::<BigInt, _>(self.id)
        .execute(conn)
        .await?;
        self.siblings.shift(conn, self.position + 1, -1).await?;
        super::touch_article(conn, self.article_id, now).await
    }
}

/// The representation of a positioned row, found by id.
pub trait Positioned: Serialize + Send + Sized {
    const KIND: Kind;

    /// The row with this id, if the viewer may see it, and what its
    /// representation shows (for `Last-Modified` and `Surrogate-Key`).
    fn find(
        conn: &mut AsyncPgConnection,
        id: i64,
        viewer: Viewer,
    ) -> impl Future<Output = QueryResult<Option<(Self, Provenance)>>> + Send;

    /// The row as editors see it, inside the transaction that wrote it.
    fn written(
        conn: &mut AsyncPgConnection,
        id: i64,
    ) -> impl Future<Output = Result<Self, AppError>> + Send {
        async move {
            Self::find(conn, id, Viewer::Editor)
                .await?
                .map(|(view, _)| view)
                .ok_or_else(|| super::vanished(Self::KIND.noun(), id))
        }
    }
}

/// A positioned row represented as `V`, locked for a write.
pub struct Locked<V>(pub Child, PhantomData<fn() -> V>);

impl<V: Positioned> Guarded for Locked<V> {
    type Key = i64;
    type View = V;
    const WHAT: &'static str = V::KIND.noun();

    async fn lock(conn: &mut AsyncPgConnection, id: &i64) -> QueryResult<Option<Self>> {
        let child = Child::lock(conn, V::KIND, *id).await?;
        Ok(child.map(|child| Self(child, PhantomData)))
    }

    async fn view(&self, conn: &mut AsyncPgConnection, _: DateTime<Utc>) -> Result<V, AppError> {
        V::written(conn, self.0.id).await
    }
}

/// The rows of one kind under one parent, in their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Siblings {
    pub kind: Kind,
    pub parent_id: i64,
}

impl Siblings {
    pub fn excerpts_of(article_id: i64) -> Self {
        Self {
            kind: Kind::Excerpt,
            parent_id: article_id,
        }
    }

    pub fn roundups_of(article_id: i64) -> Self {
        Self {
            kind: Kind::Roundup,
            parent_id: article_id,
        }
    }

    pub fn links_of(roundup_id: i64) -> Self {
        Self {
            kind: Kind::Link,
            parent_id: roundup_id,
        }
    }

    /// Their ids, in order.
    pub async fn ids(self, conn: &mut AsyncPgConnection) -> QueryResult<Vec<i64>> {
        let rows: Vec<Id> = sql_query(format!(
            "SELECT id FROM {} WHERE {} = $1 ORDER BY position",
            self.kind.table(),
            self.kind.parent()
        ))
        .bind::<BigInt, _>(self.parent_id)
        .load(conn)
        .await?;
        Ok(rows.into_iter().map(|row| row.id).collect())
    }

    /// Moves those at `from` and after by `by` places.
    async fn shift(self, conn: &mut AsyncPgConnection, from: i32, by: i32) -> QueryResult<()> {
        sql_query(format!(
            "UPDATE {} SET position = position + $3 WHERE {} = $1 AND position >= $2",
            self.kind.table(),
            self.kind.parent()
        ))
        .bind::<BigInt, _>(self.parent_id)
        .bind::<Integer, _>(from)
        .bind::<Integer, _>(by)
        .execute(conn)
        .await
        .map(drop)
    }

    /// Checks the body of a create, as `check` says and with its optional
    /// `position` (1 to one past the last; the end when absent), then makes
    /// room there. The new row is to be written at the returned position.
    pub async fn prepare<T: DeserializeOwned, C: super::Cited>(
        self,
        conn: &mut AsyncPgConnection,
        body: &Value,
        known: &[&str],
        check: super::Check,
    ) -> Result<(T, i32), AppError> {
        let count = self.ids(conn).await?.len();
        let mut problems = Problems::new();
        let (document, position) = take_position(body, count, &mut problems);
        let value = super::parse::<T, C>(conn, &document, known, problems, check).await?;
        self.shift(conn, position, 1).await?;
        Ok((value, position))
    }

    /// Puts them in the order a body `{"ids": [...]}` gives, which must list
    /// each of them exactly once.
    pub async fn reorder(self, conn: &mut AsyncPgConnection, body: &Value) -> Result<(), AppError> {
        let current = self.ids(conn).await?;
        let order = parse_order(body, &current, self.kind.noun())?;
        sql_query(format!(
            "UPDATE {table} AS t SET position = o.position::integer \
             FROM unnest($2::bigint[]) WITH ORDINALITY AS o(id, position) \
             WHERE t.id = o.id AND t.{parent} = $1",
            table = self.kind.table(),
            parent = self.kind.parent()
        ))
        .bind::<BigInt, _>(self.parent_id)
        .bind::<Array<BigInt>, _>(order)
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// A new order of an article's excerpts or roundups, or of a roundup's
/// links: every id of them, each once, first to last.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// Every id, each exactly once, in the new order.
    pub ids: Vec<i64>,
}

/// Splits a create body into the document to check and the position to
/// insert at among `count` siblings, noting a bad `position` in `problems`.
fn take_position(body: &Value, count: usize, problems: &mut Problems) -> (Value, i32) {
    let mut document = body.clone();
    let last = count + 1;
    let given = document
        .as_object_mut()
        .and_then(|members| members.remove("position"));
    let position = match given {
        None | Some(Value::Null) => Some(last),
        Some(value) => value
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=last).contains(n)),
    };
    let position = position.unwrap_or_else(|| {
        problems.0.push(InvalidInput::field(
            "/position",
            format!("must be a whole number from 1 to {last}"),
        ));
        last
    });
    (document, i32::try_from(position).unwrap_or(i32::MAX))
}

/// The ids of a reorder body, which must be exactly `current` in some order.
fn parse_order(body: &Value, current: &[i64], noun: &str) -> Result<Vec<i64>, AppError> {
    let mut problems = Problems::new();
    let mut items = Vec::new();
    let mut order = Vec::new();
    let mut document = body.clone();
    if let Some(mut fields) = problems.object(&mut document, &["ids"]) {
        match body.get("ids") {
            Some(Value::Array(ids)) => {
                let known: HashSet<i64> = current.iter().copied().collect();
                let mut seen = HashSet::new();
                for (index, id) in ids.iter().enumerate() {
                    let problem = match id.as_i64() {
                        None => Some(format!("must be the id of a {noun}")),
                        Some(id) if !known.contains(&id) => {
                            Some(format!("is not the id of a {noun} here"))
                        }
                        Some(id) if !seen.insert(id) => Some("is listed twice".to_string()),
                        Some(id) => {
                            order.push(id);
                            None
                        }
                    };
                    if let Some(problem) = problem {
                        items.push(InvalidInput::field(format!("/ids/{index}"), problem));
                    }
                }
                let missing: Vec<String> = current
                    .iter()
                    .filter(|id| !seen.contains(*id))
                    .map(i64::to_string)
                    .collect();
                if !missing.is_empty() {
                    fields.problem(
                        "ids",
                        format!(
                            "must list every {noun} here; missing: {}",
                            missing.join(", ")
                        ),
                    );
                }
            }
            None | Some(Value::Null) => fields.problem("ids", "is required"),
            Some(_) => fields.problem("ids", format!("must be a list of {noun} ids")),
        }
    }
    problems.0.extend(items);
    problems.finish()?;
    Ok(order)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pointers(error: AppError) -> Vec<String> {
        match error {
            AppError::Unprocessable(problems) => {
                problems.into_iter().filter_map(|p| p.pointer).collect()
            }
            other => panic!("not a 422: {other}"),
        }
    }

    #[test]
    fn an_order_must_list_each_sibling_once() {
        assert_eq!(
            parse_order(&json!({"ids": [3, 1, 2]}), &[1, 2, 3], "excerpt").unwrap(),
            [3, 1, 2]
        );
        assert_eq!(
            parse_order(&json!({"ids": []}), &[], "excerpt").unwrap(),
            Vec::<i64>::new()
        );
        let bad = |body| pointers(parse_order(&body, &[1, 2, 3], "excerpt").unwrap_err());
        assert_eq!(bad(json!({"ids": [3, 1]})), ["/ids"]);
        assert_eq!(bad(json!({"ids": [3, 1, 2, 9]})), ["/ids/3"]);
        assert_eq!(bad(json!({"ids": [3, 3, 1, 2]})), ["/ids/1"]);
        assert_eq!(bad(json!({"ids": ["1", 2, 3]})), ["/ids", "/ids/0"]);
        assert_eq!(bad(json!({"ids": 1})), ["/ids"]);
        assert_eq!(bad(json!({})), ["/ids"]);
        assert_eq!(bad(json!({"ids": [1, 2, 3], "extra": true})), ["/extra"]);
    }

    #[test]
    fn a_position_runs_from_one_to_one_past_the_last() {
        let take = |body: Value| {
            let mut problems = Problems::new();
            let (document, position) = take_position(&body, 2, &mut problems);
            (document, position, problems.0.len())
        };
        assert_eq!(take(json!({"a": 1})), (json!({"a": 1}), 3, 0));
        assert_eq!(
            take(json!({"a": 1, "position": 1})),
            (json!({"a": 1}), 1, 0)
        );
        assert_eq!(take(json!({"position": 3})).1, 3);
        for bad in [json!(0), json!(4), json!(-1), json!(1.5), json!("1")] {
            assert_eq!(take(json!({"position": bad})).2, 1, "{bad}");
        }
    }
}
