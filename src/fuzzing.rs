//! What the property-based fuzz targets share: the configuration that lets
//! `PROPTEST_CASES` lengthen a run, strategies for hostile input, and the
//! check that HTML is safe to insert into a page.
//!
//! Each target is a `fuzz_…` test beside the parser it exercises (see
//! `docs/fuzzing.md`). Those of parsers whose modules keep no such tests
//! (the article list's `status` and `include`, the filters the list, search
//! and the feeds share, the typed write bodies) are at the bottom of this
//! file and call the parsers' public functions.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::Config;
use serde_json::Value;

/// Cases the cheapest targets run in the normal suite; a target whose cases
/// cost more runs fewer.
const CHEAP: u32 = 256;

/// The configuration of a target that runs `cases` cases in the normal
/// suite. A long run sets `PROPTEST_CASES` (which proptest reads in
/// `Config::default()` only, so a literal `cases` would hide it): the
/// cheapest targets run that many, and one that runs fewer here runs
/// proportionally fewer there, so that no target dominates a bounded run.
pub fn config(cases: u32) -> Config {
    let mut config = Config::default();
    config.cases = match std::env::var_os("PROPTEST_CASES") {
        None => cases,
        Some(_) => {
            let scaled = u64::from(config.cases) * u64::from(cases) / u64::from(CHEAP);
            u32::try_from(scaled).unwrap_or(u32::MAX).max(1)
        }
    };
    // A failure found becomes a plain regression test beside its target,
    // not a file of seeds in the source tree.
    config.failure_persistence = None;
    // Shrinking a slow input costs more than finding it: a bounded run
    // stays bounded.
    config.max_shrink_time = 60_000;
    config
}

/// Pieces that parsers of query strings, headers and JSON trip on: signs,
/// separators, escapes, NUL, non-ASCII, the marks search uses, names the
/// API knows, numbers at the edges of their types.
const TOKENS: &[&str] = &[
    "",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\0",
    "-",
    "+",
    "--",
    ",",
    ",,",
    ";",
    "&",
    "=",
    "%",
    "%00",
    "%FF",
    "%2F",
    "%C3",
    "/",
    "..",
    "../",
    "\\",
    "\"",
    "'",
    "<",
    ">",
    "{",
    "}",
    "[",
    "]",
    "a",
    "z",
    "A",
    "0",
    "1",
    "9",
    "00",
    "e",
    ".",
    ":",
    "T",
    "Z",
    "é",
    "\u{FFFD}",
    "\u{E000}",
    "\u{E001}",
    "\u{200B}",
    "\u{FEFF}",
    "\u{1D49C}",
    "published",
    "draft",
    "all",
    "excerpts",
    "roundups",
    "slug",
    "title",
    "2011-10-24",
    "T09:00:00",
    "+05:00",
    "9999",
    "-0",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "NaN",
    "inf",
    "null",
    "true",
    "{}",
    "[]",
    "https://",
    "example.com",
];

/// Hostile text: anything at all, pieces that parsers trip on, and long runs
/// of one piece.
pub fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => "[ -~]{0,40}",
        3 => vec(select(TOKENS), 0..12).prop_map(|pieces| pieces.concat()),
        1 => (select(TOKENS), 1..2048usize).prop_map(|(piece, n)| piece.repeat(n)),
    ]
}

/// Text shaped like a number: signs, leading zeros, blanks, exponents, and
/// values at and past the edges of the integer types.
pub fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (0u32..2000).prop_map(|n| n.to_string()),
        "[ +-]{0,2}0{0,3}[0-9]{1,22}[ .e]?[0-9]?",
        hostile_text(),
    ]
}

/// Text shaped like a timestamp or a date, valid or nearly: years with
/// signs and too many digits, months and days out of range, offsets past
/// a day, leap seconds, fractions.
pub fn timestamp_text() -> impl Strategy<Value = String> {
    let year = prop_oneof![
        (1i32..=9999).prop_map(|y| format!("{y:04}")),
        (-300_000i32..300_000).prop_map(|y| format!("{y:+}")),
        Just("0000".to_string()),
        Just("10000".to_string()),
    ];
    let offset = prop_oneof![
        Just("Z".to_string()),
        Just("z".to_string()),
        (-30i32..30, 0u32..70).prop_map(|(h, m)| format!("{h:+03}:{m:02}")),
        hostile_text(),
    ];
    prop_oneof![
        (year.clone(), 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
        (
            year,
            0u32..14,
            0u32..33,
            0u32..26,
            0u32..61,
            0u32..62,
            "(\\.[0-9]{0,12})?",
            "[Tt ]",
            offset
        )
            .prop_map(|(y, mo, d, h, mi, s, frac, sep, off)| {
                format!("{y}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}{frac}{off}")
            }),
        hostile_text(),
    ]
}

/// Member names of the API's bodies, so that generated objects reach the
/// checks rather than stopping at "not a field here": each command's own
/// list, and the members of a create or a reorder beside them.
fn members() -> Vec<&'static str> {
    let mut members = Vec::new();
    members.extend(crate::articles::commands::OWN_FIELDS);
    members.extend(["excerpts", "roundups"]);
    members.extend(crate::excerpts::commands::FIELDS);
    members.extend(crate::roundups::commands::ROUNDUP_FIELDS);
    members.extend(crate::roundups::commands::LINK_FIELDS);
    members.extend(crate::outlets::commands::FIELDS);
    members.extend(["position", "ids", "referrer"]);
    members
}

/// Strings a valid body holds, so that generated bodies pass some checks.
const PLAUSIBLE: &[&str] = &[
    "dawn",
    "clinton-pakistan-2011",
    "Dawn",
    "https://example.com/a",
    "http://dawn.com/news/1",
    "PK",
    "pk",
    "draft",
    "published",
    "2011-10-24",
    "2011-10-24T09:00:00Z",
    "A headline",
    "Some *Markdown*.",
];

/// A JSON value of any shape, a few levels deep, its objects named mostly
/// as the API's bodies are.
pub fn json_value() -> impl Strategy<Value = Value> {
    let number = any::<f64>()
        .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number));
    let text = prop_oneof![
        2 => select(PLAUSIBLE).prop_map(str::to_string),
        3 => hostile_text(),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-3i64..1000).prop_map(Value::from),
        number,
        text.prop_map(Value::String),
    ];
    let name = prop_oneof![
        4 => select(members()).prop_map(str::to_string),
        1 => hostile_text(),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec((name.clone(), inner), 0..8)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Pieces of Markdown that make structure, nest, or try to smuggle markup
/// past the sanitizer: scripts, event handlers, `javascript:` links, entities
/// that spell them, comments, CDATA, SVG and MathML.
const MARKDOWN: &[&str] = &[
    "> ",
    ">",
    "- ",
    "* ",
    "+ ",
    "1. ",
    "1) ",
    "    ",
    "\t",
    "\n",
    "\n\n",
    "# ",
    "#",
    "**",
    "*",
    "__",
    "_",
    "~~",
    "`",
    "``",
    "```",
    "~~~",
    "[",
    "]",
    "(",
    ")",
    "![",
    "](",
    "<",
    "&",
    "&amp;",
    "&#",
    "&#x",
    ";",
    "&#106;",
    "&#x6A;",
    "&lt;",
    "&colon;",
    "javascript:",
    "JaVaScRiPt:",
    "java\tscript:",
    " javascript:",
    "vbscript:",
    "data:text/html,",
    "http://x",
    "<script>",
    "</script>",
    "<SCRIPT>",
    "<script",
    "<img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(1)\">",
    "<a href=\"&#106;avascript:alert(1)\">",
    "<a href=java&#x09;script:alert(1)>",
    "</a>",
    "<div>",
    "</div>",
    "<table>",
    "<p>",
    "<li>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<svg onload=alert(1)>",
    "<math><mi xlink:href=\"javascript:alert(1)\">",
    "<style>",
    "<iframe src=x>",
    "<object data=x>",
    "<form action=javascript:alert(1)>",
    "\" onmouseover=\"alert(1)",
    " onclick=alert(1) ",
    "'",
    "\"",
    "|",
    "| a | b |\n|---|---|\n",
    "---",
    "***",
    "[^1]",
    "[^1]: ",
    "[x]: ",
    "<http://a>",
    "<javascript:alert(1)>",
    "\\",
    "text",
    "x",
    " ",
    "\0",
    "é",
    "\u{FFFD}",
];

/// Markdown: pieces joined, runs of pieces, long runs of one piece, deep
/// nesting, huge links, and any text. Long inputs go up to the size a field
/// may hold in a long run (`PROPTEST_CASES` set), and to 8 KiB in the normal
/// suite: rendering a long run of `&` takes minutes in a debug build (see
/// docs/fuzzing.md), which a test suite must not spend.
pub fn markdown() -> impl Strategy<Value = String> {
    let max = if std::env::var_os("PROPTEST_CASES").is_some() {
        crate::markdown::MAX_BYTES
    } else {
        8 * 1024
    };
    prop_oneof![
        4 => vec(select(MARKDOWN), 0..64).prop_map(|pieces| pieces.concat()),
        2 => vec((select(MARKDOWN), 1..64usize), 0..16).prop_map(|runs| {
            runs.iter().map(|(piece, n)| piece.repeat(*n)).collect()
        }),
        1 => (select(MARKDOWN), 1..=max).prop_map(|(piece, bytes)| {
            piece.repeat(bytes / piece.len().max(1) + 1)
        }),
        1 => (select(&["> ", "- ", "<div>", "* ", "1. ", "[", "![", "<li>", "**", "`", "~~~\n"][..]),
              1..5000usize, select(MARKDOWN))
            .prop_map(|(open, depth, inner)| format!("{}{inner}", open.repeat(depth))),
        1 => (1..max, select(&["http://", "javascript:", "", "<"][..])).prop_map(|(n, scheme)| {
            format!("[x]({scheme}{})", "a".repeat(n))
        }),
        2 => hostile_text(),
    ]
}

/// Why `html` is not safe to insert into a page, if it is not: a tag other
/// than what the sanitizer allows, an event handler, or a link or source
/// whose URL a browser would run. Tags are read as an HTML serializer
/// writes them (attribute values in double quotes); text holds no `<`.
pub fn unsafe_markup(html: &str) -> Option<String> {
    const RUNS: [&str; 14] = [
        "script", "style", "iframe", "object", "embed", "form", "input", "svg", "math", "textarea",
        "button", "frame", "base", "meta",
    ];
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let (tag, after) = read_tag(rest)?;
        rest = after;
        let name = tag.name.to_ascii_lowercase();
        if RUNS.contains(&name.as_str()) || name.starts_with('!') || name.starts_with('?') {
            return Some(format!("a <{name}> element"));
        }
        for (attribute, value) in &tag.attributes {
            let attribute = attribute.to_ascii_lowercase();
            if attribute.starts_with("on") || attribute == "style" {
                return Some(format!("an attribute {attribute}"));
            }
            if [
                "href",
                "src",
                "action",
                "formaction",
                "xlink:href",
                "srcset",
                "cite",
            ]
            .contains(&attribute.as_str())
                && runs_script(value)
            {
                return Some(format!("{attribute}={value:?}"));
            }
        }
    }
    None
}

/// Whether a browser would run this attribute value as a URL: its entities
/// decoded as the serializer wrote them, tabs and line breaks dropped and
/// leading blanks and controls trimmed, as URL parsers do.
fn runs_script(value: &str) -> bool {
    let decoded = value
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    let url: String = decoded
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect::<String>()
        .trim_start_matches(|c: char| c <= ' ')
        .to_ascii_lowercase();
    ["javascript:", "vbscript:", "data:"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
}

struct Tag<'a> {
    name: &'a str,
    attributes: Vec<(&'a str, &'a str)>,
}

/// A tag's name and attributes, from just after its `<`, and what follows
/// its `>`; `None` when the markup is not shaped as a serializer writes it.
fn read_tag(text: &str) -> Option<(Tag<'_>, &str)> {
    let text = text.strip_prefix('/').unwrap_or(text);
    let end = text
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(text.len());
    let name = &text[..end];
    let mut rest = &text[end..];
    let mut attributes = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if let Some(after) = rest.strip_prefix('>') {
            return Some((Tag { name, attributes }, after));
        }
        if rest.is_empty() {
            return None;
        }
        let end = rest.find(|c: char| c.is_whitespace() || c == '=' || c == '>')?;
        let attribute = &rest[..end];
        rest = &rest[end..];
        let value = match rest.strip_prefix("=\"") {
            Some(quoted) => {
                let close = quoted.find('"')?;
                rest = &quoted[close + 1..];
                &quoted[..close]
            }
            None => "",
        };
        attributes.push((attribute, value));
    }
}

/// The slowest input a target met in this process, printed when it is
/// beaten, for a long run to report (`--nocapture` shows it).
pub struct Slowest {
    target: &'static str,
    worst: Mutex<Duration>,
}

impl Slowest {
    pub const fn new(target: &'static str) -> Self {
        Self {
            target,
            worst: Mutex::new(Duration::ZERO),
        }
    }

    /// Runs `work` on `input`, timed; how long it took.
    pub fn time<T>(&self, input: &str, work: impl FnOnce() -> T) -> (T, Duration) {
        let started = Instant::now();
        let done = work();
        let took = started.elapsed();
        let mut worst = self.worst.lock().unwrap_or_else(|e| e.into_inner());
        if took > *worst {
            *worst = took;
            eprintln!(
                "{}: slowest so far {took:?}, {} bytes: {}",
                self.target,
                input.len(),
                describe(input)
            );
        }
        (done, took)
    }
}

/// A long input in a line: its start, and how it goes on.
pub fn describe(input: &str) -> String {
    let start: String = input.chars().take(60).collect();
    let end: String = {
        let tail: Vec<char> = input.chars().rev().take(20).collect();
        tail.into_iter().rev().collect()
    };
    if input.chars().count() <= 80 {
        format!("{input:?}")
    } else {
        format!("{start:?} … {end:?}")
    }
}

#[cfg(test)]
mod checks {
    use super::unsafe_markup;

    #[test]
    fn the_markup_check_sees_what_a_browser_would_run() {
        for bad in [
            "<p><script>x</script></p>",
            "<img src=\"x\" onerror=\"alert(1)\">",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<a href=\" JaVa&amp;#09;script:x\">x</a>"
                .replace("&amp;#09;", "\t")
                .as_str(),
            "<a title=\"a>b\" href=\"data:text/html,x\">x</a>",
        ] {
            assert!(unsafe_markup(bad).is_some(), "{bad}");
        }
        for good in [
            "<p>onerror=alert(1) javascript:alert(1) &lt;script&gt;</p>",
            "<a href=\"https://example.com/javascript:\" rel=\"noopener noreferrer\">x</a>",
            "<blockquote><p>x</p></blockquote><br><img src=\"x.png\" alt=\"a>b\">",
        ] {
            assert_eq!(unsafe_markup(good), None, "{good}");
        }
    }
}

/// Targets of parsers that live in modules keeping no fuzz targets of their
/// own; they call what those modules make public.
#[cfg(test)]
mod targets {
    use proptest::prelude::*;
    use serde::de::DeserializeOwned;
    use serde_json::{Map, Value};

    use super::{config, hostile_text, json_value, number_text, timestamp_text};
    use crate::articles::commands::ArticlePatch;
    use crate::articles::queries::StatusFilter;
    use crate::articles::{Include, ListFilters, ListRequest};
    use crate::editing::{merge, Added, Check, Locked, Patchable};
    use crate::excerpts::views::Excerpt;
    use crate::outlets::queries::OutletRow;
    use crate::pagination::{CursorKey, Position};
    use crate::params::Checker;
    use crate::roundups::views::{ListedLink, Roundup};
    use crate::validate::Problems;

    fn list_of_names() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::collection::vec(
                prop_oneof![
                    Just("excerpts".to_string()),
                    Just("roundups".to_string()),
                    Just(" excerpts ".to_string()),
                    hostile_text()
                ],
                0..4
            )
            .prop_map(|names| names.join(",")),
            hostile_text(),
        ]
    }

    proptest! {
        #![proptest_config(config(256))]

        /// `include=`: accepted only when every comma-separated name is a
        /// part's; the parts accepted are those named, and printed back
        /// they parse to the same.
        #[test]
        fn fuzz_include_names_only_parts(raw in list_of_names()) {
            let names: Vec<&str> = raw.split(',').map(str::trim).collect();
            match Include::parse(Some(&raw)) {
                Ok(include) => {
                    prop_assert!(names.iter().all(|name| Include::NAMES.contains(name)), "{raw:?}");
                    prop_assert_eq!(include.excerpts, names.contains(&"excerpts"));
                    prop_assert_eq!(include.roundups, names.contains(&"roundups"));
                    let printed: Vec<&str> = Include::NAMES
                        .into_iter()
                        .zip([include.excerpts, include.roundups])
                        .filter_map(|(name, on)| on.then_some(name))
                        .collect();
                    prop_assert_eq!(Include::parse(Some(&printed.join(","))).ok(), Some(include));
                }
                Err(problem) => {
                    prop_assert!(names.iter().any(|name| !Include::NAMES.contains(name)), "{raw:?}");
                    prop_assert_eq!(problem.parameter.as_deref(), Some("include"));
                }
            }
        }

        /// `status=`: one of the names, exactly.
        #[test]
        fn fuzz_status_is_one_of_its_names(raw in hostile_text()) {
            let parsed = StatusFilter::parse(&raw);
            prop_assert_eq!(parsed.is_some(), StatusFilter::NAMES.contains(&raw.as_str()));
        }

        /// The filters the article list, search and the feeds share, with
        /// `limit` and `cursor`: never a panic; accepted only when each
        /// satisfies its rule; a refusal names every parameter at fault.
        #[test]
        fn fuzz_the_shared_list_filters_follow_their_rules(
            tag in proptest::option::of(prop_oneof!["[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,2}", hostile_text()]),
            outlet in proptest::option::of(hostile_text()),
            after in proptest::option::of(timestamp_text()),
            before in proptest::option::of(timestamp_text()),
            limit in proptest::option::of(number_text()),
            cursor in proptest::option::of(hostile_text()),
            status in proptest::option::of(prop_oneof![Just("published".to_string()), hostile_text()]),
        ) {
            let key = CursorKey::new(b"fuzzing");
            let filters = ListFilters {
                tag: tag.as_deref(),
                outlet: outlet.as_deref(),
                published_after: after.as_deref(),
                published_before: before.as_deref(),
                limit: limit.as_deref(),
                cursor: cursor.as_deref(),
            };
            let mut checker = Checker::new();
            let request = ListRequest::check(
                &mut checker,
                &key,
                "articles",
                (StatusFilter::Published, status.as_deref()),
                &filters,
            );
            let refused = checker.finish().is_err();
            prop_assert_eq!(refused, request.is_none());
            let expected_ok = crate::params::slug("tag", filters.tag).is_ok()
                && crate::params::slug("outlet", filters.outlet).is_ok()
                && crate::params::timestamp("a", filters.published_after).is_ok()
                && crate::params::timestamp("b", filters.published_before).is_ok()
                && crate::params::limit(filters.limit, 20, 100).is_ok()
                && filters.cursor.is_none();
            prop_assert_eq!(!refused, expected_ok);
            if let Some(request) = request {
                prop_assert!((1..=100).contains(&request.limit));
                prop_assert_eq!(request.filter.tag.as_deref(), filters.tag);
                // A cursor this request issues opens in it again.
                let cursor = request.scope.encode(Position::Published {
                    at: "2011-10-25T09:00:00Z".parse().unwrap(),
                    id: 7,
                });
                let again = ListFilters { cursor: Some(&cursor), ..filters };
                let mut checker = Checker::new();
                let resumed = ListRequest::check(
                    &mut checker,
                    &key,
                    "articles",
                    (StatusFilter::Published, status.as_deref()),
                    &again,
                );
                prop_assert!(resumed.and_then(|r| r.after).is_some());
            }
        }

        /// An article's merge patch, read as a typed patch: never a panic,
        /// whatever the JSON.
        #[test]
        fn fuzz_an_article_patch_reads_any_json(body in json_value()) {
            let _ = ArticlePatch::parse(&body);
        }

        /// The typed write bodies of excerpts, roundups, press links and
        /// outlets (creates and merge patches): whatever the JSON, the
        /// checks never panic, and a body they pass reads as its command
        /// (else the client would get a 422 naming no member).
        #[test]
        fn fuzz_a_body_the_checks_pass_reads_as_its_command(
            document in body_like(),
        ) {
            agree::<<Excerpt as Added>::Members>(&document, <Excerpt as Added>::FIELDS, <Excerpt as Added>::CHECK)?;
            agree::<<Locked<Excerpt> as Patchable>::Members>(&document, <Locked<Excerpt> as Patchable>::FIELDS, <Locked<Excerpt> as Patchable>::CHECK)?;
            agree::<<Roundup as Added>::Members>(&document, <Roundup as Added>::FIELDS, <Roundup as Added>::CHECK)?;
            agree::<<Locked<Roundup> as Patchable>::Members>(&document, <Locked<Roundup> as Patchable>::FIELDS, <Locked<Roundup> as Patchable>::CHECK)?;
            agree::<<ListedLink as Added>::Members>(&document, <ListedLink as Added>::FIELDS, <ListedLink as Added>::CHECK)?;
            agree::<<Locked<ListedLink> as Patchable>::Members>(&document, <Locked<ListedLink> as Patchable>::FIELDS, <Locked<ListedLink> as Patchable>::CHECK)?;
            agree::<<OutletRow as Patchable>::Members>(&document, <OutletRow as Patchable>::FIELDS, <OutletRow as Patchable>::CHECK)?;
        }
    }

    /// A body: a valid one with members dropped, nulled or replaced by any
    /// JSON, or any JSON at all.
    fn body_like() -> impl Strategy<Value = Value> {
        let valid = serde_json::json!({
            "headline": "A headline",
            "bylines": ["Anwar Iqbal"],
            "outlet": "dawn",
            "source_published_on": "2011-10-24",
            "source_url": "https://example.com/a",
            "call_to_action": "For the complete article, click here",
            "body_markdown": "Some *Markdown*.",
            "title": "Press",
            "links": [{"headline": "A link", "outlet": "dawn", "url": "http://example.com/b"}],
            "url": "https://example.com/c",
            "slug": "dawn",
            "name": "Dawn",
            "home_url": "https://dawn.com",
            "country_code": "PK",
        });
        let Value::Object(valid) = valid else {
            unreachable!()
        };
        let members: Vec<(String, Value)> = valid.into_iter().collect();
        let edits = proptest::collection::vec(
            prop_oneof![
                3 => Just(None),
                1 => Just(Some(Value::Null)),
                2 => json_value().prop_map(Some),
            ],
            members.len(),
        );
        prop_oneof![
            4 => (edits, proptest::collection::vec(any::<bool>(), members.len())).prop_map(
                move |(edits, keep)| {
                    let mut body = Map::new();
                    for (((name, value), edit), keep) in members.iter().zip(edits).zip(keep) {
                        match edit {
                            Some(replaced) => { body.insert(name.clone(), replaced); }
                            None if keep => { body.insert(name.clone(), value.clone()); }
                            None => {}
                        }
                    }
                    Value::Object(body)
                }
            ),
            1 => json_value(),
        ]
    }

    /// Runs a body's checks as `editing::parse` does (nulls dropped, then
    /// members checked), keeping `known` only; when they pass, the body must
    /// read as `T`.
    fn agree<T: DeserializeOwned>(
        body: &Value,
        known: &[&str],
        check: Check,
    ) -> Result<(), TestCaseError> {
        let mut document = match body {
            Value::Object(members) => Value::Object(
                members
                    .iter()
                    .filter(|(name, _)| known.contains(&name.as_str()))
                    .map(|(name, value)| (name.clone(), value.clone()))
                    .collect(),
            ),
            other => other.clone(),
        };
        document = merge(Value::Object(Map::new()), &document);
        let mut problems = Problems::new();
        let mut cited = Vec::new();
        if let Some(mut fields) = problems.object(&mut document, known) {
            check(&mut fields, &mut cited);
        }
        if problems.0.is_empty() {
            let read = serde_json::from_value::<T>(document.clone());
            prop_assert!(
                read.is_ok(),
                "{document} passed the checks but reads as {:?}",
                read.err()
            );
        }
        Ok(())
    }
}

/// Targets of whole handlers whose parsing is private to modules that keep
/// no fuzz targets (search, the feeds): requests go through the handler as
/// actix gives it them, with a pool whose database never answers, so that
/// a request that passes its parameters' checks is told 503 and one that
/// does not, 400.
#[cfg(test)]
mod handlers {
    use std::time::Duration;

    use actix_web::http::StatusCode;
    use actix_web::test as actix;
    use actix_web::{web, App};
    use diesel_async::pooled_connection::deadpool::Pool;
    use diesel_async::pooled_connection::AsyncDieselConnectionManager;
    use diesel_async::AsyncPgConnection;
    use proptest::prelude::*;

    use super::{config, hostile_text, number_text, timestamp_text};
    use crate::db::DbPool;
    use crate::pagination::CursorKey;
    use crate::search::MAX_QUERY_CHARS;

    /// A pool whose database refuses every connection at once.
    fn pool_to_nowhere() -> DbPool {
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(
            "postgres://postgres@127.0.0.1:9/nowhere",
        );
        Pool::builder(manager)
            .max_size(1)
            .wait_timeout(Some(Duration::from_millis(500)))
            .create_timeout(Some(Duration::from_millis(500)))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .unwrap()
    }

    /// Bytes as a query string writes them: each one percent-encoded but
    /// for letters and digits, spaces sometimes as `+`.
    fn encoded(bytes: &[u8], plus: bool) -> String {
        bytes
            .iter()
            .map(|b| match b {
                b' ' if plus => "+".to_string(),
                b if b.is_ascii_alphanumeric() => (*b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect()
    }

    /// The status a handler answers `GET uri` with.
    fn status_of(uri: &str) -> StatusCode {
        actix_web::rt::System::new().block_on(async {
            let app = actix::init_service(
                App::new()
                    .app_data(web::Data::new(crate::db::replica::Databases::new(
                        pool_to_nowhere(),
                        None,
                    )))
                    .app_data(web::Data::new(CursorKey::new(b"fuzzing")))
                    .app_data(web::Data::new(crate::feeds::Publication::new(
                        "http://127.0.0.1",
                        "Fuzzing",
                    )))
                    .service(crate::search::search_articles)
                    .service(crate::feeds::atom_feed)
                    .service(crate::feeds::rss_feed)
                    .service(crate::feeds::json_feed),
            )
            .await;
            actix::call_service(&app, actix::TestRequest::get().uri(uri).to_request())
                .await
                .status()
        })
    }

    proptest! {
        #![proptest_config(config(64))]

        /// `q`, as any bytes however encoded: a 400 unless it is UTF-8
        /// without NUL, not blank, at most 256 characters; else it reaches
        /// the database. Never a panic, never another answer.
        #[test]
        fn fuzz_search_text_is_checked_before_the_database(
            q in prop_oneof![
                hostile_text().prop_map(String::into_bytes),
                proptest::collection::vec(any::<u8>(), 0..40),
                "[a-z \"-]{1,300}".prop_map(String::into_bytes),
            ],
            plus in any::<bool>(),
            name in proptest::sample::select(&["q", "%71"][..]),
        ) {
            let status = status_of(&format!("/v1/search?{name}={}", encoded(&q, plus)));
            let accepted = String::from_utf8(q).is_ok_and(|q| {
                !q.contains('\0') && q.chars().count() <= MAX_QUERY_CHARS && !q.trim().is_empty()
            });
            let expected = if accepted {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::BAD_REQUEST
            };
            prop_assert_eq!(status, expected);
        }

        /// The feeds' parameters, any of them with any value: a 400, or
        /// through to the database; never a panic, never another answer.
        #[test]
        fn fuzz_feed_parameters_are_checked_before_the_database(
            format in proptest::sample::select(&["atom", "rss", "json"][..]),
            parameters in proptest::collection::vec(
                (
                    prop_oneof![
                        4 => proptest::sample::select(&[
                            "tag", "outlet", "published_after", "published_before", "limit", "cursor",
                        ][..]).prop_map(str::to_string),
                        1 => hostile_text(),
                    ],
                    prop_oneof![hostile_text(), number_text(), timestamp_text(), Just("dawn".to_string())],
                ),
                0..4,
            ),
        ) {
            let query: String = parameters
                .iter()
                .map(|(name, value)| {
                    format!("{}={}&", encoded(name.as_bytes(), false), encoded(value.as_bytes(), true))
                })
                .collect();
            let status = status_of(&format!("/v1/feeds/{format}?{query}"));
            prop_assert!(
                status == StatusCode::BAD_REQUEST || status == StatusCode::SERVICE_UNAVAILABLE,
                "{status} for {query}"
            );
        }
    }
}
