//! The C library of well-known base images, by name and tag, and the refusal of a base whose
//! glibc is older than the one a lock was solved for (`__glibc`): packages built for a newer
//! glibc fail at run time on an older one (`GLIBC_2.34 not found`), long after the build passed.
//!
//! Known: Debian by codename or version (buster 2.28, bullseye 2.31, bookworm 2.36, trixie
//! 2.41), Ubuntu (18.04 2.27, 20.04 2.31, 22.04 2.35, 24.04 2.39), CentOS 7 (2.17) and 8 (2.28),
//! Rocky Linux and AlmaLinux 8 (2.28) and 9 (2.34), Red Hat's UBI 8 and 9, any tag naming a Debian
//! or Ubuntu codename (`python:3.12-slim-bookworm`, `mambaorg/micromamba:1.5-jammy`), and Alpine
//! (musl, no glibc at all: `alpine:3.20`, `python:3.12-alpine`). Anything else is unknown and
//! passes with no claim: a tag such as `python:3.12-slim` moves between Debian releases.

use std::fmt;

use anyhow::Result;

use rattler_conda_lock::LockFile;

use crate::{lock::EnvlockMeta, net::oci::ImageRef, util::error::Failure};

/// The C library an image has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Libc {
    /// glibc `major.minor`.
    Glibc(u32, u32),
    /// musl (Alpine): glibc-linked packages and manylinux wheels do not run.
    Musl,
}

impl fmt::Display for Libc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Libc::Glibc(major, minor) => write!(f, "glibc {major}.{minor}"),
            Libc::Musl => write!(f, "musl"),
        }
    }
}

/// Debian and Ubuntu release names and numbers, and their glibc.
const RELEASES: [(&str, &str, (u32, u32)); 8] = [
    ("buster", "10", (2, 28)),
    ("bullseye", "11", (2, 31)),
    ("bookworm", "12", (2, 36)),
    ("trixie", "13", (2, 41)),
    ("bionic", "18.04", (2, 27)),
    ("focal", "20.04", (2, 31)),
    ("jammy", "22.04", (2, 35)),
    ("noble", "24.04", (2, 39)),
];

/// What the image named `image` is known to have, from its repository and tag; `None` when
/// unknown.
pub fn known_libc(image: &ImageRef) -> Option<Libc> {
    let name = image
        .repository
        .rsplit('/')
        .next()
        .unwrap_or(&image.repository)
        .to_ascii_lowercase();
    let tag = image
        .tag
        .as_deref()
        .unwrap_or("latest")
        .to_ascii_lowercase();
    let words: Vec<&str> = tag.split(['-', '_']).collect();
    if name == "alpine" || words.iter().any(|w| w.starts_with("alpine")) {
        return Some(Libc::Musl);
    }
    // A codename anywhere in the tag, whatever the image (python, micromamba, buildpack-deps).
    for (codename, _, (major, minor)) in RELEASES {
        if words.contains(&codename) {
            return Some(Libc::Glibc(major, minor));
        }
    }
    // The leading version of the tag: `12`, `12.5-slim`, `8.9-minimal`, `centos7`, `stream9`.
    let first = words.first().copied().unwrap_or("");
    let version = first.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let major_of = |v: &str| v.split('.').next().and_then(|m| m.parse::<u32>().ok());
    let release = |number: &str| {
        RELEASES
            .iter()
            .find(|(_, n, _)| *n == number)
            .map(|(_, _, (a, b))| Libc::Glibc(*a, *b))
    };
    match name.as_str() {
        "debian" => major_of(version).and_then(|m| release(&m.to_string())),
        "ubuntu" => {
            let mut parts = version.split('.');
            let year = parts.next()?;
            let month = parts.next()?;
            release(&format!("{year}.{month}"))
        }
        "centos" => match major_of(version)? {
            7 => Some(Libc::Glibc(2, 17)),
            8 => Some(Libc::Glibc(2, 28)),
            9 => Some(Libc::Glibc(2, 34)),
            _ => None,
        },
        "rockylinux" | "almalinux" => match major_of(version)? {
            8 => Some(Libc::Glibc(2, 28)),
            9 => Some(Libc::Glibc(2, 34)),
            _ => None,
        },
        _ => {
            // Red Hat's Universal Base Images: `ubi8/ubi`, `ubi9/ubi-minimal`, `ubi8`.
            let ubi = image
                .repository
                .split('/')
                .find_map(|c| c.strip_prefix("ubi").and_then(|v| v.parse::<u32>().ok()));
            match ubi? {
                8 => Some(Libc::Glibc(2, 28)),
                9 => Some(Libc::Glibc(2, 34)),
                _ => None,
            }
        }
    }
}

/// The `__glibc` version recorded for each of the lock's linux platforms, as
/// `(platform, version)`; empty for a lock that records none (another tool's).
pub fn locked_glibc(lock: &LockFile, meta: &EnvlockMeta) -> Vec<(String, String)> {
    super::dockerfile::linux_platforms(lock)
        .into_iter()
        .filter_map(|platform| {
            let version = meta
                .virtual_packages
                .get(platform)?
                .iter()
                .find_map(|v| v.strip_prefix("__glibc="))?;
            let version = version.split('=').next().unwrap_or(version);
            Some((platform.to_string(), version.to_string()))
        })
        .collect()
}

/// `2.28` (or `2.28.1`) → `(2, 28)`.
fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Refuses `base` when it is known to have an older glibc than `glibc`, the newest `__glibc`
/// the lock's linux platforms were solved for (`(platform, version)` pairs, as recorded), or no
/// glibc at all. Unknown bases pass.
pub fn check_base(image: &ImageRef, glibc: &[(String, String)], lockfile: &str) -> Result<()> {
    let Some(libc) = known_libc(image) else {
        return Ok(());
    };
    // The newest; the first platform that has it.
    let newest = glibc
        .iter()
        .filter_map(|(p, v)| major_minor(v).map(|mm| (p, mm, v)))
        .fold(
            None,
            |best: Option<(&String, (u32, u32), &String)>, item| match best {
                Some(b) if b.1 >= item.1 => Some(b),
                _ => Some(item),
            },
        );
    let Some((platform, needed, version)) = newest else {
        return Ok(());
    };
    let shown = &image.name;
    let older = match libc {
        Libc::Musl => true,
        Libc::Glibc(major, minor) => (major, minor) < needed,
    };
    if !older {
        return Ok(());
    }
    let why = match libc {
        Libc::Musl => format!(
            "the base image {shown} uses musl, but {lockfile} locks glibc packages for {platform} \
             (__glibc={version})"
        ),
        Libc::Glibc(..) => format!(
            "the base image {shown} has {libc}, older than the __glibc={version} {lockfile} is \
             solved for on {platform}: its packages may not run there"
        ),
    };
    let hint = match libc {
        Libc::Musl => "use a glibc image (debian:bookworm-slim, ubuntu:24.04, python:3.12-slim-bookworm) or leave out --base for the default".to_string(),
        Libc::Glibc(major, minor) => format!(
            "use a base with glibc >= {version} (debian:bookworm, ubuntu:24.04, or leave out --base for the default), \
             or lock for this base: `envlock resolve --virtual-package __glibc={major}.{minor}`"
        ),
    };
    Err(Failure::new(why).hint(hint).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn libc(name: &str) -> Option<Libc> {
        known_libc(&ImageRef::parse(name).unwrap())
    }

    #[test]
    fn common_bases_are_known_by_name_and_tag() {
        let g = |a, b| Some(Libc::Glibc(a, b));
        for (name, want) in [
            ("debian:buster", g(2, 28)),
            ("debian:buster-slim", g(2, 28)),
            ("debian:10", g(2, 28)),
            ("debian:11.9-slim", g(2, 31)),
            ("debian:bullseye-20240101", g(2, 31)),
            ("docker.io/library/debian:bookworm", g(2, 36)),
            ("debian:12", g(2, 36)),
            ("debian:trixie-slim", g(2, 41)),
            ("ubuntu:18.04", g(2, 27)),
            ("ubuntu:bionic-20230530", g(2, 27)),
            ("ubuntu:20.04", g(2, 31)),
            ("ubuntu:22.04", g(2, 35)),
            ("ubuntu:jammy", g(2, 35)),
            ("ubuntu:24.04", g(2, 39)),
            ("centos:7", g(2, 17)),
            ("centos:centos7", g(2, 17)),
            ("centos:7.9.2009", g(2, 17)),
            ("quay.io/centos/centos:stream9", g(2, 34)),
            ("rockylinux:8", g(2, 28)),
            ("rockylinux/rockylinux:9.3-minimal", g(2, 34)),
            ("almalinux:8", g(2, 28)),
            ("almalinux:9", g(2, 34)),
            ("registry.access.redhat.com/ubi8/ubi-minimal:8.9", g(2, 28)),
            ("python:3.12-slim-bookworm", g(2, 36)),
            ("python:3.9-slim-buster", g(2, 28)),
            ("python:3.13-bullseye", g(2, 31)),
            ("mambaorg/micromamba:1.5.8-jammy", g(2, 35)),
            ("alpine:3.20", Some(Libc::Musl)),
            ("alpine", Some(Libc::Musl)),
            ("python:3.12-alpine3.20", Some(Libc::Musl)),
            // Unknown: no claim.
            ("python:3.12-slim", None),
            ("python:3.12", None),
            ("condaforge/miniforge3:25.3.1-0", None),
            ("debian:latest", None),
            ("ubuntu", None),
            ("ghcr.io/acme/app:1.0", None),
        ] {
            assert_eq!(libc(name), want, "{name}");
        }
    }

    fn glibc(v: &str) -> Vec<(String, String)> {
        vec![
            ("linux-64".to_string(), v.to_string()),
            ("linux-aarch64".to_string(), "2.17".to_string()),
        ]
    }

    #[test]
    fn an_older_or_musl_base_is_refused_and_others_pass() {
        let check = |name: &str, v: &str| {
            check_base(&ImageRef::parse(name).unwrap(), &glibc(v), "conda-lock.yml")
        };
        let e = check("debian:buster", "2.31").unwrap_err();
        let failure = e.downcast_ref::<Failure>().unwrap();
        assert_eq!(
            failure.message,
            "the base image debian:buster has glibc 2.28, older than the __glibc=2.31 \
             conda-lock.yml is solved for on linux-64: its packages may not run there"
        );
        assert!(
            failure
                .hint
                .as_deref()
                .unwrap()
                .contains("`envlock resolve --virtual-package __glibc=2.28`"),
            "{failure:?}"
        );
        let e = check("alpine:3.20", "2.17").unwrap_err();
        assert!(e.to_string().contains("uses musl"), "{e}");
        // The same glibc, a newer one, and unknown bases pass.
        check("debian:buster", "2.28").unwrap();
        check("centos:7", "2.17").unwrap();
        check("ubuntu:24.04", "2.28").unwrap();
        check("python:3.12-slim", "2.99").unwrap();
        check("condaforge/miniforge3:25.3.1-0", "2.28").unwrap();
        // Older than 2.28, the default: CentOS 7 and Ubuntu 18.04.
        assert!(check("centos:7", "2.28").is_err());
        assert!(check("ubuntu:18.04", "2.28").is_err());
        // A lock without a recorded __glibc (another tool's) makes no claim.
        check_base(&ImageRef::parse("centos:7").unwrap(), &[], "conda-lock.yml").unwrap();
    }
}
