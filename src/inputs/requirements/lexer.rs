//! Lines before parsing: pip's `req_file.py` steps of splitting, joining, comments and
//! `${VAR}` expansion, and the split of a line into requirement and options.

use crate::inputs::Location;

/// The logical lines of `physical` lines, ready to parse: continuations joined, comments
/// stripped and blank lines dropped, then `${VAR}`s expanded, in pip's order.
pub(super) fn logical_lines(
    physical: Vec<(String, Location)>,
    env: &dyn Fn(&str) -> Option<String>,
) -> impl Iterator<Item = (String, Location)> {
    join_lines(physical)
        .into_iter()
        .filter_map(move |(line, location)| {
            let line = strip_comment(&line);
            (!line.is_empty()).then(|| (expand_env_vars(line, env), location))
        })
}

/// Python's `str.splitlines`.
pub(super) fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        let breaks = matches!(
            c,
            '\n' | '\r'
                | '\u{0b}'
                | '\u{0c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if !breaks {
            continue;
        }
        lines.push(&text[start..index]);
        let mut end = index + c.len_utf8();
        if c == '\r' && chars.peek().is_some_and(|&(_, next)| next == '\n') {
            chars.next();
            end += 1;
        }
        start = end;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// Whether pip's `COMMENT_RE` (`(^|\s+)#.*$`) matches at the start of the line.
fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// pip's `join_lines`: a line ending in `\` continues on the next line, unless it is a comment;
/// a comment ends a continuation. The joined line takes the location of its first line.
fn join_lines(physical: Vec<(String, Location)>) -> Vec<(String, Location)> {
    let mut logical = Vec::new();
    let mut pending: Option<(String, Location)> = None;
    for (line, location) in physical {
        if !line.ends_with('\\') || is_comment(&line) {
            // The space keeps the comment a comment once appended to the joined line.
            let line = if is_comment(&line) {
                format!(" {line}")
            } else {
                line
            };
            match pending.take() {
                Some((mut joined, first)) => {
                    joined.push_str(&line);
                    logical.push((joined, first));
                }
                None => logical.push((line, location)),
            }
        } else {
            // pip strips backslashes from both ends (`line.strip("\\")`).
            let part = line.trim_matches('\\');
            match &mut pending {
                Some((joined, _)) => joined.push_str(part),
                None => pending = Some((part.to_string(), location)),
            }
        }
    }
    logical.extend(pending);
    logical
}

/// pip's `ignore_comments` for one line: cut from the first `#` that starts the line or follows
/// whitespace (with that whitespace), then trim. A `#` inside a word (a URL fragment) stays.
fn strip_comment(line: &str) -> &str {
    let mut previous_whitespace = true;
    let mut run_start = 0;
    for (index, c) in line.char_indices() {
        if c == '#' && previous_whitespace {
            return line[..run_start].trim();
        }
        if c.is_whitespace() {
            if !previous_whitespace {
                run_start = index;
            }
            previous_whitespace = true;
        } else {
            previous_whitespace = false;
            run_start = index + c.len_utf8();
        }
    }
    line.trim()
}

/// pip's `expand_env_variables`: every `${NAME}` with NAME of `[A-Z0-9_]` is replaced by the
/// variable's value; unset and empty variables are left as written. Nothing else (`$NAME`,
/// `${lower}`) is touched, so a `$` in a URL or marker stays as it is.
fn expand_env_vars(line: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = line[from..].find("${") {
        let start = from + offset;
        let name_len = line[start + 2..]
            .bytes()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            .count();
        let close = start + 2 + name_len;
        if name_len > 0 && line.as_bytes().get(close) == Some(&b'}') {
            found.push((&line[start..=close], &line[start + 2..close]));
            from = close + 1;
        } else {
            from = start + 1;
        }
    }
    // Like pip, replace each variable in turn in the whole (already partly expanded) line.
    let mut expanded = line.to_string();
    for (variable, name) in found {
        if let Some(value) = env(name).filter(|value| !value.is_empty()) {
            expanded = expanded.replace(variable, &value);
        }
    }
    expanded
}

/// pip's `break_args_options`: the requirement is every space-separated token before the first
/// one starting with `-`; the rest are options. (Markers are not shell-split: they have quotes.)
pub(super) fn break_args_options(line: &str) -> (String, String) {
    let tokens: Vec<&str> = line.split(' ').collect();
    let first_option = tokens
        .iter()
        .position(|token| token.starts_with('-'))
        .unwrap_or(tokens.len());
    (
        tokens[..first_option].join(" "),
        tokens[first_option..].join(" "),
    )
}

#[cfg(test)]
mod tests {
    use pep508_rs::VersionOrUrl;

    use super::*;
    use crate::inputs::requirements::testing::*;

    // --- Lines, comments, continuations -------------------------------------------------------

    #[test]
    fn comment_handling_follows_pip() {
        let spec = parse("# header\n\n   # indented\nflask==3.0.0  # why we pin\n\tnumpy\t# tab\n");
        assert_eq!(names(&spec.requirements), ["flask==3.0.0", "numpy"]);
        assert_eq!(spec.requirements[0].location.line, 4);
        assert_eq!(spec.requirements[1].location.line, 5);
        assert_eq!(spec.requirements[1].location.column, 2);
    }

    #[test]
    fn hash_inside_a_word_is_not_a_comment() {
        let spec = parse("pkg @ https://example.com/pkg-1.0.tar.gz#sha256=abc  # comment\n");
        let VersionOrUrl::Url(url) = spec.requirements[0]
            .requirement
            .version_or_url
            .as_ref()
            .unwrap()
        else {
            panic!("expected a URL");
        };
        assert_eq!(url.fragment(), Some("sha256=abc"));
    }

    #[test]
    fn strip_comment_cuts_at_first_comment_start() {
        assert_eq!(strip_comment("a # b # c"), "a");
        assert_eq!(strip_comment("#all"), "");
        assert_eq!(strip_comment("a#b c"), "a#b c");
        assert_eq!(strip_comment("a\t\t#x"), "a");
        assert_eq!(strip_comment("  a  "), "a");
    }

    #[test]
    fn continuation_joins_lines_and_keeps_first_location() {
        let spec = parse(&format!(
            "flask==3.0.0\n  requests==2.32.3 \\\n    --hash={SHA_A} \\\n    --hash={SHA_B}\nnumpy\n"
        ));
        assert_eq!(
            names(&spec.requirements),
            ["flask==3.0.0", "requests==2.32.3", "numpy"]
        );
        let requests = &spec.requirements[1];
        assert_eq!(requests.hashes, [SHA_A, SHA_B]);
        assert_eq!(requests.location.line, 2);
        assert_eq!(requests.location.column, 3);
        assert_eq!(spec.requirements[2].location.line, 5);
    }

    #[test]
    fn a_comment_ends_a_continuation() {
        // pip: a comment line is never continued and ends a pending continuation.
        let spec = parse("flask \\\n# comment \\\nnumpy\n");
        assert_eq!(names(&spec.requirements), ["flask", "numpy"]);
        assert_eq!(spec.requirements[0].location.line, 1);
        assert_eq!(spec.requirements[1].location.line, 3);
    }

    #[test]
    fn continuation_at_end_of_file() {
        let spec = parse("flask==3.0.0 \\");
        assert_eq!(names(&spec.requirements), ["flask==3.0.0"]);
    }

    #[test]
    fn crlf_bom_and_python_line_breaks() {
        let spec = parse("\u{feff}flask\r\nnumpy\rscipy\n");
        assert_eq!(names(&spec.requirements), ["flask", "numpy", "scipy"]);
        assert_eq!(spec.requirements[2].location.line, 3);
        assert_eq!(split_lines("a\r\nb\u{0c}c\n"), ["a", "b", "c"]);
    }

    // --- Environment variables ----------------------------------------------------------------

    #[test]
    fn env_vars_expand_only_braced_uppercase_names() {
        let env = env_of(&[("VERSION", "3.0.0"), ("lower", "x"), ("PLAIN", "y")]);
        let spec = parse_with("flask==${VERSION}\n", &env).unwrap();
        assert_eq!(names(&spec.requirements), ["flask==3.0.0"]);

        assert_eq!(expand_env_vars("a${lower}b", &env), "a${lower}b");
        assert_eq!(expand_env_vars("a$PLAIN b", &env), "a$PLAIN b");
        assert_eq!(expand_env_vars("${PLAIN}${PLAIN}", &env), "yy");
        assert_eq!(expand_env_vars("${UNSET}", &env), "${UNSET}");
        assert_eq!(expand_env_vars("$${PLAIN}}", &env), "$y}");
    }

    #[test]
    fn empty_env_var_is_left_as_written() {
        // pip: `if not value: continue`.
        let env = env_of(&[("EMPTY", "")]);
        assert_eq!(expand_env_vars("x${EMPTY}y", &env), "x${EMPTY}y");
    }

    #[test]
    fn env_vars_expand_in_options_after_comments_are_stripped() {
        let env = env_of(&[
            ("INDEX", "https://user:tok@example.com/simple"),
            ("HASHY", "a #b"),
        ]);
        let spec = parse_with("--index-url ${INDEX}\n", &env).unwrap();
        let url = spec.options.index_url.unwrap();
        assert_eq!(url.password(), Some("tok"));
        // Expansion comes after comment removal: a value with ` #` is not cut.
        assert_eq!(expand_env_vars(strip_comment("x ${HASHY}"), &env), "x a #b");
    }

    #[test]
    fn unset_env_var_in_url_is_not_looked_up_in_the_process_environment() {
        // pep508_rs would expand `${…}` itself from the real environment; we must not.
        let spec = parse("pkg @ https://example.com/${HOME}/pkg-1.0.tar.gz\n");
        let VersionOrUrl::Url(url) = spec.requirements[0]
            .requirement
            .version_or_url
            .as_ref()
            .unwrap()
        else {
            panic!("expected a URL");
        };
        assert!(url.path().contains("%7BHOME%7D"), "{url}");
    }

    // --- Pieces of pip's line handling --------------------------------------------------------

    #[test]
    fn break_args_options_splits_on_first_dash_token() {
        assert_eq!(
            break_args_options("foo >= 1 ; python_version < \"3\" --hash=x"),
            (
                "foo >= 1 ; python_version < \"3\"".to_string(),
                "--hash=x".to_string()
            )
        );
        assert_eq!(
            break_args_options("-r a.txt"),
            (String::new(), "-r a.txt".to_string())
        );
        assert_eq!(
            break_args_options("foo"),
            ("foo".to_string(), String::new())
        );
    }
}
