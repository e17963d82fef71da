//! Shell-word splitting, for `--cmd` and for the options part of a requirements line.
//!
//! One splitter, the `shlex` crate's POSIX rules: single quotes keep everything, double quotes
//! keep everything but `\"`, `\\`, `\$` and `` \` ``, and a backslash outside quotes escapes the
//! next character. pip splits a line's options with Python's `shlex.split`, which agrees except
//! for `\$` and `` \` `` inside double quotes (Python keeps the backslash): neither can appear in
//! a pip option that means anything.

/// The words of `text`, or `None` on an unclosed quote or a trailing backslash.
pub fn split(text: &str) -> Option<Vec<String>> {
    // Python's shlex also splits at carriage returns (a CRLF file's line ends).
    shlex::split(&text.replace('\r', " "))
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_like_a_posix_shell() {
        assert_eq!(
            split(r#"--a "b c" 'd e' f\ g "h\"i" "j\k""#).unwrap(),
            ["--a", "b c", "d e", "f g", "h\"i", "j\\k"]
        );
        assert_eq!(split("\"\"").unwrap(), [""]);
        assert_eq!(split("a\r\nb").unwrap(), ["a", "b"]);
        assert!(split("'open").is_none());
        assert!(split("trailing\\").is_none());
    }
}
