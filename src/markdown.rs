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
//!
//! The sanitizer's serializer has a cost of its own: to escape a text, it
//! looks for the next `<` or `>` first, to the end of the text if there is
//! none, and only then for the next `&` (or non-breaking space) before it.
//! Each `&` in a long stretch of text without `<` or `>` costs a scan of the
//! rest of the stretch: 128 KiB of `&` in one paragraph took 0.35 s in a
//! release build, four minutes in a debug one, growing with the square of
//! the stretch. `check` counts that scanning on the HTML the sanitizer is
//! handed (`escape_work`) and refuses Markdown that would cost too much.

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

/// The most bytes the sanitizer's serializer may scan to escape one field's
/// text, as `escape_work` counts them: about 10 ms in a release build.
/// Prose comes nowhere near it (a 10 KiB paragraph with a hundred `&` costs
/// a million); a paragraph of 20,000 `&` and nothing else reaches it.
pub const MAX_ESCAPE_WORK: u64 = 200_000_000;

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
    // Rendering without sanitizing is linear; the count is on exactly what
    // the sanitizer would be handed. Only an `&` or a byte 0xC2 in the
    // Markdown (itself, or in an entity for a non-breaking space) puts one
    // in the HTML: without either, there is nothing to count.
    if !markdown.bytes().any(|byte| matches!(byte, b'&' | 0xC2)) {
        return Ok(());
    }
    let mut html = String::with_capacity(markdown.len() * 5 / 4);
    html::push_html(&mut html, Parser::new_ext(markdown, options()));
    if escape_work(&html) > MAX_ESCAPE_WORK {
        return Err(
            "must not hold so many `&` (or other characters HTML escapes) in one stretch of \
             text: break it into paragraphs"
                .into(),
        );
    }
    Ok(())
}

/// How many bytes the sanitizer's serializer scans, at most, to escape the
/// text and attribute values of `html` (see the module's documentation).
/// Each `&` or byte 0xC2 (a non-breaking space and its neighbours) costs a
/// scan to the next `<` or `>`, which end a tag or stand in the text as
/// `&lt;` and `&gt;`. The escapes pulldown-cmark writes count as the
/// character they stand for; any other (in raw HTML) counts as its bytes,
/// and a `"` in an attribute (which ends a scan there) as any character:
/// never less than the serializer scans.
pub fn escape_work(html: &str) -> u64 {
    let bytes = html.as_bytes();
    let mut work = 0u64;
    // Bytes from here to the next `<` or `>`: read from the end.
    let mut stretch = 0u64;
    for (at, byte) in bytes.iter().enumerate().rev() {
        match byte {
            b'<' | b'>' => stretch = 0,
            b'&' => {
                let escape = &bytes[at + 1..];
                if escape.starts_with(b"lt;") || escape.starts_with(b"gt;") {
                    stretch = 0;
                    continue;
                }
                // The rest of an escape is not in the text the serializer
                // scans: only the character it stands for.
                let rest = [&b"amp;"[..], b"quot;", b"#39;"]
                    .into_iter()
                    .find(|rest| escape.starts_with(rest));
                stretch -= rest.map_or(0, |rest| rest.len() as u64);
                if rest.is_none_or(|rest| rest == b"amp;") {
                    work += stretch;
                }
                stretch += 1;
            }
            0xC2 => {
                work += stretch;
                stretch += 1;
            }
            _ => stretch += 1,
        }
    }
    work
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
    match entity(c) {
        Some(entity) => html.push_str(entity),
        None => html.push(c),
    }
}

/// The entity `push_escaped` writes for `c`, if it is one it escapes (all
/// of them ASCII).
pub fn entity(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&#39;"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use pulldown_cmark::Parser;

    use super::{check, escape_work, to_html, MAX_BYTES, MAX_DEPTH, MAX_ELEMENTS, MAX_ESCAPE_WORK};

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
    fn escaping_work_is_counted_per_stretch_between_tags() {
        assert_eq!(escape_work("<p>a &amp; b</p>"), 2);
        // A `<` in the text, escaped, ends the stretch as a tag does.
        assert_eq!(escape_work("<p>&amp;x&lt;y</p>"), 1);
        assert_eq!(escape_work("<a href=\"?a&amp;b\">&quot;&#39;</a>"), 2);
        // Every `&` scans to the end: the square of the stretch.
        let ampersands = |n: usize| escape_work(&"&amp;".repeat(n));
        assert_eq!(ampersands(1), 0);
        assert_eq!(ampersands(1000), 1000 * 999 / 2);
        // A bare `&` in raw HTML is the character itself.
        assert_eq!(escape_work(&"&".repeat(1000)), 1000 * 999 / 2);
        // Tags between them keep it linear.
        let separated = escape_work(&"&amp;<br>".repeat(100_000));
        assert!(separated < 10 * 100_000, "{separated}");
        // Non-breaking spaces (and U+0080 to U+00BF) cost what `&` does.
        assert_eq!(escape_work("\u{a0}\u{a0}x"), 6);
    }

    #[test]
    fn a_long_stretch_of_ampersands_is_refused_and_what_passes_renders_with_bounded_work() {
        // The fuzzer's find: 90,000 `&` in one paragraph (four minutes).
        for text in [
            "&".repeat(90_000),
            "&".repeat(MAX_BYTES),
            "a&".repeat(MAX_BYTES / 2),
        ] {
            let refused = check(&text).expect_err("refused");
            assert!(refused.contains('&'), "{refused}");
        }
        // The longest run of `&` that passes, its work within the bound…
        let (mut longest, mut refused) = (1, MAX_BYTES);
        while refused - longest > 1 {
            let n = (longest + refused) / 2;
            match check(&"&".repeat(n)) {
                Ok(()) => longest = n,
                Err(_) => refused = n,
            }
        }
        assert!(longest > 15_000, "{longest}");
        let html_of = |text: &str| {
            let mut html = String::new();
            pulldown_cmark::html::push_html(&mut html, Parser::new_ext(text, super::options()));
            html
        };
        assert!(escape_work(&html_of(&"&".repeat(longest))) <= MAX_ESCAPE_WORK);
        // …and it renders (the whole field, paragraph after paragraph, too).
        assert_eq!(
            to_html(&"&".repeat(longest)).matches("&amp;").count(),
            longest
        );
        // The bound is on the whole field, but text in paragraphs is cheap.
        let paragraphs = format!("{}\n\n", "&".repeat(1000)).repeat(MAX_BYTES / 1002);
        assert_eq!(check(&paragraphs), Ok(()));
        assert!(to_html(&paragraphs).len() > paragraphs.len());
        // Prose with its ampersands and non-breaking spaces is far from it.
        let prose = "Tom &\u{a0}Jerry «\u{a0}talk\u{a0}» at 5\u{a0}°C. ".repeat(300);
        assert!(escape_work(&html_of(&prose)) < MAX_ESCAPE_WORK / 10);
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
