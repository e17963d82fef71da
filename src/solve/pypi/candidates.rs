//! The candidates of one project for one target: its versions, newest first, and each version's
//! preferred installable file, or why none of its files can be used.
//!
//! A large project lists thousands of files (pyzmq, numpy and rpds-py over 4,000 each), while
//! pubgrub looks at few versions of each project: the newest in range, and some older ones when
//! it backtracks. So [`Candidates`] groups the files by version once (the version is already
//! parsed from the file name) and ranks a version's files for the target only when that version
//! is first asked about. Ranking every file of every project up front, again at each of
//! pubgrub's questions, and with a reason for each file that does not fit, was a third of a
//! warm resolve; the reasons are worked out only for a failure report ([`classify`]).

use std::{
    cmp::Reverse,
    collections::BTreeMap,
    sync::{Arc, OnceLock},
};

use pep440_rs::Version;
use pep508_rs::PackageName;
use pubgrub::Ranges;

use super::{
    graph::{Options, Unusable},
    index::{DistFile, DistKind, Project},
    tags::{Target, WheelMismatch},
};
use crate::inputs::requirements::{BinaryChoice, PipOptions};

/// A project's versions for one target, each version's preferred file ranked when first needed.
pub struct Candidates {
    project: Arc<Project>,
    /// sha256 values the user's `--hash` options allow, if they name any.
    allowed_hashes: Option<Vec<String>>,
    /// Every version, newest first, with the indexes of its files in `project.files`.
    versions: Vec<(Version, Vec<usize>)>,
    /// The preferred file of each version of `versions` (`None`: no file of it can be used).
    best: Vec<OnceLock<Option<DistFile>>>,
    /// The order versions are tried in, as indexes into `versions`: newest first, or with
    /// `--prefer-binary` every version with a usable wheel first.
    order: Vec<usize>,
}

impl Candidates {
    /// Groups `project`'s files by version. Only `--prefer-binary` needs every version ranked
    /// here, to put the versions with a wheel first.
    pub fn new(
        project: Arc<Project>,
        allowed_hashes: Option<Vec<String>>,
        target: &Target,
        options: &Options,
    ) -> Candidates {
        let mut grouped: BTreeMap<&Version, Vec<usize>> = BTreeMap::new();
        for i in 0..project.len() {
            grouped.entry(project.version(i)).or_default().push(i);
        }
        let versions: Vec<(Version, Vec<usize>)> = grouped
            .into_iter()
            .rev()
            .map(|(v, files)| (v.clone(), files))
            .collect();
        let best = versions.iter().map(|_| OnceLock::new()).collect();
        let mut candidates = Candidates {
            project,
            allowed_hashes,
            order: (0..versions.len()).collect(),
            versions,
            best,
        };
        if options.pip.prefer_binary {
            let mut order = std::mem::take(&mut candidates.order);
            order.sort_by_cached_key(|&i| {
                let sdist = match candidates.best(i, target, options) {
                    Some(file) => matches!(file.kind, DistKind::Sdist(_)),
                    None => true,
                };
                (sdist, i)
            });
            candidates.order = order;
        }
        candidates
    }

    /// A single file named by a direct URL: its only candidate.
    pub fn direct(file: DistFile) -> Candidates {
        let version = file.version().clone();
        let name = match &file.kind {
            DistKind::Wheel(w) => w.name.clone(),
            DistKind::Sdist(s) => s.name.clone(),
        };
        let project = Project::from_files(name, file.url.clone(), vec![file.clone()]);
        Candidates {
            project: Arc::new(project),
            allowed_hashes: None,
            versions: vec![(version, vec![0])],
            best: vec![OnceLock::from(Some(file))],
            order: vec![0],
        }
    }

    /// The preferred file of the `i`th version, ranked on first use.
    fn best(&self, i: usize, target: &Target, options: &Options) -> Option<&DistFile> {
        self.best[i]
            .get_or_init(|| {
                // A file published after the cutoff is not read at all (the newest versions of
                // a large project, with dozens of wheels each, are often all past it).
                let files = self.versions[i]
                    .1
                    .iter()
                    .filter(|&&f| {
                        options
                            .exclude_newer
                            .is_none_or(|cutoff| !self.project.uploaded_after(f, cutoff))
                    })
                    .filter_map(|&f| self.project.file(f));
                preferred_file(
                    files,
                    &self.project.name,
                    target,
                    options,
                    self.allowed_hashes.as_ref(),
                )
            })
            .as_ref()
    }

    /// The version to try for `range`, with the file that would be installed: `preferred`
    /// (the version an existing lock has) when it is eligible, else the first eligible version
    /// in order that is not a pre-release (unless `--pre`), else the first eligible one. A
    /// yanked file is eligible only when `range` pins its version (PEP 592).
    pub fn pick(
        &self,
        range: &Ranges<Version>,
        preferred: Option<&Version>,
        target: &Target,
        options: &Options,
    ) -> Option<(Version, DistFile)> {
        let pinned = super::ranges::pinned(range);
        let eligible = |i: usize| {
            let version = &self.versions[i].0;
            if !range.contains(version) {
                return None;
            }
            self.best(i, target, options)
                .filter(|f| !f.yanked || pinned.is_some())
                .map(|f| (version.clone(), f.clone()))
        };
        if let Some(preferred) = preferred
            && let Some(i) = self.versions.iter().position(|(v, _)| v == preferred)
            && let Some(pick) = eligible(i)
        {
            return Some(pick);
        }
        let release = |&&i: &&usize| options.pip.pre || !self.versions[i].0.any_prerelease();
        self.order
            .iter()
            .filter(release)
            .find_map(|&i| eligible(i))
            .or_else(|| self.order.iter().find_map(|&i| eligible(i)))
    }

    /// The file whose metadata gives the dependencies of `version` when `file`, its preferred
    /// file, is installed: `file` itself, unless it is an sdist and the version also has wheels
    /// (for other pythons or platforms, which is why the sdist was preferred): then the wheel
    /// closest to the target ([`metadata_wheel_rank`]), as uv does. A wheel's METADATA is one
    /// small fetch, while an sdist's dependencies are often known only after its build backend
    /// ran here: slow, and failing for many old sdists on a newer python (numpy 1.19, PyYAML
    /// 5). The files of one version declare the same dependencies, except in rare setup.py
    /// projects that compute them at build time; docs/resolve.md says so.
    pub fn metadata_file(&self, version: &Version, file: &DistFile, options: &Options) -> DistFile {
        if !matches!(file.kind, DistKind::Sdist(_)) {
            return file.clone();
        }
        let Ok(at) = self.versions.binary_search_by(|(v, _)| version.cmp(v)) else {
            return file.clone();
        };
        self.versions[at]
            .1
            .iter()
            .filter(|&&f| {
                options
                    .exclude_newer
                    .is_none_or(|cutoff| !self.project.uploaded_after(f, cutoff))
            })
            .filter_map(|&f| self.project.file(f))
            .filter_map(|f| match &f.kind {
                DistKind::Wheel(w) => Some((metadata_wheel_rank(f.yanked, w), f)),
                DistKind::Sdist(_) => None,
            })
            .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.filename.cmp(&b.1.filename)))
            .map_or_else(|| file.clone(), |(_, f)| f.clone())
    }
}

/// How close a wheel is to a Linux target, for [`Candidates::metadata_file`] (lower is closer):
/// not yanked; then pure (`any`) before Linux before other platforms, whose build-time
/// dependencies are likeliest to be the target's; then a Python 3 tag before a Python 2 one.
fn metadata_wheel_rank(yanked: bool, wheel: &super::tags::WheelFilename) -> (bool, u8, bool) {
    let platform = if wheel.platform_tags.iter().any(|t| t == "any") {
        0
    } else if wheel.platform_tags.iter().any(|t| t.contains("linux")) {
        1
    } else {
        2
    };
    let python2 = !wheel
        .python_tags
        .iter()
        .any(|t| t.starts_with("py3") || t.starts_with("cp3"));
    (yanked, platform, python2)
}

/// The preferred file among one version's `files` for `target`: the best-ranked usable one, a
/// non-yanked file before a yanked one whatever their tags.
fn preferred_file<'a>(
    files: impl Iterator<Item = &'a DistFile>,
    name: &PackageName,
    target: &Target,
    options: &Options,
    allowed_hashes: Option<&Vec<String>>,
) -> Option<DistFile> {
    let python = target.python_version();
    let mut best: Option<(bool, u32, &DistFile)> = None;
    for file in files {
        let Ok(rank) = file_rank(file, name, target, python, options, allowed_hashes, false) else {
            continue;
        };
        if best.is_none_or(|(yanked, r, _)| (file.yanked, rank) < (yanked, r)) {
            best = Some((file.yanked, rank, file));
        }
    }
    best.map(|(_, _, f)| f.clone())
}

/// Why each version of a project without an installable file has none.
pub type UnusableVersions = BTreeMap<Version, Vec<Unusable>>;

/// Every version of a project with its preferred file for `target`, newest version first
/// (wheels of any version first with `--prefer-binary`), and why each version without an
/// installable file has none (its files' reasons, each once, a version's wheels as one
/// [`WheelMismatch`]). For a failure report: [`Candidates`] is the resolver's lazy way.
pub fn classify<'a>(
    files: impl IntoIterator<Item = &'a DistFile>,
    name: &PackageName,
    target: &Target,
    options: &Options,
    allowed_hashes: Option<&Vec<String>>,
) -> (Vec<(Version, DistFile)>, UnusableVersions) {
    let python = target.python_version();
    let mut best: BTreeMap<Version, (u32, DistFile)> = BTreeMap::new();
    let mut unusable = UnusableVersions::new();
    for file in files {
        let version = file.version().clone();
        let rank = match file_rank(file, name, target, python, options, allowed_hashes, true) {
            Ok(rank) => rank,
            Err(reason) => {
                let reasons = unusable.entry(version).or_default();
                match (
                    reason,
                    reasons.iter_mut().find_map(|r| match r {
                        Unusable::Wheels(m) => Some(m),
                        _ => None,
                    }),
                ) {
                    (Unusable::Wheels(new), Some(existing)) => {
                        *existing = existing.clone().merge(new);
                    }
                    (reason, _) => {
                        if !reasons.contains(&reason) {
                            reasons.push(reason);
                        }
                    }
                }
                continue;
            }
        };
        match best.get(&version) {
            // A non-yanked file beats a yanked one of the same version, whatever their tags.
            Some((r, existing)) if (existing.yanked, *r) <= (file.yanked, rank) => {}
            _ => {
                best.insert(version, (rank, file.clone()));
            }
        }
    }
    unusable.retain(|v, _| !best.contains_key(v));
    for reasons in unusable.values_mut() {
        reasons.sort();
    }
    let mut out: Vec<(Version, DistFile)> = best.into_iter().map(|(v, (_, f))| (v, f)).collect();
    out.reverse();
    if options.pip.prefer_binary {
        out.sort_by_key(|(v, f)| (matches!(f.kind, DistKind::Sdist(_)), Reverse(v.clone())));
    }
    (out, unusable)
}

/// The rank of one file for `target` (lower is preferred; sdists rank after every wheel), or
/// why it cannot be used. Without `explain`, a wheel for another platform is not told apart
/// from one for another python (working that out is most of the cost of a mismatch).
fn file_rank(
    file: &DistFile,
    name: &PackageName,
    target: &Target,
    python: &Version,
    options: &Options,
    allowed_hashes: Option<&Vec<String>>,
    explain: bool,
) -> Result<u32, Unusable> {
    // With `--hash` on the requirement, only the files it names are candidates.
    if allowed_hashes.is_some_and(|a| !file.sha256.as_ref().is_some_and(|h| a.contains(h))) {
        return Err(Unusable::HashMismatch);
    }
    // A lock promises hash-checked installs: a file the index gives no usable sha256 for (none,
    // or a value that is not 64 hex digits, which `index` drops) is no candidate.
    if file.sha256.is_none() {
        return Err(Unusable::NoHash);
    }
    if let Some(rp) = &file.requires_python
        && !rp.contains(python)
    {
        return Err(Unusable::RequiresPython(rp.to_string()));
    }
    if let (Some(cutoff), Some(uploaded)) = (options.exclude_newer, file.upload_time)
        && uploaded > cutoff
    {
        return Err(Unusable::Newer);
    }
    // The option that decided: a list naming the package, else that list's `:all:`.
    let spelled = |option: &str, choice: &BinaryChoice| match choice {
        BinaryChoice::Packages(names) if names.contains(name) => format!("{option} {name}"),
        _ => format!("{option} :all:"),
    };
    match &file.kind {
        DistKind::Wheel(_) if !admits(&options.pip, name, &file.kind) => Err(
            Unusable::WheelsForbidden(spelled("--no-binary", &options.pip.no_binary)),
        ),
        DistKind::Sdist(_) if !admits(&options.pip, name, &file.kind) => Err(
            Unusable::SdistForbidden(spelled("--only-binary", &options.pip.only_binary)),
        ),
        DistKind::Wheel(w) => match target.wheel_rank(w) {
            Some(rank) => Ok(rank),
            None => Err(Unusable::Wheels(
                explain
                    .then(|| target.wheel_mismatch(w))
                    .flatten()
                    .unwrap_or(WheelMismatch::PythonAndPlatform(
                        Default::default(),
                        Default::default(),
                    )),
            )),
        },
        DistKind::Sdist(_) => Ok(u32::MAX),
    }
}

/// Whether pip's format control lets a file of this kind be used for `name`.
fn admits(pip: &PipOptions, name: &PackageName, kind: &DistKind) -> bool {
    match kind {
        DistKind::Wheel(_) => pip.allows_binary(name),
        DistKind::Sdist(_) => pip.allows_source(name),
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn the_metadata_of_an_sdist_comes_from_the_wheel_closest_to_a_linux_target() {
        use crate::solve::pypi::tags::WheelFilename;

        let rank = |filename: &str, yanked: bool| {
            metadata_wheel_rank(yanked, &WheelFilename::from_str(filename).unwrap())
        };
        let mut wheels = [
            ("x-1.0-cp27-cp27m-win32.whl", false),
            ("x-1.0-cp38-cp38-macosx_10_9_x86_64.whl", false),
            ("x-1.0-cp27-cp27mu-manylinux1_x86_64.whl", false),
            ("x-1.0-cp38-cp38-manylinux1_x86_64.whl", false),
            ("x-1.0-py3-none-any.whl", true),
            ("x-1.0-py2.py3-none-any.whl", false),
        ];
        wheels.sort_by_key(|(f, yanked)| rank(f, *yanked));
        let order: Vec<&str> = wheels.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            order,
            [
                "x-1.0-py2.py3-none-any.whl",
                "x-1.0-cp38-cp38-manylinux1_x86_64.whl",
                "x-1.0-cp27-cp27mu-manylinux1_x86_64.whl",
                "x-1.0-cp38-cp38-macosx_10_9_x86_64.whl",
                "x-1.0-cp27-cp27m-win32.whl",
                "x-1.0-py3-none-any.whl",
            ]
        );
    }

    #[test]
    fn format_control_asks_pip_options_and_a_named_package_wins_over_all() {
        use std::collections::BTreeSet;

        use crate::{
            inputs::requirements::BinaryChoice,
            solve::pypi::tags::{SdistFilename, WheelFilename},
        };

        let name = |n: &str| PackageName::from_str(n).unwrap();
        let wheel = |n: &str| {
            DistKind::Wheel(WheelFilename::from_str(&format!("{n}-1.0-py3-none-any.whl")).unwrap())
        };
        let sdist = |n: &str| {
            DistKind::Sdist(SdistFilename::parse(&format!("{n}-1.0.tar.gz"), &name(n)).unwrap())
        };
        let only = |n: &str| BinaryChoice::Packages(BTreeSet::from([name(n)]));

        // `--only-binary :all:` + `--no-binary foo`: foo is built from source, others are not.
        let pip = PipOptions {
            only_binary: BinaryChoice::All,
            no_binary: only("foo"),
            ..PipOptions::default()
        };
        assert!(admits(&pip, &name("foo"), &sdist("foo")));
        assert!(!admits(&pip, &name("foo"), &wheel("foo")));
        assert!(admits(&pip, &name("bar"), &wheel("bar")));
        assert!(!admits(&pip, &name("bar"), &sdist("bar")));

        // The reverse: `--no-binary :all:` + `--only-binary foo`.
        let pip = PipOptions {
            only_binary: only("foo"),
            no_binary: BinaryChoice::All,
            ..PipOptions::default()
        };
        assert!(admits(&pip, &name("foo"), &wheel("foo")));
        assert!(!admits(&pip, &name("foo"), &sdist("foo")));
        assert!(admits(&pip, &name("bar"), &sdist("bar")));
        assert!(!admits(&pip, &name("bar"), &wheel("bar")));

        // Neither: both formats.
        let pip = PipOptions::default();
        assert!(admits(&pip, &name("foo"), &wheel("foo")));
        assert!(admits(&pip, &name("foo"), &sdist("foo")));
    }
}
