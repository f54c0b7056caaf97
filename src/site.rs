//! Whole sites in one JSON document, loaded in one transaction.
//!
//! The format is documented in `docs/site-format.md`; `transfer` writes it.
//! `broadsheet seed` loads the demo site kept in `demo/site.json`,
//! `broadsheet import` any other, and tests load sites of their own. Loading
//! is idempotent: outlets, tags and articles are upserted by slug, and an
//! article's excerpts, roundups, tags and old slugs, and the view counts of
//! the articles the document counts views for, are replaced by what the
//! document says, so loading twice changes nothing.
//!
//! Rows are written many to a statement: one statement per row made a site
//! of a thousand articles take minutes of round trips.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, Datelike, Duration, DurationRound, SecondsFormat, Timelike, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use diesel::upsert::excluded;
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use serde::{Deserialize, Serialize};

use crate::articles::commands::NewArticle;
use crate::articles::writes::{self as article_writes, Rendered};
use crate::excerpts::commands::ExcerptMembers;
use crate::outlets::commands::NewOutlet;
use crate::params::is_slug;
use crate::roundups::commands::{LinkMembers, RoundupMembers};
use crate::schema::{
    article_slug_history, article_tags, articles, excerpts, outlets, roundup_links, roundups, tags,
    view_counts,
};
use crate::tags::queries::name_from_slug;
use crate::validate::{
    self, shorten, stored_text as text, Rule, NAME_MAX, SUMMARY_MAX, TITLE_MAX, URL_RULE,
};

/// The demo content: the seed post, its outlets, and the popular posts it names.
pub const DEMO: &str = include_str!("../demo/site.json");

/// Rows per multi-row INSERT: with at most 9 columns a row, well under
/// PostgreSQL's limit of 65,535 bind parameters a statement.
const ROWS_PER_STATEMENT: usize = 2_000;

/// Articles written per round of statements, and so how often progress moves.
const ARTICLES_PER_ROUND: usize = 250;

/// The database's limit on outlet and tag slugs (articles allow `is_slug`'s 200).
const MAX_SHORT_SLUG_LEN: usize = validate::SHORT_SLUG_MAX;

/// A whole site, or any part of one.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Free text about the document, e.g. where its data came from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Outlets, upserted by slug.
    #[serde(default)]
    pub outlets: Vec<SiteOutlet>,
    /// Tags, upserted by slug.
    #[serde(default)]
    pub tags: Vec<SiteTag>,
    /// Articles, upserted by slug, each with everything it owns.
    #[serde(default)]
    pub articles: Vec<SiteArticle>,
    /// View counts; an article listed here has its stored counts replaced.
    #[serde(default)]
    pub views: Vec<SiteViews>,
}

/// A publication that excerpts and press links cite: what the API creates.
pub type SiteOutlet = NewOutlet;

/// A tag; articles may also name tags the document does not list.
#[derive(Debug, Clone, Deserialize, Serialize, Insertable, AsChangeset)]
#[diesel(table_name = tags)]
#[serde(deny_unknown_fields)]
pub struct SiteTag {
    /// Unique, at most 100 characters.
    pub slug: String,
    /// Display name.
    pub name: String,
}

/// An article and everything it owns: what the API creates, and what only
/// an import carries (old slugs, its own times).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteArticle {
    #[serde(flatten)]
    pub article: NewArticle,
    /// Slugs the article answered to before it was renamed; they redirect to it.
    #[serde(default)]
    pub old_slugs: Vec<String>,
    /// When it was created; when absent, a new article is created now and an
    /// existing one keeps its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// When it was last changed; when absent, the time of the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// An import reads an article's own members as the API's create does.
impl std::ops::Deref for SiteArticle {
    type Target = NewArticle;

    fn deref(&self) -> &NewArticle {
        &self.article
    }
}

impl std::ops::DerefMut for SiteArticle {
    fn deref_mut(&mut self) -> &mut NewArticle {
        &mut self.article
    }
}

/// A long quotation from a source article: what the API creates.
pub type SiteExcerpt = ExcerptMembers;

/// A titled list of press links: what the API creates.
pub type SiteRoundup = RoundupMembers;

/// One headline in a roundup: what the API creates.
pub type SiteLink = LinkMembers;

/// The span of time a view count covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// An hour starting on the hour (UTC).
    Hour,
    /// A day starting at midnight UTC.
    Day,
}

impl Granularity {
    /// The name stored in `view_counts.granularity`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    /// The granularity stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            _ => None,
        }
    }

    fn is_start(self, at: DateTime<Utc>) -> bool {
        let on_the_hour = at.minute() == 0 && at.second() == 0 && at.nanosecond() == 0;
        on_the_hour && (self == Self::Hour || at.hour() == 0)
    }
}

/// Views of one article in one bucket, either relative to the load (the
/// hour that began `hours_ago` hours before it) or absolute (`granularity`
/// and `bucket_start`). Relative counts suit demo content that should rank
/// in recent windows whenever it is loaded; exports write absolute ones.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteViews {
    /// Article slug.
    pub article: String,
    /// Relative form: hours before the current hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_ago: Option<u32>,
    /// Absolute form: `hour` or `day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<Granularity>,
    /// Absolute form: the start of the bucket, aligned to its granularity in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_start: Option<DateTime<Utc>>,
    /// Views counted in the bucket.
    pub views: i64,
}

impl SiteViews {
    /// The bucket these views count in; relative ones count back from `this_hour`.
    fn bucket(&self, this_hour: DateTime<Utc>) -> Result<(Granularity, DateTime<Utc>), String> {
        match (self.hours_ago, self.granularity, self.bucket_start) {
            (Some(hours), None, None) => this_hour
                .checked_sub_signed(Duration::hours(i64::from(hours)))
                .filter(|at| at.year() >= 1)
                .map(|at| (Granularity::Hour, at))
                .ok_or_else(|| format!("hours_ago {hours} reaches back before year 1")),
            (None, Some(granularity), Some(start)) if granularity.is_start(start) => {
                Ok((granularity, start))
            }
            (None, Some(granularity), Some(start)) => Err(format!(
                "bucket_start {} is not the start of a UTC {}",
                start.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                granularity.as_str()
            )),
            _ => Err("needs either hours_ago, or both granularity and bucket_start".into()),
        }
    }
}

/// What a load wrote (or, in a dry run, would have written).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Outlets the document lists.
    pub outlets: usize,
    /// Tags the document lists.
    pub tags: usize,
    /// Articles the document lists.
    pub articles: usize,
    /// How many of those did not exist before.
    pub new_articles: usize,
    /// Excerpts of those articles.
    pub excerpts: usize,
    /// Roundups of those articles.
    pub roundups: usize,
    /// Press links in those roundups.
    pub links: usize,
    /// Old slugs of those articles.
    pub old_slugs: usize,
    /// View-count buckets written.
    pub view_buckets: usize,
}

impl fmt::Display for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} outlets, {} tags, {} articles ({} new), {} excerpts, {} roundups with {} links, \
             {} old slugs, {} view buckets",
            self.outlets,
            self.tags,
            self.articles,
            self.new_articles,
            self.excerpts,
            self.roundups,
            self.links,
            self.old_slugs,
            self.view_buckets
        )
    }
}

/// Why a document could not be loaded (or exported).
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// The document is not JSON of this format.
    #[error("the site document is not valid JSON for this format: {0}")]
    Format(#[from] serde_json::Error),
    /// The document breaks a rule; the message names the item at fault.
    #[error("{0}")]
    Invalid(String),
    /// The database refused or failed.
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    /// The database refused or failed writing one of an article's excerpts,
    /// roundups or links, at this JSON pointer into the article.
    #[error("`{article}` at {pointer}: database: {error}")]
    Child {
        article: String,
        pointer: String,
        error: diesel::result::Error,
    },
    /// The change log's tags could not be noted.
    #[error("change log: {0}")]
    Changes(Box<crate::error::AppError>),
    /// The thread rendering Markdown failed.
    #[error("rendering Markdown: {0}")]
    Render(#[from] tokio::task::JoinError),
}

/// A loader failure inside a request (the nested create of
/// `POST /v1/articles`): a database failure is classified as any other (a
/// deadlock or a lost connection is a 503, a constraint a 409 or 422), never
/// a 500 for being nested.
impl From<SiteError> for crate::error::AppError {
    fn from(error: SiteError) -> Self {
        match error {
            SiteError::Database(error) => error.into(),
            // The nested create's body is the article: point into it.
            SiteError::Child { pointer, error, .. } => match Self::from(error) {
                Self::Unprocessable(inputs) => Self::Unprocessable(
                    inputs
                        .into_iter()
                        .map(|input| input.within(&pointer))
                        .collect(),
                ),
                other => other,
            },
            // The request's outlets were checked in its transaction; one that
            // is gone now was deleted meanwhile, as the foreign key would say.
            SiteError::Invalid(detail) => Self::Conflict(detail),
            SiteError::Format(error) => Self::internal(error),
            SiteError::Render(error) => Self::internal_because("rendering Markdown", error),
            SiteError::Changes(error) => *error,
        }
    }
}

/// Whether a load keeps what it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Commit.
    Write,
    /// Run every statement and check, the database's included, then roll back.
    DryRun,
    /// Commit only what the database lacks: outlets, tags and articles (with
    /// everything they own) whose slugs are not taken, and the view counts
    /// of the articles added. Nothing stored is changed, so content edited
    /// since, and its views, stay as they are.
    AddMissing,
}

/// Told how far a load has come, e.g. to move a progress bar.
pub trait Progress: Send {
    /// `rows` more rows of `stage` (`outlets`, `articles`, …) were written.
    fn advance(&mut self, stage: &'static str, rows: usize);
}

impl<F: FnMut(&'static str, usize) + Send> Progress for F {
    fn advance(&mut self, stage: &'static str, rows: usize) {
        self(stage, rows)
    }
}

impl Site {
    /// Parses a document, refusing unknown fields, and puts its links in the
    /// form they are stored in, as the API does (`validate::http_url`).
    pub fn parse(json: &str) -> Result<Self, SiteError> {
        let mut site: Self = serde_json::from_str(json)?;
        site.normalize_links()?;
        Ok(site)
    }

    /// Replaces every link by the form it is stored in, naming the item of
    /// one that is not a link Broadsheet accepts.
    fn normalize_links(&mut self) -> Result<(), SiteError> {
        for outlet in &mut self.outlets {
            outlet.home_url = url("home_url", &outlet.home_url)
                .map_err(|problem| invalid("outlet", &outlet.slug, problem))?;
        }
        for article in &mut self.articles {
            let slug = article.slug.clone();
            let at = |problem: String| invalid("article", &slug, problem);
            for (index, excerpt) in article.excerpts.iter_mut().enumerate() {
                excerpt.source_url = url("source_url", &excerpt.source_url)
                    .map_err(|problem| at(format!("excerpt {}: {problem}", index + 1)))?;
            }
            for (index, roundup) in article.roundups.iter_mut().enumerate() {
                for (link_index, link) in roundup.links.iter_mut().enumerate() {
                    link.url = url("url", &link.url).map_err(|problem| {
                        at(format!(
                            "roundup {}: link {}: {problem}",
                            index + 1,
                            link_index + 1
                        ))
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Brings what old content may break within the rules, where that can be
    /// done deterministically, and says what it changed, one line per
    /// repair: over-long text is cut (trimmed of surrounding whitespace
    /// first, then cut to one character less than the cap and ended with
    /// `…`); a blank optional text (a call to action) or a blank byline is
    /// dropped. What cannot be repaired so (a blank title, a bad slug or
    /// link) is left for `validate` to refuse.
    pub fn repair(&mut self) -> Vec<String> {
        let mut repairs = Vec::new();
        for outlet in &mut self.outlets {
            let at = format!("outlet `{}`", outlet.slug);
            shorten(
                &mut outlet.name,
                NAME_MAX,
                &format!("{at}: name"),
                &mut repairs,
            );
        }
        for tag in &mut self.tags {
            let at = format!("tag `{}`", tag.slug);
            shorten(
                &mut tag.name,
                NAME_MAX,
                &format!("{at}: name"),
                &mut repairs,
            );
        }
        for article in &mut self.articles {
            let at = format!("article `{}`", article.slug);
            shorten(
                &mut article.title,
                TITLE_MAX,
                &format!("{at}: title"),
                &mut repairs,
            );
            if let Some(summary) = &mut article.summary {
                shorten(
                    summary,
                    SUMMARY_MAX,
                    &format!("{at}: summary"),
                    &mut repairs,
                );
            }
            for (index, excerpt) in article.excerpts.iter_mut().enumerate() {
                let at = format!("{at}: excerpt {}", index + 1);
                excerpt.repair(&at, &mut repairs);
            }
            for (index, roundup) in article.roundups.iter_mut().enumerate() {
                let at = format!("{at}: roundup {}", index + 1);
                shorten(
                    &mut roundup.title,
                    TITLE_MAX,
                    &format!("{at}: title"),
                    &mut repairs,
                );
                for (index, link) in roundup.links.iter_mut().enumerate() {
                    let at = format!("{at}: link {}: headline", index + 1);
                    shorten(&mut link.headline, TITLE_MAX, &at, &mut repairs);
                }
            }
        }
        repairs
    }

    /// The document as pretty JSON with a trailing newline, fields in a fixed order.
    pub fn to_json(&self) -> Result<String, SiteError> {
        let mut json = serde_json::to_string_pretty(self)?;
        json.push('\n');
        Ok(json)
    }

    /// How many rows a load reports progress over.
    pub fn rows(&self) -> usize {
        let per_article: usize = self
            .articles
            .iter()
            .map(|a| {
                1 + a.tags.len()
                    + a.old_slugs.len()
                    + a.excerpts.len()
                    + a.roundups.iter().map(|r| 1 + r.links.len()).sum::<usize>()
            })
            .sum();
        self.outlets.len() + self.tags.len() + per_article + self.views.len()
    }

    /// Checks what the database would refuse less clearly, and what no write
    /// of the API accepts either (links not in the form they are stored in,
    /// dates outside the years 1 to 9999 in UTC: `validate`; Markdown beyond
    /// what may be rendered: `markdown::check`), naming the item at fault.
    /// Nothing else the database accepts is refused here, so that
    /// whatever was exported can be imported.
    fn validate(&self, this_hour: DateTime<Utc>) -> Result<(), SiteError> {
        let mut outlet_slugs = HashSet::new();
        for outlet in &self.outlets {
            let at = |problem: String| invalid("outlet", &outlet.slug, problem);
            short_slug(&outlet.slug).map_err(at)?;
            if !outlet_slugs.insert(&outlet.slug) {
                return Err(at("listed twice".into()));
            }
            text("name", &outlet.name, Rule::Text { max: NAME_MAX }).map_err(at)?;
            stored_url("home_url", &outlet.home_url).map_err(at)?;
            if let Some(code) = &outlet.country_code {
                if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(at(format!(
                        "country_code `{code}` is not two capital letters (ISO 3166-1 alpha-2)"
                    )));
                }
            }
        }
        let mut tag_slugs = HashSet::new();
        for tag in &self.tags {
            let at = |problem: String| invalid("tag", &tag.slug, problem);
            short_slug(&tag.slug).map_err(at)?;
            if !tag_slugs.insert(&tag.slug) {
                return Err(at("listed twice".into()));
            }
            text("name", &tag.name, Rule::Text { max: NAME_MAX }).map_err(at)?;
        }
        let mut article_slugs = HashSet::new();
        for article in &self.articles {
            let at = |problem: String| invalid("article", &article.slug, problem);
            slug(&article.slug, is_slug).map_err(at)?;
            if !article_slugs.insert(&article.slug) {
                return Err(at("listed twice".into()));
            }
        }
        let mut old_slug_owners: HashMap<&str, &str> = HashMap::new();
        for article in &self.articles {
            let at = |problem: String| invalid("article", &article.slug, problem);
            article
                .validate(&mut old_slug_owners, &article_slugs)
                .map_err(at)?;
        }
        for views in &self.views {
            let at = |problem: String| invalid("views of article", &views.article, problem);
            if views.views < 0 {
                return Err(at(format!("views {} is negative", views.views)));
            }
            if let Some(start) = views.bucket_start {
                timestamp("bucket_start", start).map_err(at)?;
            }
            views.bucket(this_hour).map_err(at)?;
        }
        Ok(())
    }
}

impl SiteArticle {
    fn validate<'a>(
        &'a self,
        old_slug_owners: &mut HashMap<&'a str, &'a str>,
        article_slugs: &HashSet<&String>,
    ) -> Result<(), String> {
        text("title", &self.title, Rule::Text { max: TITLE_MAX })?;
        if let Some(summary) = &self.summary {
            text("summary", summary, Rule::Any { max: SUMMARY_MAX })?;
        }
        markdown("body_markdown", &self.body_markdown)?;
        match self.status.as_str() {
            "draft" => {}
            "published" if self.published_at.is_none() => {
                return Err("is published but has no published_at".into())
            }
            "published" => {}
            other => return Err(format!("status is `{other}`, not `draft` or `published`")),
        }
        for (field, at) in [
            ("published_at", self.published_at),
            ("created_at", self.created_at),
            ("updated_at", self.updated_at),
        ] {
            at.map_or(Ok(()), |at| timestamp(field, at))?;
        }
        for tag in &self.tags {
            short_slug(tag).map_err(|e| format!("tag {e}"))?;
        }
        for old in &self.old_slugs {
            slug(old, is_slug).map_err(|e| format!("old slug {e}"))?;
            if article_slugs.contains(old) {
                return Err(format!(
                    "old slug `{old}` is the slug of another article in this document"
                ));
            }
            if let Some(owner) = old_slug_owners.insert(old, &self.slug) {
                return Err(if owner == self.slug {
                    format!("old slug `{old}` is listed twice")
                } else {
                    format!("old slug `{old}` is also an old slug of `{owner}`")
                });
            }
        }
        for (index, excerpt) in self.excerpts.iter().enumerate() {
            let at = |problem: String| format!("excerpt {}: {problem}", index + 1);
            excerpt.check_stored().map_err(at)?;
            stored_url("source_url", &excerpt.source_url).map_err(at)?;
            markdown("body_markdown", &excerpt.body_markdown).map_err(at)?;
        }
        for (index, roundup) in self.roundups.iter().enumerate() {
            let at = |problem: String| format!("roundup {}: {problem}", index + 1);
            text("title", &roundup.title, Rule::Text { max: TITLE_MAX }).map_err(at)?;
            for (index, link) in roundup.links.iter().enumerate() {
                let at = |problem: String| at(format!("link {}: {problem}", index + 1));
                text("headline", &link.headline, Rule::Text { max: TITLE_MAX }).map_err(at)?;
                stored_url("url", &link.url).map_err(at)?;
            }
        }
        Ok(())
    }
}

fn invalid(kind: &str, slug: &str, problem: String) -> SiteError {
    SiteError::Invalid(format!("{kind} `{slug}`: {problem}"))
}

fn slug(value: &str, rule: impl Fn(&str) -> bool) -> Result<(), String> {
    if rule(value) {
        Ok(())
    } else {
        Err(format!(
            "`{value}` is not a slug (lowercase letters and digits separated by single hyphens)"
        ))
    }
}

fn short_slug(value: &str) -> Result<(), String> {
    slug(value, |s| is_slug(s) && s.len() <= MAX_SHORT_SLUG_LEN)
}

/// Markdown, held to the rule every write follows (size and nesting).
fn markdown(field: &str, value: &str) -> Result<(), String> {
    text(field, value, Rule::Any { max: usize::MAX })?;
    crate::markdown::check(value).map_err(|problem| format!("{field} {problem}"))
}

/// The form a link is stored in (`validate::http_url`).
fn url(field: &str, value: &str) -> Result<String, String> {
    validate::http_url(value)
        .ok_or_else(|| format!("{field} `{}` is not {URL_RULE}", value.escape_debug()))
}

/// A link already in the form it is stored in, as `Site::parse` leaves it.
fn stored_url(field: &str, value: &str) -> Result<(), String> {
    match url(field, value)? {
        stored if stored == value => Ok(()),
        stored => Err(format!(
            "{field} `{value}` is not in the form it is stored in, `{stored}`"
        )),
    }
}

/// A timestamp within the years the API stores and serves.
fn timestamp(field: &str, at: DateTime<Utc>) -> Result<(), String> {
    if validate::in_years(at) {
        Ok(())
    } else {
        Err(format!(
            "{field} {} is outside the years 1 to 9999 (in UTC)",
            at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        ))
    }
}

/// Loads the whole document in one transaction: all of it, or nothing.
pub async fn load(conn: &mut AsyncPgConnection, site: &Site) -> Result<Loaded, SiteError> {
    load_with(conn, site, Mode::Write, &mut |_: &'static str, _: usize| {}).await
}

/// Loads the whole document in one transaction, reporting progress; a dry
/// run does all the work, checks deferred constraints, then rolls back.
pub async fn load_with(
    conn: &mut AsyncPgConnection,
    site: &Site,
    mode: Mode,
    progress: &mut dyn Progress,
) -> Result<Loaded, SiteError> {
    let this_hour = Utc::now()
        .duration_trunc(Duration::hours(1))
        .map_err(|e| SiteError::Invalid(e.to_string()))?;
    site.validate(this_hour)?;
    let outcome = conn
        .transaction::<_, Abort, _>(|conn| {
            async move {
                let missing;
                let site = match mode {
                    Mode::AddMissing => {
                        missing = missing_from(conn, site).await.map_err(Abort::Failed)?;
                        &missing
                    }
                    Mode::Write | Mode::DryRun => site,
                };
                let loaded = load_in(conn, site, this_hour, progress)
                    .await
                    .map_err(Abort::Failed)?;
                crate::changes::seal::seal(conn, Utc::now())
                    .await
                    .map_err(|e| Abort::Failed(SiteError::Changes(Box::new(e))))?;
                match mode {
                    Mode::Write | Mode::AddMissing => Ok(loaded),
                    Mode::DryRun => {
                        conn.batch_execute("SET CONSTRAINTS ALL IMMEDIATE").await?;
                        Err(Abort::DryRun(loaded))
                    }
                }
            }
            .scope_boxed()
        })
        .await;
    match outcome {
        Ok(loaded) | Err(Abort::DryRun(loaded)) => Ok(loaded),
        Err(Abort::Failed(error)) => Err(error),
    }
}

/// Serializes loads that add what is missing, so two instances seeding at
/// once do not both find an article missing.
const ADD_MISSING_LOCK_KEY: i64 = 0x6272_6f61_6473_6564; // "broadsed"

/// The part of `site` whose slugs the database does not know yet: an
/// article counts as present under its current slug or any old one.
async fn missing_from(conn: &mut AsyncPgConnection, site: &Site) -> Result<Site, SiteError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(ADD_MISSING_LOCK_KEY)
        .execute(conn)
        .await?;
    #[derive(QueryableByName)]
    struct Known {
        #[diesel(sql_type = Text)]
        kind: String,
        #[diesel(sql_type = Text)]
        slug: String,
    }
    let outlet_slugs: Vec<&str> = site.outlets.iter().map(|o| o.slug.as_str()).collect();
    let tag_slugs: Vec<&str> = site.tags.iter().map(|t| t.slug.as_str()).collect();
    let article_slugs: Vec<&str> = (site.articles.iter())
        .flat_map(|a| std::iter::once(&a.slug).chain(&a.old_slugs))
        .map(String::as_str)
        .collect();
    let known: Vec<Known> = diesel::sql_query(
        "SELECT 'outlet' AS kind, slug FROM outlets WHERE slug = ANY($1) \
         UNION ALL SELECT 'tag', slug FROM tags WHERE slug = ANY($2) \
         UNION ALL SELECT 'article', slug FROM articles WHERE slug = ANY($3) \
         UNION ALL SELECT 'article', slug FROM article_slug_history WHERE slug = ANY($3)",
    )
    .bind::<Array<Text>, _>(outlet_slugs)
    .bind::<Array<Text>, _>(tag_slugs)
    .bind::<Array<Text>, _>(article_slugs)
    .load(conn)
    .await?;
    let (mut stored_outlets, mut stored_tags, mut taken) =
        (HashSet::new(), HashSet::new(), HashSet::new());
    for Known { kind, slug } in known {
        match kind.as_str() {
            "outlet" => stored_outlets.insert(slug),
            "tag" => stored_tags.insert(slug),
            _ => taken.insert(slug),
        };
    }
    let articles: Vec<SiteArticle> = site
        .articles
        .iter()
        .filter(|a| !taken.contains(&a.slug))
        .map(|a| SiteArticle {
            old_slugs: a
                .old_slugs
                .iter()
                .filter(|old| !taken.contains(*old))
                .cloned()
                .collect(),
            ..a.clone()
        })
        .collect();
    let added: HashSet<&str> = articles.iter().map(|a| a.slug.as_str()).collect();
    let views = site
        .views
        .iter()
        .filter(|v| added.contains(v.article.as_str()))
        .cloned()
        .collect();
    Ok(Site {
        notes: Vec::new(),
        outlets: site
            .outlets
            .iter()
            .filter(|o| !stored_outlets.contains(&o.slug))
            .cloned()
            .collect(),
        tags: site
            .tags
            .iter()
            .filter(|t| !stored_tags.contains(&t.slug))
            .cloned()
            .collect(),
        articles,
        views,
    })
}

/// Refreshes the planner's statistics of every table a load writes. Run
/// after a load commits: autovacuum may be off, and tables that grew by a
/// bulk load without statistics get sequential scans (an article read fell
/// to a twelfth of its rate).
pub async fn analyze(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    conn.batch_execute(
        "ANALYZE outlets, tags, articles, article_tags, article_slug_history, article_search, \
         excerpts, roundups, roundup_links, view_counts",
    )
    .await
}

/// How a load's transaction ends other than by committing.
enum Abort {
    Failed(SiteError),
    /// Rolled back on purpose, with what would have been written.
    DryRun(Loaded),
}

impl From<diesel::result::Error> for Abort {
    fn from(error: diesel::result::Error) -> Self {
        Self::Failed(error.into())
    }
}

async fn load_in(
    conn: &mut AsyncPgConnection,
    site: &Site,
    this_hour: DateTime<Utc>,
    progress: &mut dyn Progress,
) -> Result<Loaded, SiteError> {
    let mut loaded = Loaded {
        outlets: site.outlets.len(),
        tags: site.tags.len(),
        articles: site.articles.len(),
        ..Loaded::default()
    };
    upsert_outlets(conn, &site.outlets, progress).await?;
    upsert_tags(conn, site, progress).await?;
    let outlet_ids = crate::outlets::commands::ids(conn).await?;
    let tag_ids = tag_ids(conn, site).await?;
    release_old_slugs(conn, site).await?;

    let slugs: Vec<&str> = site.articles.iter().map(|a| a.slug.as_str()).collect();
    let existing: i64 = articles::table
        .filter(articles::slug.eq_any(&slugs))
        .count()
        .get_result(conn)
        .await?;
    loaded.new_articles = site
        .articles
        .len()
        .saturating_sub(usize::try_from(existing).unwrap_or_default());

    let mut article_ids: HashMap<&str, i64> = HashMap::new();
    for round in site.articles.chunks(ARTICLES_PER_ROUND) {
        let written = write_round(conn, round, &outlet_ids, &tag_ids, progress)
            .await
            .map_err(|error| match error {
                // A refusal of a many-row statement names no row: name the round.
                SiteError::Database(error) => SiteError::Invalid(format!(
                    "among articles `{}` to `{}`: database: {error}",
                    round.first().map_or("", |a| a.slug.as_str()),
                    round.last().map_or("", |a| a.slug.as_str()),
                )),
                other => other,
            })?;
        for (id, article) in written.ids {
            article_ids.insert(&article.slug, id);
        }
        loaded.excerpts += written.excerpts;
        loaded.roundups += written.roundups;
        loaded.links += written.links;
    }
    loaded.old_slugs = write_old_slugs(conn, site, &article_ids, progress).await?;
    loaded.view_buckets = write_views(conn, site, this_hour, &article_ids, progress).await?;
    Ok(loaded)
}

/// What one round of articles wrote.
struct Round<'a> {
    ids: Vec<(i64, &'a SiteArticle)>,
    excerpts: usize,
    roundups: usize,
    links: usize,
}

/// Writes a round of articles with their tags, excerpts and roundups.
async fn write_round<'a>(
    conn: &mut AsyncPgConnection,
    round: &'a [SiteArticle],
    outlet_ids: &HashMap<String, i64>,
    tag_ids: &HashMap<String, i64>,
    progress: &mut dyn Progress,
) -> Result<Round<'a>, SiteError> {
    let articles: Vec<&NewArticle> = round.iter().map(|a| &a.article).collect();
    let rendered = article_writes::render(&articles).await?;
    let ids = upsert_articles(conn, round, &rendered).await?;
    progress.advance("articles", round.len());
    let ids: Vec<(i64, &SiteArticle)> = round
        .iter()
        .map(|article| {
            let id = ids
                .get(&article.slug)
                .copied()
                .ok_or_else(|| invalid("article", &article.slug, "was not written".into()))?;
            Ok((id, article))
        })
        .collect::<Result<_, SiteError>>()?;
    write_article_tags(conn, &ids, tag_ids, progress).await?;
    let (excerpts, roundups, links) =
        write_children(conn, &ids, &rendered, outlet_ids, progress).await?;
    Ok(Round {
        ids,
        excerpts,
        roundups,
        links,
    })
}

async fn upsert_outlets(
    conn: &mut AsyncPgConnection,
    outlets: &[SiteOutlet],
    progress: &mut dyn Progress,
) -> QueryResult<()> {
    for chunk in outlets.chunks(ROWS_PER_STATEMENT) {
        diesel::insert_into(outlets::table)
            .values(chunk)
            .on_conflict(outlets::slug)
            .do_update()
            .set((
                outlets::name.eq(excluded(outlets::name)),
                outlets::home_url.eq(excluded(outlets::home_url)),
                // Spelled out: the derived changeset would skip a null
                // country_code, keeping a code the document removed.
                outlets::country_code.eq(excluded(outlets::country_code)),
                outlets::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        progress.advance("outlets", chunk.len());
    }
    Ok(())
}

/// Upserts the listed tags, then creates those that articles name but the
/// document does not list, as `set_tags` does.
async fn upsert_tags(
    conn: &mut AsyncPgConnection,
    site: &Site,
    progress: &mut dyn Progress,
) -> QueryResult<()> {
    for chunk in site.tags.chunks(ROWS_PER_STATEMENT) {
        diesel::insert_into(tags::table)
            .values(chunk)
            .on_conflict(tags::slug)
            .do_update()
            .set(tags::name.eq(excluded(tags::name)))
            .execute(conn)
            .await?;
        progress.advance("tags", chunk.len());
    }
    let listed: HashSet<&str> = site.tags.iter().map(|t| t.slug.as_str()).collect();
    let unlisted: BTreeSet<&str> = site
        .articles
        .iter()
        .flat_map(|a| a.tags.iter().map(String::as_str))
        .filter(|slug| !listed.contains(slug))
        .collect();
    let rows: Vec<_> = unlisted
        .into_iter()
        .map(|slug| (tags::slug.eq(slug), tags::name.eq(name_from_slug(slug))))
        .collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        diesel::insert_into(tags::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The ids of the tags the document's articles name, by slug.
async fn tag_ids(conn: &mut AsyncPgConnection, site: &Site) -> QueryResult<HashMap<String, i64>> {
    let named: BTreeSet<&str> = site
        .articles
        .iter()
        .flat_map(|a| a.tags.iter().map(String::as_str))
        .collect();
    if named.is_empty() {
        return Ok(HashMap::new());
    }
    let named: Vec<&str> = named.into_iter().collect();
    Ok(tags::table
        .filter(tags::slug.eq_any(named))
        .select((tags::slug, tags::id))
        .load(conn)
        .await?
        .into_iter()
        .collect())
}

/// Refuses slug clashes with articles the document does not name, then
/// releases the old slugs the document no longer gives its articles, before
/// any article is written: an article may take over a slug that one of them
/// used to answer to.
async fn release_old_slugs(conn: &mut AsyncPgConnection, site: &Site) -> Result<(), SiteError> {
    let slugs: Vec<&str> = site.articles.iter().map(|a| a.slug.as_str()).collect();
    let old: Vec<&str> = site
        .articles
        .iter()
        .flat_map(|a| a.old_slugs.iter().map(String::as_str))
        .collect();
    if !old.is_empty() {
        // The document validated that no old slug is one of its own articles'.
        let taken: Option<String> = articles::table
            .filter(articles::slug.eq_any(&old))
            .select(articles::slug)
            .order(articles::slug)
            .first(conn)
            .await
            .optional()?;
        if let Some(taken) = taken {
            let owner = site
                .articles
                .iter()
                .find(|a| a.old_slugs.contains(&taken))
                .map_or("", |a| a.slug.as_str());
            return Err(invalid(
                "article",
                owner,
                format!("old slug `{taken}` is the slug of an article this document does not list"),
            ));
        }
    }
    let retired: Option<(String, String)> = article_slug_history::table
        .inner_join(articles::table)
        .filter(article_slug_history::slug.eq_any(&slugs))
        .filter(articles::slug.ne_all(&slugs))
        .select((article_slug_history::slug, articles::slug))
        .order(article_slug_history::slug)
        .first(conn)
        .await
        .optional()?;
    if let Some((slug, owner)) = retired {
        return Err(invalid(
            "article",
            &slug,
            format!("the slug is an old slug of `{owner}`, which this document does not list"),
        ));
    }
    diesel::delete(
        article_slug_history::table
            .filter(
                article_slug_history::article_id.eq_any(
                    articles::table
                        .filter(articles::slug.eq_any(&slugs))
                        .select(articles::id),
                ),
            )
            .filter(article_slug_history::slug.ne_all(&old)),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Upserts a round of articles, returning their ids by slug.
async fn upsert_articles(
    conn: &mut AsyncPgConnection,
    round: &[SiteArticle],
    rendered: &[Rendered],
) -> QueryResult<HashMap<String, i64>> {
    let rows: Vec<_> = round
        .iter()
        .zip(rendered)
        .map(|(article, html)| article_writes::columns(article, &html.body))
        .collect();
    let ids: HashMap<String, i64> = diesel::insert_into(articles::table)
        .values(&rows)
        .on_conflict(articles::slug)
        .do_update()
        .set((
            articles::title.eq(excluded(articles::title)),
            articles::summary.eq(excluded(articles::summary)),
            articles::body.eq(excluded(articles::body)),
            articles::body_html.eq(excluded(articles::body_html)),
            articles::status.eq(excluded(articles::status)),
            articles::published_at.eq(excluded(articles::published_at)),
            articles::updated_at.eq(diesel::dsl::now),
        ))
        .returning((articles::slug, articles::id))
        .load::<(String, i64)>(conn)
        .await?
        .into_iter()
        .collect();

    // A second statement because ON CONFLICT cannot tell a timestamp the
    // document gave from a column default: absent ones keep the row's own.
    let dated: Vec<&SiteArticle> = round
        .iter()
        .filter(|a| a.created_at.is_some() || a.updated_at.is_some())
        .collect();
    if !dated.is_empty() {
        let ids_of_dated: Vec<i64> = dated
            .iter()
            .filter_map(|a| ids.get(&a.slug).copied())
            .collect();
        let created: Vec<Option<DateTime<Utc>>> = dated.iter().map(|a| a.created_at).collect();
        let updated: Vec<Option<DateTime<Utc>>> = dated.iter().map(|a| a.updated_at).collect();
        diesel::sql_query(
            "UPDATE articles \
             SET created_at = COALESCE(given.created_at, articles.created_at), \
                 updated_at = COALESCE(given.updated_at, articles.updated_at) \
             FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[]) \
                  AS given (id, created_at, updated_at) \
             WHERE articles.id = given.id",
        )
        .bind::<Array<BigInt>, _>(ids_of_dated)
        .bind::<Array<Nullable<Timestamptz>>, _>(created)
        .bind::<Array<Nullable<Timestamptz>>, _>(updated)
        .execute(conn)
        .await?;
    }
    Ok(ids)
}

async fn write_article_tags(
    conn: &mut AsyncPgConnection,
    round: &[(i64, &SiteArticle)],
    tag_ids: &HashMap<String, i64>,
    progress: &mut dyn Progress,
) -> Result<(), SiteError> {
    let ids: Vec<i64> = round.iter().map(|(id, _)| *id).collect();
    diesel::delete(article_tags::table.filter(article_tags::article_id.eq_any(&ids)))
        .execute(conn)
        .await?;
    let mut rows = Vec::new();
    for (id, article) in round {
        let unique: BTreeSet<&String> = article.tags.iter().collect();
        for slug in unique {
            let tag_id = tag_ids.get(slug).copied().ok_or_else(|| {
                invalid(
                    "article",
                    &article.slug,
                    format!("tag `{slug}` was not written"),
                )
            })?;
            rows.push((
                article_tags::article_id.eq(*id),
                article_tags::tag_id.eq(tag_id),
            ));
        }
    }
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        diesel::insert_into(article_tags::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    let named: usize = round.iter().map(|(_, a)| a.tags.len()).sum();
    progress.advance("tags", named);
    Ok(())
}

/// Replaces a round of articles' excerpts and roundups; returns how many
/// excerpts, roundups and links were written.
async fn write_children(
    conn: &mut AsyncPgConnection,
    round: &[(i64, &SiteArticle)],
    rendered: &[Rendered],
    outlet_ids: &HashMap<String, i64>,
    progress: &mut dyn Progress,
) -> Result<(usize, usize, usize), SiteError> {
    let ids: Vec<i64> = round.iter().map(|(id, _)| *id).collect();
    diesel::delete(excerpts::table.filter(excerpts::article_id.eq_any(&ids)))
        .execute(conn)
        .await?;
    // Their links go with them (ON DELETE CASCADE).
    diesel::delete(roundups::table.filter(roundups::article_id.eq_any(&ids)))
        .execute(conn)
        .await?;
    let outlet_id = |article: &SiteArticle, what: String, slug: &str| {
        outlet_ids.get(slug).copied().ok_or_else(|| {
            invalid(
                "article",
                &article.slug,
                format!("{what} cites unknown outlet `{slug}`"),
            )
        })
    };

    let mut excerpt_rows = Vec::new();
    let mut roundup_rows = Vec::new();
    for ((id, article), html) in round.iter().zip(rendered) {
        for ((index, excerpt), html) in article.excerpts.iter().enumerate().zip(&html.excerpts) {
            let what = format!("excerpt {}", index + 1);
            let outlet = outlet_id(article, what, &excerpt.outlet)?;
            excerpt_rows.push((
                excerpts::article_id.eq(*id),
                excerpts::position.eq(position(index)),
                crate::excerpts::writes::Columns::new(excerpt, outlet, html),
            ));
        }
        for (index, roundup) in article.roundups.iter().enumerate() {
            roundup_rows.push((
                roundups::article_id.eq(*id),
                roundups::position.eq(position(index)),
                roundups::title.eq(&roundup.title),
            ));
        }
    }
    for chunk in excerpt_rows.chunks(ROWS_PER_STATEMENT) {
        diesel::insert_into(excerpts::table)
            .values(chunk)
            .execute(conn)
            .await?;
        progress.advance("excerpts", chunk.len());
    }
    let mut roundup_ids: HashMap<(i64, i32), i64> = HashMap::new();
    for chunk in roundup_rows.chunks(ROWS_PER_STATEMENT) {
        let written: Vec<(i64, i32, i64)> = diesel::insert_into(roundups::table)
            .values(chunk)
            .returning((roundups::article_id, roundups::position, roundups::id))
            .load(conn)
            .await?;
        roundup_ids.extend(written.into_iter().map(|(a, p, id)| ((a, p), id)));
        progress.advance("roundups", chunk.len());
    }

    let mut link_rows = Vec::new();
    for (id, article) in round {
        for (index, roundup) in article.roundups.iter().enumerate() {
            let roundup_id = roundup_ids
                .get(&(*id, position(index)))
                .copied()
                .ok_or_else(|| {
                    invalid(
                        "article",
                        &article.slug,
                        format!("roundup {} was not written", index + 1),
                    )
                })?;
            for (link_index, link) in roundup.links.iter().enumerate() {
                let what = format!("roundup {} link {}", index + 1, link_index + 1);
                link_rows.push((
                    roundup_links::roundup_id.eq(roundup_id),
                    roundup_links::position.eq(position(link_index)),
                    roundup_links::headline.eq(&link.headline),
                    roundup_links::outlet_id.eq(outlet_id(article, what, &link.outlet)?),
                    roundup_links::url.eq(&link.url),
                ));
            }
        }
    }
    for chunk in link_rows.chunks(ROWS_PER_STATEMENT) {
        diesel::insert_into(roundup_links::table)
            .values(chunk)
            .execute(conn)
            .await?;
        progress.advance("links", chunk.len());
    }
    Ok((excerpt_rows.len(), roundup_rows.len(), link_rows.len()))
}

/// Position `index + 1`; a document has far fewer than 2^31 items per list.
fn position(index: usize) -> i32 {
    i32::try_from(index + 1).unwrap_or(i32::MAX)
}

/// Writes the document's old slugs, after every article exists. An old slug
/// that another article held moves to the one the document names.
async fn write_old_slugs(
    conn: &mut AsyncPgConnection,
    site: &Site,
    article_ids: &HashMap<&str, i64>,
    progress: &mut dyn Progress,
) -> Result<usize, SiteError> {
    let mut rows = Vec::new();
    for article in &site.articles {
        let Some(id) = article_ids.get(article.slug.as_str()) else {
            continue;
        };
        for old in &article.old_slugs {
            rows.push((
                article_slug_history::slug.eq(old),
                article_slug_history::article_id.eq(*id),
            ));
        }
    }
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        diesel::insert_into(article_slug_history::table)
            .values(chunk)
            .on_conflict(article_slug_history::slug)
            .do_update()
            .set(article_slug_history::article_id.eq(excluded(article_slug_history::article_id)))
            .execute(conn)
            .await?;
        progress.advance("old slugs", chunk.len());
    }
    Ok(rows.len())
}

/// Replaces the view counts of every article the document counts views for;
/// returns how many buckets were written.
async fn write_views(
    conn: &mut AsyncPgConnection,
    site: &Site,
    this_hour: DateTime<Utc>,
    article_ids: &HashMap<&str, i64>,
    progress: &mut dyn Progress,
) -> Result<usize, SiteError> {
    if site.views.is_empty() {
        return Ok(0);
    }
    // Views may count for articles loaded before, outside this document.
    let elsewhere: BTreeSet<&str> = site
        .views
        .iter()
        .map(|v| v.article.as_str())
        .filter(|slug| !article_ids.contains_key(slug))
        .collect();
    let elsewhere: HashMap<String, i64> = if elsewhere.is_empty() {
        HashMap::new()
    } else {
        articles::table
            .filter(articles::slug.eq_any(elsewhere.into_iter().collect::<Vec<_>>()))
            .select((articles::slug, articles::id))
            .load::<(String, i64)>(conn)
            .await?
            .into_iter()
            .collect()
    };
    let mut buckets: HashMap<(i64, Granularity, DateTime<Utc>), i64> = HashMap::new();
    for entry in &site.views {
        let at = |problem: String| invalid("views of article", &entry.article, problem);
        let id = article_ids
            .get(entry.article.as_str())
            .or_else(|| elsewhere.get(&entry.article))
            .copied()
            .ok_or_else(|| at("no such article".into()))?;
        let (granularity, start) = entry.bucket(this_hour).map_err(at)?;
        let count = buckets.entry((id, granularity, start)).or_default();
        *count = count
            .checked_add(entry.views)
            .ok_or_else(|| at("the views of one bucket add up past 2^63".into()))?;
    }
    let ids: BTreeSet<i64> = buckets.keys().map(|(id, _, _)| *id).collect();
    diesel::delete(view_counts::table.filter(view_counts::article_id.eq_any(ids)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = buckets
        .into_iter()
        .map(|((id, granularity, start), views)| {
            (
                view_counts::article_id.eq(id),
                view_counts::granularity.eq(granularity.as_str()),
                view_counts::bucket_start.eq(start),
                view_counts::views.eq(views),
            )
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        diesel::insert_into(view_counts::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    progress.advance("views", site.views.len());
    Ok(rows.len())
}
