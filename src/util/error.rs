//! User-facing errors.
//!
//! Every failure envlock reports is an [`anyhow::Error`]; the ones we raise ourselves are a
//! [`Failure`], which carries a one-line message, where there is one a hint that says what to
//! do, and for a mistake in a file the place in it ([`Failure::at`]). A `Failure` is a
//! [`miette::Diagnostic`]: the CLI prints the message, the chain of causes, the offending line
//! with a caret under the place, then the hint, and exits with 2.

use std::{fmt, path::Path, sync::Arc};

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

/// A failure with an optional hint telling the user how to fix it.
#[derive(Debug)]
pub struct Failure {
    /// The one-line message.
    pub message: String,
    /// What to do about it, when there is something to do.
    pub hint: Option<String>,
    /// The file the failure is about and the span in it, for the caret.
    place: Option<(Arc<NamedSource<String>>, LabeledSpan)>,
}

impl Failure {
    /// A failure with `message` and no hint.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            place: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Points at 1-based `line` and `column` of `file`, underlining the word there. `text` is
    /// the file's content; when it is `None` the file is read (a failure is the rare path).
    /// Nothing is shown when the place is not in the text.
    pub fn at(mut self, file: &Path, text: Option<&str>, line: usize, column: usize) -> Self {
        let text = match text {
            Some(t) => t.to_string(),
            None => match std::fs::read_to_string(file) {
                Ok(t) => t,
                Err(_) => return self,
            },
        };
        let Some(offset) = offset_of(&text, line, column) else {
            return self;
        };
        let word = text[offset..]
            .find(|c: char| c.is_whitespace())
            .unwrap_or(text.len() - offset)
            .max(1);
        let span = LabeledSpan::new_with_span(Some("here".into()), (offset, word));
        let source = NamedSource::new(file.display().to_string(), text);
        self.place = Some((Arc::new(source), span));
        self
    }
}

/// The byte offset of 1-based `line`:`column` (columns count characters) in `text`.
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let rest = &text[start..];
    let line_len = rest.find('\n').unwrap_or(rest.len());
    let within = rest[..line_len]
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line_len, |(i, _)| i);
    (within < line_len).then_some(start + within)
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl Diagnostic for Failure {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.hint.as_ref().map(|h| Box::new(h) as _)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.place.as_ref().map(|(s, _)| s.as_ref() as _)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.place
            .as_ref()
            .map(|(_, span)| Box::new(std::iter::once(span.clone())) as _)
    }
}

/// Shorthand for `Err(Failure::new(..).into())`.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::util::error::Failure::new(format!($($arg)*)).into())
    };
}
pub(crate) use fail;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_byte_offsets_of_lines_and_columns() {
        let text = "a: 1\ndependencies:\n  - nümpy>=1\n";
        assert_eq!(offset_of(text, 1, 1), Some(0));
        assert_eq!(offset_of(text, 3, 5), Some(text.find("nümpy").unwrap()));
        assert_eq!(offset_of(text, 3, 7), Some(text.find("mpy").unwrap()));
        assert_eq!(offset_of(text, 9, 1), None);
        let f = Failure::new("x").at(Path::new("e.yml"), Some(text), 3, 5);
        let label = f.labels().unwrap().next().unwrap();
        assert_eq!(
            &text[label.offset()..label.offset() + label.len()],
            "nümpy>=1"
        );
    }
}
