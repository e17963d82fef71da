//! Core metadata (`METADATA`, `PKG-INFO`): parsing, and finding it inside wheels and sdists.
//!
//! Supported: the email-header format of core metadata 1.0–2.4 (`Name`, `Version`,
//! `Requires-Dist`, `Requires-Python`, `Provides-Extra`, `Dynamic`); wheels read from the tail of
//! the file alone (the zip central directory and the `*.dist-info/METADATA` entry, stored or
//! deflated) so that an HTTP range request is enough; sdists (`.tar.gz`, `.zip`) whose `PKG-INFO`
//! is static (Metadata-Version ≥ 2.2 and `Requires-Dist` not `Dynamic`). The metadata of other
//! sdists comes from their build backend ([`super::build`]).
//!
//! Not supported: zip64 wheels (over 4 GiB; callers fall back to a full download and fail
//! clearly).

use std::{io::Read, str::FromStr};

use anyhow::{Context, Result, bail};
use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName, Requirement};

/// What the resolver needs from a distribution's core metadata.
#[derive(Debug, Clone)]
pub struct CoreMetadata {
    /// `Name`.
    pub name: PackageName,
    /// `Version`.
    pub version: Version,
    /// `Requires-Dist`.
    pub requires_dist: Vec<Requirement>,
    /// `Requires-Python`.
    pub requires_python: Option<VersionSpecifiers>,
    /// `Provides-Extra`.
    pub provides_extras: Vec<ExtraName>,
}

impl CoreMetadata {
    /// Parses the header block of a METADATA / PKG-INFO file.
    pub fn parse(text: &str) -> Result<CoreMetadata> {
        let headers = headers(text);
        let get = |key: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        };
        let all = |key: &'static str| {
            headers
                .iter()
                .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        };
        let name = PackageName::from_str(get("Name").context("no Name field")?)?;
        let version = Version::from_str(get("Version").context("no Version field")?)
            .map_err(|e| anyhow::anyhow!("invalid Version: {e}"))?;
        let mut requires_dist = Vec::new();
        for value in all("Requires-Dist") {
            let requirement = super::lenient::requires_dist(value)
                .with_context(|| format!("invalid Requires-Dist `{value}`"))?;
            requires_dist.push(requirement);
        }
        let requires_python = match get("Requires-Python").map(str::trim) {
            None | Some("") => None,
            Some(v) => Some(
                super::lenient::requires_python(v)
                    .map_err(|e| anyhow::anyhow!("invalid Requires-Python `{v}`: {e}"))?,
            ),
        };
        let provides_extras = all("Provides-Extra")
            .filter_map(|e| ExtraName::from_str(e.trim()).ok())
            .collect();
        Ok(CoreMetadata {
            name,
            version,
            requires_dist,
            requires_python,
            provides_extras,
        })
    }

    /// Parses an sdist's PKG-INFO, refusing metadata whose dependencies are not static.
    pub fn parse_sdist(text: &str) -> Result<CoreMetadata> {
        if let Some(reason) = not_static(text) {
            bail!("{reason}");
        }
        CoreMetadata::parse(text)
    }
}

/// Why an sdist's PKG-INFO does not give its dependencies (so they are only known after a
/// build), or `None` when it does: Metadata-Version older than 2.2, or `Requires-Dist` /
/// `Requires-Python` marked `Dynamic`.
pub fn not_static(text: &str) -> Option<String> {
    let headers = headers(text);
    let metadata_version = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Metadata-Version"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    let static_capable = Version::from_str(&metadata_version)
        .is_ok_and(|v| v >= Version::from_str("2.2").expect("valid"));
    if !static_capable {
        return Some(format!(
            "its PKG-INFO has Metadata-Version {metadata_version}, older than 2.2, so its dependencies are only known after a build"
        ));
    }
    let dynamic = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Dynamic"))
        .map(|(_, v)| v.trim().to_ascii_lowercase())
        .any(|d| d == "requires-dist" || d == "requires-python");
    dynamic.then(|| {
        "its PKG-INFO marks its dependencies as dynamic, so they are only known after a build"
            .to_string()
    })
}

/// The header block of an RFC 822 style document, with continuation lines folded.
fn headers(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        // Only an empty line ends the headers; a whitespace-only line that starts with a space
        // continues the previous field, as in multi-line `License:` texts (Python's email
        // parser reads them so, and real METADATA files rely on it).
        if line.is_empty() {
            break; // the body (long description) starts here
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = out.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// Where a wheel's METADATA is, read from its zip central directory.
#[derive(Debug, Clone, Copy)]
pub struct ZipEntry {
    /// Offset of the entry's local file header in the whole file.
    pub local_header_offset: u64,
    /// Its compressed size in bytes.
    pub compressed_size: u64,
    /// Its zip compression method (0 stored, 8 deflate).
    pub method: u16,
}

/// The result of looking for METADATA in the tail of a wheel.
#[derive(Debug)]
pub enum TailLookup {
    /// The tail does not reach back to the central directory: fetch this many bytes from the end.
    NeedTail(u64),
    /// The METADATA entry; its data may lie before the tail.
    Found(ZipEntry),
}

/// Reads the zip end-of-central-directory record and central directory from `tail`, the last
/// `tail.len()` bytes of a file of `file_size` bytes, and finds `<dist-info>/METADATA`.
pub fn find_metadata_entry(tail: &[u8], file_size: u64) -> Result<TailLookup> {
    const EOCD_SIG: &[u8] = b"PK\x05\x06";
    let eocd = tail
        .windows(4)
        .rposition(|w| w == EOCD_SIG)
        .context("no zip end-of-central-directory record: not a wheel")?;
    let record = &tail[eocd..];
    if record.len() < 22 {
        bail!("truncated zip end-of-central-directory record");
    }
    let cd_size = u32::from_le_bytes(record[12..16].try_into().expect("4 bytes")) as u64;
    let cd_offset = u32::from_le_bytes(record[16..20].try_into().expect("4 bytes")) as u64;
    if cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF {
        bail!("zip64 wheels are not supported");
    }
    let tail_start = file_size - tail.len() as u64;
    if cd_offset < tail_start {
        return Ok(TailLookup::NeedTail(file_size - cd_offset));
    }
    let cd_start = (cd_offset - tail_start) as usize;
    let cd = tail
        .get(cd_start..cd_start + cd_size as usize)
        .context("zip central directory lies outside the file")?;
    let mut pos = 0;
    while pos + 46 <= cd.len() {
        if &cd[pos..pos + 4] != b"PK\x01\x02" {
            bail!("corrupt zip central directory");
        }
        let u16_at = |o: usize| u16::from_le_bytes(cd[pos + o..pos + o + 2].try_into().expect("2"));
        let u32_at = |o: usize| u32::from_le_bytes(cd[pos + o..pos + o + 4].try_into().expect("4"));
        let method = u16_at(10);
        let compressed_size = u32_at(20) as u64;
        let name_len = u16_at(28) as usize;
        let extra_len = u16_at(30) as usize;
        let comment_len = u16_at(32) as usize;
        let local_header_offset = u32_at(42) as u64;
        let name = cd
            .get(pos + 46..pos + 46 + name_len)
            .context("corrupt zip central directory")?;
        let name = String::from_utf8_lossy(name);
        let mut parts = name.split('/');
        if let (Some(dir), Some("METADATA"), None) = (parts.next(), parts.next(), parts.next())
            && dir.ends_with(".dist-info")
        {
            return Ok(TailLookup::Found(ZipEntry {
                local_header_offset,
                compressed_size,
                method,
            }));
        }
        pos += 46 + name_len + extra_len + comment_len;
    }
    bail!("the wheel has no .dist-info/METADATA")
}

/// How many bytes from the entry's local header to fetch to be sure to cover its data: the
/// local header's name and extra field lengths can differ from the central directory's.
pub fn entry_span(entry: &ZipEntry) -> u64 {
    30 + 1024 + entry.compressed_size
}

/// Decompresses an entry given the bytes starting at its local file header.
pub fn read_entry(bytes: &[u8], entry: &ZipEntry) -> Result<String> {
    if bytes.len() < 30 || &bytes[..4] != b"PK\x03\x04" {
        bail!("corrupt zip local file header");
    }
    let name_len = u16::from_le_bytes([bytes[26], bytes[27]]) as usize;
    let extra_len = u16::from_le_bytes([bytes[28], bytes[29]]) as usize;
    let start = 30 + name_len + extra_len;
    let data = bytes
        .get(start..start + entry.compressed_size as usize)
        .context("zip entry data is truncated")?;
    let mut out = String::new();
    match entry.method {
        0 => out = String::from_utf8_lossy(data).into_owned(),
        8 => {
            flate2::read::DeflateDecoder::new(data)
                .read_to_string(&mut out)
                .context("could not inflate METADATA")?;
        }
        m => bail!("unsupported zip compression method {m}"),
    }
    Ok(out)
}

/// METADATA from a whole wheel file in memory.
pub fn wheel_metadata(bytes: &[u8]) -> Result<String> {
    match find_metadata_entry(bytes, bytes.len() as u64)? {
        TailLookup::Found(entry) => {
            read_entry(&bytes[entry.local_header_offset as usize..], &entry)
        }
        TailLookup::NeedTail(_) => bail!("corrupt zip: central directory outside the file"),
    }
}

/// The tar stream of a tar sdist: gzipped (`.tar.gz`, what indexes serve) or plain (`.tar`, the
/// archives envlock makes of git commits).
pub fn tar_stream<'a>(filename: &str, bytes: &'a [u8]) -> Box<dyn Read + 'a> {
    if filename.ends_with(".tar") {
        Box::new(bytes)
    } else {
        Box::new(flate2::read::GzDecoder::new(bytes))
    }
}

/// The file `name` in an sdist's (or source archive's) one top-level directory
/// (`<top>/pyproject.toml`), from a `.tar.gz`, `.tar` or `.zip` in memory.
pub fn sdist_top_file(filename: &str, bytes: &[u8], name: &str) -> Option<String> {
    let wanted = |path: &str| {
        path.trim_start_matches("./")
            .split_once('/')
            .is_some_and(|(_, rest)| rest == name)
    };
    let mut text = String::new();
    if filename.ends_with(".zip") {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).ok()?;
            if wanted(&file.name().ok()?) {
                file.read_to_string(&mut text).ok()?;
                return Some(text);
            }
        }
    } else {
        let mut archive = tar::Archive::new(tar_stream(filename, bytes));
        for entry in archive.entries().ok()? {
            let mut entry = entry.ok()?;
            if wanted(&entry.path().ok()?.to_string_lossy()) {
                entry.read_to_string(&mut text).ok()?;
                return Some(text);
            }
        }
    }
    None
}

/// The core metadata an sdist gives without a build, as uv reads it: its PKG-INFO when that is
/// static ([`not_static`]), else its pyproject.toml's `[project]` when the dependencies are not
/// `dynamic` ([`pyproject_metadata`]; a dynamic version is `version`, what the index says).
/// apexpy 2.0.1 (meson-python, Fortran) has PKG-INFO 2.1 but static `[project]` dependencies.
pub fn sdist_static(filename: &str, bytes: &[u8], version: Option<&Version>) -> Option<String> {
    if let Ok(text) = sdist_pkg_info(filename, bytes)
        && not_static(&text).is_none()
    {
        return Some(text);
    }
    sdist_top_file(filename, bytes, "pyproject.toml").and_then(|t| pyproject_metadata(&t, version))
}

/// The core metadata a pyproject.toml declares statically: `name`, `version` (the given one
/// when the table lists it as `dynamic`), `requires-python` and the dependencies, none of them
/// `dynamic`. `None` when it does not, when its static version is not the given one (the
/// backend then says what the sdist is), or when a value would not stay on its own line.
pub fn pyproject_metadata(pyproject: &str, version: Option<&Version>) -> Option<String> {
    let table: toml::Table = toml::from_str(pyproject).ok()?;
    let project = table.get("project")?.as_table()?;
    let dynamic: Vec<&str> = project
        .get("dynamic")
        .and_then(|d| d.as_array())
        .map(|d| d.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    if dynamic.iter().any(|d| {
        matches!(
            *d,
            "dependencies" | "optional-dependencies" | "requires-python"
        )
    }) {
        return None;
    }
    let one_line = |s: &str| (!s.contains(['\n', '\r'])).then(|| s.trim().to_string());
    let name = one_line(project.get("name")?.as_str()?)?;
    let version = match (
        project.get("version"),
        dynamic.contains(&"version"),
        version,
    ) {
        (Some(v), false, known) => {
            let v = one_line(v.as_str()?)?;
            if known.is_some_and(|k| Version::from_str(&v).ok().as_ref() != Some(k)) {
                return None;
            }
            v
        }
        (None, true, Some(v)) => v.to_string(),
        _ => return None,
    };
    let mut out = format!("Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n");
    if let Some(python) = project.get("requires-python") {
        out.push_str(&format!(
            "Requires-Python: {}\n",
            one_line(python.as_str()?)?
        ));
    }
    for dep in project
        .get("dependencies")
        .map(|d| d.as_array())
        .unwrap_or(Some(&Vec::new()))?
    {
        out.push_str(&format!("Requires-Dist: {}\n", one_line(dep.as_str()?)?));
    }
    if let Some(extras) = project.get("optional-dependencies") {
        for (extra, deps) in extras.as_table()? {
            let extra = one_line(extra)?;
            out.push_str(&format!("Provides-Extra: {extra}\n"));
            for dep in deps.as_array()? {
                let dep = one_line(dep.as_str()?)?;
                let line = match dep.split_once(';') {
                    Some((req, marker)) => {
                        format!(
                            "{} ; ({}) and extra == \"{extra}\"",
                            req.trim(),
                            marker.trim()
                        )
                    }
                    None => format!("{dep} ; extra == \"{extra}\""),
                };
                out.push_str(&format!("Requires-Dist: {line}\n"));
            }
        }
    }
    Some(out)
}

/// PKG-INFO of an sdist (`.tar.gz`, `.tar` or `.zip`) in memory: the one at `<name>-<version>/PKG-INFO`.
pub fn sdist_pkg_info(filename: &str, bytes: &[u8]) -> Result<String> {
    let top_level = |path: &str| path.trim_start_matches("./").split('/').count() == 2;
    if filename.ends_with(".zip") {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))?;
        for i in 0..archive.len() {
            let mut file = archive.by_index(i)?;
            let name = file.name()?.into_owned();
            if name.ends_with("/PKG-INFO") && top_level(&name) {
                let mut text = String::new();
                file.read_to_string(&mut text)?;
                return Ok(text);
            }
        }
    } else {
        let mut archive = tar::Archive::new(tar_stream(filename, bytes));
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = entry.path()?.to_string_lossy().into_owned();
            if path.ends_with("/PKG-INFO") && top_level(&path) {
                let mut text = String::new();
                entry.read_to_string(&mut text)?;
                return Ok(text);
            }
        }
    }
    bail!("it has no PKG-INFO")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const METADATA: &str = "Metadata-Version: 2.1\nName: Flask\nVersion: 3.0.0\nRequires-Python: >=3.8\nRequires-Dist: Werkzeug>=3.0.0\nRequires-Dist: importlib-metadata>=3.6.0; python_version < \"3.10\"\nRequires-Dist: asgiref>=3.2 ; extra == \"async\"\nProvides-Extra: async\n\nRequires-Dist: not-a-header\n";

    fn wheel(entries: &[(&str, &str)], method: zip::CompressionMethod) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, body) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        buf.into_inner()
    }

    #[test]
    fn parses_requirements_markers_and_extras() {
        let m = CoreMetadata::parse(METADATA).unwrap();
        assert_eq!(m.name.as_ref(), "flask");
        assert_eq!(m.version.to_string(), "3.0.0");
        assert_eq!(
            m.requires_dist.len(),
            3,
            "the body must not be read as headers"
        );
        assert_eq!(m.requires_python.unwrap().to_string(), ">=3.8");
        assert_eq!(m.provides_extras.len(), 1);
    }

    #[test]
    fn whitespace_only_continuation_lines_do_not_end_the_headers() {
        let text = "Metadata-Version: 2.3\nName: jupyterlab\nVersion: 4.2.1\nLicense: Copyright\n        All rights reserved.\n        \n        Redistribution...\nRequires-Dist: jupyter-server<3,>=2.4.0\n\nbody\n";
        let m = CoreMetadata::parse(text).unwrap();
        assert_eq!(m.requires_dist.len(), 1);
    }

    #[test]
    fn finds_metadata_in_a_tail_or_asks_for_more() {
        let padding = "x".repeat(50_000);
        for method in [
            zip::CompressionMethod::Stored,
            zip::CompressionMethod::Deflated,
        ] {
            let bytes = wheel(
                &[
                    ("flask/__init__.py", &padding),
                    ("flask-3.0.0.dist-info/METADATA", METADATA),
                    ("flask-3.0.0.dist-info/RECORD", ""),
                ],
                method,
            );
            assert!(wheel_metadata(&bytes).unwrap().contains("Name: Flask"));
            let size = bytes.len() as u64;
            // A tail that holds the central directory finds the entry.
            let tail = &bytes[bytes.len() - 400..];
            let TailLookup::Found(entry) = find_metadata_entry(tail, size).unwrap() else {
                panic!("expected the entry")
            };
            let start = entry.local_header_offset as usize;
            let end = (start as u64 + entry_span(&entry)).min(size) as usize;
            assert!(
                read_entry(&bytes[start..end], &entry)
                    .unwrap()
                    .contains("Werkzeug")
            );
            // A tail too short for the central directory says how much to fetch.
            let short = &bytes[bytes.len() - 30..];
            match find_metadata_entry(short, size).unwrap() {
                TailLookup::NeedTail(n) => assert!(n > 30 && n < size),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn wheels_without_metadata_are_errors() {
        let bytes = wheel(&[("a.py", "")], zip::CompressionMethod::Stored);
        assert!(wheel_metadata(&bytes).is_err());
        assert!(wheel_metadata(b"not a zip").is_err());
    }

    #[test]
    fn a_static_project_table_is_metadata_and_anything_else_is_not() {
        let v = Version::from_str("2.0.1").unwrap();
        let table = |extra: &str| {
            format!(
                "[project]\nname = \"apexpy\"\nrequires-python = \">=3.7\"\ndependencies = [\"numpy>=1.19.5\"]\n{extra}"
            )
        };
        let text = pyproject_metadata(&table("dynamic = [\"version\"]\n"), Some(&v)).unwrap();
        let m = CoreMetadata::parse_sdist(&text).unwrap();
        assert_eq!(m.version, v);
        assert_eq!(m.requires_dist[0].to_string(), "numpy>=1.19.5");
        assert!(text.contains("Requires-Python: >=3.7\n"), "{text}");
        // Without the index's version, a dynamic one is unknown.
        assert_eq!(
            pyproject_metadata(&table("dynamic = [\"version\"]\n"), None),
            None
        );
        // A static version that is not the file's: the backend says what the sdist is.
        assert_eq!(
            pyproject_metadata(&table("version = \"9.9\"\n"), Some(&v)),
            None
        );
        assert!(pyproject_metadata(&table("version = \"2.0.1\"\n"), Some(&v)).is_some());
        for dynamic in ["dependencies", "optional-dependencies", "requires-python"] {
            let text = table(&format!("dynamic = [\"version\", \"{dynamic}\"]\n"));
            assert_eq!(pyproject_metadata(&text, Some(&v)), None, "{dynamic}");
        }
        // A value that would add a line of its own to the metadata is refused.
        let injected = "[project]\nname = \"x\"\nversion = \"2.0.1\"\ndependencies = [\"a\\nRequires-Dist: evil\"]\n";
        assert_eq!(pyproject_metadata(injected, Some(&v)), None);
    }

    #[test]
    fn sdists_need_static_metadata() {
        let ok = "Metadata-Version: 2.2\nName: a\nVersion: 1.0\nRequires-Dist: b\n";
        assert_eq!(
            CoreMetadata::parse_sdist(ok).unwrap().requires_dist.len(),
            1
        );
        let old = "Metadata-Version: 2.1\nName: a\nVersion: 1.0\n";
        assert!(
            CoreMetadata::parse_sdist(old)
                .unwrap_err()
                .to_string()
                .contains("2.2")
        );
        let dynamic = "Metadata-Version: 2.3\nName: a\nVersion: 1.0\nDynamic: Requires-Dist\n";
        assert!(
            CoreMetadata::parse_sdist(dynamic)
                .unwrap_err()
                .to_string()
                .contains("dynamic")
        );
    }

    #[test]
    fn reads_pkg_info_from_tar_gz() {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        for (path, body) in [
            ("a-1.0/setup.py", ""),
            (
                "a-1.0/PKG-INFO",
                "Metadata-Version: 2.2\nName: a\nVersion: 1.0\n",
            ),
            ("a-1.0/sub/PKG-INFO", "wrong"),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, path, body.as_bytes()).unwrap();
        }
        let bytes = tar.into_inner().unwrap().finish().unwrap();
        assert!(
            sdist_pkg_info("a-1.0.tar.gz", &bytes)
                .unwrap()
                .starts_with("Metadata-Version: 2.2")
        );
    }
}
