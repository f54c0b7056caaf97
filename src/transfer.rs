//! Moving content out: the whole site as one document of the `site` format,
//! which `site::load` reads back.
//!
//! The output is deterministic, so that export, import into an empty
//! database, and export again give the same bytes: outlets, tags and
//! articles sorted by slug, an article's children in position order, its
//! tags and old slugs by slug, views by article, granularity and bucket.
//! Slugs are compared byte by byte here rather than by the database's
//! collation, which differs between servers. Ids are left out: they differ
//! between databases, and slugs name everything.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::articles::commands::NewArticle;
use crate::schema::{
    article_slug_history, article_tags, articles, excerpts, outlets, roundup_links, roundups, tags,
    view_counts,
};
use crate::site::{
    Granularity, Site, SiteArticle, SiteError, SiteExcerpt, SiteLink, SiteOutlet, SiteRoundup,
    SiteTag, SiteViews,
};

/// Reads the whole site from one consistent snapshot of the database.
pub async fn export(conn: &mut AsyncPgConnection) -> Result<Site, SiteError> {
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| async move { export_in(conn).await }.scope_boxed())
        .await
}

type ArticleRow = (
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    DateTime<Utc>,
);

type ExcerptRow = (
    String,
    Vec<String>,
    String,
    Option<NaiveDate>,
    String,
    Option<String>,
    String,
);

async fn export_in(conn: &mut AsyncPgConnection) -> Result<Site, SiteError> {
    let mut outlets: Vec<SiteOutlet> = outlets::table
        .select((
            outlets::slug,
            outlets::name,
            outlets::home_url,
            outlets::country_code,
        ))
        .load::<(String, String, String, Option<String>)>(conn)
        .await?
        .into_iter()
        .map(|(slug, name, home_url, country_code)| SiteOutlet {
            slug,
            name,
            home_url,
            country_code,
        })
        .collect();
    outlets.sort_by(|a, b| a.slug.cmp(&b.slug));

    let mut tags: Vec<SiteTag> = tags::table
        .select((tags::slug, tags::name))
        .load::<(String, String)>(conn)
        .await?
        .into_iter()
        .map(|(slug, name)| SiteTag { slug, name })
        .collect();
    tags.sort_by(|a, b| a.slug.cmp(&b.slug));

    let mut tags_of: HashMap<i64, Vec<String>> = HashMap::new();
    for (article_id, slug) in article_tags::table
        .inner_join(tags::table)
        .select((article_tags::article_id, tags::slug))
        .load::<(i64, String)>(conn)
        .await?
    {
        tags_of.entry(article_id).or_default().push(slug);
    }

    let mut old_slugs_of: HashMap<i64, Vec<String>> = HashMap::new();
    for (article_id, slug) in article_slug_history::table
        .select((article_slug_history::article_id, article_slug_history::slug))
        .load::<(i64, String)>(conn)
        .await?
    {
        old_slugs_of.entry(article_id).or_default().push(slug);
    }

    let mut excerpts_of: HashMap<i64, Vec<SiteExcerpt>> = HashMap::new();
    for (article_id, row) in excerpts::table
        .inner_join(outlets::table)
        .order((excerpts::article_id, excerpts::position))
        .select((
            excerpts::article_id,
            (
                excerpts::headline,
                excerpts::bylines,
                outlets::slug,
                excerpts::source_published_on,
                excerpts::source_url,
                excerpts::call_to_action,
                excerpts::body,
            ),
        ))
        .load::<(i64, ExcerptRow)>(conn)
        .await?
    {
        let (headline, bylines, outlet, source_published_on, source_url, call_to_action, body) =
            row;
        excerpts_of
            .entry(article_id)
            .or_default()
            .push(SiteExcerpt {
                headline,
                bylines,
                outlet,
                source_published_on,
                source_url,
                call_to_action,
                body_markdown: body,
            });
    }

    let mut links_of: HashMap<i64, Vec<SiteLink>> = HashMap::new();
    for (roundup_id, headline, outlet, url) in roundup_links::table
        .inner_join(outlets::table)
        .order((roundup_links::roundup_id, roundup_links::position))
        .select((
            roundup_links::roundup_id,
            roundup_links::headline,
            outlets::slug,
            roundup_links::url,
        ))
        .load::<(i64, String, String, String)>(conn)
        .await?
    {
        links_of.entry(roundup_id).or_default().push(SiteLink {
            headline,
            outlet,
            url,
        });
    }
    let mut roundups_of: HashMap<i64, Vec<SiteRoundup>> = HashMap::new();
    for (id, article_id, title) in roundups::table
        .order((roundups::article_id, roundups::position))
        .select((roundups::id, roundups::article_id, roundups::title))
        .load::<(i64, i64, String)>(conn)
        .await?
    {
        roundups_of
            .entry(article_id)
            .or_default()
            .push(SiteRoundup {
                title,
                links: links_of.remove(&id).unwrap_or_default(),
            });
    }

    let rows: Vec<ArticleRow> = articles::table
        .select((
            articles::id,
            articles::slug,
            articles::title,
            articles::summary,
            articles::body,
            articles::status,
            articles::published_at,
            articles::created_at,
            articles::updated_at,
        ))
        .load(conn)
        .await?;
    let mut slug_of: HashMap<i64, String> = HashMap::new();
    let mut articles: Vec<SiteArticle> = Vec::with_capacity(rows.len());
    for (id, slug, title, summary, body, status, published_at, created_at, updated_at) in rows {
        slug_of.insert(id, slug.clone());
        let mut tags = tags_of.remove(&id).unwrap_or_default();
        tags.sort();
        let mut old_slugs = old_slugs_of.remove(&id).unwrap_or_default();
        old_slugs.sort();
        articles.push(SiteArticle {
            article: NewArticle {
                slug,
                title,
                summary,
                body_markdown: body,
                status,
                published_at,
                tags,
                excerpts: excerpts_of.remove(&id).unwrap_or_default(),
                roundups: roundups_of.remove(&id).unwrap_or_default(),
            },
            old_slugs,
            created_at: Some(created_at),
            updated_at: Some(updated_at),
        });
    }
    articles.sort_by(|a, b| a.slug.cmp(&b.slug));

    let mut views = Vec::new();
    for (article_id, granularity, bucket_start, count) in view_counts::table
        .select((
            view_counts::article_id,
            view_counts::granularity,
            view_counts::bucket_start,
            view_counts::views,
        ))
        .load::<(i64, String, DateTime<Utc>, i64)>(conn)
        .await?
    {
        let article = slug_of.get(&article_id).cloned().unwrap_or_default();
        let granularity = Granularity::parse(&granularity).ok_or_else(|| {
            SiteError::Invalid(format!(
                "views of article `{article}`: unknown granularity `{granularity}`"
            ))
        })?;
        views.push(SiteViews {
            article,
            hours_ago: None,
            granularity: Some(granularity),
            bucket_start: Some(bucket_start),
            views: count,
        });
    }
    views.sort_by(|a, b| {
        let key = |v: &SiteViews| (v.granularity.map(Granularity::as_str), v.bucket_start);
        a.article.cmp(&b.article).then_with(|| key(a).cmp(&key(b)))
    });

    Ok(Site {
        notes: Vec::new(),
        outlets,
        tags,
        articles,
        views,
    })
}
