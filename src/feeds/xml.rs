//! A small XML writer for the feeds' fixed vocabulary.
//!
//! Our own rather than a crate's: element names are constants here, so
//! what needs care is only text and attribute values, and those need one
//! thing XML writers (quick-xml included) leave to the caller: dropping
//! the characters XML 1.0 forbids outright. Stored text may hold control
//! characters, and a single one makes a whole feed unreadable to strict
//! parsers.

/// Whether XML 1.0 allows `c` in a document (its `Char` production).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text without the characters XML 1.0 forbids (also for HTML, where
/// they are parse errors).
pub fn allowed_chars(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars().filter(|c| is_xml_char(*c))
}

/// An XML document being written, start to end.
pub struct Xml {
    out: String,
    open: Vec<&'static str>,
}

impl Xml {
    /// A document with its XML declaration.
    pub fn new() -> Self {
        Self {
            out: String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"),
            open: Vec::new(),
        }
    }

    /// Opens `<name attrs…>`; `close` ends it.
    pub fn open(&mut self, name: &'static str, attributes: &[(&'static str, &str)]) {
        self.start_tag(name, attributes);
        self.out.push('>');
        self.open.push(name);
    }

    /// Ends the innermost open element.
    pub fn close(&mut self) {
        if let Some(name) = self.open.pop() {
            self.out.push_str("</");
            self.out.push_str(name);
            self.out.push('>');
        }
    }

    /// `<name attrs…>text</name>`.
    pub fn element(&mut self, name: &'static str, attributes: &[(&'static str, &str)], text: &str) {
        self.start_tag(name, attributes);
        self.out.push('>');
        push_text(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// `<name attrs…/>`.
    pub fn empty(&mut self, name: &'static str, attributes: &[(&'static str, &str)]) {
        self.start_tag(name, attributes);
        self.out.push_str("/>");
    }

    /// The document, with every element closed.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.out.push('\n');
        self.out
    }

    fn start_tag(&mut self, name: &'static str, attributes: &[(&'static str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (attribute, value) in attributes {
            self.out.push(' ');
            self.out.push_str(attribute);
            self.out.push_str("=\"");
            push_attribute(&mut self.out, value);
            self.out.push('"');
        }
    }
}

impl Default for Xml {
    fn default() -> Self {
        Self::new()
    }
}

fn push_text(out: &mut String, text: &str) {
    for c in allowed_chars(text) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            // `]]>` may not appear in text.
            '>' => out.push_str("&gt;"),
            // A bare CR would be read back as LF.
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

fn push_attribute(out: &mut String, value: &str) {
    for c in allowed_chars(value) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Attribute-value normalization would turn these into spaces.
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped_and_forbidden_characters_dropped() {
        let mut xml = Xml::new();
        xml.open("feed", &[("href", "a?b=1&c=\"2\"\n")]);
        xml.element(
            "title",
            &[],
            "Tom & Jerry <3 \u{1}\u{8}\u{b}\u{c}\u{1f}\u{fffe}ok\u{0}",
        );
        xml.empty("link", &[("rel", "self")]);
        let document = xml.finish();
        assert_eq!(
            document,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
             <feed href=\"a?b=1&amp;c=&quot;2&quot;&#10;\">\
             <title>Tom &amp; Jerry &lt;3 ok</title><link rel=\"self\"/></feed>\n"
        );
    }
}
