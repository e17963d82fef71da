//! A client for Python package indexes: project pages and core metadata.
//!
//! Supported: the JSON simple API (PEP 691) with an HTML (PEP 503) fallback for indexes that only
//! speak HTML; yanking (PEP 592), `requires-python`, upload times (PEP 700); core metadata from
//! `<file>.metadata` (PEP 658/714) whether or not the index advertises it, else from the wheel's
//! zip central directory through HTTP range requests, else from a full download (hash-checked);
//! sdists whose PKG-INFO is static, and of other sdists through an [`SdistBuilder`] (their build
//! backend, see [`super::build`]). Several indexes: they are searched in the order given (the
//! caller puts extra indexes before the default one, as uv does), and the first index that has a
//! project is the only one used for it (uv's `first-index` rule, which avoids dependency
//! confusion), unless [`IndexStrategy::UnsafeBestMatch`] asks for every index's versions. An
//! index that cannot be reached is an error naming it, not a skipped index.
//!
//! Caching: project pages are stored with their validators and the time they were fetched, and
//! revalidated (`ETag`, `Last-Modified`, `Cache-Control: max-age`), except that a resolve with
//! `--exclude-newer T` uses a page fetched at least [`CUTOFF_MARGIN`] after `T` as it is: it
//! already lists every file such a resolve may use (`--refresh` revalidates every page; what can
//! differ is a file yanked after the fetch). Core metadata is immutable per file and stored by
//! the file's sha256 (metadata built from an sdist too, so a warm resolve builds nothing).
//! Concurrent requests for the same page or file share one fetch.
//!
//! Not supported: `--find-links` pages and local directories, the legacy XML-RPC API.

use std::{
    borrow::Cow,
    collections::{HashMap, HashSet},
    fmt,
    ops::Range,
    path::PathBuf,
    str::FromStr,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::SystemTime,
};

use anyhow::{Context, Result, anyhow, bail};
use jiff::Timestamp;
use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::PackageName;
use reqwest::{StatusCode, header};
use reqwest_middleware::ClientWithMiddleware;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use url::Url;

use super::{
    git,
    metadata::{self, CoreMetadata, TailLookup},
    tags::{SdistFilename, WheelFilename},
};
use crate::{
    inputs::IndexStrategy,
    util::{error::Failure, fs::write_cache, redact},
};

const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";
/// How much of a wheel's end to fetch first: enough for the central directory of most wheels.
const TAIL: u64 = 64 * 1024;

/// A distribution file of a project.
#[derive(Debug, Clone)]
pub struct DistFile {
    /// The file name, as the index lists it.
    pub filename: String,
    /// Where the file is downloaded from.
    pub url: Url,
    /// Its sha256, hex, when the index gives one.
    pub sha256: Option<String>,
    /// The file's `Requires-Python`, from the index.
    pub requires_python: Option<VersionSpecifiers>,
    /// PEP 592 yanked.
    pub yanked: bool,
    /// When it was uploaded, when the index says.
    pub upload_time: Option<Timestamp>,
    /// Its size in bytes, when the index says.
    pub size: Option<u64>,
    /// `Some(hash)` when the index advertises a PEP 658 metadata file (the hash may be unknown).
    advertised_metadata: Option<Option<String>>,
    /// What the file name says.
    pub kind: DistKind,
}

#[derive(Debug, Clone)]
/// A wheel or a source distribution, by file name.
pub enum DistKind {
    /// A `.whl`.
    Wheel(WheelFilename),
    /// An sdist (`.tar.gz`, `.zip`).
    Sdist(SdistFilename),
}

impl DistFile {
    /// A file named by a direct URL (`name @ https://…/name-1.0-py3-none-any.whl`). Its sha256
    /// comes from the requirement's `--hash`, the URL's `#sha256=` fragment, or a download.
    pub async fn from_url(
        client: &IndexClient,
        project: &PackageName,
        url: &Url,
        sha256: Option<String>,
    ) -> Result<DistFile> {
        if url.scheme().starts_with("git+") {
            return client.git_file(project, url).await;
        }
        let mut plain = url.clone();
        plain.set_fragment(None);
        let named = plain
            .path_segments()
            .and_then(|mut s| s.next_back())
            .is_some_and(|f| {
                WheelFilename::from_str(f).is_ok() || SdistFilename::parse(f, project).is_some()
            });
        // An archive whose file name says no version (`…/archive/main.zip`).
        if !named {
            return client.direct_file(Some(project), url).await;
        }
        let mut url = url.clone();
        let fragment_hash = url
            .fragment()
            .and_then(|f| f.strip_prefix("sha256="))
            .map(str::to_string);
        url.set_fragment(None);
        let given = sha256.or(fragment_hash);
        if given.is_some() && usable_sha256(given.clone()).is_none() {
            return Err(Failure::new(format!(
                "the sha256 given for {} is not 64 hex digits",
                redact::url_text(url.as_str())
            ))
            .hint("copy the file's sha256 as `--hash=sha256:…` or `#sha256=…`, or leave it out")
            .into());
        }
        let filename = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or_default()
            .to_string();
        let mut file = dist_file(
            project,
            &filename,
            url.clone(),
            given,
            None,
            false,
            None,
            None,
            None,
        )
        .ok_or_else(|| {
            Failure::new(format!(
                "{} is not a wheel or sdist of {project}",
                redact::url_text(url.as_str())
            ))
        })?;
        if file.sha256.is_none() {
            file.sha256 = Some(crate::util::sha256_hex(&client.download(&file).await?));
        }
        Ok(file)
    }

    /// The version the file name carries.
    pub fn version(&self) -> &Version {
        match &self.kind {
            DistKind::Wheel(w) => &w.version,
            DistKind::Sdist(s) => &s.version,
        }
    }
}

/// A project's files: on the first index that has it, or with
/// [`IndexStrategy::UnsafeBestMatch`] on every index (each version from the first index that
/// has it).
#[derive(Debug)]
pub struct Project {
    /// The normalized project name.
    pub name: PackageName,
    /// The (first) index the files come from, without credentials.
    pub index: Url,
    /// Every file the index lists for the project, with the version its name says. The rest of
    /// a file listed on a JSON page is read when it is first asked for: a large project lists
    /// thousands of files, and a resolve looks at the files of a few versions.
    listed: Vec<Listed>,
}

/// One file of a [`Project`].
#[derive(Debug)]
struct Listed {
    version: Version,
    /// Where its PEP 691 page gives it (a range of the page's body), until [`Listed::file`]
    /// reads it.
    json: Option<(Arc<JsonPageText>, Range<usize>)>,
    /// Its upload time, once read: from the cached page's [`Listing`], else from its entry.
    uploaded: OnceLock<Option<Timestamp>>,
    /// The file, or `None` when the page's entry does not make one (a name that is not the
    /// project's, an unparseable wheel name).
    file: OnceLock<Option<DistFile>>,
}

impl Listed {
    /// A file already read (from an HTML page, or a direct URL).
    fn read(file: DistFile) -> Listed {
        Listed {
            version: file.version().clone(),
            json: None,
            uploaded: OnceLock::from(file.upload_time),
            file: OnceLock::from(Some(file)),
        }
    }

    fn file(&self, project: &PackageName) -> Option<&DistFile> {
        self.file
            .get_or_init(|| {
                let (page, range) = self.json.as_ref()?;
                let json: JsonFile = serde_json::from_str(&page.entry(range.clone())?).ok()?;
                // The version it was listed under must be its own (see `listed_filename`).
                json_dist_file(&json, &page.url, project).filter(|f| f.version() == &self.version)
            })
            .as_ref()
    }
}

impl Project {
    /// A project of files already read (from an HTML page, or a direct URL).
    pub fn from_files(name: PackageName, index: Url, files: Vec<DistFile>) -> Project {
        let listed = files.into_iter().map(Listed::read).collect();
        Project {
            name,
            index,
            listed,
        }
    }

    /// How many files the project lists.
    pub fn len(&self) -> usize {
        self.listed.len()
    }

    /// Whether the project lists no file.
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// The version the `i`th file's name says.
    pub fn version(&self, i: usize) -> &Version {
        &self.listed[i].version
    }

    /// The `i`th file, read on first use; `None` when its entry makes no usable file.
    pub fn file(&self, i: usize) -> Option<&DistFile> {
        self.listed[i].file(&self.name)
    }

    /// Whether the `i`th file was uploaded after `cutoff`, read without reading the whole file.
    pub fn uploaded_after(&self, i: usize, cutoff: Timestamp) -> bool {
        let listed = &self.listed[i];
        let uploaded = listed
            .uploaded
            .get_or_init(|| match (&listed.json, listed.file.get()) {
                (_, Some(file)) => file.as_ref().and_then(|f| f.upload_time),
                (Some((page, range)), None) => entry_upload_time(&page.entry(range.clone())?),
                (None, None) => None,
            });
        uploaded.is_some_and(|t| t > cutoff)
    }

    /// Every file, each read.
    pub fn files(&self) -> impl Iterator<Item = &DistFile> {
        self.listed.iter().filter_map(|l| l.file(&self.name))
    }
}

/// A fetch shared by everyone who asks for the same thing; errors are kept as their message.
type Shared<T> = Arc<OnceCell<Result<T, SharedError>>>;

/// An error kept for everyone waiting on the same fetch: its message and its hint, or the
/// build failure it was.
#[derive(Clone)]
enum SharedError {
    Failure(String, Option<String>),
    Build(BuildFailed),
    Invalid(InvalidMetadata),
}

impl From<anyhow::Error> for SharedError {
    fn from(e: anyhow::Error) -> Self {
        if let Some(b) = e.chain().find_map(|c| c.downcast_ref::<BuildFailed>()) {
            return SharedError::Build(b.clone());
        }
        if let Some(i) = e.chain().find_map(|c| c.downcast_ref::<InvalidMetadata>()) {
            return SharedError::Invalid(i.clone());
        }
        let hint = e
            .chain()
            .find_map(|c| c.downcast_ref::<Failure>())
            .and_then(|f| f.hint.clone());
        SharedError::Failure(format!("{e:#}"), hint)
    }
}

impl From<SharedError> for anyhow::Error {
    fn from(e: SharedError) -> Self {
        match e {
            SharedError::Failure(message, hint) => {
                let mut failure = Failure::new(message);
                failure.hint = hint;
                failure.into()
            }
            SharedError::Build(b) => b.into(),
            SharedError::Invalid(i) => i.into(),
        }
    }
}

/// Gets the core metadata of an sdist whose PKG-INFO does not give it, by building it.
#[async_trait::async_trait]
pub trait SdistBuilder: Send + Sync {
    /// The METADATA text of the sdist `file`, whose (hash-checked) bytes are `bytes`. A failure
    /// that makes only this version unusable is a [`BuildFailed`].
    async fn build_metadata(&self, file: &DistFile, bytes: Vec<u8>) -> Result<String>;
}

/// An sdist whose metadata could not be built. It makes that version unusable, not the whole
/// resolution: the resolver moves on to another version and reports this only when no version
/// will do.
#[derive(Debug, Clone)]
pub struct BuildFailed {
    /// Which package and version failed, how, and the backend's last lines of output.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl fmt::Display for BuildFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BuildFailed {}

/// A file whose published metadata does not parse (a `Requires-Dist` that is not PEP 508, as in
/// old releases). Like a [`BuildFailed`], it makes only that version unusable, as it does for
/// pip and uv; the resolver reports it only when no version will do.
#[derive(Debug, Clone)]
pub struct InvalidMetadata {
    /// The file and what is wrong with its metadata.
    pub message: String,
}

impl fmt::Display for InvalidMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InvalidMetadata {}

/// A request the index answered with an error status; for 401 and 403, how to give credentials.
fn refused(url: &Url, status: StatusCode) -> anyhow::Error {
    let failure = Failure::new(format!(
        "{} answered {status}",
        redact::url_text(url.as_str())
    ));
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        let host = url.host_str().unwrap_or("HOST");
        failure
            .hint(format!(
                "the index wants credentials: add `machine {host} login USER password \
                 PASSWORD` to ~/.netrc (or the file $NETRC names), or put them in the index \
                 URL (`https://USER:PASSWORD@{host}/…`); envlock keeps them out of the lock"
            ))
            .into()
    } else {
        failure.into()
    }
}

/// The package index client: pages, metadata and downloads, cached on disk, with shared
/// in-flight fetches.
pub struct IndexClient {
    client: ClientWithMiddleware,
    indexes: Vec<Url>,
    strategy: IndexStrategy,
    cache_dir: PathBuf,
    projects: Mutex<HashMap<PackageName, Shared<Option<Arc<Project>>>>>,
    metadata: Mutex<HashMap<Url, Shared<Arc<CoreMetadata>>>>,
    /// Files named by URL whose version the file name does not say (git requirements, source
    /// archives of a branch), by requested URL: [`IndexClient::direct_file`].
    direct: Mutex<HashMap<Url, Shared<DistFile>>>,
    /// Hosts that answered 404 for an unadvertised `.metadata` file: not asked again.
    no_metadata_hosts: Mutex<HashSet<String>>,
    /// How many stored pages are read from their open files ([`MAX_OPEN_PAGES`]).
    open_pages: AtomicUsize,
    /// Builds the metadata of sdists without static metadata; without one they cannot be locked.
    builder: Option<Arc<dyn SdistBuilder>>,
    /// `--exclude-newer`: a page fetched an hour or more after it lists every file the resolve
    /// may use, so it is used without asking the index again (see [`CUTOFF_MARGIN`]).
    exclude_newer: Option<Timestamp>,
    /// `--refresh`: every cached page is revalidated, whatever its freshness or the cutoff.
    refresh: bool,
    /// `--offline`: cached pages and metadata only; anything else is an error naming it.
    offline: bool,
}

impl Drop for IndexClient {
    /// Leaves the projects read to the end of the process instead of freeing them one by one:
    /// a resolve ends soon after its client, and freeing tens of thousands of parsed files took
    /// a seventh of a warm resolve.
    fn drop(&mut self) {
        let projects = std::mem::take(self.projects.get_mut().expect("not poisoned"));
        std::mem::forget(projects);
    }
}

/// How long after the `--exclude-newer` cutoff a page must have been fetched for a cutoff
/// resolve to use it without asking the index: an index or mirror may list an upload a little
/// after it happened.
pub const CUTOFF_MARGIN: u64 = 3600;

/// A stored project page and what is needed to revalidate it. Stored as one line of JSON (all
/// but the body, with the lengths of what follows), for a PEP 691 page its [`Listing`] on one
/// line, and then the body as the index sent it: a page kept as a JSON string had to be
/// unescaped and copied before it could be read, and a page without its listing had to be read
/// and scanned whole (25 MB for the jupyter set) before the first file could be ranked.
#[derive(Serialize, Deserialize)]
struct CachedPage {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    /// Seconds since the epoch until which the page is fresh without asking.
    fresh_until: Option<u64>,
    /// Seconds since the epoch when the index gave (or confirmed) this page.
    #[serde(default)]
    fetched_at: Option<u64>,
    content_type: String,
    /// The listing line's length in bytes, its newline included (0: none stored).
    #[serde(default)]
    listing_len: usize,
    /// The body's length in bytes, to tell a cut-off entry.
    body_len: usize,
    /// The page's files as [`Listing`] gives them, when stored with the page.
    #[serde(skip)]
    listing: Option<Listing>,
    /// The body, from `body_start` on, when it was read (a fetched page, an HTML page, or a
    /// stored page without its listing).
    #[serde(skip)]
    body: String,
    #[serde(skip)]
    body_start: usize,
    /// The stored file and where in it the body starts, when the body was left there (a
    /// stored page with its listing: its files are read from it on first use).
    #[serde(skip)]
    on_disk: Option<(std::fs::File, u64)>,
    /// Where a page just fetched is to be stored, once its listing is known.
    #[serde(skip)]
    store_at: Option<PathBuf>,
}

/// A PEP 691 page's files as the cache keeps them beside the page, so that a warm resolve reads
/// neither the whole body nor each entry's name and upload time: every wheel or sdist of the
/// project, in page order, with its version (an index into `versions`), the byte range of its
/// entry in the body and its upload time (microseconds since the epoch), if the page gives one.
#[derive(Serialize, Deserialize, Default)]
struct Listing {
    versions: Vec<String>,
    files: Vec<(u32, usize, usize, Option<i64>)>,
}

/// How many stored pages at most are read from their open files (the rest are read whole), to
/// stay well under the usual limit of 1,024 open files.
const MAX_OPEN_PAGES: usize = 256;

impl CachedPage {
    /// A stored page, or `None` when the entry is not one (cut off, or another format). With a
    /// listing and `keep_open`, the body stays in the file.
    fn load(path: &std::path::Path, keep_open: bool) -> Option<CachedPage> {
        use std::io::{BufRead, Read};
        let file = std::fs::File::open(path).ok()?;
        let size = file.metadata().ok()?.len();
        let mut reader = std::io::BufReader::new(file);
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let mut page: CachedPage = serde_json::from_str(header.strip_suffix('\n')?).ok()?;
        // Checked: the lengths come from a file, and must add up to its size exactly before
        // anything is read by them.
        let body_offset = u64::try_from(header.len().checked_add(page.listing_len)?).ok()?;
        if Some(size) != body_offset.checked_add(u64::try_from(page.body_len).ok()?) {
            return None;
        }
        if page.listing_len > 0 {
            let mut line = vec![0; page.listing_len];
            reader.read_exact(&mut line).ok()?;
            page.listing = Some(serde_json::from_slice(line.strip_suffix(b"\n")?).ok()?);
        }
        if page.listing.is_some() && keep_open && cfg!(unix) {
            page.on_disk = Some((reader.into_inner(), body_offset));
            return Some(page);
        }
        let mut body = String::with_capacity(page.body_len);
        reader.read_to_string(&mut body).ok()?;
        (body.len() == page.body_len).then_some(())?;
        page.body = body;
        Some(page)
    }

    /// The page's body, read into memory first if it was left in its file.
    fn body(&mut self) -> &str {
        if let Some((file, offset)) = self.on_disk.take() {
            let mut body = vec![0; self.body_len];
            if read_at(&file, &mut body, offset).is_ok() {
                self.body = String::from_utf8(body).unwrap_or_default();
                self.body_start = 0;
            }
        }
        &self.body[self.body_start..]
    }

    /// The stored form [`CachedPage::load`] reads.
    fn stored_bytes(&mut self) -> Option<Vec<u8>> {
        let listing = match &self.listing {
            Some(l) => {
                let mut line = serde_json::to_vec(l).ok()?;
                line.push(b'\n');
                line
            }
            None => Vec::new(),
        };
        self.listing_len = listing.len();
        let body = self.body().as_bytes().to_vec();
        self.body_len = body.len();
        let mut bytes = serde_json::to_vec(self).ok()?;
        bytes.push(b'\n');
        bytes.extend_from_slice(&listing);
        bytes.extend_from_slice(&body);
        Some(bytes)
    }
}

/// Reads `buf.len()` bytes of `file` at `offset`, without moving a shared cursor (pages are read
/// from several threads).
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(not(unix))]
    {
        // Never reached: pages are left in their files on unix only.
        let _ = (file, buf, offset);
        Err(std::io::Error::other("not supported"))
    }
}

impl IndexClient {
    /// `indexes` are simple-API base URLs in priority order.
    pub fn new(client: ClientWithMiddleware, indexes: Vec<Url>, cache_dir: PathBuf) -> IndexClient {
        let indexes = indexes
            .into_iter()
            .map(|mut u| {
                if !u.path().ends_with('/') {
                    let p = format!("{}/", u.path());
                    u.set_path(&p);
                }
                u
            })
            .collect();
        IndexClient {
            client,
            indexes,
            strategy: IndexStrategy::default(),
            cache_dir,
            projects: Mutex::default(),
            metadata: Mutex::default(),
            direct: Mutex::default(),
            no_metadata_hosts: Mutex::default(),
            open_pages: AtomicUsize::new(0),
            builder: None,
            exclude_newer: None,
            refresh: false,
            offline: false,
        }
    }

    /// `--offline`: uses cached pages as they are and never asks an index.
    pub fn with_offline(mut self, offline: bool) -> IndexClient {
        self.offline = offline;
        self
    }

    /// The error for a request `--offline` forbids.
    fn offline_error(&self, what: &str) -> anyhow::Error {
        Failure::new(format!(
            "{what} is not in the cache, and --offline forbids fetching it"
        ))
        .hint("run the resolve once without --offline to fill the cache")
        .into()
    }

    /// Resolves for `--exclude-newer cutoff`: cached pages fetched well after it are used
    /// without asking the index (unless [`IndexClient::with_refresh`]).
    pub fn with_exclude_newer(mut self, cutoff: Option<Timestamp>) -> IndexClient {
        self.exclude_newer = cutoff;
        self
    }

    /// `--refresh`: revalidates every cached page.
    pub fn with_refresh(mut self, refresh: bool) -> IndexClient {
        self.refresh = refresh;
        self
    }

    /// The directory of this client's cache (`<cache>/pypi`).
    pub(super) fn cache_dir(&self) -> &std::path::Path {
        &self.cache_dir
    }

    /// Whether `--refresh` was given.
    pub(super) fn refresh(&self) -> bool {
        self.refresh
    }

    /// Whether `--offline` was given.
    pub(super) fn offline(&self) -> bool {
        self.offline
    }

    /// Looks projects up across the indexes as `strategy` says.
    pub fn with_strategy(mut self, strategy: IndexStrategy) -> IndexClient {
        self.strategy = strategy;
        self
    }

    /// Uses `builder` for the metadata of sdists whose PKG-INFO does not give it.
    pub fn with_builder(mut self, builder: Arc<dyn SdistBuilder>) -> IndexClient {
        self.builder = Some(builder);
        self
    }

    /// The project's files, or `None` when no index has it.
    pub async fn project(&self, name: &PackageName) -> Result<Option<Arc<Project>>> {
        let cell = self
            .projects
            .lock()
            .expect("not poisoned")
            .entry(name.clone())
            .or_default()
            .clone();
        let result = cell
            .get_or_init(|| async {
                self.fetch_project(name)
                    .await
                    .map(|p| p.map(Arc::new))
                    .map_err(SharedError::from)
            })
            .await;
        result.clone().map_err(anyhow::Error::from)
    }

    async fn fetch_project(&self, name: &PackageName) -> Result<Option<Project>> {
        let mut found: Option<Project> = None;
        for index in &self.indexes {
            let url = index.join(&format!("{name}/"))?;
            let Some(mut page) = self.fetch_page(&url).await? else {
                continue;
            };
            let listed = if page.content_type.contains("json") {
                self.json_listed(page, &url, name)?
            } else {
                parse_html_page(page.body(), &url, name)
                    .into_iter()
                    .map(Listed::read)
                    .collect()
            };
            if let Some(project) = &mut found {
                // A version an earlier index has keeps that index's files, as uv does: a later
                // index adds versions, never files of a version already found.
                let known: HashSet<Version> =
                    project.listed.iter().map(|l| l.version.clone()).collect();
                project
                    .listed
                    .extend(listed.into_iter().filter(|l| !known.contains(&l.version)));
                continue;
            }
            found = Some(Project {
                name: name.clone(),
                index: redact::url(index),
                listed,
            });
            if self.strategy == IndexStrategy::FirstIndex {
                break;
            }
        }
        Ok(found)
    }

    /// The files of a PEP 691 `page` fetched from `url`: from its stored [`Listing`] and its
    /// file when it was stored with one, else read from its body, and then stored with a
    /// listing when it was just fetched.
    fn json_listed(
        &self,
        mut page: CachedPage,
        url: &Url,
        name: &PackageName,
    ) -> Result<Vec<Listed>> {
        // A page is left in its file only with its listing (`CachedPage::load`); a listing
        // without it still gives the upload times below.
        if page.on_disk.is_some()
            && let (Some(listing), Some((file, offset))) =
                (page.listing.take(), page.on_disk.take())
        {
            return Ok(listed_from_listing(
                listing,
                file,
                offset,
                page.body_len,
                url,
            ));
        }
        let found = json_page_files(page.body(), url, name)?;
        if let Some(path) = page.store_at.take() {
            page.listing = Some(listing_from(&found, page.body()));
            store(&path, &mut page);
        }
        let listing = page.listing.take();
        Ok(listed_from_text(
            found,
            std::mem::take(&mut page.body),
            page.body_start,
            url,
            listing.as_ref(),
        ))
    }

    /// A project page, from the cache when still fresh or revalidated; `None` on 404.
    async fn fetch_page(&self, url: &Url) -> Result<Option<CachedPage>> {
        // The cache never holds credentials: pages are stored under the URL without them.
        let redacted = redact::url(url);
        let path = self
            .cache_dir
            .join("simple-v3")
            .join(short_hash(redacted.as_str()));
        let keep_open = self.open_pages.load(Ordering::Relaxed) < MAX_OPEN_PAGES;
        let cached: Option<CachedPage> =
            CachedPage::load(&path, keep_open).filter(|c: &CachedPage| c.url == redacted.as_str());
        if cached.as_ref().is_some_and(|c| c.on_disk.is_some()) {
            self.open_pages.fetch_add(1, Ordering::Relaxed);
        }
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if self.offline {
            return match cached {
                Some(c) => Ok(Some(c)),
                None => {
                    Err(self.offline_error(&format!("the page {}", redact::url_text(url.as_str()))))
                }
            };
        }
        if let Some(c) = &cached
            && !self.refresh
        {
            let fresh = c.fresh_until.is_some_and(|t| t > now);
            let after_cutoff = self.exclude_newer.is_some_and(|cutoff| {
                let cutoff = u64::try_from(cutoff.as_second()).unwrap_or(0);
                c.fetched_at
                    .is_some_and(|at| at >= cutoff.saturating_add(CUTOFF_MARGIN))
            });
            if fresh || after_cutoff {
                return Ok(cached);
            }
        }
        let mut request = self.client.get(url.clone()).header(header::ACCEPT, ACCEPT);
        if let Some(c) = &cached {
            if let Some(etag) = &c.etag {
                request = request.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &c.last_modified {
                request = request.header(header::IF_MODIFIED_SINCE, lm);
            }
        }
        let response = request.send().await.map_err(|e| http_error(url, e))?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let headers = response.headers().clone();
        let fresh_until = max_age(&headers).map(|age| now + age);
        if status == StatusCode::NOT_MODIFIED
            && let Some(mut c) = cached
        {
            c.fresh_until = fresh_until;
            c.fetched_at = Some(now);
            store(&path, &mut c);
            return Ok(Some(c));
        }
        if !status.is_success() {
            return Err(refused(url, status));
        }
        let header_str = |h: header::HeaderName| {
            headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let body = response
            .text()
            .await
            .map_err(|e| http_error(url, e.into()))?;
        let page = CachedPage {
            url: redacted.to_string(),
            etag: header_str(header::ETAG),
            last_modified: header_str(header::LAST_MODIFIED),
            fresh_until,
            fetched_at: Some(now),
            content_type: header_str(header::CONTENT_TYPE).unwrap_or_default(),
            listing_len: 0,
            body_len: body.len(),
            listing: None,
            body,
            body_start: 0,
            on_disk: None,
            store_at: None,
        };
        // Stored also without validators: a cutoff resolve can use it as it is. A PEP 691 page
        // is stored once its files are read, with their listing ([`IndexClient::json_listed`]).
        let mut page = page;
        if page.content_type.contains("json") {
            page.store_at = Some(path);
        } else {
            store(&path, &mut page);
        }
        Ok(Some(page))
    }

    /// Starts fetching a file's metadata in the background.
    pub fn prefetch_metadata(self: &Arc<Self>, file: DistFile) {
        let this = self.clone();
        tokio::spawn(async move {
            let _ = this.metadata(&file).await;
        });
    }

    /// The core metadata of a distribution file.
    pub async fn metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>> {
        let cell = self
            .metadata
            .lock()
            .expect("not poisoned")
            .entry(file.url.clone())
            .or_default()
            .clone();
        let result = cell
            .get_or_init(|| async {
                self.fetch_metadata(file)
                    .await
                    .map(Arc::new)
                    .map_err(SharedError::from)
            })
            .await;
        result.clone().map_err(anyhow::Error::from)
    }

    async fn fetch_metadata(&self, file: &DistFile) -> Result<CoreMetadata> {
        let cache_key = file
            .sha256
            .clone()
            .unwrap_or_else(|| short_hash(file.url.as_str()));
        let dir = self.cache_dir.join("metadata-v1");
        let path = dir.join(format!("{cache_key}.txt"));
        // Metadata an sdist's build backend gave; like the file, it never changes.
        let built_path = dir.join(format!("{cache_key}.built.txt"));
        let sdist = matches!(file.kind, DistKind::Sdist(_));
        let parse = |text: &str| {
            if sdist {
                CoreMetadata::parse_sdist(text)
            } else {
                CoreMetadata::parse(text)
            }
        };
        if let Some(text) = load_text(&path)
            && let Ok(m) = parse(&text)
        {
            return Ok(m);
        }
        if sdist
            && self.builder.is_some()
            && let Some(text) = load_text(&built_path)
            && let Ok(m) = CoreMetadata::parse(&text)
        {
            return Ok(m);
        }
        let (text, built) = match (&file.kind, &self.builder) {
            (DistKind::Sdist(_), Some(builder)) => {
                let bytes = self.download(file).await.with_context(|| {
                    format!(
                        "could not read the metadata of {}",
                        redact::url_text(file.url.as_str())
                    )
                })?;
                match metadata::sdist_static(&file.filename, &bytes, Some(file.version())) {
                    Some(text) => (text, false),
                    None => (builder.build_metadata(file, bytes).await?, true),
                }
            }
            _ => {
                let text = self.fetch_metadata_text(file).await.with_context(|| {
                    format!(
                        "could not read the metadata of {}",
                        redact::url_text(file.url.as_str())
                    )
                })?;
                (text, false)
            }
        };
        let metadata = if built {
            CoreMetadata::parse(&text).map_err(|e| BuildFailed {
                message: format!(
                    "the metadata built from {} is invalid: {e:#}",
                    file.filename
                ),
                hint: "pin a version that has wheels, or add `--only-binary :all:` to the \
                       requirements"
                    .to_string(),
            })?
        } else {
            parse(&text).map_err(|e| -> anyhow::Error {
                if sdist && self.builder.is_none() {
                    Failure::new(format!("{} cannot be locked: {e:#}", file.filename))
                        .hint(
                            "envlock does not build sdists here: pin a version that has \
                             wheels, or add `--only-binary :all:` to the requirements",
                        )
                        .into()
                } else {
                    InvalidMetadata {
                        message: format!("{} has invalid metadata: {e:#}", file.filename),
                    }
                    .into()
                }
            })?
        };
        if metadata.name
            != *match &file.kind {
                DistKind::Wheel(w) => &w.name,
                DistKind::Sdist(s) => &s.name,
            }
            || metadata.version != *file.version()
        {
            let message = format!(
                "{} declares {} {} in its metadata, which does not match its file name",
                file.filename, metadata.name, metadata.version
            );
            if built {
                return Err(BuildFailed {
                    message,
                    hint: "pin another version".to_string(),
                }
                .into());
            }
            bail!("{message}");
        }
        store_text(if built { &built_path } else { &path }, &text);
        Ok(metadata)
    }

    async fn fetch_metadata_text(&self, file: &DistFile) -> Result<String> {
        match &file.kind {
            DistKind::Sdist(_) => {
                let bytes = self.download(file).await?;
                match metadata::sdist_static(&file.filename, &bytes, Some(file.version())) {
                    Some(text) => Ok(text),
                    None => metadata::sdist_pkg_info(&file.filename, &bytes),
                }
            }
            DistKind::Wheel(_) if self.offline => {
                Err(self.offline_error(&format!("the metadata of {}", file.filename)))
            }
            DistKind::Wheel(_) => {
                if let Some(text) = self.pep658_metadata(file).await? {
                    return Ok(text);
                }
                match self.range_metadata(file).await {
                    Ok(Some(text)) => Ok(text),
                    Ok(None) | Err(_) => {
                        let bytes = self.download(file).await?;
                        metadata::wheel_metadata(&bytes)
                    }
                }
            }
        }
    }

    /// `<file>.metadata`, tried when advertised and, since many mirrors serve it without saying
    /// so, also when not advertised, until the host answers 404 once.
    async fn pep658_metadata(&self, file: &DistFile) -> Result<Option<String>> {
        let host = file.url.host_str().unwrap_or_default().to_string();
        let advertised = file.advertised_metadata.is_some();
        if !advertised
            && self
                .no_metadata_hosts
                .lock()
                .expect("not poisoned")
                .contains(&host)
        {
            return Ok(None);
        }
        let url = Url::parse(&format!("{}.metadata", file.url))?;
        let response = match self.client.get(url.clone()).send().await {
            Ok(r) => r,
            Err(_) if !advertised => return Ok(None),
            Err(e) => return Err(http_error(&url, e)),
        };
        if !response.status().is_success() {
            if response.status() == StatusCode::NOT_FOUND && !advertised {
                self.no_metadata_hosts
                    .lock()
                    .expect("not poisoned")
                    .insert(host);
            }
            return Ok(None);
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| http_error(&url, e.into()))?;
        if let Some(Some(expected)) = &file.advertised_metadata {
            let actual = crate::util::sha256_hex(&bytes);
            if &actual != expected {
                bail!(
                    "{} does not match its advertised sha256",
                    redact::url_text(url.as_str())
                );
            }
        }
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// METADATA read through range requests; `None` when the server does not do ranges.
    async fn range_metadata(&self, file: &DistFile) -> Result<Option<String>> {
        let Some((tail, size)) = self.fetch_tail(file, TAIL).await? else {
            return Ok(None);
        };
        let (tail, size) = match metadata::find_metadata_entry(&tail, size)? {
            TailLookup::NeedTail(n) => match self.fetch_tail(file, n).await? {
                Some(t) => t,
                None => return Ok(None),
            },
            TailLookup::Found(_) => (tail, size),
        };
        let TailLookup::Found(entry) = metadata::find_metadata_entry(&tail, size)? else {
            return Ok(None);
        };
        let tail_start = size - tail.len() as u64;
        if entry.local_header_offset >= tail_start {
            let start = (entry.local_header_offset - tail_start) as usize;
            return metadata::read_entry(&tail[start..], &entry).map(Some);
        }
        let end = (entry.local_header_offset + metadata::entry_span(&entry)).min(size) - 1;
        let response = self
            .client
            .get(file.url.clone())
            .header(
                header::RANGE,
                format!("bytes={}-{end}", entry.local_header_offset),
            )
            .send()
            .await
            .map_err(|e| http_error(&file.url, e))?;
        if response.status() != StatusCode::PARTIAL_CONTENT {
            return Ok(None);
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| http_error(&file.url, e.into()))?;
        metadata::read_entry(&bytes, &entry).map(Some)
    }

    /// The last `n` bytes of a file and the file's size; `None` if ranges are not honoured.
    async fn fetch_tail(&self, file: &DistFile, n: u64) -> Result<Option<(Vec<u8>, u64)>> {
        let url = &file.url;
        let response = self
            .client
            .get(url.clone())
            .header(header::RANGE, format!("bytes=-{n}"))
            .send()
            .await
            .map_err(|e| http_error(url, e))?;
        if response.status() == StatusCode::OK {
            // The whole file came back (the range was larger than the file, or the server
            // ignores ranges): it is checked like any download.
            let bytes = response
                .bytes()
                .await
                .map_err(|e| http_error(url, e.into()))?;
            check_sha256(file, &bytes)?;
            let size = bytes.len() as u64;
            return Ok(Some((bytes.to_vec(), size)));
        }
        if response.status() != StatusCode::PARTIAL_CONTENT {
            return Ok(None);
        }
        let total = response
            .headers()
            .get(header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit('/').next())
            .and_then(|v| v.parse::<u64>().ok());
        let Some(total) = total else { return Ok(None) };
        let bytes = response
            .bytes()
            .await
            .map_err(|e| http_error(url, e.into()))?;
        if bytes.len() as u64 == total {
            // The "tail" is the whole (small) file: as good as a download, so checked as one.
            check_sha256(file, &bytes)?;
        }
        Ok(Some((bytes.to_vec(), total)))
    }

    /// The one file of a requirement that names it by URL but whose file name does not say
    /// its version: the archive of the commit a git requirement's ref names (see [`git`]),
    /// locked as `git+<repository>@<commit>`, or a source archive such as a forge's
    /// `…/archive/main.zip`. Its metadata comes from PKG-INFO, a static `[project]` table or the
    /// build backend. `project` is the name the requirement gives; `None` for a bare URL, whose
    /// name the metadata gives. Made once per URL for all platforms.
    pub async fn direct_file(
        &self,
        project: Option<&PackageName>,
        requested: &Url,
    ) -> Result<DistFile> {
        let cell = self
            .direct
            .lock()
            .expect("not poisoned")
            .entry(requested.clone())
            .or_default()
            .clone();
        let result = cell
            .get_or_init(|| async {
                self.make_direct_file(requested)
                    .await
                    .map_err(SharedError::from)
            })
            .await;
        let file = result.clone().map_err(anyhow::Error::from)?;
        let DistKind::Sdist(sdist) = &file.kind else {
            return Ok(file);
        };
        if let Some(project) = project
            && sdist.name != *project
        {
            let shown = match git::GitUrl::parse(requested) {
                Ok(git) => git.requested(),
                Err(_) => redact::url(requested).to_string(),
            };
            return Err(Failure::new(format!(
                "{shown} is the project {}, not {project}",
                sdist.name
            ))
            .hint(format!("name it `{} @ {shown}`", sdist.name))
            .into());
        }
        Ok(file)
    }

    /// The git requirement's sdist ([`IndexClient::direct_file`]) for `project`.
    pub async fn git_file(&self, project: &PackageName, requested: &Url) -> Result<DistFile> {
        self.direct_file(Some(project), requested).await
    }

    async fn make_direct_file(&self, requested: &Url) -> Result<DistFile> {
        let (url, filename, bytes, sha256, shown) = if requested.scheme().starts_with("git+") {
            let url = git::GitUrl::parse(requested)?;
            let (cache, offline) = (self.cache_dir.clone(), self.offline);
            let u = url.clone();
            let archive =
                tokio::task::spawn_blocking(move || git::archive(&cache, &u, offline)).await??;
            let bytes = tokio::fs::read(&archive.path).await?;
            let locked = url.locked(&archive.commit);
            let filename = format!("source-{}.tar", &archive.commit[..12]);
            (
                Url::parse(&locked)?,
                filename,
                bytes,
                archive.sha256,
                url.requested(),
            )
        } else {
            let mut url = requested.clone();
            url.set_fragment(None);
            let filename = url
                .path_segments()
                .and_then(|mut s| s.next_back())
                .unwrap_or_default()
                .to_string();
            if self.offline {
                return Err(self.offline_error(redact::url(&url).as_ref()));
            }
            let bytes = self.get_bytes(&url).await?;
            let sha256 = crate::util::sha256_hex(&bytes);
            let shown = redact::url(&url).to_string();
            if let Some(expected) = requested.fragment().and_then(|f| f.strip_prefix("sha256="))
                && !expected.eq_ignore_ascii_case(&sha256)
            {
                bail!("{shown} does not match the sha256 in its URL ({expected})");
            }
            (url, filename, bytes, sha256, shown)
        };
        let provisional = |name: PackageName, version: Version| DistFile {
            filename: filename.clone(),
            url: url.clone(),
            sha256: Some(sha256.clone()),
            requires_python: None,
            yanked: false,
            upload_time: None,
            size: Some(bytes.len() as u64),
            advertised_metadata: None,
            kind: DistKind::Sdist(SdistFilename { name, version }),
        };
        let built_path = self
            .cache_dir
            .join("metadata-v1")
            .join(format!("{sha256}.built.txt"));
        let static_text = metadata::sdist_static(&filename, &bytes, None);
        let text = match load_text(&built_path).filter(|t| CoreMetadata::parse(t).is_ok()) {
            Some(text) => text,
            None => match static_text {
                Some(text) => text,
                None => match &self.builder {
                    Some(builder) => {
                        let name = PackageName::from_str("source")?;
                        builder
                            .build_metadata(&provisional(name, Version::new([0])), bytes.clone())
                            .await?
                    }
                    None => bail!("{shown} has no static metadata"),
                },
            },
        };
        let metadata = CoreMetadata::parse(&text)
            .map_err(|e| Failure::new(format!("the metadata of {shown} is invalid: {e:#}")))?;
        store_text(&built_path, &text);
        let mut file = provisional(metadata.name.clone(), metadata.version.clone());
        let extension = [".tar.gz", ".zip", ".tar"]
            .into_iter()
            .find(|e| filename.ends_with(e))
            .unwrap_or(".tar.gz");
        file.filename = format!("{}-{}{extension}", metadata.name, metadata.version);
        let cell: Shared<Arc<CoreMetadata>> = Arc::default();
        let _ = cell.set(Ok(Arc::new(metadata)));
        self.metadata
            .lock()
            .expect("not poisoned")
            .insert(url, cell);
        Ok(file)
    }

    /// The body of a GET of `url`, or the error naming it.
    async fn get_bytes(&self, url: &Url) -> Result<Vec<u8>> {
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| http_error(url, e))?;
        if !response.status().is_success() {
            return Err(refused(url, response.status()));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| http_error(url, e.into()))?;
        Ok(bytes.to_vec())
    }

    /// Downloads a whole file and checks it against the index's sha256.
    pub async fn download(&self, file: &DistFile) -> Result<Vec<u8>> {
        // A git requirement's archive is made into the cache by `git_file`.
        if file.url.scheme().starts_with("git+") {
            let sha256 = file.sha256.as_deref().unwrap_or_default();
            let path = git::archive_path(&self.cache_dir, sha256);
            let bytes = tokio::fs::read(&path).await.with_context(|| {
                format!(
                    "the archive of {} is not in the cache",
                    redact::url(&file.url)
                )
            })?;
            check_sha256(file, &bytes)?;
            return Ok(bytes);
        }
        if self.offline {
            return Err(self.offline_error(&format!("{} (or its metadata)", file.filename)));
        }
        let bytes = self.get_bytes(&file.url).await?;
        check_sha256(file, &bytes)?;
        Ok(bytes)
    }

    /// Project names on the last index searched (the default one), for "did you mean" hints;
    /// `None` when the listing is unavailable or too large to be worth fetching (pypi.org's is
    /// tens of megabytes).
    pub async fn project_names(&self) -> Option<Vec<String>> {
        let index = self.indexes.last()?;
        if index.host_str() == Some("pypi.org") {
            return None;
        }
        let response = self
            .client
            .get(index.clone())
            .header(header::ACCEPT, ACCEPT)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() || response.content_length().unwrap_or(0) > 5_000_000 {
            return None;
        }
        let json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        let body = response.text().await.ok()?;
        if json {
            let value: serde_json::Value = serde_json::from_str(&body).ok()?;
            Some(
                value["projects"]
                    .as_array()?
                    .iter()
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .collect(),
            )
        } else {
            Some(anchors(&body).into_iter().map(|a| a.text).collect())
        }
    }
}

fn http_error(url: &Url, error: reqwest_middleware::Error) -> anyhow::Error {
    // reqwest's messages include the URL; redact the whole text, not just our part of it.
    let mut text = format!("{error}");
    let mut source = std::error::Error::source(&error);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    anyhow!(
        "request to {} failed: {}",
        redact::url(url),
        redact::text(&text)
    )
}

fn max_age(headers: &header::HeaderMap) -> Option<u64> {
    let value = headers.get(header::CACHE_CONTROL)?.to_str().ok()?;
    if value.contains("no-cache") || value.contains("no-store") {
        return None;
    }
    value
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse().ok())
}

fn store(path: &std::path::Path, page: &mut CachedPage) {
    if let Some(bytes) = page.stored_bytes() {
        store_bytes(path, &bytes);
    }
}

/// Fails when `bytes` are not the file the index gave the sha256 of.
fn check_sha256(file: &DistFile, bytes: &[u8]) -> Result<()> {
    if let Some(expected) = &file.sha256
        && &crate::util::sha256_hex(bytes) != expected
    {
        bail!(
            "{} does not match the sha256 the index gives",
            file.filename
        );
    }
    Ok(())
}

/// The first line of a stored metadata entry; the sha256 of the rest follows it.
const TEXT_HEADER: &str = "envlock-cache-entry sha256=";

/// Stores `text` after a line with its sha256, so that [`load_text`] can tell a whole entry from
/// a truncated or edited one.
pub(super) fn store_text(path: &std::path::Path, text: &str) {
    let entry = format!(
        "{TEXT_HEADER}{}\n{text}",
        crate::util::sha256_hex(text.as_bytes())
    );
    store_bytes(path, entry.as_bytes());
}

/// A stored metadata entry, or `None` (a cache miss) when it is absent, truncated, edited, or
/// from an envlock that wrote no checksum. A partial METADATA would still parse, with
/// dependencies missing, and so change the lock without an error.
pub(super) fn load_text(path: &std::path::Path) -> Option<String> {
    let entry = std::fs::read_to_string(path).ok()?;
    let (header, text) = entry.split_once('\n')?;
    let expected = header.strip_prefix(TEXT_HEADER)?;
    (crate::util::sha256_hex(text.as_bytes()) == expected).then(|| text.to_string())
}

/// Cache writes are best effort (`commands::resolve` has checked the cache directory is
/// writable); entries are private to the user ([`write_cache`]).
fn store_bytes(path: &std::path::Path, bytes: &[u8]) {
    let _ = write_cache(path, bytes);
}

fn short_hash(text: &str) -> String {
    crate::util::sha256_hex(text.as_bytes())[..32].to_string()
}

/// `hash` as a sha256 envlock can check and write: 64 hex digits, lowercased; `None` for any
/// other value (too short or long, not hex, not ASCII), which a hostile or broken index may send
/// and which is also used as a cache file name.
fn usable_sha256(hash: Option<String>) -> Option<String> {
    hash.filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|h| h.to_ascii_lowercase())
}

/// Builds a [`DistFile`] from a file name and its attributes; `None` for files envlock does not
/// install (eggs, installers, files of another project).
#[allow(clippy::too_many_arguments)]
fn dist_file(
    project: &PackageName,
    filename: &str,
    url: Url,
    sha256: Option<String>,
    requires_python: Option<&str>,
    yanked: bool,
    upload_time: Option<Timestamp>,
    size: Option<u64>,
    advertised_metadata: Option<Option<String>>,
) -> Option<DistFile> {
    let kind = if filename.ends_with(".whl") {
        let wheel = WheelFilename::from_str(filename).ok()?;
        if &wheel.name != project {
            return None;
        }
        DistKind::Wheel(wheel)
    } else if filename.ends_with(".tar.gz") || filename.ends_with(".zip") {
        DistKind::Sdist(SdistFilename::parse(filename, project)?)
    } else {
        return None;
    };
    // Repaired as uv repairs it (`lenient`); one no repair makes valid is treated as absent, as
    // pip does.
    let requires_python = requires_python
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|s| super::lenient::requires_python(s).ok());
    // A hash that is not one (index data is untrusted) is no hash; a metadata file advertised
    // with one is still advertised, its hash unknown.
    let advertised_metadata = advertised_metadata.map(usable_sha256);
    Some(DistFile {
        filename: filename.to_string(),
        url,
        sha256: usable_sha256(sha256),
        requires_python,
        yanked,
        upload_time,
        size,
        advertised_metadata,
        kind,
    })
}

/// A PEP 691 page with its files as they are written, for [`parse_json_page`].
#[derive(Deserialize)]
struct JsonPage<'a> {
    #[serde(borrow)]
    files: Vec<&'a serde_json::value::RawValue>,
}

/// The one field of a page's file read up front.
#[derive(Deserialize)]
struct JsonFileName<'a> {
    #[serde(borrow)]
    filename: Cow<'a, str>,
}

/// The field of a page's file a cutoff resolve reads before the rest.
#[derive(Deserialize)]
struct UploadTime<'a> {
    #[serde(rename = "upload-time", borrow)]
    upload_time: Option<Cow<'a, str>>,
}

/// A PEP 691 page's body, kept for its files to be read from ([`Listed::file`]).
#[derive(Debug)]
struct JsonPageText {
    source: PageSource,
    url: Url,
}

/// Where a [`JsonPageText`]'s body is.
#[derive(Debug)]
enum PageSource {
    /// In memory: `text` from `start` on.
    Text { text: String, start: usize },
    /// In the stored page `file`, from `offset` on, `len` bytes (see [`CachedPage::load`]).
    File {
        file: std::fs::File,
        offset: u64,
        len: usize,
    },
}

impl JsonPageText {
    /// The text of the body's `range` (one file's entry), or `None` when it is not in the body
    /// or not UTF-8.
    fn entry(&self, range: Range<usize>) -> Option<Cow<'_, str>> {
        match &self.source {
            PageSource::Text { text, start } => text
                .get(start + range.start..start.checked_add(range.end)?)
                .map(Cow::Borrowed),
            PageSource::File { file, offset, len } => {
                if range.start > range.end || range.end > *len {
                    return None;
                }
                let mut bytes = vec![0; range.len()];
                read_at(file, &mut bytes, offset + range.start as u64).ok()?;
                String::from_utf8(bytes).ok().map(Cow::Owned)
            }
        }
    }
}

/// The upload time a page's file entry gives, if any.
fn entry_upload_time(entry: &str) -> Option<Timestamp> {
    serde_json::from_str::<UploadTime>(entry)
        .ok()?
        .upload_time?
        .parse()
        .ok()
}

/// The files of a PEP 691 page stored with its [`Listing`], read from `file` (body at
/// `offset`, `len` bytes) on first use. Entries whose version does not parse are left out.
fn listed_from_listing(
    listing: Listing,
    file: std::fs::File,
    offset: u64,
    len: usize,
    page_url: &Url,
) -> Vec<Listed> {
    let versions: Vec<Option<Version>> = listing
        .versions
        .iter()
        .map(|v| Version::from_str(v).ok())
        .collect();
    let page = Arc::new(JsonPageText {
        source: PageSource::File { file, offset, len },
        url: page_url.clone(),
    });
    listing
        .files
        .into_iter()
        .filter_map(|(v, start, entry_len, uploaded)| {
            let version = versions.get(v as usize)?.clone()?;
            let uploaded = match uploaded {
                Some(us) => Some(Timestamp::from_microsecond(us).ok()?),
                None => None,
            };
            Some(Listed {
                version,
                json: Some((page.clone(), start..start.checked_add(entry_len)?)),
                uploaded: OnceLock::from(uploaded),
                file: OnceLock::new(),
            })
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: HashMap<String, String>,
    #[serde(rename = "requires-python")]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: serde_json::Value,
    #[serde(rename = "upload-time")]
    upload_time: Option<String>,
    size: Option<u64>,
    #[serde(rename = "core-metadata")]
    core_metadata: Option<serde_json::Value>,
    #[serde(rename = "dist-info-metadata")]
    dist_info_metadata: Option<serde_json::Value>,
}

/// The [`Listing`] of one PEP 691 page's files `found` ([`json_page_files`]) in its `body`:
/// each entry's upload time is read once here, when the page is stored.
fn listing_from(found: &[(Version, Range<usize>)], body: &str) -> Listing {
    let mut listing = Listing::default();
    let mut index: HashMap<&Version, u32> = HashMap::new();
    for (version, range) in found {
        let v = *index.entry(version).or_insert_with(|| {
            listing.versions.push(version.to_string());
            u32::try_from(listing.versions.len() - 1).unwrap_or(u32::MAX)
        });
        let uploaded = body
            .get(range.clone())
            .and_then(entry_upload_time)
            .map(Timestamp::as_microsecond);
        listing.files.push((v, range.start, range.len(), uploaded));
    }
    listing
}

/// A PEP 691 page's files, each with the version its name says; the rest of each file is read
/// on first use ([`Listed::file`]), from the page kept as it is. Entries that are not a wheel or
/// sdist of `project` are left out. The page is `text` from `start` on.
#[cfg(test)]
fn parse_json_page(
    text: String,
    start: usize,
    page_url: &Url,
    project: &PackageName,
) -> Result<Vec<Listed>> {
    let found = json_page_files(text.get(start..).unwrap_or_default(), page_url, project)?;
    Ok(listed_from_text(found, text, start, page_url, None))
}

/// The wheels and sdists of `project` a PEP 691 page's `body` lists, each with the version its
/// name says and the byte range of its entry in `body`.
fn json_page_files(
    body: &str,
    page_url: &Url,
    project: &PackageName,
) -> Result<Vec<(Version, Range<usize>)>> {
    let invalid = || {
        format!(
            "{} is not a valid PEP 691 page",
            redact::url_text(page_url.as_str())
        )
    };
    let page: JsonPage = serde_json::from_str(body).with_context(invalid)?;
    let origin = body.as_ptr() as usize;
    let mut found = Vec::with_capacity(page.files.len());
    for raw in &page.files {
        let file = raw.get();
        let name = match listed_filename(file) {
            Some(name) => Cow::Borrowed(name),
            None => {
                serde_json::from_str::<JsonFileName>(file)
                    .with_context(invalid)?
                    .filename
            }
        };
        let Some(version) = listed_version(&name, project) else {
            continue;
        };
        let offset = file.as_ptr() as usize - origin;
        found.push((version, offset..offset + file.len()));
    }
    Ok(found)
}

/// The [`Listed`] files `found` in a page's body (`text` from `start` on), kept in memory; with
/// the page's `listing`, their upload times are known already.
fn listed_from_text(
    found: Vec<(Version, Range<usize>)>,
    text: String,
    start: usize,
    page_url: &Url,
    listing: Option<&Listing>,
) -> Vec<Listed> {
    let page = Arc::new(JsonPageText {
        source: PageSource::Text { text, start },
        url: page_url.clone(),
    });
    found
        .into_iter()
        .enumerate()
        .map(|(i, (version, range))| {
            let uploaded = match listing.and_then(|l| l.files.get(i)) {
                Some((_, _, _, us)) => {
                    OnceLock::from(us.and_then(|us| Timestamp::from_microsecond(us).ok()))
                }
                None => OnceLock::new(),
            };
            Listed {
                version,
                json: Some((page.clone(), range)),
                uploaded,
                file: OnceLock::new(),
            }
        })
        .collect()
}

/// A page file's `"filename"` when it is written plainly (no escapes), found without parsing
/// the entry: the entries of a large page are mostly never read. The match must start after `{`,
/// `,` or whitespace, so its first quote opens a string; a nested key of that name could still
/// match in a hostile page, which is why [`Listed::file`] checks the version it was listed under.
fn listed_filename(file: &str) -> Option<&str> {
    const KEY: &str = "\"filename\"";
    let at = file.find(KEY)?;
    if !file[..at].ends_with(['{', ',', ' ', '\n', '\t', '\r']) {
        return None;
    }
    let rest = file[at + KEY.len()..].trim_start().strip_prefix(':')?;
    let rest = rest.trim_start().strip_prefix('"')?;
    let name = &rest[..rest.find('"')?];
    (!name.contains('\\')).then_some(name)
}

/// The version a wheel's or sdist's file name says, without reading the rest of the name.
fn listed_version(filename: &str, project: &PackageName) -> Option<Version> {
    if let Some(stem) = filename.strip_suffix(".whl") {
        // Every part of a wheel name is escaped to hold no `-`: the version is the second.
        Version::from_str(stem.split('-').nth(1)?).ok()
    } else if filename.ends_with(".tar.gz") || filename.ends_with(".zip") {
        Some(SdistFilename::parse(filename, project)?.version)
    } else {
        None
    }
}

/// The file a PEP 691 page's entry describes.
fn json_dist_file(f: &JsonFile, page_url: &Url, project: &PackageName) -> Option<DistFile> {
    let url = page_url.join(&f.url).ok()?;
    let yanked = match &f.yanked {
        serde_json::Value::Bool(b) => *b,
        serde_json::Value::String(_) => true,
        _ => false,
    };
    let metadata_flag = f.core_metadata.as_ref().or(f.dist_info_metadata.as_ref());
    let advertised = match metadata_flag {
        Some(serde_json::Value::Bool(true)) => Some(None),
        Some(serde_json::Value::Object(m)) => {
            Some(m.get("sha256").and_then(|v| v.as_str()).map(str::to_string))
        }
        _ => None,
    };
    let upload_time = f.upload_time.as_deref().and_then(|t| t.parse().ok());
    dist_file(
        project,
        &f.filename,
        url,
        f.hashes.get("sha256").cloned(),
        f.requires_python.as_deref(),
        yanked,
        upload_time,
        f.size,
        advertised,
    )
}

struct Anchor {
    href: String,
    text: String,
    attributes: HashMap<String, String>,
}

/// The `<a>` elements of a PEP 503 page. A small scanner, not an HTML parser: simple-index pages
/// are machine-generated lists of anchors.
fn anchors(body: &str) -> Vec<Anchor> {
    let mut out = Vec::new();
    let lower = body.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(start) = lower[pos..].find("<a ").map(|i| i + pos) {
        let Some(tag_end) = lower[start..].find('>').map(|i| i + start) else {
            break;
        };
        let Some(close) = lower[tag_end..].find("</a>").map(|i| i + tag_end) else {
            break;
        };
        let mut attributes = HashMap::new();
        let tag = &body[start + 3..tag_end];
        let mut rest = tag;
        while let Some(eq) = rest.find('=') {
            let key = rest[..eq].trim().to_ascii_lowercase();
            let after = rest[eq + 1..].trim_start();
            let (value, next) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => match after[1..].find(q) {
                    Some(end) => (&after[1..1 + end], &after[end + 2..]),
                    None => (&after[1..], ""),
                },
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            let key = key
                .rsplit(char::is_whitespace)
                .next()
                .unwrap_or_default()
                .to_string();
            attributes.insert(key, unescape(value));
            rest = next;
        }
        out.push(Anchor {
            href: attributes.get("href").cloned().unwrap_or_default(),
            text: unescape(body[tag_end + 1..close].trim()),
            attributes,
        });
        pos = close + 4;
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn parse_html_page(body: &str, page_url: &Url, project: &PackageName) -> Vec<DistFile> {
    anchors(body)
        .into_iter()
        .filter_map(|a| {
            let mut url = page_url.join(&a.href).ok()?;
            let sha256 = url
                .fragment()
                .and_then(|f| f.strip_prefix("sha256="))
                .map(str::to_string);
            url.set_fragment(None);
            // Hrefs are URLs: `torch-2.5.1%2Bcpu-….whl` names `torch-2.5.1+cpu-….whl`.
            let segment = url.path_segments()?.next_back()?;
            let filename = percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .ok()?
                .into_owned();
            let yanked = a.attributes.contains_key("data-yanked");
            let metadata = a
                .attributes
                .get("data-core-metadata")
                .or_else(|| a.attributes.get("data-dist-info-metadata"))
                .map(|v| v.strip_prefix("sha256=").map(str::to_string));
            dist_file(
                project,
                &filename,
                url,
                sha256,
                a.attributes.get("data-requires-python").map(String::as_str),
                yanked,
                None,
                None,
                metadata,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> PackageName {
        PackageName::from_str(s).unwrap()
    }

    fn stored_page(content_type: &str, body: &str) -> CachedPage {
        CachedPage {
            url: "https://idx.example/simple/demo/".into(),
            etag: Some("\"x\"".into()),
            last_modified: None,
            fresh_until: None,
            fetched_at: Some(7),
            content_type: content_type.into(),
            listing_len: 0,
            body_len: body.len(),
            listing: None,
            body: body.to_string(),
            body_start: 0,
            on_disk: None,
            store_at: None,
        }
    }

    #[test]
    fn a_stored_page_reads_back_and_a_cut_off_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("page");
        let body = "{\"files\": [\"a\\nb\"]}\n<a>é</a>";
        let mut page = stored_page("text/html", body);
        let bytes = page.stored_bytes().unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let mut back = CachedPage::load(&path, true).unwrap();
        assert!(
            back.on_disk.is_none(),
            "a page without a listing is read whole"
        );
        assert_eq!(
            (back.body().to_string(), back.fetched_at, back.etag.clone()),
            (body.to_string(), Some(7), page.etag.clone())
        );
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert!(CachedPage::load(&path, true).is_none());
        // The JSON form of earlier caches is not mistaken for a page.
        std::fs::write(&path, b"{\"url\":\"x\",\"body\":\"y\"}").unwrap();
        assert!(CachedPage::load(&path, true).is_none());
        // Lengths that add up to the file's size only by overflowing are no page either.
        let header = format!(
            "{{\"url\":\"x\",\"etag\":null,\"last_modified\":null,\"fresh_until\":null,\
             \"content_type\":\"application/json\",\"listing_len\":{},\"body_len\":3}}\n",
            u64::MAX - 1
        );
        std::fs::write(&path, format!("{header}abc")).unwrap();
        assert!(CachedPage::load(&path, true).is_none());
    }

    #[test]
    fn a_json_page_stored_with_its_listing_is_read_from_its_file_as_from_its_text() {
        let body = r#"{"meta": {"api-version": "1.1"}, "name": "demo", "files": [
            {"filename": "demo-1.0.tar.gz", "url": "demo-1.0.tar.gz", "hashes": {}, "upload-time": "2024-01-01T00:00:00.123456Z"},
            {"filename": "demo-2.0-py3-none-any.whl", "url": "demo-2.0-py3-none-any.whl", "hashes": {}},
            {"filename": "other-1.0.tar.gz", "url": "other-1.0.tar.gz", "hashes": {}}
        ]}"#;
        let url = Url::parse("https://idx.example/simple/demo/").unwrap();
        let found = json_page_files(body, &url, &name("demo")).unwrap();
        let mut page = stored_page("application/vnd.pypi.simple.v1+json", body);
        page.listing = Some(listing_from(&found, body));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("page");
        std::fs::write(&path, page.stored_bytes().unwrap()).unwrap();

        let project = |listed| Project {
            name: name("demo"),
            index: url.clone(),
            listed,
        };
        let mut back = CachedPage::load(&path, true).unwrap();
        let (file, offset) = back.on_disk.take().expect("left in its file");
        let from_file = project(listed_from_listing(
            back.listing.take().unwrap(),
            file,
            offset,
            back.body_len,
            &url,
        ));
        let from_text = project(listed_from_text(found, body.to_string(), 0, &url, None));
        let cutoff: Timestamp = "2024-01-01T00:00:00.1Z".parse().unwrap();
        for p in [&from_file, &from_text] {
            assert_eq!(p.len(), 2);
            let files: Vec<(String, String)> = (0..2)
                .map(|i| {
                    (
                        p.version(i).to_string(),
                        p.file(i).unwrap().filename.clone(),
                    )
                })
                .collect();
            assert_eq!(
                files,
                [
                    ("1.0".to_string(), "demo-1.0.tar.gz".to_string()),
                    ("2.0".to_string(), "demo-2.0-py3-none-any.whl".to_string())
                ]
            );
            // To the microsecond, and a file without an upload time is never after a cutoff.
            assert!(p.uploaded_after(0, cutoff));
            assert!(!p.uploaded_after(1, cutoff));
        }

        // A listing whose range points at another version's entry gives no file.
        let mut back = CachedPage::load(&path, true).unwrap();
        let (file, offset) = back.on_disk.take().unwrap();
        let mut listing = back.listing.take().unwrap();
        listing.files[0].1 = listing.files[1].1;
        listing.files[0].2 = listing.files[1].2;
        let tampered = project(listed_from_listing(
            listing,
            file,
            offset,
            back.body_len,
            &url,
        ));
        assert!(tampered.file(0).is_none());
        assert!(tampered.file(1).is_some());
    }

    #[test]
    fn a_plain_filename_is_found_without_parsing_and_anything_else_is_parsed() {
        assert_eq!(
            listed_filename(r#"{"core-metadata":false, "filename" : "a-1.0.tar.gz","url":"u"}"#),
            Some("a-1.0.tar.gz")
        );
        assert_eq!(listed_filename(r#"{"filename":"a\u002d1.0.tar.gz"}"#), None);
        assert_eq!(listed_filename(r#"{"x\"filename":"b-2.0.tar.gz"}"#), None);
        assert_eq!(listed_filename(r#"{"url":"u"}"#), None);
        // A nested key of that name is found first in this hostile page: the file is then not
        // used under the version it was listed as, nor under any other.
        let body = r#"{"files":[{"hashes":{"filename":"demo-9.0.tar.gz","sha256":"ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB"},"filename":"demo-1.0.tar.gz","url":"https://f.example/demo-1.0.tar.gz"}]}"#;
        let page = Url::parse("https://idx.example/simple/demo/").unwrap();
        let project = Project {
            name: name("demo"),
            index: page.clone(),
            listed: parse_json_page(body.to_string(), 0, &page, &name("demo")).unwrap(),
        };
        assert_eq!(project.version(0).to_string(), "9.0");
        assert!(project.file(0).is_none());
    }

    #[test]
    fn json_pages_give_files_with_their_facts() {
        let body = r#"{"meta":{"api-version":"1.1"},"name":"demo","files":[
          {"filename":"demo-1.0-py3-none-any.whl","url":"../../files/demo-1.0-py3-none-any.whl","hashes":{"sha256":"ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB"},"requires-python":">=3.8","yanked":false,"upload-time":"2024-01-02T03:04:05.123456Z","size":10,"core-metadata":{"sha256":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"}},
          {"filename":"demo-1.1.tar.gz","url":"https://files.example/demo-1.1.tar.gz","hashes":{},"yanked":"broken","requires-python":"bogus"},
          {"filename":"demo-0.1.win32.exe","url":"x","hashes":{}},
          {"filename":"other-1.0-py3-none-any.whl","url":"y","hashes":{}}]}"#;
        let page = Url::parse("https://idx.example/simple/demo/").unwrap();
        let project = Project {
            name: name("demo"),
            index: page.clone(),
            listed: parse_json_page(body.to_string(), 0, &page, &name("demo")).unwrap(),
        };
        let files: Vec<&DistFile> = project.files().collect();
        assert_eq!(files.len(), 2);
        assert_eq!(
            files[0].url.as_str(),
            "https://idx.example/files/demo-1.0-py3-none-any.whl"
        );
        assert_eq!(
            files[0].sha256.as_deref(),
            Some("abababababababababababababababababababababababababababababababab")
        );
        assert_eq!(
            files[0].requires_python.as_ref().unwrap().to_string(),
            ">=3.8"
        );
        assert_eq!(
            files[0].upload_time.unwrap().to_string(),
            "2024-01-02T03:04:05.123456Z"
        );
        assert_eq!(
            files[0].advertised_metadata,
            Some(Some(
                "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd".into()
            ))
        );
        assert!(!files[0].yanked);
        assert!(files[1].yanked);
        assert!(files[1].requires_python.is_none());
        assert!(matches!(files[1].kind, DistKind::Sdist(_)));
    }

    #[test]
    fn a_hash_that_is_not_64_hex_digits_is_no_hash() {
        for bad in [
            "abc",
            &"z".repeat(64),
            &"a".repeat(65),
            &"\u{e9}".repeat(32),
            "../../x",
        ] {
            assert_eq!(usable_sha256(Some(bad.to_string())), None, "{bad}");
        }
        assert_eq!(usable_sha256(Some("AB".repeat(32))), Some("ab".repeat(32)));
    }

    #[test]
    fn html_pages_give_files_too() {
        let body = r#"<!DOCTYPE html><html><body>
          <a href="/f/demo-1.0-py3-none-any.whl#sha256=abc0000000000000000000000000000000000000000000000000000000000000" data-requires-python="&gt;=3.8" data-core-metadata="sha256=def0000000000000000000000000000000000000000000000000000000000000">demo-1.0-py3-none-any.whl</a><br/>
          <a href='/f/demo-0.9.tar.gz' data-yanked="">demo-0.9.tar.gz</a>
        </body></html>"#;
        let page = Url::parse("https://idx.example/simple/demo/").unwrap();
        let files = parse_html_page(body, &page, &name("demo"));
        assert_eq!(files.len(), 2);
        assert_eq!(
            files[0].url.as_str(),
            "https://idx.example/f/demo-1.0-py3-none-any.whl"
        );
        assert_eq!(
            files[0].sha256.as_deref(),
            Some("abc0000000000000000000000000000000000000000000000000000000000000")
        );
        assert_eq!(
            files[0].requires_python.as_ref().unwrap().to_string(),
            ">=3.8"
        );
        assert_eq!(
            files[0].advertised_metadata,
            Some(Some(
                "def0000000000000000000000000000000000000000000000000000000000000".into()
            ))
        );
        assert!(files[1].yanked);
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        let mut h = header::HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            "public, max-age=600".parse().unwrap(),
        );
        assert_eq!(max_age(&h), Some(600));
        h.insert(
            header::CACHE_CONTROL,
            "max-age=600, no-cache".parse().unwrap(),
        );
        assert_eq!(max_age(&h), None);
    }
}
