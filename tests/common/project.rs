//! A project in a temporary directory: its input files, an isolated cache, and the servers it
//! resolves against (a conda channel root and a package index, each optional).

use std::{
    cell::RefCell,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use super::{Mode, Server, envlock, pypi_index::Index};

pub struct Project {
    pub dir: tempfile::TempDir,
    /// `ENVLOCK_CACHE_DIR` of every run: `<dir>/cache`, never the user's.
    pub cache: PathBuf,
    /// Serves a directory of channels (`<url>/<channel>/<subdir>/repodata.json`).
    pub channels: Option<Server>,
    /// Serves the index `Project::index` built, at `<url>/simple/`.
    pub index: Option<Server>,
    /// More `(regex, replacement)` snapshot filters, applied before the common ones.
    filters: RefCell<Vec<(String, String)>>,
}

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    /// An empty project.
    pub fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        Project {
            dir,
            cache,
            channels: None,
            index: None,
            filters: RefCell::new(Vec::new()),
        }
    }

    /// Serves the channels under `root` (in `mode`) as the project's channel alias.
    pub fn serve_channels(mut self, root: &Path, mode: Mode) -> Project {
        self.channels = Some(Server::start(root, mode));
        self
    }

    /// Copies the fixture channel `name` (its repodata only) to `<dir>/channels/<name>` and
    /// serves `<dir>/channels`, so that a test can publish to it.
    pub fn serve_channel_copy(self, name: &str, subdirs: &[&str]) -> Project {
        let channel = self.path("channels").join(name);
        for subdir in subdirs {
            let from = super::fixture_channels()
                .join(name)
                .join(subdir)
                .join("repodata.json");
            std::fs::create_dir_all(channel.join(subdir)).unwrap();
            std::fs::copy(from, channel.join(subdir).join("repodata.json")).unwrap();
        }
        let root = self.path("channels");
        self.serve_channels(&root, Mode::Files)
    }

    /// Builds a package index in `<dir>/index` with `build` and serves it in `mode`.
    pub fn serve_index(mut self, mode: Mode, build: impl FnOnce(&mut Index)) -> Project {
        let mut index = Index::new(&self.path("index"));
        build(&mut index);
        index.write();
        self.index = Some(Server::start(&self.path("index"), mode));
        self
    }

    /// The channel server's URL, for `--channel-alias`.
    pub fn channel_alias(&self) -> &str {
        &self.channels.as_ref().expect("no channel server").url
    }

    /// The index server's URL (`http://127.0.0.1:<port>`).
    pub fn index_server(&self) -> &Server {
        self.index.as_ref().expect("no index server")
    }

    /// The index's simple API, for `--index-url`.
    pub fn index_url(&self) -> String {
        format!("{}/simple/", self.index_server().url)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to `name` (relative to the project), creating its directory.
    pub fn write(&self, name: &str, text: &str) {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, text).unwrap();
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.path(name)).unwrap();
    }

    /// The built binary, run in the project with its isolated cache.
    pub fn cmd(&self) -> Command {
        let mut cmd = envlock(&self.cache);
        cmd.current_dir(self.dir.path());
        cmd
    }

    /// `envlock ARGS...` in the project.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.cmd();
        cmd.args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// The lockfile, through the real conda-lock parser.
    pub fn lock(&self) -> rattler_conda_lock::LockFile {
        envlock::lock::read(&self.path("conda-lock.yml")).unwrap()
    }

    /// The version of `name` locked for `platform`, or `"absent"`.
    pub fn version(&self, name: &str, platform: &str) -> String {
        self.lock()
            .package
            .iter()
            .find(|p| p.name == name && p.platform == platform)
            .map(|p| p.version.clone())
            .unwrap_or_else(|| "absent".into())
    }

    /// Adds noarch records to the served copy of `channel` (see [`Project::serve_channel_copy`]),
    /// as a channel publishing new builds would.
    pub fn publish(&self, channel: &str, packages: &[(&str, &str, &[&str])]) {
        let path = self
            .path("channels")
            .join(channel)
            .join("noarch/repodata.json");
        let mut repodata: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for (name, version, depends) in packages {
            let file = format!("{name}-{version}-0.conda");
            repodata["packages.conda"][&file] = serde_json::json!({
                "name": name, "version": version, "build": "0", "build_number": 0,
                "depends": depends, "subdir": "noarch", "noarch": "generic",
                "md5": format!("{:032x}", file.len()), "sha256": format!("{:064x}", file.len() * 7 + version.len()),
                "timestamp": 1704067200000u64,
            });
        }
        std::fs::write(&path, repodata.to_string()).unwrap();
    }

    /// Replaces matches of the regex `pattern` with `replacement` in this project's snapshots.
    pub fn filter(&self, pattern: &str, replacement: &str) {
        self.filters
            .borrow_mut()
            .push((pattern.to_string(), replacement.to_string()));
    }

    /// The filters of this project's snapshots, most specific first.
    pub fn filters(&self) -> Vec<(String, String)> {
        let mut filters = self.filters.borrow().clone();
        filters.extend(super::snapshot::content_hash_filters(
            &self.path("conda-lock.yml"),
        ));
        for dir in [
            self.dir.path().to_path_buf(),
            self.dir.path().canonicalize().unwrap(),
        ] {
            filters.push((
                super::snapshot::escape(&dir.display().to_string()),
                "[TEMP]".into(),
            ));
        }
        filters.extend(super::snapshot::common_filters());
        filters
    }

    /// insta settings with this project's filters, for snapshots of files it rendered.
    pub fn settings(&self) -> insta::Settings {
        super::snapshot::settings(&self.filters())
    }
}
