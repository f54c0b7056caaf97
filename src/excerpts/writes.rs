//! Excerpt writes. Each runs inside the caller's transaction; none commits.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use super::commands::{self, ExcerptMembers};
use super::views::Excerpt;
use crate::articles::queries::ArticleRow;
use crate::editing::{self, Added, Check, Guarded, Locked, Patchable};
use crate::error::AppError;
use crate::markdown;
use crate::schema::excerpts;

/// The columns an excerpt's members set: spelled once here for every
/// writer (a new excerpt, a patch, an article created with excerpts, the
/// bulk loader), which each bring the cited outlet's id and the HTML.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = excerpts, treat_none_as_null = true)]
pub struct Columns<'a> {
    headline: &'a str,
    bylines: &'a [String],
    outlet_id: i64,
    source_published_on: Option<NaiveDate>,
    source_url: &'a str,
    call_to_action: Option<&'a str>,
    body: &'a str,
    body_html: &'a str,
}

impl<'a> Columns<'a> {
    pub fn new(excerpt: &'a ExcerptMembers, outlet_id: i64, body_html: &'a str) -> Self {
        Self {
            headline: &excerpt.headline,
            bylines: &excerpt.bylines,
            outlet_id,
            source_published_on: excerpt.source_published_on,
            source_url: &excerpt.source_url,
            call_to_action: excerpt.call_to_action.as_deref(),
            body: &excerpt.body_markdown,
            body_html,
        }
    }
}

/// What one excerpt's write needs besides its members: the cited outlet's
/// id, and its HTML, rendered once, here, so that reads render nothing.
async fn outlet_and_html(
    conn: &mut AsyncPgConnection,
    excerpt: &ExcerptMembers,
) -> Result<(i64, String), AppError> {
    let outlet_id = crate::outlets::writes::cited_id(conn, &excerpt.outlet).await?;
    Ok((
        outlet_id,
        markdown::render_one(&excerpt.body_markdown).await?,
    ))
}

/// An article quotes its excerpts; a new one is written at its position.
impl Added for Excerpt {
    type Parent = ArticleRow;
    type Members = ExcerptMembers;
    type Cites = crate::outlets::commands::Outlets;
    const FIELDS: &'static [&'static str] = &commands::FIELDS;
    const CHECK: Check = ExcerptMembers::check;

    async fn insert(
        conn: &mut AsyncPgConnection,
        article_id: i64,
        position: i32,
        excerpt: &ExcerptMembers,
    ) -> Result<i64, AppError> {
        let (outlet_id, html) = outlet_and_html(conn, excerpt).await?;
        Ok(diesel::insert_into(excerpts::table)
            .values((
                excerpts::article_id.eq(article_id),
                excerpts::position.eq(position),
                Columns::new(excerpt, outlet_id, &html),
            ))
            .returning(excerpts::id)
            .get_result(conn)
            .await?)
    }

    fn location(id: i64) -> String {
        format!("/v1/excerpts/{id}")
    }
}

/// A patch replaces the excerpt's members.
impl Patchable for Locked<Excerpt> {
    type Members = ExcerptMembers;
    type Cites = crate::outlets::commands::Outlets;
    const FIELDS: &'static [&'static str] = &commands::FIELDS;
    const CHECK: Check = ExcerptMembers::check;

    fn members(current: &Excerpt) -> Result<Value, AppError> {
        ExcerptMembers::document(current)
    }

    async fn write(
        &self,
        conn: &mut AsyncPgConnection,
        excerpt: ExcerptMembers,
        now: DateTime<Utc>,
    ) -> Result<Excerpt, AppError> {
        let (outlet_id, html) = outlet_and_html(conn, &excerpt).await?;
        diesel::update(excerpts::table.find(self.0.id))
            .set((
                Columns::new(&excerpt, outlet_id, &html),
                excerpts::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        editing::touch_article(conn, self.0.article_id, now).await?;
        self.view(conn, now).await
    }
}
