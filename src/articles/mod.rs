//! Articles: the editor's posts, listed as summaries and served whole.

pub mod commands;
pub mod editor;
pub mod queries;
pub mod views;
pub mod writes;

use std::collections::HashMap;
use std::future::Future;

use actix_web::http::{header, StatusCode};
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel_async::scoped_futures::ScopedFutureExt;

use crate::db::replica::Databases;
use crate::error::{responses, AppError, InvalidInput};
use crate::excerpts::queries::{ExcerptRecord, ExcerptSelection};
use crate::excerpts::views::Excerpt;
use crate::fields::{Fields, FieldsQuery};
use crate::keys::MaybeCaller;
use crate::pagination::{CursorKey, Page, Position, Scope};
use crate::params::{self, Checker};
use crate::representation::{Provenance, Representation};
use crate::roundups::queries::{LinkRecord, LinkSelection, RoundupRecord, RoundupSelection};
use crate::roundups::views::Roundup;
use crate::tags::queries::TagRow;
use crate::tags::views::TagRef;
use crate::visibility::Viewer;
use crate::{excerpts, feeds, roundups, tags};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use futures_util::future::{self, Either, TryFutureExt};
use queries::{ArticleFilter, ArticleRow, ArticleSet, ArticleSummaryRow, StatusFilter};
use views::{Article, ArticleSummary};

/// Declares the query parameters of an operation that takes the article
/// list's public filters (the list, search, the feeds): the filters, with the
/// one description each has everywhere, between the operation's own
/// parameters. A struct of its own rather than a flattened one, because
/// serde cannot refuse unknown parameters through `flatten`. `filters()`
/// reads them, with `limit` and `cursor`, which each operation describes.
macro_rules! filtered_query {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$before_meta:meta])* $before:ident: $before_type:ty,)*
            ..filters,
            $($(#[$after_meta:meta])* $after:ident: $after_type:ty,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            $($(#[$before_meta])* $before: $before_type,)*
            /// Only articles with this tag (a tag slug).
            #[param(example = "pakistan")]
            tag: Option<String>,
            /// Only articles that quote or link to this outlet (an outlet slug).
            #[param(example = "dawn")]
            outlet: Option<String>,
            /// Only articles published strictly after this time (RFC 3339, or a date meaning its midnight UTC).
            #[param(value_type = Option<String>, format = DateTime, example = "2011-10-01T00:00:00Z")]
            published_after: Option<String>,
            /// Only articles published strictly before this time (RFC 3339, or a date meaning its midnight UTC).
            #[param(value_type = Option<String>, format = DateTime, example = "2011-11-01")]
            published_before: Option<String>,
            $($(#[$after_meta])* $after: $after_type,)*
        }

        impl $name {
            /// The public filters as they arrive, with `limit` and `cursor`.
            fn filters(&self) -> $crate::articles::ListFilters<'_> {
                $crate::articles::ListFilters {
                    tag: self.tag.as_deref(),
                    outlet: self.outlet.as_deref(),
                    published_after: self.published_after.as_deref(),
                    published_before: self.published_before.as_deref(),
                    limit: self.limit.as_deref(),
                    cursor: self.cursor.as_deref(),
                }
            }
        }
    };
}

pub(crate) use filtered_query;

filtered_query! {
    /// Query parameters of `GET /v1/articles`.
    pub struct ListArticlesQuery {
        /// Which articles: `published` (the default, and the only one open without
        /// a key), `scheduled`, `draft` or `all`. Drafts and `all` list the most
        /// recently updated first.
        #[param(value_type = Option<String>, example = "published")]
        status: Option<String>,
        ..filters,
        /// Page size.
        #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
        limit: Option<String>,
        /// The `next_cursor` of the previous page.
        cursor: Option<String>,
        /// Parts of the whole post each item also carries, comma-separated:
        /// `excerpts`, `roundups` or both. Items then have `excerpts` and/or
        /// `roundups`, as in the single article.
        #[param(example = "excerpts,roundups")]
        include: Option<String>,
        /// Comma-separated members of each item to keep (e.g. `slug,title`); all
        /// when absent. An unknown name is a 400 naming it.
        #[param(example = "slug,title")]
        fields: Option<String>,
    }
}

/// List articles
///
/// Published articles, newest first, as summaries without bodies. Paged by an
/// opaque cursor: follow `next_cursor` (or the `Link: rel="next"` header)
/// until it is null. With `include=excerpts,roundups`, each item also
/// carries the excerpts and roundups of the whole post, for a frontend that
/// wants whole posts in one call. The same articles are feeds at
/// `/v1/feeds/atom`, `/v1/feeds/rss` and `/v1/feeds/json` (named in `Link` headers).
#[utoipa::path(
    tag = "articles",
    params(ListArticlesQuery),
    responses(
        (status = 200, description = "One page of articles", body = Page<ArticleSummary>,
            headers(("Link" = String, description = "RFC 8288 links, one header each: the next page (`rel=\"next\"`), when there is one, and the three feeds of the published articles (`rel=\"alternate\"`, with `type` `application/atom+xml`, `application/rss+xml` or `application/feed+json`)"))),
        responses::BadRequest,
        responses::Unauthorized,
        responses::TooManyRequests,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/articles")]
pub async fn list_articles(
    req: HttpRequest,
    databases: web::Data<Databases>,
    caller: MaybeCaller,
    query: web::Query<ListArticlesQuery>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, AppError> {
    let mut checker = Checker::new();
    let status = checker.check(match query.status.as_deref() {
        None => Ok(StatusFilter::Published),
        Some(value) => StatusFilter::parse(value).ok_or_else(|| {
            InvalidInput::new(
                "status",
                format!("must be one of {}", StatusFilter::NAMES.join(", ")),
            )
        }),
    });
    let include = checker.check(Include::parse(query.include.as_deref()));
    let fields = checker
        .check(Fields::parse::<ArticleSummary>(query.fields.as_deref()))
        .flatten();
    let request = ListRequest::check(
        &mut checker,
        &cursors,
        "articles",
        (status.unwrap_or_default(), query.status.as_deref()),
        &query.filters(),
    );
    checker.finish()?;
    // `finish` has refused the request if either is missing.
    let (Some(request), Some(include)) = (request, include) else {
        return Err(AppError::BadRequest("invalid parameters".into()));
    };
    if request.filter.status != StatusFilter::Published && caller.0.is_none() {
        return Err(AppError::Unauthorized(
            "listing drafts or scheduled articles needs an API key".into(),
        ));
    }

    let now = Utc::now();
    let viewer = caller.viewer(now);
    let request = &request;
    let (page, mut shown, mut parts) = databases
        .read(&req, move |conn| {
            let parts = Parts::load(conn, request.articles(now), include, viewer);
            request.fetch_with(conn, now, parts).scope_boxed_local()
        })
        .await?;
    let page = Page {
        data: page
            .data
            .into_iter()
            .map(|row| parts.summary(row, include, now, &mut shown))
            .collect(),
        next_cursor: page.next_cursor,
    };
    let mut response = page.respond_fields(&req, caller.audience(), &shown, fields.as_ref())?;
    feeds::advertise(&req, &mut response);
    Ok(response)
}

/// The public filters of the article list, as they arrive; the feeds take
/// the same ones, so both are checked by `ListRequest::check`.
#[derive(Debug, Default)]
pub struct ListFilters<'a> {
    pub tag: Option<&'a str>,
    pub outlet: Option<&'a str>,
    pub published_after: Option<&'a str>,
    pub published_before: Option<&'a str>,
    pub limit: Option<&'a str>,
    pub cursor: Option<&'a str>,
}

/// A checked request for one page of articles: the list's and the feeds'.
#[derive(Debug)]
pub struct ListRequest {
    pub filter: ArticleFilter,
    pub limit: u32,
    pub scope: Scope,
    pub after: Option<(DateTime<Utc>, i64)>,
}

impl ListFilters<'_> {
    /// The filter these parameters ask for, with `status`, recording every
    /// problem in `checker`; `None` when there was one. The article list,
    /// the feeds and search read their filters here.
    pub fn filter(&self, checker: &mut Checker, status: StatusFilter) -> Option<ArticleFilter> {
        let tag = checker.check(params::slug("tag", self.tag));
        let outlet = checker.check(params::slug("outlet", self.outlet));
        let published_after =
            checker.check(params::timestamp("published_after", self.published_after));
        let published_before =
            checker.check(params::timestamp("published_before", self.published_before));
        Some(ArticleFilter {
            status,
            tag: tag?,
            outlet: outlet?,
            published_after: published_after?,
            published_before: published_before?,
        })
    }

    /// The filters as they arrived, which a cursor is sealed to.
    pub fn as_scoped(&self) -> [(&'static str, Option<&str>); 4] {
        [
            ("tag", self.tag),
            ("outlet", self.outlet),
            ("published_after", self.published_after),
            ("published_before", self.published_before),
        ]
    }
}

impl ListRequest {
    /// Checks `filters` for the list named `endpoint` (the scope its cursors
    /// are sealed to), recording every problem in `checker`; `None` when
    /// there was one. `status` is the parsed filter and the raw parameter.
    pub fn check(
        checker: &mut Checker,
        cursors: &CursorKey,
        endpoint: &str,
        (status, raw_status): (StatusFilter, Option<&str>),
        filters: &ListFilters<'_>,
    ) -> Option<Self> {
        let filter = filters.filter(checker, status);
        let limit = checker.check(params::limit(filters.limit, 20, 100));
        let mut scoped = vec![("status", raw_status)];
        scoped.extend(filters.as_scoped());
        let scope = Scope::new(cursors, endpoint, &scoped);
        let after = checker.check(scope.after_published(filters.cursor));
        Some(Self {
            filter: filter?,
            limit: limit?,
            scope,
            after: after?,
        })
    }

    /// The articles of the page this request asks for, as a query that the
    /// queries of their parts take (without the row past the page's end).
    pub fn articles(&self, now: DateTime<Utc>) -> ArticleSet<'_> {
        ArticleSet::Page {
            filter: &self.filter,
            after: self.after,
            limit: self.limit,
            now,
        }
    }

    /// The page of article rows this request asks for, with the next cursor,
    /// and what the page shows: its articles, revised at their effective
    /// times, the list (renewed when something last left a list) and the tag
    /// and outlet it is filtered by; with what `beside` reads. One round
    /// trip: the context and `beside` (which must not wait on the page's
    /// rows: it names them by `articles`) go out with the page's own query.
    pub async fn fetch_with<T>(
        &self,
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        beside: impl Future<Output = QueryResult<T>>,
    ) -> QueryResult<(Page<ArticleSummaryRow>, Provenance, T)> {
        let context = queries::list_context(conn, &self.filter);
        let rows = queries::list(conn, &self.filter, self.after, self.limit, now);
        let ((removed_at, tag_id, outlet_id), rows, beside) =
            futures_util::future::try_join3(context, rows, beside).await?;
        let by_publication = self.filter.status.by_publication();
        let page = Page::from_rows(
            rows,
            self.limit,
            &self.scope,
            |row| Position::Published {
                at: match row.published_at {
                    Some(at) if by_publication => at,
                    _ => row.updated_at,
                },
                id: row.id,
            },
            |row| row,
        );
        let mut shown = Provenance::new();
        shown.list("articles").changed_by_removal(removed_at);
        if let Some(id) = tag_id {
            shown.key("tag", id);
        }
        if let Some(id) = outlet_id {
            shown.key("outlet", id);
        }
        for row in &page.data {
            shown.article(row.id, row.revised_at, row.published_at, now);
        }
        Ok((page, shown, beside))
    }
}

/// What list items carry besides their summary, as `include=` asks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Include {
    pub excerpts: bool,
    pub roundups: bool,
    /// The bodies' stored HTML without their Markdown, which stays empty:
    /// for the feeds, which print HTML alone.
    pub html_only: bool,
}

impl Include {
    pub const NAMES: [&'static str; 2] = ["excerpts", "roundups"];
    /// Everything a whole post has.
    pub const WHOLE: Self = Self {
        excerpts: true,
        roundups: true,
        html_only: false,
    };

    /// A comma-separated list of names; unknown names are refused, each named.
    pub fn parse(raw: Option<&str>) -> Result<Self, InvalidInput> {
        let mut include = Self::default();
        let Some(raw) = raw else { return Ok(include) };
        let mut unknown = Vec::new();
        for name in raw.split(',').map(str::trim) {
            match name {
                "excerpts" => include.excerpts = true,
                "roundups" => include.roundups = true,
                "" => unknown.push("an empty name".to_string()),
                other => unknown.push(format!("`{}`", other.escape_default())),
            }
        }
        if unknown.is_empty() {
            Ok(include)
        } else {
            Err(InvalidInput::new(
                "include",
                format!(
                    "unknown: {}; must be a comma-separated list of {}",
                    unknown.join(", "),
                    Self::NAMES.join(", ")
                ),
            ))
        }
    }
}

/// The parts of a set of articles beyond their own row, by article id:
/// their tags, and their excerpts and roundups (with their links) when
/// asked for.
#[derive(Debug, Default)]
pub struct Parts {
    tags: HashMap<i64, Vec<TagRef>>,
    excerpts: HashMap<i64, Vec<Excerpt>>,
    roundups: HashMap<i64, Vec<Roundup>>,
    /// The purge keys of the tags and outlets each article's parts show.
    keys: HashMap<i64, Vec<(&'static str, i64)>>,
}

impl Parts {
    /// The parts of `articles` as the viewer may see them, in one query per
    /// kind however many articles there are, all sent at once. The future
    /// does not hold the connection, and names the articles by a query, so
    /// that it goes out in the same round trip as the articles' own rows.
    pub fn load(
        conn: &mut AsyncPgConnection,
        articles: ArticleSet<'_>,
        include: Include,
        viewer: Viewer,
    ) -> impl Future<Output = QueryResult<Self>> + Send {
        let tags = tags::queries::of_articles(conn, articles);
        let excerpts = if include.excerpts {
            Either::Left(excerpts::queries::load(
                conn,
                ExcerptSelection::OfArticles(articles),
                viewer,
                !include.html_only,
            ))
        } else {
            Either::Right(future::ok(Vec::new()))
        };
        let selection = RoundupSelection::OfArticles(articles);
        let (roundups, links) = if include.roundups {
            (
                Either::Left(roundups::queries::load_roundups(conn, selection, viewer)),
                Either::Left(roundups::queries::load_links(
                    conn,
                    LinkSelection::Of(selection),
                    viewer,
                )),
            )
        } else {
            (
                Either::Right(future::ok(Vec::new())),
                Either::Right(future::ok(Vec::new())),
            )
        };
        future::try_join4(tags, excerpts, roundups, links)
            .map_ok(|(tags, excerpts, roundups, links)| Self::of(tags, excerpts, roundups, links))
    }

    /// The parts of articles whose tags are all that was read.
    pub fn with_tags(tags: HashMap<i64, Vec<TagRow>>) -> Self {
        Self::of(tags, Vec::new(), Vec::new(), Vec::new())
    }

    fn of(
        tags: HashMap<i64, Vec<TagRow>>,
        excerpts: Vec<ExcerptRecord>,
        roundups: Vec<RoundupRecord>,
        links: Vec<LinkRecord>,
    ) -> Self {
        let mut parts = Self::default();
        for (id, tags) in tags {
            let keys = parts.keys.entry(id).or_default();
            keys.extend(tags.iter().map(|tag| ("tag", tag.id)));
            parts
                .tags
                .insert(id, tags.into_iter().map(Into::into).collect());
        }
        for record in excerpts {
            let article_id = record.0.article_id;
            let keys = parts.keys.entry(article_id).or_default();
            keys.push(("outlet", record.1.id));
            parts
                .excerpts
                .entry(article_id)
                .or_default()
                .push(record.into());
        }
        let mut by_article: HashMap<i64, (Vec<_>, Vec<_>)> = HashMap::new();
        for record in roundups {
            by_article
                .entry(record.0.article_id)
                .or_default()
                .0
                .push(record);
        }
        for link in links {
            let keys = parts.keys.entry(link.2.article_id).or_default();
            keys.push(("outlet", link.1.id));
            by_article
                .entry(link.2.article_id)
                .or_default()
                .1
                .push(link);
        }
        for (id, (records, links)) in by_article {
            parts
                .roundups
                .insert(id, roundups::views::assemble(records, links));
        }
        parts
    }

    /// The summary of this row, carrying what `include` asks for; the tags
    /// and outlets it shows are added to `shown`.
    pub fn summary(
        &mut self,
        row: ArticleSummaryRow,
        include: Include,
        now: DateTime<Utc>,
        shown: &mut Provenance,
    ) -> ArticleSummary {
        let id = row.id;
        self.show(id, shown);
        let mut summary = ArticleSummary::new(row, self.tags(id), now);
        if include.excerpts {
            summary.excerpts = Some(self.excerpts(id));
        }
        if include.roundups {
            summary.roundups = Some(self.roundups(id));
        }
        summary
    }

    /// The whole representation of this row, with what it shows: the
    /// article, revised at its effective time, and the tags and outlets it
    /// names.
    pub fn whole(&mut self, row: ArticleRow, now: DateTime<Utc>) -> (Article, Provenance) {
        let id = row.id;
        let mut shown = Provenance::new();
        shown.article(id, row.revised_at, row.published_at, now);
        self.show(id, &mut shown);
        let article = Article::new(
            row,
            self.tags(id),
            self.excerpts(id),
            self.roundups(id),
            now,
        );
        (article, shown)
    }

    /// Adds what article `id`'s loaded parts show to `shown`.
    fn show(&mut self, id: i64, shown: &mut Provenance) {
        for (kind, key) in self.keys.remove(&id).unwrap_or_default() {
            shown.key(kind, key);
        }
    }

    fn tags(&mut self, id: i64) -> Vec<TagRef> {
        self.tags.remove(&id).unwrap_or_default()
    }

    fn excerpts(&mut self, id: i64) -> Vec<Excerpt> {
        self.excerpts.remove(&id).unwrap_or_default()
    }

    fn roundups(&mut self, id: i64) -> Vec<Roundup> {
        self.roundups.remove(&id).unwrap_or_default()
    }
}

/// The whole representations of these article rows, in their order, as the
/// viewer may see them, each with what it shows (the article, revised at
/// its effective time, and the tags and outlets it names): one round trip,
/// whatever the number of rows.
pub async fn load_views(
    conn: &mut AsyncPgConnection,
    rows: Vec<ArticleRow>,
    viewer: Viewer,
    now: DateTime<Utc>,
) -> QueryResult<Vec<(Article, Provenance)>> {
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut parts = Parts::load(conn, ArticleSet::Ids(&ids), Include::WHOLE, viewer).await?;
    Ok(rows.into_iter().map(|row| parts.whole(row, now)).collect())
}

/// The whole representation of an article row, as the viewer may see it.
pub async fn load_view(
    conn: &mut AsyncPgConnection,
    row: ArticleRow,
    viewer: Viewer,
    now: DateTime<Utc>,
) -> QueryResult<Article> {
    Ok(load_views(conn, vec![row], viewer, now)
        .await?
        .pop()
        .ok_or(diesel::result::Error::NotFound)?
        .0)
}

/// Get an article
///
/// The whole post in one response: the commentary as Markdown and sanitized
/// HTML, its tags, its excerpts in order with their sources and outlets, and
/// its press roundups in order with their links and outlets. With an API key,
/// drafts and scheduled posts too (a preview, never cached by shared caches).
/// A slug the article had before it was renamed answers 308 with the current
/// URL. The `ETag` is strong; `If-None-Match` gets 304.
#[utoipa::path(
    tag = "articles",
    params(("slug" = String, Path, description = "The article's slug", example = "secretary-clintons-message-to-pakistan"), FieldsQuery),
    responses(
        (status = 200, description = "The article", body = Article,
            headers(("ETag" = String, description = "Strong entity tag of this representation"),
                ("Link" = String, description = "RFC 8288 links, one header each, to the three feeds of the published articles (`rel=\"alternate\"`, with `type` `application/atom+xml`, `application/rss+xml` or `application/feed+json`)"))),
        (status = 304, description = "Not modified since the `If-None-Match` tag"),
        (status = 308, description = "An old slug: `Location` names the current URL",
            headers(("Location" = String, description = "The article's current URL"))),
        responses::BadRequest,
        responses::Unauthorized,
        responses::TooManyRequests,
        responses::NotFound,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/articles/{slug}")]
pub async fn find_article(
    req: HttpRequest,
    databases: web::Data<Databases>,
    caller: MaybeCaller,
    slug: web::Path<String>,
    query: web::Query<FieldsQuery>,
) -> Result<HttpResponse, AppError> {
    let slug = params::path_slug("article", &slug)?;
    let fields = Fields::of::<Article>(query.fields.as_deref())?;
    let now = Utc::now();
    let viewer = caller.viewer(now);
    let found = databases
        .read(&req, move |conn| {
            async move {
                // One round trip: the parts name the article by its slug, so
                // they go out with its row.
                let row = queries::find(conn, slug, viewer);
                let parts =
                    Parts::load(conn, ArticleSet::Slug(slug, viewer), Include::WHOLE, viewer);
                Ok::<_, diesel::result::Error>(
                    match futures_util::future::try_join(row, parts).await? {
                        (Some(row), parts) => Ok((row, parts)),
                        (None, _) => Err(queries::current_slug(conn, slug, viewer).await?),
                    },
                )
            }
            .scope_boxed_local()
        })
        .await?;
    let (row, mut parts) = match found {
        Ok(found) => found,
        Err(Some(current)) => {
            return Ok(HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, views::api_url(&current)))
                .finish())
        }
        Err(None) => return Err(AppError::not_found("published article", slug)),
    };
    let (article, shown) = parts.whole(row, now);
    let mut response = Representation::of_fields(&article, fields.as_ref())?
        .shows(&shown)
        .respond(&req, StatusCode::OK, caller.audience());
    feeds::advertise(&req, &mut response);
    Ok(response)
}
