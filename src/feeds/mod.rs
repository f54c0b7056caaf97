//! Feeds for aggregators and feed readers: the published articles as Atom
//! 1.0, RSS 2.0 and JSON Feed 1.1, each entry the whole post as HTML.
//!
//! The feeds take the article list's public filters and page with its
//! cursors (`ListRequest`), and build whole posts the one way articles are
//! built (`load_views`). They own only the formats, the absolute links and
//! the entry ids. They never render Markdown: entries are assembled from
//! HTML stored when the post was written.

mod atom;
mod html;
mod json;
mod rss;
pub mod xml;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel_async::scoped_futures::ScopedFutureExt;

use crate::articles::filtered_query;
use crate::articles::queries::{ArticleRow, StatusFilter};
use crate::articles::views::Article;
use crate::articles::{self, Include, ListRequest, Parts};
use crate::db::replica::Databases;
use crate::error::{responses, AppError};
use crate::pagination::CursorKey;
use crate::params::Checker;
use crate::representation::{Audience, Representation};
use crate::revisions;
use crate::tags::views::TagRef;
use crate::visibility::Viewer;

/// When an article last changed, as its feed entry says (`updated`,
/// `date_modified`): its editorial update time (every write to the post or
/// its parts moves it, and an import keeps it), or its publication when that
/// came later. A renamed outlet renews the feed's validators (its revision
/// stamps) but is no news to a reader, so it does not date the entry.
fn updated(row: &ArticleRow, now: DateTime<Utc>) -> DateTime<Utc> {
    revisions::effective(row.updated_at, row.published_at, now)
}

/// Where the API is reachable and what the publication is called: feeds
/// carry absolute links, and readers show the feed's title.
#[derive(Debug, Clone)]
pub struct Publication {
    /// The API's public base URL, without a trailing slash.
    pub base_url: String,
    pub title: String,
}

impl Publication {
    pub fn new(base_url: &str, title: &str) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            title: title.to_string(),
        }
    }

    fn url(&self, path: &str, query: &str) -> String {
        if query.is_empty() {
            format!("{}{path}", self.base_url)
        } else {
            format!("{}{path}?{query}", self.base_url)
        }
    }
}

/// The three formats, each at its own URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Atom,
    Rss,
    Json,
}

impl Format {
    const ALL: [Self; 3] = [Self::Atom, Self::Rss, Self::Json];

    pub fn path(self) -> &'static str {
        match self {
            Self::Atom => "/v1/feeds/atom",
            Self::Rss => "/v1/feeds/rss",
            Self::Json => "/v1/feeds/json",
        }
    }

    /// The media type, as links name it.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Atom => "application/atom+xml",
            Self::Rss => "application/rss+xml",
            Self::Json => "application/feed+json",
        }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Atom => "application/atom+xml; charset=utf-8",
            Self::Rss => "application/rss+xml; charset=utf-8",
            Self::Json => "application/feed+json",
        })
    }
}

/// Appends `Link` headers naming the three feeds (`rel="alternate"`), so
/// that a client holding an article or a list finds them; any `Link` the
/// response has already (the list's `rel="next"`) stays.
pub fn advertise(req: &HttpRequest, response: &mut HttpResponse) {
    let base = req
        .app_data::<web::Data<Publication>>()
        .map_or("", |publication| publication.base_url.as_str());
    for format in Format::ALL {
        let link = format!(
            "<{base}{}>; rel=\"alternate\"; type=\"{}\"",
            format.path(),
            format.media_type()
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().append(header::LINK, value);
        }
    }
}

filtered_query! {
    /// Query parameters of the feeds: the public filters of `GET /v1/articles`.
    pub struct FeedQuery {
        ..filters,
        /// Entries per page.
        #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
        limit: Option<String>,
        /// Where the previous page ended: the `cursor` of its `next` link.
        cursor: Option<String>,
    }
}

impl FeedQuery {
    /// The filters, in a fixed order, as they were given.
    fn named_filters(&self) -> [(&'static str, Option<&str>); 4] {
        [
            ("tag", self.tag.as_deref()),
            ("outlet", self.outlet.as_deref()),
            ("published_after", self.published_after.as_deref()),
            ("published_before", self.published_before.as_deref()),
        ]
    }

    /// A query string of the filters, plus `limit` and `cursor` when given.
    fn query_string(&self, limit: Option<&str>, cursor: Option<&str>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in self
            .named_filters()
            .into_iter()
            .chain([("limit", limit), ("cursor", cursor)])
        {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        query.finish()
    }

    /// What a filtered feed is filtered by, e.g. `tag: pakistan`.
    fn describe(&self) -> Option<String> {
        let parts: Vec<String> = self
            .named_filters()
            .into_iter()
            .filter_map(|(name, value)| {
                value.map(|value| format!("{}: {value}", name.replace('_', " ")))
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// A feed in no format yet.
pub struct Feed {
    /// The feed's permanent id: its URL without paging parameters.
    id: String,
    title: String,
    description: String,
    author: String,
    self_url: String,
    /// The same articles in the API, as JSON.
    home_url: String,
    next_url: Option<String>,
    entries: Vec<Entry>,
}

impl Feed {
    /// When the newest entry was last revised.
    fn latest(&self) -> Option<DateTime<Utc>> {
        self.entries.iter().map(|entry| entry.updated).max()
    }

    /// About how many bytes the feed takes in any format: its entries'
    /// content, escaped, and a little for the rest of each.
    fn size_hint(&self) -> usize {
        2048 + self
            .entries
            .iter()
            .map(|entry| entry.content_html.len() * 9 / 8 + 1024)
            .sum::<usize>()
    }

    /// As `latest`; an empty feed says the epoch, so that it stays the same
    /// (and keeps its `ETag`) until something is published.
    fn updated(&self) -> DateTime<Utc> {
        self.latest().unwrap_or(DateTime::UNIX_EPOCH)
    }
}

/// One entry: a whole post.
struct Entry {
    /// `urn:uuid:…`, the article's for good, whatever its slug becomes.
    id: String,
    title: String,
    url: String,
    summary: Option<String>,
    published: DateTime<Utc>,
    updated: DateTime<Utc>,
    tags: Vec<TagRef>,
    content_html: String,
}

impl Entry {
    fn new(
        article: Article,
        entry_id: &str,
        updated: DateTime<Utc>,
        publication: &Publication,
    ) -> Self {
        Self {
            id: format!("urn:uuid:{entry_id}"),
            content_html: html::whole_post(&article),
            url: publication.url(&article.url, ""),
            published: article.published_at.unwrap_or(updated),
            updated,
            title: article.title,
            summary: article.summary,
            tags: article.tags,
        }
    }
}

/// Atom feed of articles
///
/// Published articles, newest first, as an Atom 1.0 feed: each entry is the
/// whole post as HTML (the commentary, each excerpt as a block quote with
/// its attribution, the roundups with their links), with an id
/// (`urn:uuid:…`) that survives slug changes. Takes the public filters of
/// `GET /v1/articles`; the next page is the feed's `<link rel="next">`
/// (RFC 5005). The `ETag` is strong; `If-None-Match` gets 304.
#[utoipa::path(
    tag = "feeds",
    params(FeedQuery),
    responses(
        (status = 200, description = "One page of the Atom feed", body = String,
            content_type = "application/atom+xml"),
        responses::BadRequest,
        responses::TooManyRequests,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/feeds/atom")]
pub async fn atom_feed(
    req: HttpRequest,
    databases: web::Data<Databases>,
    cursors: web::Data<CursorKey>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, AppError> {
    serve(Format::Atom, &req, &databases, &cursors, &query).await
}

/// RSS feed of articles
///
/// Published articles, newest first, as an RSS 2.0 feed: each item's
/// `description` is the whole post as HTML, its `guid` a `urn:uuid:…` that
/// survives slug changes. Takes the public filters of `GET /v1/articles`;
/// the next page is the channel's `<atom:link rel="next">` (RFC 5005). The
/// `ETag` is strong; `If-None-Match` gets 304.
#[utoipa::path(
    tag = "feeds",
    params(FeedQuery),
    responses(
        (status = 200, description = "One page of the RSS feed", body = String,
            content_type = "application/rss+xml"),
        responses::BadRequest,
        responses::TooManyRequests,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/feeds/rss")]
pub async fn rss_feed(
    req: HttpRequest,
    databases: web::Data<Databases>,
    cursors: web::Data<CursorKey>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, AppError> {
    serve(Format::Rss, &req, &databases, &cursors, &query).await
}

/// JSON Feed of articles
///
/// Published articles, newest first, as a JSON Feed 1.1: each item's
/// `content_html` is the whole post, its `id` a `urn:uuid:…` that survives
/// slug changes. Takes the public filters of `GET /v1/articles`; the next
/// page is `next_url`. The `ETag` is strong; `If-None-Match` gets 304.
#[utoipa::path(
    tag = "feeds",
    params(FeedQuery),
    responses(
        (status = 200, description = "One page of the JSON Feed", body = json::JsonFeed,
            content_type = "application/feed+json"),
        responses::BadRequest,
        responses::TooManyRequests,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/feeds/json")]
pub async fn json_feed(
    req: HttpRequest,
    databases: web::Data<Databases>,
    cursors: web::Data<CursorKey>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, AppError> {
    serve(Format::Json, &req, &databases, &cursors, &query).await
}

/// One page of a feed in `format`.
async fn serve(
    format: Format,
    req: &HttpRequest,
    databases: &Databases,
    cursors: &CursorKey,
    query: &FeedQuery,
) -> Result<HttpResponse, AppError> {
    let mut checker = Checker::new();
    // One scope for the three formats: a cursor reads the same in each.
    let request = ListRequest::check(
        &mut checker,
        cursors,
        "feeds",
        (StatusFilter::Published, None),
        &query.filters(),
    );
    checker.finish()?;
    // `finish` has refused the request if it is missing.
    let Some(request) = request else {
        return Err(AppError::BadRequest("invalid parameters".into()));
    };
    let fallback;
    let publication = match req.app_data::<web::Data<Publication>>() {
        Some(publication) => publication.get_ref(),
        None => {
            fallback = Publication::new("", "Broadsheet");
            &fallback
        }
    };

    let now = Utc::now();
    let request = &request;
    let (page, mut shown, (mut rows, mut parts)) = databases
        .read(req, move |conn| {
            // One round trip: the whole rows and their parts name the page's
            // articles by the page's own query, and go out with it.
            let whole = articles::queries::with_entry_ids(conn, request.articles(now));
            let public = Viewer::Public(now);
            let include = Include {
                html_only: true,
                ..Include::WHOLE
            };
            let parts = Parts::load(conn, request.articles(now), include, public);
            let beside = futures_util::future::try_join(whole, parts);
            request.fetch_with(conn, now, beside).scope_boxed_local()
        })
        .await?;
    // The page's rows decide which entries it has, in its order.
    let ids: Vec<i64> = page.data.iter().map(|row| row.id).collect();
    rows.retain(|(row, _)| ids.contains(&row.id));
    rows.sort_by_key(|(row, _)| ids.iter().position(|id| *id == row.id));
    let mut entries = Vec::with_capacity(rows.len());
    for (row, entry_id) in rows {
        let updated = updated(&row, now);
        let (article, each) = parts.whole(row, now);
        shown.include_keys(&each);
        entries.push(Entry::new(article, &entry_id, updated, publication));
    }

    let filters = query.query_string(None, None);
    let feed = Feed {
        id: publication.url(format.path(), &filters),
        title: match query.describe() {
            Some(filtered) => format!("{} — {filtered}", publication.title),
            None => publication.title.clone(),
        },
        description: match query.describe() {
            Some(filtered) => format!(
                "Published articles of {}, newest first; {filtered}",
                publication.title
            ),
            None => format!("Published articles of {}, newest first", publication.title),
        },
        author: publication.title.clone(),
        self_url: publication.url(req.path(), req.query_string()),
        home_url: publication.url("/v1/articles", &filters),
        next_url: page.next_cursor.as_deref().map(|cursor| {
            publication.url(
                format.path(),
                &query.query_string(query.limit.as_deref(), Some(cursor)),
            )
        }),
        entries,
    };
    let body = match format {
        Format::Atom => atom::render(&feed).into_bytes(),
        Format::Rss => rss::render(&feed).into_bytes(),
        Format::Json => json::render(&feed).map_err(AppError::internal)?,
    };
    Ok(Representation::new(body.into(), format.content_type())
        .shows_revisions(&shown)
        .respond(req, StatusCode::OK, Audience::Public))
}
