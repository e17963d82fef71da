//! PEP 508 requirement parsing that cannot panic.
//!
//! pep508_rs 0.9 panics (an `expect` in `parse_name` and in its extras parser) when a project
//! or extra name ends in `-`, `_` or `.` and more text follows: `six- ==1`, `pa- ckaging`,
//! `six[x-]`, `six[x.`. Those are ordinary typos in a requirements file, and `Requires-Dist`
//! lines come from package indexes, so [`parse`] checks the names first, with the grammar the
//! crate itself uses, and reports such a name as the crate's own errors are reported. Everything
//! else is pep508_rs's parser unchanged, except that a panic it still has becomes the error
//! "could not parse this requirement". (uv fixed this in its fork, `uv-pep508`, which is not
//! published as a crate.)

use std::str::FromStr;

use pep508_rs::{Pep508Error, Pep508ErrorSource, Pep508Url, Requirement};

/// Parses `text` as a PEP 508 requirement, as [`Requirement::from_str`] does, without its panics.
pub fn parse<T: Pep508Url>(text: &str) -> Result<Requirement<T>, Pep508Error<T>> {
    if let Some((start, message)) = bad_name(text) {
        return Err(Pep508Error {
            message: Pep508ErrorSource::String(message),
            start,
            len: 1,
            input: text.to_string(),
        });
    }
    if let Some((start, len, message)) = non_ascii(text) {
        return Err(Pep508Error {
            message: Pep508ErrorSource::String(message),
            start,
            len,
            input: text.to_string(),
        });
    }
    guarded(text, || Requirement::from_str(text))
}

/// Runs pep508_rs's parser on `text`, turning a panic the checks above did not foresee into an
/// ordinary error, and an error whose span its `Display` would panic on (not on character
/// boundaries) into one spanning the whole text.
fn guarded<T: Pep508Url>(
    text: &str,
    parse: impl FnOnce() -> Result<Requirement<T>, Pep508Error<T>>,
) -> Result<Requirement<T>, Pep508Error<T>> {
    let whole = |message: Pep508ErrorSource<T>| Pep508Error {
        message,
        start: 0,
        len: text.len(),
        input: text.to_string(),
    };
    // Contained: with the binary's hook, the panic prints no "thread … panicked" first.
    match crate::util::panic::contained(parse) {
        Some(Ok(requirement)) => Ok(requirement),
        Some(Err(error)) if displayable(&error) => Err(error),
        Some(Err(error)) => Err(whole(error.message)),
        None => Err(whole(Pep508ErrorSource::String(
            "could not parse this requirement".to_string(),
        ))),
    }
}

/// Whether [`Pep508Error`]'s `Display` can underline the error's span without panicking.
fn displayable<T: Pep508Url>(error: &Pep508Error<T>) -> bool {
    let (input, start) = (&error.input, error.start);
    if start == input.len() {
        return error.len <= 1;
    }
    start
        .checked_add(error.len)
        .is_some_and(|end| input.get(start..end).is_some())
}

/// The first non-ASCII character outside quotes: PEP 508 allows none there, and pep508_rs 0.9
/// panics slicing inside one after a marker value (`python_version >= '3'ÿ`). A URL with such
/// a character can be written percent-encoded. The character's byte offset and length, and the
/// message.
fn non_ascii(text: &str) -> Option<(usize, usize, String)> {
    let mut quote = None;
    for (at, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if !c.is_ascii() => {
                return Some((
                    at,
                    c.len_utf8(),
                    format!(
                        "non-ASCII character `{c}` outside quotes (percent-encode it in a URL)"
                    ),
                ));
            }
            None => {}
        }
    }
    None
}

/// A character PEP 508 allows inside a name, not only between others.
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// The first name (project or extra) that ends in `-`, `_` or `.`: its last character's byte
/// offset and the message.
fn bad_name(text: &str) -> Option<(usize, String)> {
    let mut chars = text.char_indices().peekable();
    let skip_whitespace = |chars: &mut std::iter::Peekable<std::str::CharIndices>| {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    };
    // The last character of the name starting here, if it starts with a letter or digit.
    let name_end = |chars: &mut std::iter::Peekable<std::str::CharIndices>| {
        let mut last = None;
        if chars.peek().is_some_and(|(_, c)| c.is_ascii_alphanumeric()) {
            while let Some(found) = chars.next_if(|(_, c)| name_char(*c)) {
                last = Some(found);
            }
        }
        last
    };

    skip_whitespace(&mut chars);
    if let Some((at, c)) = name_end(&mut chars)
        && !c.is_ascii_alphanumeric()
    {
        return Some((
            at,
            format!("Package name must end with an alphanumeric character, not `{c}`"),
        ));
    }
    skip_whitespace(&mut chars);
    chars.next_if(|(_, c)| *c == '[')?;
    loop {
        skip_whitespace(&mut chars);
        if let Some((at, c)) = name_end(&mut chars)
            && !c.is_ascii_alphanumeric()
        {
            return Some((
                at,
                format!("Extra name must end with an alphanumeric character, not `{c}`"),
            ));
        }
        skip_whitespace(&mut chars);
        chars.next_if(|(_, c)| *c == ',')?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_the_parser_is_an_error() {
        let e = guarded::<Url>("six", || panic!("pep508_rs")).unwrap_err();
        assert_eq!(format!("{e}"), "could not parse this requirement\nsix\n^^^");
    }

    #[test]
    fn an_error_spanning_part_of_a_character_prints_the_whole_text() {
        let text = "s\u{ef}x";
        let e = guarded::<Url>(text, || {
            Err(Pep508Error {
                message: Pep508ErrorSource::String("bad".to_string()),
                start: 2,
                len: 1,
                input: text.to_string(),
            })
        })
        .unwrap_err();
        assert_eq!(format!("{e}"), format!("bad\n{text}\n^^^"));
    }

    #[test]
    fn a_multibyte_character_outside_quotes_is_an_error_that_prints() {
        for text in [
            "six ==1\u{e9}",
            "s\u{ef}x",
            "six; python_version == \"3\" \u{e9}",
        ] {
            let e = parse::<Url>(text).unwrap_err();
            let shown = format!("{e}");
            assert!(shown.contains("non-ASCII character"), "{text}: {shown}");
            assert!(shown.contains(text), "{text}: {shown}");
        }
    }

    #[test]
    fn non_ascii_after_a_marker_is_an_error_not_a_panic() {
        let e =
            parse::<pep508_rs::VerbatimUrl>("six[x]>=1 ; python_version >= '3'\u{ff}").unwrap_err();
        assert_eq!(e.start, 33);
        assert!(
            e.message
                .to_string()
                .contains("non-ASCII character `\u{ff}`"),
            "{e}"
        );
        parse::<pep508_rs::VerbatimUrl>("six ; sys_platform == 'l\u{ff}'").unwrap();
    }
    use url::Url;

    fn error(text: &str) -> String {
        parse::<Url>(text).unwrap_err().to_string()
    }

    #[test]
    fn names_ending_in_a_separator_are_errors_not_panics() {
        for text in [
            "six- ==1",
            "pa- ckaging",
            "six_ [x]",
            "six. @ https://example.com/six.whl",
            "six[x-]",
            "six[x.",
            "six[a, b_ ]",
            "  six-\t>=1",
        ] {
            let message = error(text);
            assert!(
                message.contains("must end with an alphanumeric"),
                "{text}: {message}"
            );
        }
        assert!(error("six[x-]").contains("Extra name"));
        assert!(error("six- ==1").contains("Package name"));
    }

    #[test]
    fn valid_requirements_parse_as_before() {
        for text in [
            "six",
            "six==1.16.0",
            "zope.interface>=5",
            "typing_extensions",
            "a-b.c_d [x-y, z.w] >=1 ; python_version < '3.12'",
            "six[]",
            "name @ https://example.com/name-1.0-py3-none-any.whl",
        ] {
            let parsed = parse::<Url>(text);
            assert_eq!(
                parsed.map(|r| r.to_string()).ok(),
                Requirement::<Url>::from_str(text)
                    .map(|r| r.to_string())
                    .ok(),
                "{text}"
            );
            assert!(parse::<Url>(text).is_ok(), "{text}");
        }
        // The crate's own errors are unchanged.
        assert_eq!(
            error("six[x"),
            Requirement::<Url>::from_str("six[x")
                .unwrap_err()
                .to_string()
        );
    }
}
