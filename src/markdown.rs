//! Markdown to HTML that is safe to insert into a page, and the one rule on
//! what Markdown may be stored.
//!
//! Editors write Markdown; frontends want HTML. Rendering happens here and
//! nowhere else, and every rendering passes through ammonia's allowlist, so a
//! `<script>` in a body can never reach a reader's browser.
//!
//! Rendering is done once, when content is written (`render`, off the async
//! workers), and the HTML is stored beside the Markdown; reads serve what was
//! stored. What may be rendered is bounded by `check`: html5ever, under
//! ammonia, spends time growing with the square of how deeply elements nest
//! (40,000 `>` took seconds), so every writer refuses Markdown that is too
//! large or nests too deeply before anything renders it.

use pulldown_cmark::{html, Event, Options, Parser, Tag, TagEnd};

use crate::error::AppError;

/// How deeply block quotes, lists and raw HTML elements may nest, together.
pub const MAX_DEPTH: usize = 32;

/// The most bytes a Markdown field may hold: a long essay is a quarter of it.
pub const MAX_BYTES: usize = 128 * 1024;

/// The most elements (paragraphs, list items, links, emphasis, raw HTML
/// tags…) a Markdown field may make. Sanitizing costs time in proportion to
/// the HTML, and a few bytes of Markdown can make many elements: a line of
/// nested lists makes dozens.
pub const MAX_ELEMENTS: usize = 10_000;

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_FOOTNOTES
}

/// Renders CommonMark (with tables, strikethrough and footnotes) and sanitizes the result.
pub fn to_html(markdown: &str) -> String {
    let mut unsafe_html = String::with_capacity(markdown.len() * 5 / 4);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options()));
    ammonia::clean(&unsafe_html)
}

/// Renders each text on a blocking thread: a body may take milliseconds of
/// CPU, which an async worker must spend serving other requests.
pub async fn render(texts: Vec<String>) -> Result<Vec<String>, tokio::task::JoinError> {
    tokio::task::spawn_blocking(move || texts.iter().map(|text| to_html(text)).collect()).await
}

/// The HTML of one text, rendered on a blocking thread, for a request's write.
pub async fn render_one(text: &str) -> Result<String, AppError> {
    render(vec![text.to_owned()])
        .await
        .map_err(|e| AppError::internal_because("rendering Markdown", e))?
        .pop()
        .ok_or_else(|| AppError::internal("rendering Markdown gave no HTML"))
}

/// Why Markdown may not be stored, as the detail of a problem naming its field.
pub fn check(markdown: &str) -> Result<(), String> {
    if markdown.len() > MAX_BYTES {
        return Err(format!("must be at most {MAX_BYTES} bytes"));
    }
    let mut depth = 0;
    let mut elements = 0;
    let mut raw = RawHtml::default();
    // The parser's own nesting, read from its events: exactly what it would
    // render, in one pass that stops at the first level too deep.
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Start(Tag::BlockQuote(_) | Tag::List(_)) => {
                depth += 1;
                elements += 1;
            }
            Event::End(TagEnd::BlockQuote(_) | TagEnd::List(_)) => depth -= 1,
            Event::Start(_) => elements += 1,
            Event::Html(html) | Event::InlineHtml(html) => elements += raw.read(&html),
            _ => continue,
        }
        if elements > MAX_ELEMENTS {
            return Err(format!(
                "must not make more than {MAX_ELEMENTS} HTML elements"
            ));
        }
        if depth + raw.open.len() > MAX_DEPTH {
            return Err(format!(
                "must not nest block quotes, lists and HTML elements more than {MAX_DEPTH} levels deep"
            ));
        }
    }
    Ok(())
}

/// Elements without content, which never stay open.
const VOID: [&str; 15] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr",
];

/// Elements an end tag does not look past for its element (HTML's "scope").
const SCOPE: [&str; 15] = [
    "applet",
    "caption",
    "html",
    "table",
    "td",
    "th",
    "marquee",
    "object",
    "template",
    "svg",
    "math",
    "foreignobject",
    "desc",
    "title",
    "button",
];

/// Raw HTML elements left open, as HTML's parser would keep them open, or
/// more: it counts every start tag it sees (a `<b` inside a quoted
/// attribute too) and closes an element only when an end tag (or a new
/// paragraph) would close it for that parser. Overcounting sloppy HTML is
/// the price of never undercounting.
#[derive(Default)]
struct RawHtml {
    open: Vec<String>,
}

impl RawHtml {
    /// Reads a piece of raw HTML; how many start tags it holds.
    fn read(&mut self, html: &str) -> usize {
        let mut started = 0;
        let mut rest = html;
        while let Some(at) = rest.find('<') {
            rest = &rest[at + 1..];
            let (closing, after) = match rest.strip_prefix('/') {
                Some(after) => (true, after),
                None => (false, rest),
            };
            let length = after
                .find(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                .unwrap_or(after.len());
            let name = after[..length].to_ascii_lowercase();
            if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
                continue;
            }
            if closing {
                self.close(&name);
                continue;
            }
            started += 1;
            if !VOID.contains(&name.as_str()) {
                // A new paragraph or list item ends the open one.
                if name == "p" || name == "li" {
                    self.close(&name);
                }
                self.open.push(name);
            }
        }
        started
    }

    /// Closes the nearest open `name` and what it holds, unless a scope
    /// boundary comes first.
    fn close(&mut self, name: &str) {
        for at in (0..self.open.len()).rev() {
            if self.open[at] == name {
                self.open.truncate(at);
                return;
            }
            if SCOPE.contains(&self.open[at].as_str()) {
                return;
            }
        }
    }
}

/// Appends `c` to `html`, escaped for HTML text and quoted attribute values:
/// the one escaping of text that Broadsheet writes into HTML itself (feed
/// entries, search snippets).
pub fn push_escaped(html: &mut String, c: char) {
    match c {
        '&' => html.push_str("&amp;"),
        '<' => html.push_str("&lt;"),
        '>' => html.push_str("&gt;"),
        '"' => html.push_str("&quot;"),
        '\'' => html.push_str("&#39;"),
        c => html.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::{check, to_html, MAX_BYTES, MAX_DEPTH, MAX_ELEMENTS};

    #[test]
    fn headings_and_paragraphs_render() {
        let html = to_html("## Recent Cooperation\n\nClinton praised recent cooperation.");
        assert!(html.contains("<h2>Recent Cooperation</h2>"), "{html}");
        assert!(
            html.contains("<p>Clinton praised recent cooperation.</p>"),
            "{html}"
        );
    }

    #[test]
    fn scripts_and_event_handlers_are_removed() {
        let html = to_html(
            "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }

    #[test]
    fn nesting_is_allowed_up_to_the_limit_and_refused_past_it() {
        let quotes = |n: usize| format!("{} x", ">".repeat(n));
        assert!(check(&quotes(MAX_DEPTH)).is_ok());
        assert!(check(&quotes(MAX_DEPTH + 1)).is_err());
        assert!(check(&quotes(40_000)).is_err());
        let lists = |n: usize| format!("{}x", "- ".repeat(n));
        assert!(check(&lists(MAX_DEPTH)).is_ok());
        assert!(check(&lists(MAX_DEPTH + 1)).is_err());
        // Block quotes and lists count together.
        let mixed = |n: usize| format!("{}x", "> - ".repeat(n));
        assert!(check(&mixed(MAX_DEPTH / 2)).is_ok());
        assert!(check(&mixed(MAX_DEPTH / 2 + 1)).is_err());
    }

    #[test]
    fn nesting_is_counted_as_the_parser_nests_not_by_characters() {
        // Deeply indented code, and `>` that are text, nest nothing.
        let code = format!("    {}\n", ">".repeat(1000));
        assert!(check(&code).is_ok());
        let inline = format!("x {}", "> ".repeat(1000));
        assert!(check(&inline).is_ok());
        // Lists nested by indentation count.
        let indented: String = (0..=MAX_DEPTH)
            .map(|level| format!("{}- item\n", "  ".repeat(level)))
            .collect();
        assert!(check(&indented).is_err());
    }

    #[test]
    fn raw_html_nesting_counts_too_and_closed_elements_do_not() {
        assert!(check(&"<div>".repeat(MAX_DEPTH + 1)).is_err());
        assert!(check(&"<div>".repeat(MAX_DEPTH)).is_ok());
        assert!(check(&"<sup>1</sup> <br> <p>a <p>b ".repeat(500)).is_ok());
        // An end tag does not reach past a table for its element.
        assert!(check(&"<div><table></div>".repeat(MAX_DEPTH)).is_err());
    }

    #[test]
    fn elements_are_limited_in_number() {
        let paragraphs = |n: usize| "x\n\n".repeat(n);
        assert!(check(&paragraphs(MAX_ELEMENTS)).is_ok());
        assert!(check(&paragraphs(MAX_ELEMENTS + 1)).is_err());
        assert!(check(&"<br>".repeat(MAX_ELEMENTS + 1)).is_err());
    }

    #[test]
    fn size_is_limited_in_bytes() {
        assert!(check(&"a".repeat(MAX_BYTES)).is_ok());
        assert!(check(&"a".repeat(MAX_BYTES + 1)).is_err());
        assert!(check(&"é".repeat(MAX_BYTES / 2 + 1)).is_err());
    }
}

#[cfg(test)]
mod fuzz {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::{check, to_html};
    use crate::fuzzing::{config, describe, markdown, unsafe_markup, Slowest};

    static CHECKS: Slowest = Slowest::new("markdown::check");
    static RENDERS: Slowest = Slowest::new("markdown::to_html of checked Markdown");

    /// The longest Markdown that passed `check` may take to render: many
    /// times what any input has needed, so that only a blow-up (time
    /// growing faster than the input) trips it.
    const BOUND: Duration = Duration::from_secs(if cfg!(debug_assertions) { 30 } else { 3 });

    proptest! {
        #![proptest_config(config(24))]

        /// Any Markdown: `check` never panics and answers in bounded time;
        /// what it lets through renders in bounded time to HTML that runs
        /// nothing in a browser (no script or other active element, no
        /// event handler, no `javascript:` or `data:` URL).
        #[test]
        fn fuzz_markdown_renders_safe_html_in_bounded_time(text in markdown()) {
            let (checked, took) = CHECKS.time(&text, || check(&text));
            prop_assert!(took < BOUND, "checking took {took:?}: {}", describe(&text));
            if checked.is_ok() {
                let (html, took) = RENDERS.time(&text, || to_html(&text));
                prop_assert!(took < BOUND, "rendering took {took:?}: {}", describe(&text));
                prop_assert_eq!(unsafe_markup(&html), None, "{}", describe(&text));
                prop_assert!(!html.to_ascii_lowercase().contains("<script"), "{}", html);
            }
        }
    }
}
