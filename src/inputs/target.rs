//! What a lock is solved for: the target platforms, the virtual packages assumed on each, and
//! the `--exclude-newer` cutoff.

use anyhow::Result;
use jiff::Timestamp;
use rattler_conda_types::{GenericVirtualPackage, PackageName, Subdir, Version};
use rattler_virtual_packages::VirtualPackages;

use crate::util::error::Failure;

/// The platforms locked when neither `--platform` nor `platforms:` says otherwise: the two
/// that Docker images are built for.
pub const DEFAULT_PLATFORMS: [Subdir; 2] = [Subdir::Linux64, Subdir::LinuxAarch64];

/// The virtual packages assumed for a target platform.
///
/// These come from rattler's per-platform baseline, pinned to the values a Docker image or a
/// CI machine can be expected to have, and never from the machine running envlock, so a lock
/// made on a laptop equals one made in CI:
///
/// | platform | virtual packages |
/// |---|---|
/// | linux-* | `__unix`, `__linux=4.18`, `__glibc=2.28`, `__archspec=1=<arch>` |
/// | osx-64 | `__unix`, `__osx=10.13`, `__archspec=1=x86_64` |
/// | osx-arm64 | `__unix`, `__osx=11.0`, `__archspec=1=m1` |
/// | win-* | `__win=10.0`, `__archspec=1=<arch>` |
///
/// No `__cuda` unless given with `--virtual-package __cuda=12.4`. `overrides` replace or add
/// entries by name.
///
/// `__glibc=2.28` is what pixi assumes and uv's default linux target (manylinux_2_28); every
/// maintained distribution has it (Debian 10+, Ubuntu 20.04+, RHEL 8+). Before, the
/// table had `__glibc=2.17` ([`LEGACY_GLIBC`]), which locks made then record.
pub fn virtual_packages(
    platform: Subdir,
    overrides: &[GenericVirtualPackage],
) -> Vec<GenericVirtualPackage> {
    table(platform, DEFAULT_GLIBC, overrides)
}

/// The glibc the table assumes for linux platforms.
pub const DEFAULT_GLIBC: &str = "2.28";

/// The glibc the table assumed before [`DEFAULT_GLIBC`]. The options fingerprint spells virtual
/// packages as their differences from that table (a frozen format), so old locks keep theirs.
pub const LEGACY_GLIBC: &str = "2.17";

/// The table with `__glibc=<glibc>` for linux platforms, then `overrides`.
pub fn table(
    platform: Subdir,
    glibc: &str,
    overrides: &[GenericVirtualPackage],
) -> Vec<GenericVirtualPackage> {
    let mut baseline = VirtualPackages::baseline_for_platform(platform);
    if let Some(libc) = baseline.libc.as_mut() {
        libc.version = glibc.parse().expect("valid version");
    }
    if let Some(osx) = baseline.osx.as_mut() {
        osx.version = match platform {
            Subdir::Osx64 => "10.13".parse().expect("valid version"),
            _ => "11.0".parse().expect("valid version"),
        };
    }
    let mut packages: Vec<GenericVirtualPackage> =
        baseline.into_generic_virtual_packages().collect();
    for o in overrides {
        match packages.iter_mut().find(|p| p.name == o.name) {
            Some(p) => *p = o.clone(),
            None => packages.push(o.clone()),
        }
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    packages
}

/// Parses `--virtual-package NAME=VERSION[=BUILD]`.
pub fn parse_virtual_package(arg: &str) -> Result<GenericVirtualPackage> {
    let mut parts = arg.splitn(3, '=');
    let name = parts.next().unwrap_or_default();
    let hint = "write it as NAME=VERSION, e.g. `--virtual-package __glibc=2.28` or `__cuda=12.4`";
    if !name.starts_with("__") {
        return Err(Failure::new(format!(
            "invalid --virtual-package `{arg}`: virtual package names start with `__`"
        ))
        .hint(hint)
        .into());
    }
    let Some(version) = parts.next() else {
        return Err(
            Failure::new(format!("invalid --virtual-package `{arg}`: no version"))
                .hint(hint)
                .into(),
        );
    };
    let name = PackageName::try_from(name)
        .map_err(|e| Failure::new(format!("invalid --virtual-package `{arg}`: {e}")))?;
    let version: Version = version
        .parse()
        .map_err(|e| Failure::new(format!("invalid --virtual-package `{arg}`: {e}")).hint(hint))?;
    let build =
        parts.next().unwrap_or("0").parse().map_err(|e| {
            Failure::new(format!("invalid --virtual-package `{arg}`: {e}")).hint(hint)
        })?;
    Ok(GenericVirtualPackage {
        name,
        version,
        build_string: build,
    })
}

/// Parses `--exclude-newer`: an RFC 3339 timestamp, or a date meaning the end of that day in
/// UTC, so that `2024-06-01` keeps what was published on June 1st (uv reads a date the same way).
/// Anything published later than the result is ignored.
pub fn parse_exclude_newer(arg: &str) -> Result<Timestamp> {
    if let Ok(ts) = arg.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(ts) = arg.parse::<jiff::civil::Date>().and_then(|date| {
        date.at(23, 59, 59, 999_999_999)
            .to_zoned(jiff::tz::TimeZone::UTC)
    }) {
        return Ok(ts.timestamp());
    }
    Err(Failure::new(format!("invalid --exclude-newer `{arg}`"))
        .hint("give a date (2024-05-01, meaning up to the end of that day, UTC) or an RFC 3339 time (2024-05-01T12:00:00Z)")
        .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(platform: Subdir) -> Vec<String> {
        virtual_packages(platform, &[])
            .iter()
            .map(|v| v.to_string())
            .collect()
    }

    #[test]
    fn virtual_package_table_is_fixed() {
        assert_eq!(
            names(Subdir::Linux64),
            [
                "__archspec=1=x86_64",
                "__glibc=2.28=0",
                "__linux=4.18=0",
                "__unix=0=0"
            ]
        );
        assert_eq!(
            names(Subdir::OsxArm64),
            ["__archspec=1=m1", "__osx=11.0=0", "__unix=0=0"]
        );
        assert!(names(Subdir::Osx64).contains(&"__osx=10.13=0".to_string()));
        assert!(names(Subdir::Win64).iter().any(|n| n.starts_with("__win=")));
        assert!(
            !names(Subdir::Linux64)
                .iter()
                .any(|n| n.starts_with("__cuda"))
        );
    }

    #[test]
    fn overrides_replace_and_add() {
        let o = [
            parse_virtual_package("__glibc=2.17").unwrap(),
            parse_virtual_package("__cuda=12.4").unwrap(),
        ];
        let v: Vec<String> = virtual_packages(Subdir::Linux64, &o)
            .iter()
            .map(|v| v.to_string())
            .collect();
        assert!(v.contains(&"__glibc=2.17=0".to_string()), "{v:?}");
        assert!(v.contains(&"__cuda=12.4=0".to_string()), "{v:?}");
        assert!(!v.contains(&"__glibc=2.28=0".to_string()), "{v:?}");
        assert!(parse_virtual_package("glibc=2.28").is_err());
        assert!(parse_virtual_package("__glibc").is_err());
    }

    #[test]
    fn exclude_newer_accepts_dates_and_times() {
        assert_eq!(
            parse_exclude_newer("2024-05-01").unwrap().to_string(),
            "2024-05-01T23:59:59.999999999Z"
        );
        assert_eq!(
            parse_exclude_newer("2024-05-01T12:30:00Z")
                .unwrap()
                .to_string(),
            "2024-05-01T12:30:00Z"
        );
        assert!(parse_exclude_newer("yesterday").is_err());
    }
}
