//! Wheel and sdist filenames, wheel compatibility tags, and PEP 508 marker environments for one
//! target platform.
//!
//! envlock never locks for the host: a [`Target`] is built from what the conda solve picked for
//! one platform (the conda platform, the CPython version, and the virtual packages solved against)
//! and answers two questions a PyPI resolver asks: which wheel files can be installed there, and
//! in which order of preference ([`Target::wheel_rank`]); and what PEP 508 markers evaluate
//! against ([`Target::marker_environment`]).
//!
//! # Tag order
//!
//! The order is `packaging.tags.sys_tags()` for a CPython interpreter, which is what pip and uv
//! use, so envlock picks the same wheel they would on that machine. For CPython `X.Y`:
//!
//! 1. `cpXY-cpXY-<platform>` (`cpXYm` for Python < 3.8, whose ABI tag carried the pymalloc flag),
//! 2. `cpXY-abi3-<platform>`, 3. `cpXY-none-<platform>`,
//! 4. `cpXW-abi3-<platform>` for W from Y-1 down to 2 (the stable ABI exists since 3.2),
//! 5. `pyXY-none-<platform>`, `py3-none-<platform>`, then `pyXW-none-<platform>` for W from Y-1
//!    down to 0,
//! 6. `cpXY-none-any`, then `pyXY-none-any`, `py3-none-any`, `pyXW-none-any` (W from Y-1 to 0).
//!
//! Within each step the platform tags come in the order below, most specific first. A wheel with
//! compressed tag sets (`py2.py3-none-any`) takes the best rank of any of its tags.
//!
//! # Platforms
//!
//! Supported (conda platform → wheel platform tags, most preferred first):
//!
//! - `linux-64`, `linux-aarch64`, `linux-ppc64le` (arch `x86_64`, `aarch64`, `ppc64le`):
//!   `manylinux_2_Y_<arch>` for Y from the `__glibc` minor down to 17, and on `x86_64` on down
//!   to 5. The legacy aliases come right after the glibc level they stand for: `manylinux2014`
//!   after 2.17, `manylinux2010` after 2.12 and `manylinux1` after 2.5 (so `__glibc=2.17` accepts
//!   all three on `x86_64`, and only `manylinux2014` elsewhere: the older policies never existed
//!   for those architectures).
//! - `osx-64`, `osx-arm64` (arch `x86_64`, `arm64`): for an `__osx` of 10.x,
//!   `macosx_10_<m>_<format>` for m from x down to 0; for 11 and later, `macosx_<M>_0_<format>`
//!   for M from the major down to 11, then every 10.x from 10.16 down to 10.4. The formats on
//!   `x86_64` are `x86_64`, `intel`, `fat64`, `fat32`, `universal2`, `universal` (none below
//!   10.4); on `arm64` they are `arm64`, `universal2`, and only `universal2` for 10.x (an
//!   arm64 slice cannot predate macOS 11, but a universal2 wheel's x86_64 slice can).
//!   Only minor version 0 is accepted from macOS 11 on, exactly as packaging does: a
//!   `macosx_11_3_arm64` wheel is not installable by pip on any macOS, so it is not here either.
//! - `win-64` → `win_amd64`; `win-arm64` → `win_arm64`.
//! - `any` on every platform, last (step 6 above).
//!
//! Not supported:
//!
//! - Any other conda platform (`noarch`, `linux-32`, `linux-s390x`, `win-32`, `emscripten-*`,
//!   ...): [`Target::new`] fails and names the platform.
//! - `musllinux_*` wheels: conda's Python links against glibc, and a musl wheel would not load.
//! - Plain `linux_<arch>` wheels: that tag promises nothing about the system libraries; pip only
//!   accepts it for wheels built on the same machine, which never holds for a locked target.
//! - Interpreters other than CPython (conda's `python` is CPython), Python 2, and free-threaded
//!   builds (`cpXYt`, `abi3t`): we cannot tell one from the Python version alone, and conda
//!   ships the default build as `python`.
//! - Debug ABIs (`cpXYd`): conda does not ship debug builds of Python.
//!
//! # Marker environment
//!
//! The PEP 508 values are those CPython reports on that platform, except `platform_release` and
//! `platform_version`, which describe the running kernel: envlock does not know the machine the
//! lock will be installed on, so both are empty strings (markers on them are rare, and an empty
//! value makes any `==` test on them false rather than true by accident).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use anyhow::Result;
use pep440_rs::Version;
use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder, PackageName};
use rattler_conda_types::{GenericVirtualPackage, Subdir};

use crate::util::error::{Failure, fail};

/// A parsed wheel filename (PEP 427 / binary distribution format):
/// `name-version(-build)?-python-abi-platform.whl`, compressed tag sets (`py2.py3`) expanded.
///
/// Tags are lowercased, as `packaging` does, so they compare exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WheelFilename {
    /// The distribution name.
    pub name: PackageName,
    /// The version.
    pub version: Version,
    /// The optional build tag; it always starts with a digit.
    pub build_tag: Option<String>,
    /// The python tags (`cp312`, `py3`).
    pub python_tags: Vec<String>,
    /// The ABI tags (`cp312`, `abi3`, `none`).
    pub abi_tags: Vec<String>,
    /// The platform tags (`manylinux_2_17_x86_64`, `any`).
    pub platform_tags: Vec<String>,
}

impl FromStr for WheelFilename {
    type Err = anyhow::Error;

    fn from_str(filename: &str) -> Result<Self> {
        let invalid = |why: &str| -> anyhow::Error {
            Failure::new(format!("invalid wheel filename `{filename}`: {why}")).into()
        };
        let stem = filename
            .strip_suffix(".whl")
            .ok_or_else(|| invalid("it does not end in `.whl`"))?;
        // Every part is escaped so that it holds no `-` (the name's `-` become `_`), so the
        // parts are simply the `-`-separated fields.
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build_tag, python, abi, platform) = match parts[..] {
            [name, version, python, abi, platform] => (name, version, None, python, abi, platform),
            [name, version, build, python, abi, platform] => {
                if !build.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err(invalid(&format!(
                        "the build tag `{build}` does not start with a digit"
                    )));
                }
                (name, version, Some(build), python, abi, platform)
            }
            _ => {
                return Err(invalid(
                    "expected `name-version(-build)-python-abi-platform.whl`",
                ));
            }
        };
        // pep508_rs accepts an empty name, so check that first.
        if name.is_empty() {
            return Err(invalid("empty project name"));
        }
        let name = PackageName::from_str(name)
            .map_err(|e| invalid(&format!("invalid project name `{name}`: {e}")))?;
        let version = Version::from_str(version)
            .map_err(|e| invalid(&format!("invalid version `{version}`: {e}")))?;
        let tag_set = |set: &str, what: &str| -> Result<Vec<String>> {
            let tags: Vec<String> = set.split('.').map(str::to_ascii_lowercase).collect();
            if tags.iter().any(String::is_empty) {
                return Err(invalid(&format!("empty {what} tag in `{set}`")));
            }
            Ok(tags)
        };
        Ok(WheelFilename {
            name,
            version,
            build_tag: build_tag.map(str::to_string),
            python_tags: tag_set(python, "python")?,
            abi_tags: tag_set(abi, "ABI")?,
            platform_tags: tag_set(platform, "platform")?,
        })
    }
}

/// A source distribution filename: `name-version.tar.gz` or `name-version.zip`.
///
/// Only the two formats PyPI accepts are recognized; other archives (`.tar.bz2`, `.tgz`, ...)
/// from very old releases are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SdistFilename {
    /// The distribution name.
    pub name: PackageName,
    /// The version.
    pub version: Version,
}

impl SdistFilename {
    /// Parses the filename of an sdist of `project`; `None` if it is not an sdist of that project
    /// or its version is not PEP 440.
    ///
    /// PEP 625 names are normalized with `_`, so the first `-` separates name and version. Legacy
    /// sdists keep the name as written (`python-dateutil-2.8.2.tar.gz`), so, as pip does, we
    /// take the first `-` after which the prefix normalizes to the project name and the rest is
    /// a valid version. The first `-` is tried first, so PEP 625 names are covered by the same
    /// loop.
    pub fn parse(filename: &str, project: &PackageName) -> Option<SdistFilename> {
        let stem = strip_suffix_ignore_case(filename, ".tar.gz")
            .or_else(|| strip_suffix_ignore_case(filename, ".zip"))?;
        stem.match_indices('-').find_map(|(dash, _)| {
            let name = PackageName::from_str(&stem[..dash]).ok()?;
            if &name != project {
                return None;
            }
            let version = Version::from_str(&stem[dash + 1..]).ok()?;
            Some(SdistFilename { name, version })
        })
    }
}

fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let split = s.len().checked_sub(suffix.len())?;
    let tail = s.get(split..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &s[..split])
}

/// The operating systems envlock installs wheels on.
#[derive(Debug, Clone, Copy)]
enum Os {
    Linux,
    Mac,
    Windows,
}

/// What a supported conda platform means for wheels and markers.
struct PlatformInfo {
    os: Os,
    /// The architecture as it appears in wheel platform tags (`x86_64`, `arm64`, `amd64`).
    tag_arch: &'static str,
    /// `platform.machine()` on that platform.
    machine: &'static str,
}

fn platform_info(platform: Subdir) -> Option<PlatformInfo> {
    let (os, tag_arch, machine) = match platform {
        Subdir::Linux64 => (Os::Linux, "x86_64", "x86_64"),
        Subdir::LinuxAarch64 => (Os::Linux, "aarch64", "aarch64"),
        Subdir::LinuxPpc64le => (Os::Linux, "ppc64le", "ppc64le"),
        Subdir::Osx64 => (Os::Mac, "x86_64", "x86_64"),
        Subdir::OsxArm64 => (Os::Mac, "arm64", "arm64"),
        // Windows reports the machine in upper case, and wheel tags use `amd64`, not `x86_64`.
        Subdir::Win64 => (Os::Windows, "amd64", "AMD64"),
        Subdir::WinArm64 => (Os::Windows, "arm64", "ARM64"),
        _ => return None,
    };
    Some(PlatformInfo {
        os,
        tag_arch,
        machine,
    })
}

const SUPPORTED_PLATFORMS: &str =
    "linux-64, linux-aarch64, linux-ppc64le, osx-64, osx-arm64, win-64 and win-arm64";

/// One target platform as PyPI sees it: which wheels install there, in which order, and the
/// PEP 508 marker environment.
#[derive(Debug, Clone)]
pub struct Target {
    platform: Subdir,
    python_version: Version,
    markers: MarkerEnvironment,
    /// Platform tags other than `any`, most preferred first.
    platform_tags: Vec<String>,
    /// `(python, abi)` pairs that combine with every tag of `platform_tags`, most preferred
    /// first (steps 1 to 5 of the module docs).
    platform_pairs: Vec<(String, String)>,
    /// Python tags that combine with `none-any`, most preferred first (step 6).
    any_pythons: Vec<String>,
    /// The architecture in platform tags (`x86_64`).
    tag_arch: &'static str,
    /// The `__glibc` solved against, on linux.
    glibc: Option<(u32, u32)>,
}

/// Why a project version's wheels do not install on a [`Target`] (the most useful reason over
/// all its wheels, see [`WheelMismatch::merge`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WheelMismatch {
    /// A `manylinux` wheel for the right Python and architecture needs a newer glibc: the
    /// oldest glibc any such wheel needs, and the target's.
    Glibc {
        /// `(2, 28)` for `manylinux_2_28`.
        needs: (u32, u32),
        /// The target's `__glibc`.
        has: (u32, u32),
    },
    /// Wheels for the target's Python, but other platforms: their platform tags.
    Platform(BTreeSet<String>),
    /// Wheels for the target's platform, but other Pythons or ABIs: their python tags.
    Python(BTreeSet<String>),
    /// Wheels for other Pythons and other platforms: their python and platform tags.
    PythonAndPlatform(BTreeSet<String>, BTreeSet<String>),
}

impl WheelMismatch {
    /// How close to installable a kind of mismatch is: the closest one is what is reported.
    fn closeness(&self) -> u8 {
        match self {
            WheelMismatch::Glibc { .. } => 3,
            WheelMismatch::Platform(_) => 2,
            WheelMismatch::Python(_) => 1,
            WheelMismatch::PythonAndPlatform(..) => 0,
        }
    }

    /// The mismatch of a version with both wheels: the closer kind, or the tags of both when
    /// they are of one kind (the older glibc for two glibc mismatches).
    pub fn merge(self, other: WheelMismatch) -> WheelMismatch {
        use WheelMismatch::*;
        match (self, other) {
            (Glibc { needs: a, has }, Glibc { needs: b, .. }) => Glibc {
                needs: a.min(b),
                has,
            },
            (Platform(mut a), Platform(b)) => {
                a.extend(b);
                Platform(a)
            }
            (Python(mut a), Python(b)) => {
                a.extend(b);
                Python(a)
            }
            (PythonAndPlatform(mut a, mut b), PythonAndPlatform(c, d)) => {
                a.extend(c);
                b.extend(d);
                PythonAndPlatform(a, b)
            }
            (a, b) if a.closeness() >= b.closeness() => a,
            (_, b) => b,
        }
    }
}

impl Target {
    /// `python_version` is the full version of the conda python (e.g. 3.11.7). Reads `__glibc`
    /// (linux) and `__osx` (macOS) from `virtual_packages` for the tag caps.
    pub fn new(
        platform: Subdir,
        python_version: &Version,
        virtual_packages: &[GenericVirtualPackage],
    ) -> Result<Target> {
        let Some(info) = platform_info(platform) else {
            return Err(Failure::new(format!(
                "cannot install PyPI packages for platform `{platform}`: \
                 envlock knows wheel tags only for {SUPPORTED_PLATFORMS}"
            ))
            .hint(format!(
                "remove `{platform}` from the platforms, or replace its PyPI dependencies with \
                 conda packages"
            ))
            .into());
        };
        let (major, minor) = match python_version.release() {
            [3, minor, ..] => (3, *minor),
            _ => fail!(
                "cannot lock PyPI packages for Python {python_version} on {platform}: \
                 only CPython 3.x (with a minor version) is supported"
            ),
        };

        let mut glibc = None;
        let platform_tags = match info.os {
            Os::Linux => {
                let version = virtual_package_version(virtual_packages, "__glibc", platform)?;
                glibc = Some(version);
                manylinux_tags(info.tag_arch, version)
            }
            Os::Mac => {
                let osx = virtual_package_version(virtual_packages, "__osx", platform)?;
                macos_tags(info.tag_arch, osx)
            }
            Os::Windows => vec![format!("win_{}", info.tag_arch)],
        };
        let (platform_pairs, any_pythons) = python_tags(major, minor);

        let python_full_version = python_version.to_string();
        let python_short_version = format!("{major}.{minor}");
        let (os_name, sys_platform, platform_system) = match info.os {
            Os::Linux => ("posix", "linux", "Linux"),
            Os::Mac => ("posix", "darwin", "Darwin"),
            Os::Windows => ("nt", "win32", "Windows"),
        };
        let markers = MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: &python_full_version,
            os_name,
            platform_machine: info.machine,
            platform_python_implementation: "CPython",
            // Kernel release and build string of the machine: unknown for a lock (module docs).
            platform_release: "",
            platform_system,
            platform_version: "",
            python_full_version: &python_full_version,
            python_version: &python_short_version,
            sys_platform,
        })
        .map_err(|e| {
            Failure::new(format!(
                "invalid Python version `{python_version}` for markers: {e}"
            ))
        })?;

        Ok(Target {
            platform,
            python_version: python_version.clone(),
            markers,
            platform_tags,
            platform_pairs,
            any_pythons,
            tag_arch: info.tag_arch,
            glibc,
        })
    }

    /// The conda platform this target is.
    pub fn platform(&self) -> Subdir {
        self.platform
    }

    /// The python version, as PEP 440.
    pub fn python_version(&self) -> &Version {
        &self.python_version
    }

    /// The PEP 508 marker environment of this target (see the module docs).
    pub fn marker_environment(&self) -> MarkerEnvironment {
        self.markers.clone()
    }

    /// `None` if the wheel cannot be installed on this target; otherwise a rank where a smaller
    /// number is preferred (most specific tag first, in `packaging.tags.sys_tags()` order).
    ///
    /// Ranks are comparable only between wheels for the same target.
    pub fn wheel_rank(&self, wheel: &WheelFilename) -> Option<u32> {
        let mut best: Option<usize> = None;
        for python in &wheel.python_tags {
            for abi in &wheel.abi_tags {
                for platform in &wheel.platform_tags {
                    if let Some(rank) = self.tag_rank(python, abi, platform) {
                        best = Some(best.map_or(rank, |best| best.min(rank)));
                    }
                }
            }
        }
        best.and_then(|rank| u32::try_from(rank).ok())
    }

    /// The `__glibc` this target was solved against (linux only), as `(major, minor)`.
    pub fn glibc(&self) -> Option<(u32, u32)> {
        self.glibc
    }

    /// Why `wheel` does not install here; `None` when it does.
    pub fn wheel_mismatch(&self, wheel: &WheelFilename) -> Option<WheelMismatch> {
        if self.wheel_rank(wheel).is_some() {
            return None;
        }
        let mut python_fits_elsewhere = false;
        let mut platform_fits = false;
        let mut glibc_needed: Option<(u32, u32)> = None;
        for python in &wheel.python_tags {
            for abi in &wheel.abi_tags {
                for platform in &wheel.platform_tags {
                    let any = platform.eq_ignore_ascii_case("any");
                    let python_fits = if any {
                        abi.eq_ignore_ascii_case("none")
                            && position(&self.any_pythons, python).is_some()
                    } else {
                        self.platform_pairs.iter().any(|(p, a)| {
                            p.eq_ignore_ascii_case(python) && a.eq_ignore_ascii_case(abi)
                        })
                    };
                    if any || position(&self.platform_tags, platform).is_some() {
                        platform_fits = true;
                    } else if python_fits {
                        python_fits_elsewhere = true;
                        if let (Some(has), Some(needs)) =
                            (self.glibc, manylinux_level(platform, self.tag_arch))
                            && needs > has
                        {
                            glibc_needed = Some(glibc_needed.map_or(needs, |n| n.min(needs)));
                        }
                    }
                }
            }
        }
        let tags = |tags: &[String]| tags.iter().cloned().collect::<BTreeSet<String>>();
        Some(match (glibc_needed, python_fits_elsewhere, platform_fits) {
            (Some(needs), _, _) => WheelMismatch::Glibc {
                needs,
                has: self.glibc.unwrap_or_default(),
            },
            (None, true, _) => WheelMismatch::Platform(tags(&wheel.platform_tags)),
            (None, false, true) => WheelMismatch::Python(tags(&wheel.python_tags)),
            (None, false, false) => WheelMismatch::PythonAndPlatform(
                tags(&wheel.python_tags),
                tags(&wheel.platform_tags),
            ),
        })
    }

    /// The position of one tag triple in the order of the module docs.
    fn tag_rank(&self, python: &str, abi: &str, platform: &str) -> Option<usize> {
        let specific = self.platform_pairs.len() * self.platform_tags.len();
        if platform.eq_ignore_ascii_case("any") {
            if !abi.eq_ignore_ascii_case("none") {
                return None;
            }
            let index = position(&self.any_pythons, python)?;
            Some(specific + index)
        } else {
            let pair = self
                .platform_pairs
                .iter()
                .position(|(p, a)| p.eq_ignore_ascii_case(python) && a.eq_ignore_ascii_case(abi))?;
            let index = position(&self.platform_tags, platform)?;
            Some(pair * self.platform_tags.len() + index)
        }
    }

    /// Every supported tag, most preferred first: the tag of rank `i` is at index `i`.
    #[cfg(test)]
    fn supported_tags(&self) -> Vec<String> {
        let mut tags = Vec::new();
        for (python, abi) in &self.platform_pairs {
            for platform in &self.platform_tags {
                tags.push(format!("{python}-{abi}-{platform}"));
            }
        }
        for python in &self.any_pythons {
            tags.push(format!("{python}-none-any"));
        }
        tags
    }
}

impl fmt::Display for Target {
    /// `linux-64 (CPython 3.11.7)`, for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (CPython {})", self.platform, self.python_version)
    }
}

fn position(tags: &[String], tag: &str) -> Option<usize> {
    tags.iter().position(|t| t.eq_ignore_ascii_case(tag))
}

/// The `(major, minor)` version of the virtual package `name`, which must be present.
fn virtual_package_version(
    virtual_packages: &[GenericVirtualPackage],
    name: &str,
    platform: Subdir,
) -> Result<(u32, u32)> {
    let hint = format!(
        "give it with `--virtual-package {name}=VERSION`, e.g. `{name}={}`",
        if name == "__glibc" { "2.17" } else { "11.0" }
    );
    let Some(package) = virtual_packages
        .iter()
        .find(|p| p.name.as_normalized() == name)
    else {
        return Err(Failure::new(format!(
            "no `{name}` virtual package for {platform}: it caps which wheels can be installed"
        ))
        .hint(hint)
        .into());
    };
    // `2.17`, `11.0`, and `15` (minor 0) are all fine; anything past the minor is ignored.
    let version = package.version.to_string();
    let mut numbers = version.split('.').map(str::parse::<u32>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(major)), None) => Ok((major, 0)),
        (Some(Ok(major)), Some(Ok(minor))) => Ok((major, minor)),
        _ => Err(Failure::new(format!(
            "cannot read `{name}={version}` for {platform}: expected MAJOR.MINOR"
        ))
        .hint(hint)
        .into()),
    }
}

/// The glibc a `manylinux` platform tag for `arch` needs: `manylinux_2_28_x86_64` → `(2, 28)`,
/// and the legacy `manylinux2014`/`2010`/`1` → 2.17, 2.12, 2.5.
fn manylinux_level(tag: &str, arch: &str) -> Option<(u32, u32)> {
    let policy = tag.strip_suffix(arch)?.strip_suffix('_')?;
    match policy {
        "manylinux2014" => return Some((2, 17)),
        "manylinux2010" => return Some((2, 12)),
        "manylinux1" => return Some((2, 5)),
        _ => {}
    }
    let (major, minor) = policy.strip_prefix("manylinux_")?.split_once('_')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// `manylinux` platform tags for glibc `glibc` on `arch`, most preferred first (packaging's
/// `_manylinux.platform_tags`).
fn manylinux_tags(arch: &str, glibc: (u32, u32)) -> Vec<String> {
    // manylinux1 (glibc 2.5) and manylinux2010 (2.12) were defined for x86 only; the first
    // policy for other architectures was manylinux2014 (2.17).
    let oldest_minor = if arch == "x86_64" { 5 } else { 17 };
    let mut tags = Vec::new();
    // glibc keeps compatibility across major versions; packaging assumes minors up to 50 for
    // earlier majors. Only glibc 2 exists today.
    for major in (2..=glibc.0).rev() {
        let newest_minor = if major == glibc.0 { glibc.1 } else { 50 };
        let oldest = if major == 2 { oldest_minor } else { 0 };
        for minor in (oldest..=newest_minor).rev() {
            tags.push(format!("manylinux_{major}_{minor}_{arch}"));
            let legacy = match (major, minor) {
                (2, 17) => Some("manylinux2014"),
                (2, 12) => Some("manylinux2010"),
                (2, 5) => Some("manylinux1"),
                _ => None,
            };
            if let Some(legacy) = legacy {
                tags.push(format!("{legacy}_{arch}"));
            }
        }
    }
    tags
}

/// `macosx` platform tags for macOS `osx` on `arch`, most preferred first (packaging's
/// `mac_platforms`).
fn macos_tags(arch: &str, osx: (u32, u32)) -> Vec<String> {
    let formats = |version: (u32, u32)| -> &'static [&'static str] {
        if arch == "x86_64" {
            // No x86_64 Mac ran anything older than 10.4.
            if version < (10, 4) {
                &[]
            } else {
                &[
                    "x86_64",
                    "intel",
                    "fat64",
                    "fat32",
                    "universal2",
                    "universal",
                ]
            }
        } else {
            &["arm64", "universal2"]
        }
    };
    let mut tags = Vec::new();
    let mut push = |major: u32, minor: u32, formats: &[&str]| {
        for format in formats {
            tags.push(format!("macosx_{major}_{minor}_{format}"));
        }
    };
    if ((10, 0)..(11, 0)).contains(&osx) {
        // Until macOS 11 every yearly release bumped the minor version.
        for minor in (0..=osx.1).rev() {
            push(10, minor, formats((10, minor)));
        }
    }
    if osx >= (11, 0) {
        // From 11 on, the major version is the yearly release; wheels say `_0`.
        for major in (11..=osx.0).rev() {
            push(major, 0, formats((major, 0)));
        }
        // macOS 11+ runs binaries built for 10.x; arm64 slices cannot predate 11, but the
        // x86_64 slice of a universal2 wheel can.
        for minor in (4..=16).rev() {
            if arch == "x86_64" {
                push(10, minor, formats((10, minor)));
            } else {
                push(10, minor, &["universal2"]);
            }
        }
    }
    tags
}

/// The `(python, abi)` pairs used with platform tags, and the python tags used with `none-any`,
/// for CPython `major.minor` (packaging's `cpython_tags` then `compatible_tags`).
fn python_tags(major: u64, minor: u64) -> (Vec<(String, String)>, Vec<String>) {
    let cp = format!("cp{major}{minor}");
    // Python < 3.8 built with pymalloc (always, on conda) had an `m` in its ABI tag.
    let abi = if minor < 8 {
        format!("{cp}m")
    } else {
        cp.clone()
    };
    let mut pairs = vec![(cp.clone(), abi)];
    // The stable ABI exists since 3.2.
    let abi3 = minor >= 2;
    if abi3 {
        pairs.push((cp.clone(), "abi3".to_string()));
    }
    pairs.push((cp.clone(), "none".to_string()));
    if abi3 {
        for older in (2..minor).rev() {
            pairs.push((format!("cp{major}{older}"), "abi3".to_string()));
        }
    }
    // pyXY, py3, then every older pyXW.
    let mut pys = vec![format!("py{major}{minor}"), format!("py{major}")];
    pys.extend((0..minor).rev().map(|older| format!("py{major}{older}")));
    pairs.extend(pys.iter().map(|py| (py.clone(), "none".to_string())));

    let mut any = vec![cp];
    any.extend(pys);
    (pairs, any)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pep508_rs::MarkerTree;
    use rattler_conda_types::package::BuildString;

    fn vp(name: &str, version: &str) -> GenericVirtualPackage {
        GenericVirtualPackage {
            name: rattler_conda_types::PackageName::new_unchecked(name),
            version: version.parse().unwrap(),
            build_string: BuildString::new_unchecked("0"),
        }
    }

    fn target(platform: Subdir, python: &str, virtual_packages: &[(&str, &str)]) -> Target {
        let vps: Vec<_> = virtual_packages.iter().map(|(n, v)| vp(n, v)).collect();
        Target::new(platform, &python.parse().unwrap(), &vps).unwrap()
    }

    fn linux64(python: &str, glibc: &str) -> Target {
        target(Subdir::Linux64, python, &[("__glibc", glibc)])
    }

    fn rank(target: &Target, filename: &str) -> Option<u32> {
        target.wheel_rank(&filename.parse().unwrap())
    }

    fn failure_message(err: &anyhow::Error) -> String {
        err.downcast_ref::<Failure>()
            .expect("a Failure")
            .message
            .clone()
    }

    #[test]
    fn parses_plain_wheel_filename() {
        let wheel: WheelFilename = "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl"
            .parse()
            .unwrap();
        assert_eq!(wheel.name.to_string(), "numpy");
        assert_eq!(wheel.version, "1.26.4".parse().unwrap());
        assert_eq!(wheel.build_tag, None);
        assert_eq!(wheel.python_tags, ["cp311"]);
        assert_eq!(wheel.abi_tags, ["cp311"]);
        assert_eq!(wheel.platform_tags, ["manylinux_2_17_x86_64"]);
    }

    #[test]
    fn parses_build_tag_compressed_tags_and_escaped_name() {
        let wheel: WheelFilename =
            "Typing_Extensions-4.0.0-1local-py2.py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
                .parse()
                .unwrap();
        assert_eq!(wheel.name.to_string(), "typing-extensions");
        assert_eq!(wheel.build_tag.as_deref(), Some("1local"));
        assert_eq!(wheel.python_tags, ["py2", "py3"]);
        assert_eq!(wheel.abi_tags, ["none"]);
        assert_eq!(
            wheel.platform_tags,
            ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
        );
    }

    #[test]
    fn lowercases_tags() {
        let wheel: WheelFilename = "pkg-1.0-CP311-None-Win_AMD64.whl".parse().unwrap();
        assert_eq!(wheel.python_tags, ["cp311"]);
        assert_eq!(wheel.abi_tags, ["none"]);
        assert_eq!(wheel.platform_tags, ["win_amd64"]);
    }

    #[test]
    fn rejects_invalid_wheel_filenames() {
        for (filename, why) in [
            ("pkg-1.0-py3-none-any.tar.gz", "does not end in `.whl`"),
            ("pkg-1.0-none-any.whl", "expected `name-version"),
            ("pkg-1.0-1-2-py3-none-any.whl", "expected `name-version"),
            (
                "pkg-1.0-build-py3-none-any.whl",
                "does not start with a digit",
            ),
            ("pkg-not.a.version-py3-none-any.whl", "invalid version"),
            ("-1.0-py3-none-any.whl", "empty project name"),
            ("pk!g-1.0-py3-none-any.whl", "invalid project name"),
            ("pkg-1.0-py2..py3-none-any.whl", "empty python tag"),
            ("pkg-1.0-py3--any.whl", "empty ABI tag"),
        ] {
            let err = filename.parse::<WheelFilename>().unwrap_err();
            let message = failure_message(&err);
            assert!(
                message.contains(filename) && message.contains(why),
                "{filename}: {message}"
            );
        }
    }

    #[test]
    fn parses_sdist_filenames() {
        let project: PackageName = "python-dateutil".parse().unwrap();
        // PEP 625 normalized name.
        let sdist = SdistFilename::parse("python_dateutil-2.9.0.post0.tar.gz", &project).unwrap();
        assert_eq!(sdist.name, project);
        assert_eq!(sdist.version, "2.9.0.post0".parse().unwrap());
        // Legacy name with `-`, and a zip.
        let sdist = SdistFilename::parse("python-dateutil-2.8.2.zip", &project).unwrap();
        assert_eq!(sdist.version, "2.8.2".parse().unwrap());
        // Legacy capitalization and `.` in the name.
        let project: PackageName = "zope-interface".parse().unwrap();
        let sdist = SdistFilename::parse("zope.interface-6.0.tar.gz", &project).unwrap();
        assert_eq!(sdist.version, "6.0".parse().unwrap());
    }

    #[test]
    fn sdist_name_with_digits_after_dash() {
        // The first `-` gives `foo` + `1-2.0` (not a version), the second `foo-1` + `2.0`.
        let project: PackageName = "foo-1".parse().unwrap();
        let sdist = SdistFilename::parse("foo-1-2.0.tar.gz", &project).unwrap();
        assert_eq!(sdist.version, "2.0".parse().unwrap());
    }

    #[test]
    fn rejects_sdists_of_other_projects_or_formats() {
        let project: PackageName = "foo".parse().unwrap();
        for filename in [
            "foo-bar-1.0.tar.gz",       // another project
            "foobar-1.0.tar.gz",        // another project
            "foo-1.0.tar.bz2",          // unsupported archive
            "foo-1.0-py3-none-any.whl", // a wheel
            "foo-not_a_version.tar.gz", // not PEP 440
            "foo.tar.gz",               // no version
            "foo-1.0.tar.gz.asc",       // not an archive
        ] {
            assert_eq!(SdistFilename::parse(filename, &project), None, "{filename}");
        }
        assert!(SdistFilename::parse("Foo-1.0.TAR.GZ", &project).is_some());
    }

    #[test]
    fn ranks_specific_abi_before_abi3_before_pure() {
        let t = linux64("3.11.7", "2.17");
        let cp311 = rank(&t, "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl").unwrap();
        let abi3 = rank(&t, "pkg-1.0-cp311-abi3-manylinux_2_17_x86_64.whl").unwrap();
        let older_abi3 = rank(&t, "pkg-1.0-cp38-abi3-manylinux_2_17_x86_64.whl").unwrap();
        let pure = rank(&t, "pkg-1.0-py3-none-any.whl").unwrap();
        assert!(cp311 < abi3, "{cp311} {abi3}");
        assert!(abi3 < older_abi3, "{abi3} {older_abi3}");
        assert!(older_abi3 < pure, "{older_abi3} {pure}");
        assert_eq!(cp311, 0);
        // Newer glibc tags beat older ones for the same python/abi.
        let old_glibc = rank(&t, "pkg-1.0-cp311-cp311-manylinux1_x86_64.whl").unwrap();
        assert!(cp311 < old_glibc && old_glibc < abi3);
    }

    #[test]
    fn rejects_incompatible_python_and_abi() {
        let t = linux64("3.11.7", "2.17");
        for filename in [
            "pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
            "pkg-1.0-cp310-cp310-manylinux_2_17_x86_64.whl",
            "pkg-1.0-cp312-abi3-manylinux_2_17_x86_64.whl",
            "pkg-1.0-cp311-cp311t-manylinux_2_17_x86_64.whl",
            "pkg-1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl",
            "pkg-1.0-py2-none-any.whl",
            "pkg-1.0-py312-none-any.whl",
            "pkg-1.0-cp311-abi3-any.whl",
        ] {
            assert_eq!(rank(&t, filename), None, "{filename}");
        }
        // A compressed tag set is installable if any of its tags is.
        assert!(rank(&t, "pkg-1.0-py2.py3-none-any.whl").is_some());
    }

    #[test]
    fn a_wheel_that_does_not_install_says_which_tag_is_wrong() {
        let t = linux64("3.11.7", "2.17");
        let why = |filename: &str| t.wheel_mismatch(&WheelFilename::from_str(filename).unwrap());
        let set = |tags: &[&str]| tags.iter().map(|t| t.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(why("pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"), None);
        assert_eq!(
            why("pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"),
            Some(WheelMismatch::Python(set(&["cp312"])))
        );
        assert_eq!(
            why("pkg-1.0-cp311-cp311-win_amd64.whl"),
            Some(WheelMismatch::Platform(set(&["win_amd64"])))
        );
        assert_eq!(
            why("pkg-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"),
            Some(WheelMismatch::Glibc {
                needs: (2, 28),
                has: (2, 17)
            })
        );
        // Another architecture's manylinux is a platform mismatch, not a glibc one.
        assert_eq!(
            why("pkg-1.0-cp311-cp311-manylinux_2_28_aarch64.whl"),
            Some(WheelMismatch::Platform(set(&["manylinux_2_28_aarch64"])))
        );
        assert_eq!(
            why("pkg-1.0-cp312-cp312-win_amd64.whl"),
            Some(WheelMismatch::PythonAndPlatform(
                set(&["cp312"]),
                set(&["win_amd64"])
            ))
        );
        // Of two wheels, the closer miss is reported; of two glibc misses, the older glibc.
        let platform = WheelMismatch::Platform(set(&["win_amd64"]));
        let python = WheelMismatch::Python(set(&["cp312"]));
        assert_eq!(python.clone().merge(platform.clone()), platform);
        let glibc = |minor| WheelMismatch::Glibc {
            needs: (2, minor),
            has: (2, 17),
        };
        assert_eq!(glibc(34).merge(glibc(28)), glibc(28));
        assert_eq!(
            python.merge(WheelMismatch::Python(set(&["cp310"]))),
            WheelMismatch::Python(set(&["cp310", "cp312"]))
        );
    }

    #[test]
    fn glibc_caps_manylinux() {
        let wheel = "pkg-1.0-cp311-cp311-manylinux_2_28_x86_64.whl";
        assert_eq!(rank(&linux64("3.11.7", "2.17"), wheel), None);
        assert!(rank(&linux64("3.11.7", "2.28"), wheel).is_some());
        // glibc 2.17 accepts all three legacy aliases on x86_64.
        let t = linux64("3.11.7", "2.17");
        for legacy in ["manylinux2014", "manylinux2010", "manylinux1"] {
            let wheel = format!("pkg-1.0-cp311-cp311-{legacy}_x86_64.whl");
            assert!(rank(&t, &wheel).is_some(), "{wheel}");
        }
        // No musllinux and no plain linux tag.
        assert_eq!(
            rank(&t, "pkg-1.0-cp311-cp311-musllinux_1_1_x86_64.whl"),
            None
        );
        assert_eq!(rank(&t, "pkg-1.0-cp311-cp311-linux_x86_64.whl"), None);
        // Nor another architecture.
        assert_eq!(
            rank(&t, "pkg-1.0-cp311-cp311-manylinux2014_aarch64.whl"),
            None
        );
    }

    #[test]
    fn manylinux_tags_match_packaging() {
        // From packaging's `_manylinux.platform_tags` with glibc 2.17 on x86_64.
        assert_eq!(
            manylinux_tags("x86_64", (2, 17)).join(" "),
            "manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_16_x86_64 \
             manylinux_2_15_x86_64 manylinux_2_14_x86_64 manylinux_2_13_x86_64 \
             manylinux_2_12_x86_64 manylinux2010_x86_64 manylinux_2_11_x86_64 \
             manylinux_2_10_x86_64 manylinux_2_9_x86_64 manylinux_2_8_x86_64 \
             manylinux_2_7_x86_64 manylinux_2_6_x86_64 manylinux_2_5_x86_64 manylinux1_x86_64"
        );
        // And with glibc 2.28 on aarch64: down to 2.17 only.
        assert_eq!(
            manylinux_tags("aarch64", (2, 28)).join(" "),
            "manylinux_2_28_aarch64 manylinux_2_27_aarch64 manylinux_2_26_aarch64 \
             manylinux_2_25_aarch64 manylinux_2_24_aarch64 manylinux_2_23_aarch64 \
             manylinux_2_22_aarch64 manylinux_2_21_aarch64 manylinux_2_20_aarch64 \
             manylinux_2_19_aarch64 manylinux_2_18_aarch64 manylinux_2_17_aarch64 \
             manylinux2014_aarch64"
        );
        // A glibc older than the first policy for the architecture: no manylinux at all.
        assert!(manylinux_tags("ppc64le", (2, 12)).is_empty());
    }

    #[test]
    fn macos_tags_match_packaging() {
        // From packaging's `mac_platforms((11, 0), "arm64")`.
        assert_eq!(
            macos_tags("arm64", (11, 0)).join(" "),
            "macosx_11_0_arm64 macosx_11_0_universal2 macosx_10_16_universal2 \
             macosx_10_15_universal2 macosx_10_14_universal2 macosx_10_13_universal2 \
             macosx_10_12_universal2 macosx_10_11_universal2 macosx_10_10_universal2 \
             macosx_10_9_universal2 macosx_10_8_universal2 macosx_10_7_universal2 \
             macosx_10_6_universal2 macosx_10_5_universal2 macosx_10_4_universal2"
        );
        // `mac_platforms((10, 13), "x86_64")`: 10.13 down to 10.4, six formats each.
        let tags = macos_tags("x86_64", (10, 13));
        assert_eq!(tags.len(), 60);
        assert_eq!(
            tags[..6].join(" "),
            "macosx_10_13_x86_64 macosx_10_13_intel macosx_10_13_fat64 macosx_10_13_fat32 \
             macosx_10_13_universal2 macosx_10_13_universal"
        );
        assert_eq!(tags[59], "macosx_10_4_universal");
        // `mac_platforms((12, 3), "x86_64")`: 12.0, 11.0, then 10.16 down to 10.4.
        let tags = macos_tags("x86_64", (12, 3));
        assert_eq!(tags.len(), (2 + 13) * 6);
        assert_eq!(tags[0], "macosx_12_0_x86_64");
        assert_eq!(tags[6], "macosx_11_0_x86_64");
        assert_eq!(tags[12], "macosx_10_16_x86_64");
        assert_eq!(tags[89], "macosx_10_4_universal");
    }

    #[test]
    fn osx_caps_macosx() {
        let t = target(Subdir::OsxArm64, "3.12.1", &[("__osx", "11.0")]);
        assert_eq!(rank(&t, "pkg-1.0-cp312-cp312-macosx_12_0_arm64.whl"), None);
        assert_eq!(rank(&t, "pkg-1.0-cp312-cp312-macosx_11_1_arm64.whl"), None);
        assert_eq!(rank(&t, "pkg-1.0-cp312-cp312-macosx_10_9_x86_64.whl"), None);
        let arm = rank(&t, "pkg-1.0-cp312-cp312-macosx_11_0_arm64.whl").unwrap();
        let universal = rank(&t, "pkg-1.0-cp312-cp312-macosx_10_9_universal2.whl").unwrap();
        assert!(arm < universal);
        let t = target(Subdir::OsxArm64, "3.12.1", &[("__osx", "14.2")]);
        assert!(rank(&t, "pkg-1.0-cp312-cp312-macosx_12_0_arm64.whl").is_some());

        let t = target(Subdir::Osx64, "3.12.1", &[("__osx", "10.13")]);
        assert!(rank(&t, "pkg-1.0-cp312-cp312-macosx_10_9_x86_64.whl").is_some());
        assert!(rank(&t, "pkg-1.0-cp312-cp312-macosx_10_9_intel.whl").is_some());
        assert_eq!(
            rank(&t, "pkg-1.0-cp312-cp312-macosx_10_14_x86_64.whl"),
            None
        );
        assert_eq!(rank(&t, "pkg-1.0-cp312-cp312-macosx_11_0_x86_64.whl"), None);
        assert_eq!(rank(&t, "pkg-1.0-cp312-cp312-macosx_10_9_arm64.whl"), None);
    }

    #[test]
    fn windows_tags() {
        let t = target(Subdir::Win64, "3.11.7", &[]);
        assert!(rank(&t, "pkg-1.0-cp311-cp311-win_amd64.whl").is_some());
        assert_eq!(rank(&t, "pkg-1.0-cp311-cp311-win32.whl"), None);
        assert_eq!(rank(&t, "pkg-1.0-cp311-cp311-win_arm64.whl"), None);
        let t = target(Subdir::WinArm64, "3.11.7", &[]);
        assert!(rank(&t, "pkg-1.0-cp311-cp311-win_arm64.whl").is_some());
        assert_eq!(rank(&t, "pkg-1.0-cp311-cp311-win_amd64.whl"), None);
    }

    #[test]
    fn platform_wheels_only_fit_their_platform() {
        let linux = linux64("3.11.7", "2.28");
        let mac = target(Subdir::Osx64, "3.11.7", &[("__osx", "10.13")]);
        let win = target(Subdir::Win64, "3.11.7", &[]);
        let win_wheel = "pkg-1.0-cp311-cp311-win_amd64.whl";
        let linux_wheel = "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl";
        let mac_wheel = "pkg-1.0-cp311-cp311-macosx_10_9_x86_64.whl";
        assert_eq!(rank(&linux, win_wheel), None);
        assert_eq!(rank(&linux, mac_wheel), None);
        assert_eq!(rank(&mac, win_wheel), None);
        assert_eq!(rank(&mac, linux_wheel), None);
        assert_eq!(rank(&win, linux_wheel), None);
        assert_eq!(rank(&win, mac_wheel), None);
        // A pure wheel fits everywhere.
        for t in [&linux, &mac, &win] {
            assert!(rank(t, "pkg-1.0-py3-none-any.whl").is_some());
        }
    }

    #[test]
    fn full_order_matches_packaging_sys_tags() {
        // From packaging: `cpython_tags((3, 8), ["cp38"], platforms)` then
        // `compatible_tags((3, 8), "cp38", platforms)`, with glibc 2.17 aarch64 platforms.
        let expected = "cp38-cp38-manylinux_2_17_aarch64 cp38-cp38-manylinux2014_aarch64 \
            cp38-abi3-manylinux_2_17_aarch64 cp38-abi3-manylinux2014_aarch64 \
            cp38-none-manylinux_2_17_aarch64 cp38-none-manylinux2014_aarch64 \
            cp37-abi3-manylinux_2_17_aarch64 cp37-abi3-manylinux2014_aarch64 \
            cp36-abi3-manylinux_2_17_aarch64 cp36-abi3-manylinux2014_aarch64 \
            cp35-abi3-manylinux_2_17_aarch64 cp35-abi3-manylinux2014_aarch64 \
            cp34-abi3-manylinux_2_17_aarch64 cp34-abi3-manylinux2014_aarch64 \
            cp33-abi3-manylinux_2_17_aarch64 cp33-abi3-manylinux2014_aarch64 \
            cp32-abi3-manylinux_2_17_aarch64 cp32-abi3-manylinux2014_aarch64 \
            py38-none-manylinux_2_17_aarch64 py38-none-manylinux2014_aarch64 \
            py3-none-manylinux_2_17_aarch64 py3-none-manylinux2014_aarch64 \
            py37-none-manylinux_2_17_aarch64 py37-none-manylinux2014_aarch64 \
            py36-none-manylinux_2_17_aarch64 py36-none-manylinux2014_aarch64 \
            py35-none-manylinux_2_17_aarch64 py35-none-manylinux2014_aarch64 \
            py34-none-manylinux_2_17_aarch64 py34-none-manylinux2014_aarch64 \
            py33-none-manylinux_2_17_aarch64 py33-none-manylinux2014_aarch64 \
            py32-none-manylinux_2_17_aarch64 py32-none-manylinux2014_aarch64 \
            py31-none-manylinux_2_17_aarch64 py31-none-manylinux2014_aarch64 \
            py30-none-manylinux_2_17_aarch64 py30-none-manylinux2014_aarch64 \
            cp38-none-any py38-none-any py3-none-any py37-none-any py36-none-any \
            py35-none-any py34-none-any py33-none-any py32-none-any py31-none-any py30-none-any";
        let t = target(Subdir::LinuxAarch64, "3.8.18", &[("__glibc", "2.17")]);
        let tags = t.supported_tags();
        assert_eq!(tags.join(" "), expected);
        // wheel_rank is the position in that list.
        for (i, tag) in tags.iter().enumerate() {
            let wheel = format!("pkg-1.0-{tag}.whl");
            assert_eq!(rank(&t, &wheel), Some(i as u32), "{wheel}");
        }
    }

    #[test]
    fn python_before_3_8_has_the_m_abi() {
        // From packaging: `cpython_tags((3, 7), ["cp37m"], ["win_amd64"])`, first tags.
        let t = target(Subdir::Win64, "3.7.12", &[]);
        let tags = t.supported_tags();
        assert_eq!(
            tags[..4].join(" "),
            "cp37-cp37m-win_amd64 cp37-abi3-win_amd64 cp37-none-win_amd64 cp36-abi3-win_amd64"
        );
        assert_eq!(tags.len(), 27);
        assert_eq!(rank(&t, "pkg-1.0-cp37-cp37-win_amd64.whl"), None);
    }

    #[test]
    fn marker_environment_per_target() {
        let targets = [
            linux64("3.11.7", "2.17"),
            target(Subdir::LinuxAarch64, "3.11.7", &[("__glibc", "2.17")]),
            target(Subdir::LinuxPpc64le, "3.12.0", &[("__glibc", "2.17")]),
            target(Subdir::Osx64, "3.11.7", &[("__osx", "10.13")]),
            target(Subdir::OsxArm64, "3.12.0", &[("__osx", "11.0")]),
            target(Subdir::Win64, "3.11.7", &[]),
            target(Subdir::WinArm64, "3.12.0", &[]),
        ];
        // Expected truth per target, in the order above.
        let cases: [(&str, [bool; 7]); 9] = [
            (
                "sys_platform == 'win32'",
                [false, false, false, false, false, true, true],
            ),
            (
                "sys_platform == 'linux'",
                [true, true, true, false, false, false, false],
            ),
            (
                "sys_platform == 'darwin' and platform_machine == 'arm64'",
                [false, false, false, false, true, false, false],
            ),
            (
                "platform_machine == 'aarch64'",
                [false, true, false, false, false, false, false],
            ),
            (
                "platform_machine == 'x86_64' or platform_machine == 'AMD64'",
                [true, false, false, true, false, true, false],
            ),
            (
                "python_version < '3.12'",
                [true, true, false, true, false, true, false],
            ),
            (
                "python_full_version >= '3.11.7' and implementation_name == 'cpython'",
                [true, true, true, true, true, true, true],
            ),
            (
                "os_name == 'nt' and platform_system == 'Windows'",
                [false, false, false, false, false, true, true],
            ),
            (
                "platform_system == 'Darwin' and platform_python_implementation == 'CPython'",
                [false, false, false, true, true, false, false],
            ),
        ];
        for (marker, expected) in cases {
            let tree = MarkerTree::from_str(marker).unwrap();
            for (t, expected) in targets.iter().zip(expected) {
                assert_eq!(
                    tree.evaluate(&t.marker_environment(), &[]),
                    expected,
                    "{marker} on {t}"
                );
            }
        }
        let env = targets[0].marker_environment();
        assert_eq!(env.python_version().string, "3.11");
        assert_eq!(env.python_full_version().string, "3.11.7");
        assert_eq!(env.implementation_version().string, "3.11.7");
        assert_eq!(env.platform_release(), "");
        assert_eq!(env.platform_version(), "");
    }

    #[test]
    fn accessors() {
        let t = linux64("3.11.7", "2.17");
        assert_eq!(t.platform(), Subdir::Linux64);
        assert_eq!(t.python_version(), &"3.11.7".parse::<Version>().unwrap());
        assert_eq!(t.to_string(), "linux-64 (CPython 3.11.7)");
    }

    #[test]
    fn unsupported_platforms_are_named() {
        let python: Version = "3.11.7".parse().unwrap();
        for platform in [
            Subdir::NoArch,
            Subdir::EmscriptenWasm32,
            Subdir::Linux32,
            Subdir::LinuxS390X,
            Subdir::Win32,
        ] {
            let err = Target::new(platform, &python, &[]).unwrap_err();
            let failure = err.downcast_ref::<Failure>().unwrap();
            assert!(
                failure.message.contains(&format!("`{platform}`")),
                "{}",
                failure.message
            );
            assert!(failure.hint.is_some());
        }
    }

    #[test]
    fn missing_or_bad_virtual_packages_and_python() {
        let python: Version = "3.11.7".parse().unwrap();
        let err = Target::new(Subdir::Linux64, &python, &[vp("__osx", "11.0")]).unwrap_err();
        assert!(failure_message(&err).contains("`__glibc`"));
        let err = Target::new(Subdir::OsxArm64, &python, &[vp("__glibc", "2.17")]).unwrap_err();
        assert!(failure_message(&err).contains("`__osx`"));
        let err = Target::new(Subdir::Linux64, &python, &[vp("__glibc", "2.x")]).unwrap_err();
        assert!(failure_message(&err).contains("__glibc=2.x"));
        let err = Target::new(
            Subdir::Linux64,
            &"2.7.18".parse().unwrap(),
            &[vp("__glibc", "2.17")],
        )
        .unwrap_err();
        assert!(failure_message(&err).contains("Python 2.7.18"));
        let err = Target::new(Subdir::Win64, &"3".parse().unwrap(), &[]).unwrap_err();
        assert!(failure_message(&err).contains("Python 3 "));
        // A major-only `__osx` means minor 0.
        let t = target(Subdir::OsxArm64, "3.12.0", &[("__osx", "13")]);
        assert!(rank(&t, "pkg-1.0-cp312-cp312-macosx_13_0_arm64.whl").is_some());
    }
}
