//! Roundup and press-link writes. Each runs inside the caller's transaction;
//! none commits.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use super::commands::{
    LinkMembers, RoundupMembers, LINK_FIELDS, ROUNDUP_FIELDS, ROUNDUP_PATCH_FIELDS,
};
use super::views::{ListedLink, Roundup};
use crate::articles::queries::ArticleRow;
use crate::editing::{self, Added, Check, Guarded, Locked, Parent, Patchable};
use crate::error::AppError;
use crate::schema::{roundup_links, roundups};

/// An article holds its roundups; a new one is written at its position with
/// its links in their order.
impl Added for Roundup {
    type Parent = ArticleRow;
    type Members = RoundupMembers;
    type Cites = crate::outlets::commands::Outlets;
    const FIELDS: &'static [&'static str] = &ROUNDUP_FIELDS;
    const CHECK: Check = RoundupMembers::check;

    async fn insert(
        conn: &mut AsyncPgConnection,
        article_id: i64,
        position: i32,
        roundup: &RoundupMembers,
    ) -> Result<i64, AppError> {
        let id = diesel::insert_into(roundups::table)
            .values((
                roundups::article_id.eq(article_id),
                roundups::position.eq(position),
                roundups::title.eq(&roundup.title),
            ))
            .returning(roundups::id)
            .get_result(conn)
            .await?;
        for (position, link) in (1..).zip(&roundup.links) {
            ListedLink::insert(conn, id, position, link).await?;
        }
        Ok(id)
    }

    fn location(id: i64) -> String {
        format!("/v1/roundups/{id}")
    }
}

/// A patch of a roundup changes its title; its links have endpoints of
/// their own.
impl Patchable for Locked<Roundup> {
    type Members = RoundupMembers;
    type Cites = crate::outlets::commands::Outlets;
    const FIELDS: &'static [&'static str] = &ROUNDUP_PATCH_FIELDS;
    const CHECK: Check = RoundupMembers::check;

    fn members(current: &Roundup) -> Result<Value, AppError> {
        Ok(RoundupMembers::document(current))
    }

    async fn write(
        &self,
        conn: &mut AsyncPgConnection,
        roundup: RoundupMembers,
        now: DateTime<Utc>,
    ) -> Result<Roundup, AppError> {
        diesel::update(roundups::table.find(self.0.id))
            .set((
                roundups::title.eq(&roundup.title),
                roundups::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        editing::touch_article(conn, self.0.article_id, now).await?;
        self.view(conn, now).await
    }
}

/// A roundup holds its links.
impl Parent for Locked<Roundup> {
    fn id(&self) -> i64 {
        self.0.id
    }

    fn article_id(&self) -> i64 {
        self.0.article_id
    }
}

/// The columns a press link's body sets.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = roundup_links)]
struct LinkColumns<'a> {
    headline: &'a str,
    outlet_id: i64,
    url: &'a str,
}

impl<'a> LinkColumns<'a> {
    async fn of(conn: &mut AsyncPgConnection, link: &'a LinkMembers) -> Result<Self, AppError> {
        Ok(Self {
            headline: &link.headline,
            outlet_id: crate::outlets::writes::cited_id(conn, &link.outlet).await?,
            url: &link.url,
        })
    }
}

/// A new link is written at its position in its roundup.
impl Added for ListedLink {
    type Parent = Locked<Roundup>;
    type Members = LinkMembers;
    type Cites = crate::outlets::commands::Outlets;
    const FIELDS: &'static [&'static str] = &LINK_FIELDS;
    const CHECK: Check = LinkMembers::check;

    async fn insert(
        conn: &mut AsyncPgConnection,
        roundup_id: i64,
        position: i32,
        link: &LinkMembers,
    ) -> Result<i64, AppError> {
        let columns = LinkColumns::of(conn, link).await?;
        Ok(diesel::insert_into(roundup_links::table)
            .values((
                roundup_links::roundup_id.eq(roundup_id),
                roundup_links::position.eq(position),
                columns,
            ))
            .returning(roundup_links::id)
            .get_result(conn)
            .await?)
    }

    fn location(id: i64) -> String {
        format!("/v1/roundup-links/{id}")
    }
}

/// A patch replaces the link's members.
impl Patchable for Locked<ListedLink> {
    type Members = LinkMembers;
    type Cites = crate::outlets::commands::Outlets;
    const FIELDS: &'static [&'static str] = &LINK_FIELDS;
    const CHECK: Check = LinkMembers::check;

    fn members(current: &ListedLink) -> Result<Value, AppError> {
        LinkMembers::document(current)
    }

    async fn write(
        &self,
        conn: &mut AsyncPgConnection,
        link: LinkMembers,
        now: DateTime<Utc>,
    ) -> Result<ListedLink, AppError> {
        let columns = LinkColumns::of(conn, &link).await?;
        diesel::update(roundup_links::table.find(self.0.id))
            .set((columns, roundup_links::updated_at.eq(now)))
            .execute(conn)
            .await?;
        editing::touch_article(conn, self.0.article_id, now).await?;
        self.view(conn, now).await
    }
}
