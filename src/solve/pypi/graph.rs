//! The vocabulary the resolver, its candidates and its failure report share: the nodes of the
//! resolution graph ([`Pkg`]), why a version of a project cannot be used ([`Unusable`], kept as
//! data while candidates are ranked, worded by `report`), and the resolution's [`Options`].

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex},
};

use jiff::Timestamp;
use pep440_rs::Version;
use pep508_rs::{ExtraName, PackageName};

use super::tags::WheelMismatch;
use crate::inputs::requirements::PipOptions;

/// Choices that apply to the whole resolution.
#[derive(Debug, Clone)]
pub struct Options {
    /// The requirements files' options: `--pre`, `--prefer-binary`, and the format control
    /// (`--only-binary`/`--no-binary`) that [`PipOptions::allows_binary`] and
    /// [`PipOptions::allows_source`] decide.
    pub pip: PipOptions,
    /// Files uploaded after this are ignored (`--exclude-newer`).
    pub exclude_newer: Option<Timestamp>,
    /// Versions to choose when they still fit (an existing lock's), so re-resolving does not
    /// churn.
    pub preferred: HashMap<PackageName, Version>,
    /// Where the resolution leaves what the user should know about its result (an extra asked
    /// for that the locked version does not provide); shared by the clones of these options.
    pub warnings: Warnings,
}

/// Warnings of resolutions, deduplicated and sorted (the platforms' resolutions share one).
pub type Warnings = Arc<Mutex<std::collections::BTreeSet<String>>>;

/// A node of the resolution graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Pkg {
    /// The user's requirements.
    Root,
    /// Everything the conda solve installs that pip sees as installed.
    Conda,
    /// A PyPI project.
    Name(PackageName),
    /// `name[extra]`: depends on `name` at the same version plus the extra's dependencies.
    Extra(PackageName, ExtraName),
}

impl fmt::Display for Pkg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pkg::Root => f.write_str("your requirements"),
            Pkg::Conda => f.write_str("the conda environment"),
            Pkg::Name(n) => write!(f, "{n}"),
            Pkg::Extra(n, e) => write!(f, "{n}[{e}]"),
        }
    }
}

/// Why one version of a project cannot be used on the target. Kept as data while candidates
/// are filtered (and as the reason of pubgrub's custom incompatibilities); `report` words it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unusable {
    /// None of its files has a sha256 that the requirement's `--hash` options allow.
    HashMismatch,
    /// None of its files has a usable sha256 on the index (none, or not 64 hex digits), so it
    /// cannot be locked with a hash.
    NoHash,
    /// Its files were uploaded after the `--exclude-newer` cutoff.
    Newer,
    /// The index's `Requires-Python` of its files excludes the target's Python.
    RequiresPython(String),
    /// Its wheels do not install on the target.
    Wheels(WheelMismatch),
    /// It has a source distribution, and `--only-binary` (the option, as the user wrote it)
    /// does not allow building it.
    SdistForbidden(String),
    /// It has wheels, and `--no-binary` (the option, as written) does not allow them.
    WheelsForbidden(String),
    /// Yanked (PEP 592) and not pinned with `==`.
    Yanked,
    /// Its metadata could not be built from its sdist (the build's error is reported too).
    BuildFailed,
    /// The `Requires-Python` of its metadata excludes the target's Python: the specifier and
    /// ", and <platform> has Python <version>".
    MetadataRequiresPython(String),
    /// Its published metadata does not parse (the error is reported too).
    InvalidMetadata,
    /// Only an sdist, whose metadata was not built because the builds of this many other
    /// versions of the project had failed ([`super::resolver`]'s `MAX_FAILED_BUILDS`).
    NotBuilt(usize),
}
