//! Turning a JSON body into a typed command, naming every bad member at once
//! (422, each with a JSON pointer), before anything is written.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use crate::error::{AppError, InvalidInput};
use crate::params::is_slug;

/// Walks one JSON object, collecting problems under a pointer prefix.
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    prefix: String,
    problems: &'a mut Vec<InvalidInput>,
}

/// Collects the problems of a whole body; `finish` turns them into a 422.
#[derive(Default)]
pub struct Problems(pub Vec<InvalidInput>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    /// Fields of the top-level object, which must allow only `known` members.
    pub fn object<'a>(&'a mut self, value: &'a Value, known: &[&str]) -> Option<Fields<'a>> {
        Fields::open(value, String::new(), known, &mut self.0)
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Unprocessable(self.0))
        }
    }
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

impl<'a> Fields<'a> {
    fn open(
        value: &'a Value,
        prefix: String,
        known: &[&str],
        problems: &'a mut Vec<InvalidInput>,
    ) -> Option<Self> {
        let Some(object) = value.as_object() else {
            problems.push(InvalidInput::field(prefix, "must be an object"));
            return None;
        };
        for name in object.keys() {
            if !known.contains(&name.as_str()) {
                problems.push(InvalidInput::field(
                    format!("{prefix}/{}", escape(name)),
                    format!("is not a field here (expected one of {})", known.join(", ")),
                ));
            }
        }
        Some(Self {
            object,
            prefix,
            problems,
        })
    }

    /// The JSON pointer of one of this object's members.
    pub fn pointer_of(&self, name: &str) -> String {
        self.pointer(name)
    }

    fn pointer(&self, name: &str) -> String {
        format!("{}/{}", self.prefix, escape(name))
    }

    pub fn problem(&mut self, name: &str, detail: impl Into<String>) {
        let pointer = self.pointer(name);
        self.problems.push(InvalidInput::field(pointer, detail));
    }

    /// The member, or a problem when it is absent and `required`.
    fn get(&mut self, name: &str, required: bool) -> Option<&'a Value> {
        match self.object.get(name) {
            Some(Value::Null) | None if required => {
                self.problem(name, "is required");
                None
            }
            Some(Value::Null) | None => None,
            Some(value) => Some(value),
        }
    }

    /// A string with no NUL bytes, trimmed of nothing; `max` characters at most.
    pub fn text(
        &mut self,
        name: &str,
        required: bool,
        non_empty: bool,
        max: usize,
    ) -> Option<String> {
        let value = self.get(name, required)?;
        let Some(text) = value.as_str() else {
            self.problem(name, "must be a string");
            return None;
        };
        if text.contains('\0') {
            self.problem(name, "must not contain NUL characters");
        } else if non_empty && text.trim().is_empty() {
            self.problem(name, "must not be empty");
        } else if text.chars().count() > max {
            self.problem(name, format!("must be at most {max} characters"));
        } else {
            return Some(text.to_string());
        }
        None
    }

    /// Markdown: text held to the one rule on what may be rendered and
    /// stored (`markdown::check`: its size and how deeply it nests).
    pub fn markdown(&mut self, name: &str, required: bool, non_empty: bool) -> Option<String> {
        // No length of its own: `markdown::check` bounds the bytes.
        let text = self.text(name, required, non_empty, usize::MAX)?;
        match crate::markdown::check(&text) {
            Ok(()) => Some(text),
            Err(detail) => {
                self.problem(name, detail);
                None
            }
        }
    }

    pub fn slug(&mut self, name: &str, required: bool) -> Option<String> {
        let slug = self.text(name, required, true, 200)?;
        if is_slug(&slug) {
            Some(slug)
        } else {
            self.problem(
                name,
                "must be a slug: lowercase letters and digits separated by single hyphens",
            );
            None
        }
    }

    pub fn url(&mut self, name: &str, required: bool) -> Option<String> {
        let text = self.text(name, required, true, 2000)?;
        match url::Url::parse(&text) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host().is_some()
                    && !text.contains(char::is_whitespace) =>
            {
                Some(text)
            }
            _ => {
                self.problem(name, "must be an absolute http(s) URL");
                None
            }
        }
    }

    pub fn timestamp(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let text = self.text(name, false, true, 64)?;
        match DateTime::parse_from_rfc3339(&text) {
            Ok(at) if (1..=9999).contains(&chrono::Datelike::year(&at)) => {
                Some(at.with_timezone(&Utc))
            }
            _ => {
                self.problem(
                    name,
                    "must be an RFC 3339 timestamp such as 2011-10-25T09:00:00Z",
                );
                None
            }
        }
    }

    pub fn date(&mut self, name: &str) -> Option<NaiveDate> {
        let text = self.text(name, false, true, 32)?;
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(day) if (1..=9999).contains(&chrono::Datelike::year(&day)) => Some(day),
            _ => {
                self.problem(name, "must be a date such as 2011-10-24");
                None
            }
        }
    }

    /// One of `choices`.
    pub fn choice(&mut self, name: &str, required: bool, choices: &[&str]) -> Option<String> {
        let text = self.text(name, required, true, 64)?;
        if choices.contains(&text.as_str()) {
            Some(text)
        } else {
            self.problem(name, format!("must be one of {}", choices.join(", ")));
            None
        }
    }

    /// A list of strings, each checked by `item`.
    pub fn strings(&mut self, name: &str, max_len: usize, slugs: bool) -> Option<Vec<String>> {
        let value = self.get(name, false)?;
        let Some(items) = value.as_array() else {
            self.problem(name, "must be a list of strings");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let pointer = format!("{}/{index}", self.pointer(name));
            match item.as_str() {
                Some(s) if slugs && !is_slug(s) => self
                    .problems
                    .push(InvalidInput::field(pointer, "must be a slug")),
                Some(s)
                    if s.trim().is_empty() || s.contains('\0') || s.chars().count() > max_len =>
                {
                    self.problems.push(InvalidInput::field(
                        pointer,
                        format!("must be 1 to {max_len} characters of text"),
                    ))
                }
                Some(s) => out.push(s.to_string()),
                None => self
                    .problems
                    .push(InvalidInput::field(pointer, "must be a string")),
            }
        }
        Some(out)
    }

    /// The objects of a list member, each opened with `known` members.
    pub fn objects(&mut self, name: &str, known: &[&str], mut each: impl FnMut(Fields<'_>)) {
        let Some(value) = self.get(name, false) else {
            return;
        };
        let Some(items) = value.as_array() else {
            self.problem(name, "must be a list of objects");
            return;
        };
        let base = self.pointer(name);
        for (index, item) in items.iter().enumerate() {
            if let Some(fields) =
                Fields::open(item, format!("{base}/{index}"), known, self.problems)
            {
                each(fields);
            }
        }
    }
}
