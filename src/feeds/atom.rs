//! Atom 1.0 (RFC 4287), paged as RFC 5005 describes.

use chrono::SecondsFormat;

use super::xml::Xml;
use super::{Feed, Format};

/// Alternate links carry no `type`: what they lead to is JSON, and readers
/// (feedparser among them) take only HTML-typed or untyped alternates as
/// the entry's link.
pub fn render(feed: &Feed) -> String {
    let time = |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut xml = Xml::with_capacity(feed.size_hint());
    xml.open("feed", &[("xmlns", "http://www.w3.org/2005/Atom")]);
    xml.element("id", &[], &feed.id);
    xml.element("title", &[], &feed.title);
    xml.element("subtitle", &[], &feed.description);
    xml.element("updated", &[], &time(feed.updated()));
    xml.open("author", &[]);
    xml.element("name", &[], &feed.author);
    xml.close();
    xml.empty(
        "link",
        &[
            ("rel", "self"),
            ("type", Format::Atom.media_type()),
            ("href", &feed.self_url),
        ],
    );
    xml.empty("link", &[("rel", "alternate"), ("href", &feed.home_url)]);
    if let Some(next) = &feed.next_url {
        xml.empty(
            "link",
            &[
                ("rel", "next"),
                ("type", Format::Atom.media_type()),
                ("href", next),
            ],
        );
    }
    xml.element("generator", &[], "Broadsheet");
    for entry in &feed.entries {
        xml.open("entry", &[]);
        xml.element("id", &[], &entry.id);
        xml.element("title", &[], &entry.title);
        xml.empty("link", &[("rel", "alternate"), ("href", &entry.url)]);
        xml.element("published", &[], &time(entry.published));
        xml.element("updated", &[], &time(entry.updated));
        for tag in &entry.tags {
            xml.empty("category", &[("term", &tag.slug), ("label", &tag.name)]);
        }
        if let Some(summary) = &entry.summary {
            xml.element("summary", &[], summary);
        }
        xml.element("content", &[("type", "html")], &entry.content_html);
        xml.close();
    }
    xml.finish()
}
