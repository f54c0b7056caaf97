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

/// An XML document being written, start to end.
pub struct Xml {
    out: String,
    open: Vec<&'static str>,
}

impl Xml {
    /// A document with its XML declaration.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// As `new`, with room for about `bytes`: a feed page is tens of
    /// kilobytes, and a string grown as it fills copies itself each time.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut out = String::with_capacity(bytes.max(64));
        out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        Self {
            out,
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
    push_escaped(out, text, |byte| match byte {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        // `]]>` may not appear in text.
        b'>' => Some("&gt;"),
        // A bare CR would be read back as LF.
        b'\r' => Some("&#13;"),
        _ => None,
    });
}

fn push_attribute(out: &mut String, value: &str) {
    push_escaped(out, value, |byte| match byte {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'"' => Some("&quot;"),
        // Attribute-value normalization would turn these into spaces.
        b'\t' => Some("&#9;"),
        b'\n' => Some("&#10;"),
        b'\r' => Some("&#13;"),
        _ => None,
    });
}

/// Appends `text`, each ASCII character `entity` names replaced by its
/// entity (it is asked about controls and `&<>"'`) and the characters XML
/// forbids dropped. A feed page is tens of kilobytes of stored HTML in which
/// such characters are rare: the runs between them are copied whole rather
/// than character by character.
pub(super) fn push_escaped(
    out: &mut String,
    text: &str,
    entity: impl Fn(u8) -> Option<&'static str>,
) {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        // The only characters outside ASCII that XML forbids are U+FFFE and
        // U+FFFF (surrogates cannot occur in a `str`).
        let length = if byte < 0x20 || matches!(byte, b'&' | b'<' | b'>' | b'"' | b'\'') {
            1
        } else if byte == 0xEF
            && bytes.get(at + 1) == Some(&0xBF)
            && matches!(bytes.get(at + 2), Some(0xBE | 0xBF))
        {
            3
        } else {
            at += 1;
            continue;
        };
        out.push_str(&text[start..at]);
        if length == 1 {
            match entity(byte) {
                Some(entity) => out.push_str(entity),
                None if is_xml_char(char::from(byte)) => out.push(char::from(byte)),
                None => {}
            }
        }
        at += length;
        start = at;
    }
    out.push_str(&text[start..]);
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

    /// The escaping one character at a time, as it was written first.
    fn reference(text: &str, attribute: bool) -> String {
        let mut out = String::new();
        for c in text.chars().filter(|c| is_xml_char(*c)) {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' if attribute => out.push_str("&quot;"),
                '\t' if attribute => out.push_str("&#9;"),
                '\n' if attribute => out.push_str("&#10;"),
                '\r' => out.push_str("&#13;"),
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn runs_are_escaped_as_one_character_at_a_time() {
        let samples = [
            "",
            "plain",
            "<p>Caf\u{e9} & \"bar\"</p>\r\n\t\u{0}\u{1f}\u{7f}",
            "\u{fffe}\u{ffff}\u{fffd}\u{efbf}\u{10000}x\u{feff}",
            "\u{ef}\u{bf}\u{be} \u{fffe}a\u{ffff}",
            "\u{d7ff}\u{e000}<\u{fffe}>",
        ];
        for text in samples {
            for attribute in [false, true] {
                let mut out = String::new();
                if attribute {
                    push_attribute(&mut out, text);
                } else {
                    push_text(&mut out, text);
                }
                assert_eq!(out, reference(text, attribute), "{text:?}");
            }
        }
    }
}
