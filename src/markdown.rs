//! Markdown to HTML that is safe to insert into a page.
//!
//! Editors write Markdown; frontends want HTML. Rendering happens here and
//! nowhere else, and every rendering passes through ammonia's allowlist, so a
//! `<script>` in a body can never reach a reader's browser.

use pulldown_cmark::{html, Options, Parser};

/// Renders CommonMark (with tables, strikethrough and footnotes) and sanitizes the result.
pub fn to_html(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_FOOTNOTES;
    let mut unsafe_html = String::with_capacity(markdown.len() * 5 / 4);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options));
    ammonia::clean(&unsafe_html)
}

#[cfg(test)]
mod tests {
    use super::to_html;

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
}
