//! A whole post as one piece of HTML, for the feeds' entries: the
//! commentary, each excerpt as a block quote with its attribution, then
//! the roundups with their links.
//!
//! String work over HTML stored already sanitized: no Markdown is rendered
//! here, on the request path. Everything interpolated that is not stored
//! HTML is escaped.

use crate::articles::views::Article;
use crate::excerpts::views::Excerpt;
use crate::markdown;
use crate::roundups::views::Roundup;

use super::xml;

/// The post's HTML: commentary, excerpts, roundups.
pub fn whole_post(article: &Article) -> String {
    // Sized for all of it at once: a post is kilobytes, and growing the
    // string as it fills would copy it over again.
    let capacity = article.body_html.len()
        + article
            .excerpts
            .iter()
            .map(|excerpt| excerpt.body_html.len() + 3 * excerpt.source_url.len() + 512)
            .sum::<usize>()
        + article
            .roundups
            .iter()
            .map(|roundup| 64 + roundup.links.len() * 512)
            .sum::<usize>();
    let mut html = String::with_capacity(capacity);
    html.push_str(&article.body_html);
    for excerpt in &article.excerpts {
        push_excerpt(&mut html, excerpt);
    }
    for roundup in &article.roundups {
        push_roundup(&mut html, roundup);
    }
    html
}

fn push_excerpt(html: &mut String, excerpt: &Excerpt) {
    html.push_str("\n<blockquote cite=\"");
    push_escaped(html, &excerpt.source_url);
    html.push_str("\">\n");
    html.push_str(&excerpt.body_html);
    html.push_str("\n<footer>— <a href=\"");
    push_escaped(html, &excerpt.source_url);
    html.push_str("\">");
    push_escaped(html, &excerpt.headline);
    html.push_str("</a>");
    if !excerpt.bylines.is_empty() {
        html.push_str(", by ");
        push_escaped(html, &excerpt.bylines.join(", "));
    }
    html.push_str(", <cite>");
    push_escaped(html, &excerpt.outlet.name);
    html.push_str("</cite>");
    if let Some(day) = excerpt.source_published_on {
        html.push_str(", <time datetime=\"");
        html.push_str(&day.format("%Y-%m-%d").to_string());
        html.push_str("\">");
        html.push_str(&day.format("%-d %B %Y").to_string());
        html.push_str("</time>");
    }
    html.push_str(". <a href=\"");
    push_escaped(html, &excerpt.source_url);
    html.push_str("\">");
    push_escaped(
        html,
        excerpt
            .call_to_action
            .as_deref()
            .unwrap_or("Read the complete article"),
    );
    html.push_str("</a></footer>\n</blockquote>");
}

fn push_roundup(html: &mut String, roundup: &Roundup) {
    html.push_str("\n<h3>");
    push_escaped(html, &roundup.title);
    html.push_str("</h3>\n<ul>");
    for link in &roundup.links {
        html.push_str("\n<li><a href=\"");
        push_escaped(html, &link.url);
        html.push_str("\">");
        push_escaped(html, &link.headline);
        html.push_str("</a> — ");
        push_escaped(html, &link.outlet.name);
        html.push_str("</li>");
    }
    html.push_str("\n</ul>");
}

/// Text or an attribute value, escaped for HTML as `markdown::push_escaped`
/// escapes it, without the characters that XML forbids (the HTML travels
/// inside XML feeds).
fn push_escaped(html: &mut String, text: &str) {
    xml::push_escaped(html, text, |byte| markdown::entity(char::from(byte)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolated_text_is_escaped() {
        let mut html = String::new();
        push_escaped(&mut html, "<script>\"x\" & 'y'\u{7}</script>");
        assert_eq!(
            html,
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn escaping_in_runs_is_the_html_escaping_of_each_allowed_character() {
        let text: String = ('\0'..='\u{3000}')
            .chain([
                '\u{FFFD}',
                '\u{FFFE}',
                '\u{FFFF}',
                '\u{10000}',
                '\u{10FFFF}',
            ])
            .chain("a&b<c>d\"e'f".chars())
            .collect();
        let mut expected = String::new();
        for c in text.chars().filter(|c| xml::is_xml_char(*c)) {
            markdown::push_escaped(&mut expected, c);
        }
        let mut html = String::new();
        push_escaped(&mut html, &text);
        assert_eq!(html, expected);
    }
}
