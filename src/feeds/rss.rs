//! RSS 2.0, with the Atom links RSS lacks: `rel="self"` and RFC 5005's
//! `rel="next"`, and each item's revision time as `atom:updated`.

use chrono::SecondsFormat;

use super::xml::Xml;
use super::{Feed, Format};

const ATOM: &str = "http://www.w3.org/2005/Atom";

pub fn render(feed: &Feed) -> String {
    let mut xml = Xml::with_capacity(feed.size_hint());
    xml.open("rss", &[("version", "2.0"), ("xmlns:atom", ATOM)]);
    xml.open("channel", &[]);
    xml.element("title", &[], &feed.title);
    xml.element("link", &[], &feed.home_url);
    xml.element("description", &[], &feed.description);
    xml.empty(
        "atom:link",
        &[
            ("rel", "self"),
            ("type", Format::Rss.media_type()),
            ("href", &feed.self_url),
        ],
    );
    if let Some(next) = &feed.next_url {
        xml.empty(
            "atom:link",
            &[
                ("rel", "next"),
                ("type", Format::Rss.media_type()),
                ("href", next),
            ],
        );
    }
    if let Some(updated) = feed.latest() {
        xml.element("lastBuildDate", &[], &updated.to_rfc2822());
    }
    xml.element("generator", &[], "Broadsheet");
    for entry in &feed.entries {
        xml.open("item", &[]);
        xml.element("title", &[], &entry.title);
        xml.element("link", &[], &entry.url);
        xml.element("guid", &[("isPermaLink", "false")], &entry.id);
        xml.element("pubDate", &[], &entry.published.to_rfc2822());
        xml.element(
            "atom:updated",
            &[],
            &entry.updated.to_rfc3339_opts(SecondsFormat::Secs, true),
        );
        for tag in &entry.tags {
            xml.element("category", &[], &tag.name);
        }
        xml.element("description", &[], &entry.content_html);
        xml.close();
    }
    xml.finish()
}
