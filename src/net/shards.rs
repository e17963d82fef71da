//! The sharded-repodata probe is optional: a channel answers `repodata_shards.msgpack.zst` when it
//! has a sharded index (CEP-16) and 404 when not. rattler's gateway treats any other error there
//! as fatal, so a mirror that answers 500 for a file it does not have failed the whole solve
//! although `repodata.json` was fine. [`OptionalShards`] turns a server error on that one path,
//! after the retries, into the 404 the gateway understands, and it falls back to `repodata.json`.

/// The middleware; see the module documentation. Goes before [`super::Retry`], so the probe is
/// retried first.
pub struct OptionalShards;

/// The sharded index's file name, the last segment of the probe's URL.
const SHARDS_FILE: &str = "repodata_shards.msgpack.zst";

/// The probes turned into 404, as "`<url>` answered `<status>`" (URLs without credentials): when
/// the fallback fails too, the error says so ([`turned_away`]).
static TURNED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// What [`OptionalShards`] turned into 404 so far, as "`<url>` answered `<status>`".
pub fn turned_away() -> Vec<String> {
    TURNED.lock().map(|t| t.clone()).unwrap_or_default()
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for OptionalShards {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let probe = req.url().path().ends_with(&format!("/{SHARDS_FILE}"));
        let url = crate::util::redact::url_text(req.url().as_str());
        let response = next.run(req, extensions).await?;
        if probe && response.status().is_server_error() {
            if let Ok(mut turned) = TURNED.lock() {
                turned.push(format!("{url} answered {}", response.status()));
            }
            let not_found = http::Response::builder()
                .status(reqwest::StatusCode::NOT_FOUND)
                .body(Vec::<u8>::new())
                .map_err(|e| reqwest_middleware::Error::Middleware(e.into()))?;
            return Ok(reqwest::Response::from(not_found));
        }
        Ok(response)
    }
}
