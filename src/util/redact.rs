//! Credential redaction: the one place that decides what of a URL may be written or shown.
//!
//! Lockfiles, rendered files, cache entries and messages only ever hold URLs that went through
//! here. The rules are rattler's ([`rattler_redaction::strip_url_for_serialization`]): user
//! info, conda's `/t/<token>/` path prefix and the whole query string go (services put tokens
//! in arbitrary query parameters, e.g. `?sig=…`), and so does a fragment unless it is a content
//! digest. envlock also keeps pip's `#sha256=<hex>` form of a digest fragment.
//!
//! Secrets are removed, not masked, so what remains still names the same resource.

use url::Url;

/// `url` without credentials, fit for a lockfile, a rendered file or a message.
pub fn url(url: &Url) -> Url {
    let mut stripped = rattler_redaction::strip_url_for_serialization(url);
    if let Some(fragment) = url.fragment()
        && is_pip_digest(fragment)
    {
        stripped.set_fragment(Some(fragment));
    }
    stripped
}

/// `#sha256=<hex>` (and the other algorithms pip accepts): a content address, not a secret.
fn is_pip_digest(fragment: &str) -> bool {
    fragment.split_once('=').is_some_and(|(algorithm, digest)| {
        matches!(algorithm, "md5" | "sha256" | "sha384" | "sha512")
            && !digest.is_empty()
            && digest.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// [`url`] for text that may or may not be a URL (a channel name, a `--mirror` value, an index
/// given on the command line). Text that is not a URL is returned as it is; a URL that does not
/// parse loses its user info and query by hand, so a malformed URL cannot leak a password
/// either. A URL with nothing to remove keeps the user's spelling.
pub fn url_text(text: &str) -> String {
    match Url::parse(text) {
        Ok(parsed) if parsed.has_host() => {
            let stripped = url(&parsed);
            if stripped == parsed {
                text.to_string()
            } else {
                stripped.to_string()
            }
        }
        Ok(_) => text.to_string(),
        Err(_) => without_password(&unparsed_url(&through_last_at(text))),
    }
}

/// [`text`], and also without the `user:password@` of a URL whose scheme is missing or mangled
/// (`alice:s3cret@host/x`): for messages that quote a value as written, such as the YAML
/// parser's.
pub fn quoted_value(message: &str) -> String {
    without_password(&text(message))
}

/// `text` without what lies between its first `://` and its last `@`: in text that does not
/// parse as a URL the authority's end is a guess (`https://u:p/ss@host` fails on the "port"), so
/// all that may be user info goes.
fn through_last_at(text: &str) -> String {
    if let Some(separator) = text.find("://")
        && let Some(at) = text[separator + 3..].rfind('@')
    {
        return format!(
            "{}{}",
            &text[..separator + 3],
            &text[separator + 3 + at + 1..]
        );
    }
    text.to_string()
}

/// `text` without the `user:password@` (or `token@`) of anything shaped like an authority
/// (`/u:p@host`, `https:-//u:p@host`): what of a mangled URL is still a credential. The part
/// from each `@` back to a `/`, whitespace, `=` or quote goes.
fn without_password(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let before = &rest[..at];
        let start = before
            .rfind(|c: char| c == '/' || c.is_whitespace() || matches!(c, '`' | '\'' | '"' | '='))
            .map_or(0, |i| {
                i + before[i..].chars().next().map_or(1, char::len_utf8)
            });
        // A user name alone may be a token (`https://TOKEN@host`): it goes too. An `@` with
        // nothing before it (`name @ url`) stays.
        if before[start..].is_empty() {
            out.push_str(&rest[..=at]);
        } else {
            out.push_str(&before[..start]);
        }
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out
}

/// User info and query removed from URL-shaped text that [`Url`] rejects.
fn unparsed_url(text: &str) -> String {
    let Some(separator) = text.find("://") else {
        return without_password(text);
    };
    let authority_start = separator + 3;
    let authority_end = text[authority_start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |offset| authority_start + offset);
    let mut out = match text[authority_start..authority_end].rfind('@') {
        Some(at) => format!(
            "{}{}",
            &text[..authority_start],
            &text[authority_start + at + 1..]
        ),
        None => text.to_string(),
    };
    if let Some(query) = out.find('?') {
        let end = out[query..].find('#').map_or(out.len(), |o| query + o);
        out.replace_range(query..end, "");
    }
    out
}

/// A message with every URL in it passed through [`url_text`]: for error texts that quote
/// URLs (reqwest's, the gateway's) and for user text such as `name @ https://…`.
pub fn text(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(separator) = rest.find("://") {
        // The scheme runs back from `://` over scheme characters.
        let start = rest[..separator]
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |(index, c)| index + c.len_utf8());
        let end = rest[separator..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .map_or(rest.len(), |offset| separator + offset);
        // Punctuation that closes the sentence around a URL is not part of it.
        let url_end = rest[start..end]
            .trim_end_matches([')', ',', ';', ']'])
            .len()
            + start;
        out.push_str(&rest[..start]);
        out.push_str(&url_text(&rest[start..url_end]));
        out.push_str(&rest[url_end..end]);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_password_in_text_without_a_scheme_separator_goes() {
        for (text, shown) in [
            ("/bob:s3cret@mirror.example.com/x", "/mirror.example.com/x"),
            ("alice:s3cret@host", "host"),
            ("token@host/x", "host/x"),
            ("six @ https://host/x", "six @ https://host/x"),
        ] {
            assert_eq!(quoted_value(text), shown, "{text}");
        }
        assert_eq!(
            url_text("/bob:s3cret@mirror.example.com/x"),
            "/mirror.example.com/x"
        );
        assert_eq!(
            url_text("https://alice:s3cret/x://u:p@[::1"),
            "https://[::1"
        );
    }

    use super::*;

    #[test]
    fn user_info_tokens_and_queries_go() {
        let u =
            Url::parse("https://user:secret@host/t/tk-123/conda-forge/linux-64/a.conda?sig=abc")
                .unwrap();
        assert_eq!(
            url(&u).as_str(),
            "https://host/conda-forge/linux-64/a.conda"
        );
        let wheel = Url::parse("https://h/x-1.0-py3-none-any.whl#sha256=00ff").unwrap();
        assert_eq!(url(&wheel), wheel, "a digest fragment stays");
    }

    #[test]
    fn text_keeps_what_is_not_a_url() {
        assert_eq!(url_text("conda-forge"), "conda-forge");
        assert_eq!(url_text("https://h/c"), "https://h/c");
        assert_eq!(url_text("https://u:p@h/c"), "https://h/c");
        assert_eq!(url_text("http://u:s3cret@[::1"), "http://[::1");
        assert_eq!(
            url_text("http://u:s3cret@[bad/simple?token=x"),
            "http://[bad/simple"
        );
    }

    #[test]
    fn every_url_in_a_message() {
        assert_eq!(
            text("error sending request for url (https://u:p@h/c/repodata.json)"),
            "error sending request for url (https://h/c/repodata.json)"
        );
        assert_eq!(
            text("`x @ https://u:p@h/x.whl`, then git+https://tok@h/r.git; done"),
            "`x @ https://h/x.whl`, then git+https://h/r.git; done"
        );
        assert_eq!(text("see https://h/p?sig=abc, now"), "see https://h/p, now");
    }
}
