//! Credentials from a netrc file, as pip (through requests) and uv use them: a request to a host
//! that a `machine` entry names, or to any host when there is a `default` entry, gets that
//! entry's login and password as HTTP basic auth, unless the request already carries
//! credentials (an `Authorization` header, or user info in the URL, which is moved into that
//! header here: a URL rewritten by a middleware keeps user info that reqwest would not send).
//!
//! The file is `$NETRC` when set, else `~/.netrc`; it is read once, on the first request. The
//! credentials only ever become a request header: URLs, and so the lock, the cache and every
//! message, stay without them. A file that does not parse is reported once (by path and line
//! only, since the parser's message can quote a password) and not used.

use std::sync::OnceLock;

use reqwest::header;

/// The middleware; see the module documentation.
pub struct Netrc;

/// The parsed file, or `None` when there is none (or it does not parse).
fn credentials() -> Option<&'static netrc::Netrc> {
    static FILE: OnceLock<Option<netrc::Netrc>> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = netrc::Netrc::get_file()?;
        match netrc::Netrc::from_file(&path) {
            Ok(parsed) => Some(parsed),
            Err(error) => {
                let line = line_of(&error.to_string());
                eprintln!(
                    "warning: {}{}: not a valid netrc file; its credentials are not used",
                    path.display(),
                    line.map(|l| format!(":{l}")).unwrap_or_default()
                );
                None
            }
        }
    })
    .as_ref()
}

/// The line number in the parser's message (`… (line 2) in the file …`).
fn line_of(message: &str) -> Option<u32> {
    let (_, rest) = message.split_once("(line ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The login and password for `host`: its `machine` entry, else the `default` one.
fn lookup(file: &netrc::Netrc, host: &str) -> Option<(String, String)> {
    let entry = file.hosts.get(host).or_else(|| file.hosts.get("default"))?;
    (!entry.login.is_empty() || !entry.password.is_empty())
        .then(|| (entry.login.clone(), entry.password.clone()))
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for Netrc {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        // User info that a middleware put into the URL (a mirror's, a channel's moved out of
        // the gateway's sight) is not sent by reqwest by itself: it becomes the header here.
        if !req.url().username().is_empty() || req.url().password().is_some() {
            let url = req.url_mut();
            let login = percent_decode(url.username());
            let password = url.password().map(percent_decode).unwrap_or_default();
            let _ = url.set_username("");
            let _ = url.set_password(None);
            if !req.headers().contains_key(header::AUTHORIZATION) {
                req.headers_mut()
                    .insert(header::AUTHORIZATION, basic_auth(&login, &password));
            }
        }
        let has_credentials = req.headers().contains_key(header::AUTHORIZATION);
        if !has_credentials
            && let Some(host) = req.url().host_str()
            && let Some((login, password)) = credentials().and_then(|f| lookup(f, host))
        {
            req.headers_mut()
                .insert(header::AUTHORIZATION, basic_auth(&login, &password));
        }
        next.run(req, extensions).await
    }
}

/// URL user info is percent-encoded; the header carries it decoded.
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// An `Authorization: Basic …` value, marked sensitive so that it is never logged.
fn basic_auth(login: &str, password: &str) -> header::HeaderValue {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{login}:{password}"));
    let mut value = header::HeaderValue::from_str(&format!("Basic {encoded}"))
        .expect("base64 is a valid header value");
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_machine_entry_wins_over_the_default_one() {
        let file: netrc::Netrc = "machine index.example login alice password s3cret\n\
                                  default login anon password guest\n"
            .parse()
            .unwrap();
        assert_eq!(
            lookup(&file, "index.example"),
            Some(("alice".into(), "s3cret".into()))
        );
        assert_eq!(
            lookup(&file, "other.example"),
            Some(("anon".into(), "guest".into()))
        );
        let file: netrc::Netrc = "machine index.example login alice password s3cret\n"
            .parse()
            .unwrap();
        assert_eq!(lookup(&file, "other.example"), None);
    }

    #[test]
    fn basic_auth_is_base64_and_sensitive() {
        let value = basic_auth("alice", "s3cret");
        assert_eq!(value.to_str().unwrap(), "Basic YWxpY2U6czNjcmV0");
        assert!(value.is_sensitive());
    }
}
