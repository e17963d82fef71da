//! A package index the tests build themselves: tiny but real wheels and sdists (pip installs
//! them) with PEP 691 JSON pages, served by [`super::Server`].

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
};

/// One distribution file to publish.
#[derive(Clone)]
pub struct Dist {
    pub name: String,
    pub version: String,
    /// `None` for an sdist; else the wheel's `python-abi-platform` tag.
    pub wheel_tag: Option<String>,
    pub requires: Vec<String>,
    pub extras: Vec<String>,
    pub requires_python: Option<String>,
    pub yanked: bool,
    pub upload_time: Option<String>,
    /// Publish `<file>.metadata` (PEP 658) next to the file.
    pub metadata_file: bool,
    /// Say so in the JSON page (`core-metadata`); real mirrors often do not.
    pub advertise_metadata: bool,
    /// For sdists: the PKG-INFO Metadata-Version, and whether Requires-Dist is dynamic.
    pub metadata_version: String,
    pub dynamic: bool,
}

impl Dist {
    fn filename(&self) -> String {
        let stem = format!("{}-{}", self.name.replace('-', "_"), self.version);
        match &self.wheel_tag {
            Some(tag) => format!("{stem}-{tag}.whl"),
            None => format!("{stem}.tar.gz"),
        }
    }

    fn metadata(&self) -> String {
        let mut m = format!(
            "Metadata-Version: {}\nName: {}\nVersion: {}\n",
            self.metadata_version, self.name, self.version
        );
        if let Some(rp) = &self.requires_python {
            m.push_str(&format!("Requires-Python: {rp}\n"));
        }
        if self.dynamic {
            m.push_str("Dynamic: Requires-Dist\n");
        }
        for e in &self.extras {
            m.push_str(&format!("Provides-Extra: {e}\n"));
        }
        for r in &self.requires {
            m.push_str(&format!("Requires-Dist: {r}\n"));
        }
        m.push_str("\nA test package.\n");
        m
    }

    pub fn requires(&mut self, reqs: &[&str]) -> &mut Self {
        self.requires = reqs.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn extras(&mut self, extras: &[&str]) -> &mut Self {
        self.extras = extras.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn requires_python(&mut self, rp: &str) -> &mut Self {
        self.requires_python = Some(rp.to_string());
        self
    }
    pub fn yanked(&mut self) -> &mut Self {
        self.yanked = true;
        self
    }
    pub fn uploaded(&mut self, time: &str) -> &mut Self {
        self.upload_time = Some(time.to_string());
        self
    }
    pub fn no_metadata_file(&mut self) -> &mut Self {
        self.metadata_file = false;
        self
    }
    /// Advertise the `.metadata` file and its sha256 on the page (`core-metadata`).
    pub fn advertise_metadata(&mut self) -> &mut Self {
        self.advertise_metadata = true;
        self
    }
    pub fn metadata_version(&mut self, v: &str) -> &mut Self {
        self.metadata_version = v.to_string();
        self
    }
    pub fn dynamic(&mut self) -> &mut Self {
        self.dynamic = true;
        self
    }
}

/// Projects and their files; [`Index::write`] lays them out under `dir`.
pub struct Index {
    pub dir: PathBuf,
    dists: Vec<Dist>,
}

impl Index {
    pub fn new(dir: &Path) -> Index {
        Index {
            dir: dir.to_path_buf(),
            dists: Vec::new(),
        }
    }

    fn add(&mut self, name: &str, version: &str, wheel_tag: Option<&str>) -> &mut Dist {
        self.dists.push(Dist {
            name: name.to_string(),
            version: version.to_string(),
            wheel_tag: wheel_tag.map(str::to_string),
            requires: vec![],
            extras: vec![],
            requires_python: None,
            yanked: false,
            upload_time: Some("2024-01-01T00:00:00Z".to_string()),
            metadata_file: true,
            advertise_metadata: false,
            metadata_version: "2.1".to_string(),
            dynamic: false,
        });
        self.dists.last_mut().expect("just pushed")
    }

    /// A pure-Python wheel (`py3-none-any`).
    pub fn wheel(&mut self, name: &str, version: &str) -> &mut Dist {
        self.add(name, version, Some("py3-none-any"))
    }

    /// A wheel with another tag, e.g. `cp311-cp311-manylinux_2_17_x86_64`.
    pub fn wheel_tagged(&mut self, name: &str, version: &str, tag: &str) -> &mut Dist {
        self.add(name, version, Some(tag))
    }

    /// An sdist with static metadata (Metadata-Version 2.2).
    pub fn sdist(&mut self, name: &str, version: &str) -> &mut Dist {
        let d = self.add(name, version, None);
        d.metadata_version = "2.2".to_string();
        d
    }

    /// Writes `files/` and the `simple/` pages. Returns the simple-API path under the server.
    pub fn write(&self) {
        let files = self.dir.join("files");
        std::fs::create_dir_all(&files).unwrap();
        let mut pages: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
        for d in &self.dists {
            let filename = d.filename();
            let bytes = match &d.wheel_tag {
                Some(tag) => wheel_bytes(d, tag),
                None => sdist_bytes(d),
            };
            std::fs::write(files.join(&filename), &bytes).unwrap();
            if d.metadata_file && d.wheel_tag.is_some() {
                std::fs::write(files.join(format!("{filename}.metadata")), d.metadata()).unwrap();
            }
            let mut entry = serde_json::json!({
                "filename": filename,
                "url": format!("../../files/{filename}"),
                "hashes": {"sha256": sha256(&bytes)},
                "requires-python": d.requires_python,
                "yanked": d.yanked,
                "size": bytes.len(),
            });
            if let Some(t) = &d.upload_time {
                entry["upload-time"] = serde_json::json!(t);
            }
            if d.advertise_metadata {
                entry["core-metadata"] =
                    serde_json::json!({"sha256": sha256(d.metadata().as_bytes())});
            }
            pages.entry(normalize(&d.name)).or_default().push(entry);
        }
        let simple = self.dir.join("simple");
        let mut projects = Vec::new();
        for (name, files) in pages {
            let dir = simple.join(&name);
            std::fs::create_dir_all(&dir).unwrap();
            let page =
                serde_json::json!({"meta": {"api-version": "1.1"}, "name": name, "files": files});
            std::fs::write(dir.join("index.json"), page.to_string()).unwrap();
            projects.push(serde_json::json!({"name": name}));
        }
        std::fs::create_dir_all(&simple).unwrap();
        let root = serde_json::json!({"meta": {"api-version": "1.1"}, "projects": projects});
        std::fs::write(simple.join("index.json"), root.to_string()).unwrap();
    }
}

pub fn normalize(name: &str) -> String {
    name.to_lowercase().replace(['_', '.'], "-")
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(rattler_digest::compute_bytes_digest::<rattler_digest::Sha256>(bytes))
}

fn wheel_bytes(d: &Dist, tag: &str) -> Vec<u8> {
    let module = d.name.replace('-', "_").to_lowercase();
    let dist_info = format!("{}-{}.dist-info", d.name.replace('-', "_"), d.version);
    let wheel = format!(
        "Wheel-Version: 1.0\nGenerator: envlock-tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
    );
    let files = [
        (
            format!("{module}/__init__.py"),
            format!("__version__ = \"{}\"\n", d.version),
        ),
        (format!("{dist_info}/METADATA"), d.metadata()),
        (format!("{dist_info}/WHEEL"), wheel),
    ];
    let mut record = String::new();
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default());
        for (path, body) in &files {
            zip.start_file(path.as_str(), options).unwrap();
            zip.write_all(body.as_bytes()).unwrap();
            record.push_str(&format!("{path},,\n"));
        }
        record.push_str(&format!("{dist_info}/RECORD,,\n"));
        zip.start_file(format!("{dist_info}/RECORD"), options)
            .unwrap();
        zip.write_all(record.as_bytes()).unwrap();
        zip.finish().unwrap();
    }
    buf.into_inner()
}

fn sdist_bytes(d: &Dist) -> Vec<u8> {
    let top = format!("{}-{}", d.name.replace('-', "_"), d.version);
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, body) in [
        (format!("{top}/PKG-INFO"), d.metadata()),
        (
            format!("{top}/pyproject.toml"),
            "[build-system]\nrequires = []\n".to_string(),
        ),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, body.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}
