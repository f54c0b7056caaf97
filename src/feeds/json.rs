//! JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>), through serde.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::Feed;

/// A page of the feed in JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = JsonFeed)]
pub struct JsonFeed<'a> {
    /// `https://jsonfeed.org/version/1.1`.
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<&'a str>,
    #[schema(value_type = Vec<Author>)]
    authors: [Author<'a>; 1],
    items: Vec<Item<'a>>,
}

/// The publication, as the feed's one author.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = JsonFeedAuthor)]
pub struct Author<'a> {
    name: &'a str,
}

/// One article, its whole post as HTML.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = JsonFeedItem)]
pub struct Item<'a> {
    id: &'a str,
    url: &'a str,
    title: &'a str,
    content_html: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn render(feed: &Feed) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(feed.size_hint());
    serde_json::to_writer(
        &mut out,
        &JsonFeed {
            version: "https://jsonfeed.org/version/1.1",
            title: &feed.title,
            home_page_url: &feed.home_url,
            feed_url: &feed.self_url,
            description: &feed.description,
            next_url: feed.next_url.as_deref(),
            authors: [Author { name: &feed.author }],
            items: feed
                .entries
                .iter()
                .map(|entry| Item {
                    id: &entry.id,
                    url: &entry.url,
                    title: &entry.title,
                    content_html: &entry.content_html,
                    summary: entry.summary.as_deref(),
                    date_published: time(entry.published),
                    date_modified: time(entry.updated),
                    tags: entry.tags.iter().map(|tag| tag.name.as_str()).collect(),
                })
                .collect(),
        },
    )?;
    Ok(out)
}
