//! Retries with exponential backoff for every request envlock makes.

use std::time::Duration;

use reqwest::{ResponseBuilderExt, StatusCode, header};

/// How many times a request is tried after a failed connection, a 5xx or 429 answer, or (for a
/// buffered request) a body cut off midway.
const MAX_RETRIES: u32 = 3;
/// How many times a request that timed out is tried again: a server that does not answer
/// should fail in about twice the timeout, not four times.
const MAX_TIMEOUT_RETRIES: u32 = 1;
/// The longest `Retry-After` envlock waits for; a longer one fails now, saying so.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Retries requests that failed to connect, timed out, or got a 5xx/429 answer, with
/// exponential backoff (0.2 s, 0.4 s, 0.8 s, jittered) or after the server's `Retry-After`
/// (seconds or an HTTP date, up to a minute). The gateway retries some fetches itself but not
/// all (the sharded-index probe, for one), so every request goes through this.
///
/// [`Retry::BUFFERED`] also reads the whole body inside the retry loop, so that a connection
/// dropped in the middle of a project page or a wheel is retried like one dropped before the
/// answer; the conda gateway streams repodata (hundreds of megabytes) and uses
/// [`Retry::STREAMING`], which buffers only the small files of a sharded index (CEP-16:
/// `repodata_shards.msgpack.zst` and `shards/<sha256>.msgpack.zst`). Those the gateway does not
/// retry itself, so a body cut short, a `.zst` that does not decode to its end, or a shard
/// whose bytes are not the sha256 of its name is tried again here; after the last try the
/// answer goes on as it came, and the gateway's error names it.
///
/// Written here rather than taken from `reqwest-retry` because that crate is built on the
/// upstream `reqwest-middleware`, while rattler uses astral's fork of it: the two traits differ.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    buffer: bool,
}

impl Retry {
    /// Retries up to the answer's headers; the body is the caller's.
    pub const STREAMING: Retry = Retry { buffer: false };
    /// Retries up to the end of the body, which is read here.
    pub const BUFFERED: Retry = Retry { buffer: true };
}

/// What one attempt came to.
enum Attempt {
    Done(reqwest_middleware::Result<reqwest::Response>),
    /// Worth another try, after at least this long (the server's `Retry-After`).
    Again {
        result: reqwest_middleware::Result<reqwest::Response>,
        after: Option<Duration>,
        timed_out: bool,
    },
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for Retry {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        use rattler_networking::retry_policies::{RetryDecision, RetryPolicy};
        let policy = rattler_networking::retry_policies::ExponentialBackoff::builder()
            .retry_bounds(Duration::from_millis(200), Duration::from_secs(5))
            .build_with_max_retries(MAX_RETRIES);
        let started = std::time::SystemTime::now();
        let (mut retries, mut timeouts) = (0, 0);
        loop {
            // Streaming bodies cannot be replayed; those requests get a single attempt.
            let Some(attempt) = req.try_clone() else {
                return next.run(req, extensions).await;
            };
            let result = next.clone().run(attempt, extensions).await;
            let (result, after, timed_out) = match self.judge(result).await {
                Attempt::Done(result) => return result,
                Attempt::Again {
                    result,
                    after,
                    timed_out,
                } => (result, after, timed_out),
            };
            if timed_out {
                if timeouts >= MAX_TIMEOUT_RETRIES {
                    return result;
                }
                timeouts += 1;
            }
            let wait = match policy.should_retry(started, retries) {
                RetryDecision::Retry { execute_after } => execute_after
                    .duration_since(std::time::SystemTime::now())
                    .unwrap_or_default(),
                RetryDecision::DoNotRetry => return result,
            };
            let wait = match after {
                Some(after) if after > MAX_RETRY_AFTER => return result,
                Some(after) => after.max(wait),
                None => wait,
            };
            log_retry(req.url(), retries, wait, timed_out);
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }
}

/// Whether `url` is a file of a sharded index, which [`Retry::STREAMING`] buffers and checks.
fn sharded_file(url: &reqwest::Url) -> bool {
    url.path().ends_with(".msgpack.zst")
}

/// Whether the body of a sharded-index file is whole: it decodes as zstd to its end and, for a
/// shard (named by its sha256), has that sha256.
fn whole_sharded_file(url: &reqwest::Url, body: &[u8]) -> bool {
    let name = url.path().rsplit('/').next().unwrap_or_default();
    if let Some(sha256) = name.strip_suffix(".msgpack.zst")
        && sha256.len() == 64
        && sha256.bytes().all(|b| b.is_ascii_hexdigit())
        && !crate::util::sha256_hex(body).eq_ignore_ascii_case(sha256)
    {
        return false;
    }
    zstd::stream::read::Decoder::new(body)
        .and_then(|mut d| std::io::copy(&mut d, &mut std::io::sink()))
        .is_ok()
}

impl Retry {
    /// Whether `result` is final, reading the body first when buffering.
    async fn judge(&self, result: reqwest_middleware::Result<reqwest::Response>) -> Attempt {
        match result {
            Ok(response) => {
                let status = response.status();
                if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                    let after = retry_after(response.headers());
                    return Attempt::Again {
                        result: Ok(response),
                        after,
                        timed_out: false,
                    };
                }
                let url = response.url().clone();
                let sharded = !self.buffer && sharded_file(&url);
                if !self.buffer && !sharded {
                    return Attempt::Done(Ok(response));
                }
                // The URL too: the gateway names it in its errors.
                let mut head = http::Response::builder().status(status).url(url.clone());
                if let Some(headers) = head.headers_mut() {
                    headers.extend(
                        response
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone())),
                    );
                }
                match response.bytes().await {
                    Ok(body) => {
                        let whole =
                            !sharded || !status.is_success() || whole_sharded_file(&url, &body);
                        let result = head
                            .body(body)
                            .map(reqwest::Response::from)
                            .map_err(|e| reqwest_middleware::Error::Middleware(e.into()));
                        if whole {
                            Attempt::Done(result)
                        } else {
                            Attempt::Again {
                                result,
                                after: None,
                                timed_out: false,
                            }
                        }
                    }
                    // The body's error does not say whose body it was.
                    Err(e) => Attempt::Again {
                        timed_out: e.is_timeout(),
                        result: Err(e.with_url(url).into()),
                        after: None,
                    },
                }
            }
            Err(reqwest_middleware::Error::Reqwest(e))
                if e.is_connect() || e.is_timeout() || e.is_request() =>
            {
                Attempt::Again {
                    timed_out: e.is_timeout(),
                    result: Err(e.into()),
                    after: None,
                }
            }
            Err(e) => Attempt::Done(Err(e)),
        }
    }
}

/// `Retry-After`: seconds, or an HTTP date.
fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // An HTTP date (RFC 9110's IMF-fixdate) is an RFC 2822 date.
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let left = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(left).unwrap_or_default())
}

/// A retry after a timeout is always reported (the user is waiting on a silent server); others
/// only with `ENVLOCK_DEBUG_HTTP` set. The final error names the URL anyway.
fn log_retry(url: &reqwest::Url, retries: u32, wait: Duration, timed_out: bool) {
    let url = crate::util::redact::url_text(url.as_str());
    if timed_out {
        eprintln!(
            "warning: no answer from {url} within {} s; trying once more",
            super::timeout().as_secs()
        );
    } else if std::env::var_os("ENVLOCK_DEBUG_HTTP").is_some() {
        eprintln!(
            "retrying {url} in {:.1}s (attempt {})",
            wait.as_secs_f64(),
            retries + 2
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_as_seconds_or_a_date() {
        let mut headers = header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
