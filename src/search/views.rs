//! Search results on the wire: an article summary, as the article list gives
//! it, with its rank and a highlighted snippet that is safe to insert as HTML.

use serde::Serialize;
use utoipa::ToSchema;

use super::queries::{START_MARK, STOP_MARK};
use crate::articles::views::ArticleSummary;
use crate::markdown;

/// A matching article.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResult {
    #[serde(flatten)]
    pub article: ArticleSummary,
    /// How well the article matches: higher is better. Only comparable
    /// within one search.
    #[schema(example = 0.607_927_1)]
    pub rank: f32,
    /// Passages of the article's text around the matches, as HTML: the text
    /// is escaped, and each match is wrapped in `<mark>…</mark>`, the only
    /// markup. Empty when the article has no text beyond its title.
    #[schema(
        example = "Clinton warned that the <mark>Haqqani</mark> network … talks with the <mark>Haqqanis</mark>"
    )]
    pub snippet_html: String,
}

/// `ts_headline`'s output as safe HTML: every character of the text
/// escaped, each span between the marks wrapped in `<mark>`, and runs of
/// whitespace (the line breaks of Markdown) made one space. A mark out of
/// place (which the query cannot produce, as the marks are removed from the
/// text first) is dropped rather than trusted.
pub fn snippet_html(headline: &str) -> String {
    let mut html = String::with_capacity(headline.len() + 32);
    let mut open = false;
    let mut space = false;
    for c in headline.trim().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space {
            if !html.is_empty() {
                html.push(' ');
            }
            space = false;
        }
        match c {
            START_MARK if !open => {
                html.push_str("<mark>");
                open = true;
            }
            STOP_MARK if open => {
                html.push_str("</mark>");
                open = false;
            }
            START_MARK | STOP_MARK => {}
            c => markdown::push_escaped(&mut html, c),
        }
    }
    if open {
        html.push_str("</mark>");
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_are_marked_and_everything_else_escaped() {
        let raw =
            format!("the <script>alert('x')</script> & {START_MARK}elections{STOP_MARK}\n\n  held");
        assert_eq!(
            snippet_html(&raw),
            "the &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; <mark>elections</mark> held"
        );
    }

    #[test]
    fn stray_marks_are_dropped_and_an_open_mark_is_closed() {
        assert_eq!(
            snippet_html(&format!("{STOP_MARK}a {START_MARK}b{START_MARK} c")),
            "a <mark>b c</mark>"
        );
        assert_eq!(snippet_html("  "), "");
    }
}
