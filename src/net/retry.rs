//! Retries with exponential backoff for every request envlock makes.

use std::time::Duration;

/// Retries requests that failed to connect or got a 5xx/429 answer, with exponential backoff
/// (0.2 s, 0.4 s, 0.8 s, jittered). The gateway retries some fetches itself but not all (the
/// sharded-index probe, for one), so every request goes through this.
///
/// Written here rather than taken from `reqwest-retry` because that crate is built on the
/// upstream `reqwest-middleware`, while rattler uses astral's fork of it: the two traits differ.
pub struct Retry;

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
            .build_with_max_retries(3);
        let started = std::time::SystemTime::now();
        let mut retries = 0;
        loop {
            // Streaming bodies cannot be replayed; those requests get a single attempt.
            let Some(attempt) = req.try_clone() else {
                return next.run(req, extensions).await;
            };
            let result = next.clone().run(attempt, extensions).await;
            let transient = match &result {
                Ok(response) => {
                    response.status().is_server_error()
                        || response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS
                }
                Err(reqwest_middleware::Error::Reqwest(e)) => {
                    e.is_connect() || e.is_timeout() || e.is_request()
                }
                Err(_) => false,
            };
            if !transient {
                return result;
            }
            match policy.should_retry(started, retries) {
                RetryDecision::Retry { execute_after } => {
                    let wait = execute_after
                        .duration_since(std::time::SystemTime::now())
                        .unwrap_or_default();
                    log_retry(req.url(), retries, wait);
                    tokio::time::sleep(wait).await;
                    retries += 1;
                }
                RetryDecision::DoNotRetry => return result,
            }
        }
    }
}

/// Retries are silent unless `ENVLOCK_DEBUG_HTTP` is set; the final error names the URL anyway.
fn log_retry(url: &reqwest::Url, retries: u32, wait: Duration) {
    if std::env::var_os("ENVLOCK_DEBUG_HTTP").is_some() {
        eprintln!(
            "retrying {} in {:.1}s (attempt {})",
            crate::util::redact::url_text(url.as_str()),
            wait.as_secs_f64(),
            retries + 2
        );
    }
}
