//! Whole sites in one JSON document, loaded in one transaction.
//!
//! `broadsheet seed` loads the demo site kept in `demo/site.json`; tests load
//! sites of their own. Loading is idempotent: outlets, tags and articles are
//! upserted by slug, and an article's excerpts, roundups, tags and view counts
//! are replaced by what the document says, so loading twice changes nothing.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;

use crate::params::is_slug;
use crate::schema::{
    article_tags, articles, excerpts, outlets, roundup_links, roundups, tags, view_counts,
};

/// The demo content: the seed post, its outlets, and the popular posts it names.
pub const DEMO: &str = include_str!("../demo/site.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Free text about the document, e.g. where its data came from.
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub outlets: Vec<SiteOutlet>,
    #[serde(default)]
    pub tags: Vec<SiteTag>,
    #[serde(default)]
    pub articles: Vec<SiteArticle>,
    /// View counts; an article listed here has its stored counts replaced.
    #[serde(default)]
    pub views: Vec<SiteViews>,
}

#[derive(Debug, Deserialize, Insertable, AsChangeset)]
#[diesel(table_name = outlets)]
#[serde(deny_unknown_fields)]
pub struct SiteOutlet {
    pub slug: String,
    pub name: String,
    pub home_url: String,
    pub country_code: Option<String>,
}

#[derive(Debug, Deserialize, Insertable, AsChangeset)]
#[diesel(table_name = tags)]
#[serde(deny_unknown_fields)]
pub struct SiteTag {
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteArticle {
    pub slug: String,
    pub title: String,
    pub summary: Option<String>,
    #[serde(default)]
    pub body_markdown: String,
    /// `draft` or `published`.
    pub status: String,
    pub published_at: Option<DateTime<Utc>>,
    /// Tag slugs.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub excerpts: Vec<SiteExcerpt>,
    #[serde(default)]
    pub roundups: Vec<SiteRoundup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteExcerpt {
    pub headline: String,
    #[serde(default)]
    pub bylines: Vec<String>,
    /// Outlet slug.
    pub outlet: String,
    pub source_published_on: Option<NaiveDate>,
    pub source_url: String,
    pub call_to_action: Option<String>,
    pub body_markdown: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteRoundup {
    pub title: String,
    #[serde(default)]
    pub links: Vec<SiteLink>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteLink {
    pub headline: String,
    /// Outlet slug.
    pub outlet: String,
    pub url: String,
}

/// Views of one article in the hour that began `hours_ago` hours before the load.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteViews {
    /// Article slug.
    pub article: String,
    pub hours_ago: u32,
    pub views: i64,
}

/// What a load wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub outlets: usize,
    pub tags: usize,
    pub articles: usize,
    pub excerpts: usize,
    pub links: usize,
    pub view_buckets: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("the site document is not valid JSON for this format: {0}")]
    Format(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
}

impl Site {
    pub fn parse(json: &str) -> Result<Self, SiteError> {
        Ok(serde_json::from_str(json)?)
    }

    /// Checks what the database would refuse less clearly.
    fn validate(&self) -> Result<(), SiteError> {
        let invalid = |what: String| Err(SiteError::Invalid(what));
        for slug in self
            .outlets
            .iter()
            .map(|o| &o.slug)
            .chain(self.tags.iter().map(|t| &t.slug))
            .chain(self.articles.iter().map(|a| &a.slug))
        {
            if !is_slug(slug) {
                return invalid(format!("`{slug}` is not a slug"));
            }
        }
        for article in &self.articles {
            if article.status == "published" && article.published_at.is_none() {
                return invalid(format!(
                    "published article `{}` needs published_at",
                    article.slug
                ));
            }
        }
        for views in &self.views {
            if views.views < 0 {
                return invalid(format!("negative views for `{}`", views.article));
            }
        }
        Ok(())
    }
}

/// Loads the whole document in one transaction: all of it, or nothing.
pub async fn load(conn: &mut AsyncPgConnection, site: &Site) -> Result<Loaded, SiteError> {
    site.validate()?;
    conn.transaction::<_, SiteError, _>(|conn| {
        async move { load_in(conn, site).await }.scope_boxed()
    })
    .await
}

async fn load_in(conn: &mut AsyncPgConnection, site: &Site) -> Result<Loaded, SiteError> {
    let mut loaded = Loaded::default();
    for outlet in &site.outlets {
        diesel::insert_into(outlets::table)
            .values(outlet)
            .on_conflict(outlets::slug)
            .do_update()
            .set(outlet)
            .execute(conn)
            .await?;
        loaded.outlets += 1;
    }
    for tag in &site.tags {
        diesel::insert_into(tags::table)
            .values(tag)
            .on_conflict(tags::slug)
            .do_update()
            .set(tag)
            .execute(conn)
            .await?;
        loaded.tags += 1;
    }
    let outlet_ids = outlet_ids(conn).await?;
    let mut article_ids: HashMap<&str, i64> = HashMap::new();
    for article in &site.articles {
        let id = upsert_article(conn, article).await?;
        article_ids.insert(&article.slug, id);
        loaded.articles += 1;
        set_tags(conn, id, &article.tags).await?;
        let (excerpts, links) = replace_children(conn, id, article, &outlet_ids).await?;
        loaded.excerpts += excerpts;
        loaded.links += links;
    }

    load_views(conn, site, &article_ids, &mut loaded).await?;
    Ok(loaded)
}

/// Replaces an article's tags, creating tags that do not exist yet (named
/// after their slug: `united-states` becomes "United states").
pub async fn set_tags(
    conn: &mut AsyncPgConnection,
    article_id: i64,
    slugs: &[String],
) -> QueryResult<()> {
    diesel::delete(article_tags::table.filter(article_tags::article_id.eq(article_id)))
        .execute(conn)
        .await?;
    let slugs: Vec<&String> = slugs.iter().collect::<HashSet<_>>().into_iter().collect();
    if slugs.is_empty() {
        return Ok(());
    }
    let new_tags: Vec<_> = slugs
        .iter()
        .map(|slug| (tags::slug.eq(*slug), tags::name.eq(name_from_slug(slug))))
        .collect();
    diesel::insert_into(tags::table)
        .values(&new_tags)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    let tag_ids: Vec<i64> = tags::table
        .filter(tags::slug.eq_any(&slugs))
        .select(tags::id)
        .load(conn)
        .await?;
    let rows: Vec<_> = tag_ids
        .into_iter()
        .map(|tag_id| {
            (
                article_tags::article_id.eq(article_id),
                article_tags::tag_id.eq(tag_id),
            )
        })
        .collect();
    diesel::insert_into(article_tags::table)
        .values(&rows)
        .execute(conn)
        .await
        .map(drop)
}

fn name_from_slug(slug: &str) -> String {
    let spaced = slug.replace('-', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

/// The ids of all outlets, by slug.
pub async fn outlet_ids(conn: &mut AsyncPgConnection) -> QueryResult<HashMap<String, i64>> {
    Ok(outlets::table
        .select((outlets::slug, outlets::id))
        .load(conn)
        .await?
        .into_iter()
        .collect())
}

/// Replaces an article's excerpts and roundups with the document's, in its
/// order; returns how many excerpts and links were written.
pub async fn replace_children(
    conn: &mut AsyncPgConnection,
    id: i64,
    article: &SiteArticle,
    outlet_ids: &HashMap<String, i64>,
) -> Result<(usize, usize), SiteError> {
    let outlet_id = |slug: &str| {
        outlet_ids.get(slug).copied().ok_or_else(|| {
            SiteError::Invalid(format!("`{}` cites unknown outlet `{slug}`", article.slug))
        })
    };
    diesel::delete(excerpts::table.filter(excerpts::article_id.eq(id)))
        .execute(conn)
        .await?;
    diesel::delete(roundups::table.filter(roundups::article_id.eq(id)))
        .execute(conn)
        .await?;
    for (index, excerpt) in article.excerpts.iter().enumerate() {
        diesel::insert_into(excerpts::table)
            .values((
                excerpts::article_id.eq(id),
                excerpts::position.eq(index as i32 + 1),
                excerpts::headline.eq(&excerpt.headline),
                excerpts::bylines.eq(&excerpt.bylines),
                excerpts::outlet_id.eq(outlet_id(&excerpt.outlet)?),
                excerpts::source_published_on.eq(excerpt.source_published_on),
                excerpts::source_url.eq(&excerpt.source_url),
                excerpts::call_to_action.eq(&excerpt.call_to_action),
                excerpts::body.eq(&excerpt.body_markdown),
            ))
            .execute(conn)
            .await?;
    }
    let mut links = 0;
    for (index, roundup) in article.roundups.iter().enumerate() {
        let roundup_id: i64 = diesel::insert_into(roundups::table)
            .values((
                roundups::article_id.eq(id),
                roundups::position.eq(index as i32 + 1),
                roundups::title.eq(&roundup.title),
            ))
            .returning(roundups::id)
            .get_result(conn)
            .await?;
        for (index, link) in roundup.links.iter().enumerate() {
            diesel::insert_into(roundup_links::table)
                .values((
                    roundup_links::roundup_id.eq(roundup_id),
                    roundup_links::position.eq(index as i32 + 1),
                    roundup_links::headline.eq(&link.headline),
                    roundup_links::outlet_id.eq(outlet_id(&link.outlet)?),
                    roundup_links::url.eq(&link.url),
                ))
                .execute(conn)
                .await?;
            links += 1;
        }
    }
    Ok((article.excerpts.len(), links))
}

async fn upsert_article(
    conn: &mut AsyncPgConnection,
    article: &SiteArticle,
) -> Result<i64, SiteError> {
    let values = (
        articles::slug.eq(&article.slug),
        articles::title.eq(&article.title),
        articles::summary.eq(&article.summary),
        articles::body.eq(&article.body_markdown),
        articles::status.eq(&article.status),
        articles::published_at.eq(article.published_at),
    );
    Ok(diesel::insert_into(articles::table)
        .values(values)
        .on_conflict(articles::slug)
        .do_update()
        .set((
            articles::title.eq(excluded(articles::title)),
            articles::summary.eq(excluded(articles::summary)),
            articles::body.eq(excluded(articles::body)),
            articles::status.eq(excluded(articles::status)),
            articles::published_at.eq(excluded(articles::published_at)),
            articles::updated_at.eq(diesel::dsl::now),
        ))
        .returning(articles::id)
        .get_result(conn)
        .await?)
}

async fn load_views(
    conn: &mut AsyncPgConnection,
    site: &Site,
    loaded_ids: &HashMap<&str, i64>,
    loaded: &mut Loaded,
) -> Result<(), SiteError> {
    if site.views.is_empty() {
        return Ok(());
    }
    let this_hour = Utc::now()
        .duration_trunc(Duration::hours(1))
        .map_err(|e| SiteError::Invalid(e.to_string()))?;
    let mut buckets: HashMap<(i64, DateTime<Utc>), i64> = HashMap::new();
    for entry in &site.views {
        let id = match loaded_ids.get(entry.article.as_str()) {
            Some(id) => *id,
            None => articles::table
                .filter(articles::slug.eq(&entry.article))
                .select(articles::id)
                .first(conn)
                .await
                .optional()?
                .ok_or_else(|| {
                    SiteError::Invalid(format!("views for unknown article `{}`", entry.article))
                })?,
        };
        let bucket = this_hour - Duration::hours(i64::from(entry.hours_ago));
        *buckets.entry((id, bucket)).or_default() += entry.views;
    }
    let ids: HashSet<i64> = buckets.keys().map(|(id, _)| *id).collect();
    diesel::delete(view_counts::table.filter(view_counts::article_id.eq_any(ids)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = buckets
        .into_iter()
        .map(|((id, bucket), views)| {
            (
                view_counts::article_id.eq(id),
                view_counts::granularity.eq("hour"),
                view_counts::bucket_start.eq(bucket),
                view_counts::views.eq(views),
            )
        })
        .collect();
    loaded.view_buckets = rows.len();
    diesel::insert_into(view_counts::table)
        .values(&rows)
        .execute(conn)
        .await?;
    Ok(())
}
