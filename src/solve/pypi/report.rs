//! Why a PyPI resolution failed, in the user's terms: pubgrub's derivation tree through a
//! formatter of envlock's own (uv's `PubGrubReportFormatter` is the model).
//!
//! pubgrub's default wording shows its internal nodes as packages with versions ("your
//! requirements 0 depends on …", "the conda environment 0"). Here the root is "you require
//! `name>=1` (requirements.txt:3:1)", naming where each root requirement was written; what the
//! conda solve installs reads "the conda environment has name==1.0"; version sets read as PEP
//! 440 specifiers; and a version that cannot be used says why (its `Requires-Python`, a failed
//! metadata build, a missing extra).
//!
//! After the derivation come the reasons, grouped and terse: for each package there was no
//! version of, why each of its versions is unusable for the target ([`Unusable`], versions
//! with the same reasons on one line), e.g. "only cp312 wheels", "its wheels need
//! manylinux_2_28 (glibc 2.28); linux-64 has glibc 2.17", yanked, after the `--exclude-newer`
//! cutoff, an sdist that `--only-binary` does not allow; and the requirements on those packages
//! that their markers left out. Each kind of reason adds its fix to the hint.

use std::{collections::HashMap, fmt, fmt::Display, sync::Arc};

use jiff::Timestamp;
use pep440_rs::Version;
use pep508_rs::PackageName;
use pubgrub::{DerivationTree, Derived, External, Map, Ranges, ReportFormatter, Term};

use super::{
    graph::{Pkg, Unusable},
    ranges::specifiers,
    tags::{Target, WheelMismatch},
};

/// What the reasons are worded against.
pub struct Context<'a> {
    /// The platform and python resolved for.
    pub target: &'a Target,
    /// The `--exclude-newer` cutoff, if any.
    pub exclude_newer: Option<Timestamp>,
}

/// A package of a failed resolution with no usable version in the range asked for.
#[derive(Debug, Clone)]
pub struct Unavailable {
    /// The project.
    pub name: PackageName,
    /// Each version in the range that cannot be used, oldest first, with why.
    pub versions: Vec<(Version, Vec<Unusable>)>,
    /// Root requirements on it that do not apply here (marker false), as
    /// `` `requirement` (file:line:column) ``.
    pub skipped: Vec<String>,
    /// The project page, when it lists no files at all (an emptied project, or a proxy's or
    /// login page answering in the index's place).
    pub empty_page: Option<String>,
}

impl Display for Unusable {
    /// The reason alone, as the derivation says it of one version.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unusable::HashMismatch => f.write_str("no file matches its `--hash`"),
            Unusable::NoHash => f.write_str("no file has a usable sha256 on the index"),
            Unusable::Newer => f.write_str("it was uploaded after the `--exclude-newer` cutoff"),
            Unusable::RequiresPython(rp) | Unusable::MetadataRequiresPython(rp) => {
                write!(f, "it requires Python {rp}")
            }
            Unusable::Wheels(_) => f.write_str("none of its wheels installs here"),
            Unusable::SdistForbidden(option) => write!(f, "`{option}` excludes its sdist"),
            Unusable::WheelsForbidden(option) => write!(f, "`{option}` excludes its wheels"),
            Unusable::Yanked => f.write_str("it was yanked"),
            Unusable::BuildFailed => {
                f.write_str("its metadata could not be built from its sdist (below)")
            }
            Unusable::InvalidMetadata => f.write_str("its metadata is invalid (below)"),
            Unusable::NotBuilt(n) => write!(
                f,
                "it has only an sdist, not built after the builds of {n} other versions failed"
            ),
        }
    }
}

/// What to do about a version whose `Requires-Python` excludes the target's `python`.
pub fn python_hint(name: &PackageName, python: &Version) -> String {
    format!(
        "require a version of {name} that supports Python {python}, or lock with a Python it \
         supports (`--python X.Y`)"
    )
}

type Tree = DerivationTree<Pkg, Vs, Unusable>;

/// pubgrub's `collapse_no_versions`, except for the packages `keep` names: "there is no
/// version of `x` other than 1.0" merges into the step it belongs to (as pubgrub does), while
/// "there is no usable version of `x`" stays where the reasons after the derivation explain it.
pub fn collapse_no_versions(tree: &mut Tree, keep: &dyn Fn(&Pkg) -> bool) {
    let DerivationTree::Derived(derived) = tree else {
        return;
    };
    let merged = match (derived.cause1.as_ref(), derived.cause2.as_ref()) {
        (DerivationTree::External(External::NoVersions(p, set)), other)
        | (other, DerivationTree::External(External::NoVersions(p, set)))
            if !keep(p) =>
        {
            let mut other = other.clone();
            collapse_no_versions(&mut other, keep);
            Some(merge_no_versions(other, p, set))
        }
        _ => None,
    };
    match merged {
        Some(merged) => *tree = merged,
        None => {
            collapse_no_versions(Arc::make_mut(&mut derived.cause1), keep);
            collapse_no_versions(Arc::make_mut(&mut derived.cause2), keep);
        }
    }
}

/// pubgrub's `merge_no_versions`: `tree` with the versions of `package` in `set` (which do not
/// exist) added to its own range of that package.
fn merge_no_versions(tree: Tree, package: &Pkg, set: &Vs) -> Tree {
    match tree {
        DerivationTree::External(External::NoVersions(_, r)) => {
            DerivationTree::External(External::NoVersions(package.clone(), set.union(&r)))
        }
        DerivationTree::External(External::FromDependencyOf(p1, r1, p2, r2)) => {
            if &p1 == package {
                DerivationTree::External(External::FromDependencyOf(p1, r1.union(set), p2, r2))
            } else {
                DerivationTree::External(External::FromDependencyOf(p1, r1, p2, r2.union(set)))
            }
        }
        DerivationTree::External(External::Custom(p, r, reason)) => {
            DerivationTree::External(External::Custom(p, r.union(set), reason))
        }
        other => other,
    }
}

/// At most `max` tags, then how many more.
fn some_tags<'t>(tags: impl IntoIterator<Item = &'t String>, max: usize) -> String {
    let tags: Vec<&String> = tags.into_iter().collect();
    let shown: Vec<&str> = tags.iter().take(max).map(|t| t.as_str()).collect();
    match tags.len().saturating_sub(max) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// `1.0, 2.0`, or the first two, the last and how many for a long list.
fn version_list(versions: &[&Version]) -> String {
    match versions {
        [first, second, .., last] if versions.len() > 4 => {
            format!("{first}, {second}, …, {last} ({} versions)", versions.len())
        }
        _ => versions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// One version's reasons as a clause, and the hints that fix them.
fn reasons(name: &PackageName, reasons: &[Unusable], cx: &Context) -> (String, Vec<String>) {
    let target = cx.target;
    let platform = target.platform();
    let python = target.python_version();
    let has_wheel_reason = reasons.iter().any(|r| matches!(r, Unusable::Wheels(_)));
    let python_hint = || python_hint(name, python);
    let mut parts = Vec::new();
    let mut hints = Vec::new();
    for reason in reasons {
        parts.push(match reason {
            Unusable::HashMismatch => {
                hints.push(format!(
                    "give the sha256 of a file of {name} on the index in `--hash`"
                ));
                "no file has a sha256 that the requirement's `--hash` allows".to_string()
            }
            Unusable::NoHash => {
                hints.push(
                    "use an index that publishes sha256 hashes (PEP 503 `#sha256=` or PEP 691 \
                     `hashes`, 64 hex digits)"
                        .to_string(),
                );
                "no file has a usable sha256 on the index (a lock needs one to check the \
                 install)"
                    .to_string()
            }
            Unusable::Newer => {
                hints.push(
                    "move `--exclude-newer` later, or require a version published before it"
                        .to_string(),
                );
                match cx.exclude_newer {
                    Some(cutoff) => format!(
                        "uploaded after the `--exclude-newer` cutoff ({})",
                        cutoff.strftime("%Y-%m-%d %H:%M:%S UTC")
                    ),
                    None => "uploaded after the `--exclude-newer` cutoff".to_string(),
                }
            }
            Unusable::RequiresPython(rp) => {
                hints.push(python_hint());
                format!("requires Python {rp}, and {platform} has Python {python}")
            }
            // Its text already names the target's python.
            Unusable::MetadataRequiresPython(why) => {
                hints.push(python_hint());
                format!("requires Python {why}")
            }
            Unusable::Wheels(mismatch) => match mismatch {
                WheelMismatch::Glibc { needs, has } => {
                    hints.push(format!(
                        "if the image's glibc is {}.{} or newer, add `--virtual-package \
                         __glibc={}.{}`",
                        needs.0, needs.1, needs.0, needs.1
                    ));
                    format!(
                        "its wheels need manylinux_{}_{} (glibc {}.{}), and {platform} has \
                         glibc {}.{}",
                        needs.0, needs.1, needs.0, needs.1, has.0, has.1
                    )
                }
                WheelMismatch::Platform(tags) => {
                    hints.push(format!(
                        "require a version of {name} with wheels for {platform}, or give its \
                         requirement a marker that leaves {platform} out"
                    ));
                    format!("only {} wheels", some_tags(tags, 3))
                }
                WheelMismatch::Python(tags) => {
                    hints.push(format!(
                        "require a version of {name} with wheels for CPython {python}, or lock \
                         with a Python it has wheels for (`--python X.Y`)"
                    ));
                    format!(
                        "only {} wheels, and {platform} has CPython {python}",
                        some_tags(tags, 4)
                    )
                }
                WheelMismatch::PythonAndPlatform(pythons, platforms) => {
                    hints.push(format!(
                        "require a version of {name} with wheels for {platform} and CPython \
                         {python}"
                    ));
                    format!(
                        "only wheels for other Pythons and platforms ({} on {})",
                        some_tags(pythons, 3),
                        some_tags(platforms, 2)
                    )
                }
            },
            Unusable::SdistForbidden(option) => {
                hints.push(format!(
                    "add `--no-binary {name}` to use its source distribution, or remove \
                     `{option}`"
                ));
                let only = if has_wheel_reason { "" } else { "only " };
                format!("{only}a source distribution, which `{option}` does not allow")
            }
            Unusable::WheelsForbidden(option) => {
                hints.push(format!(
                    "add `--only-binary {name}` to use its wheels, or remove `{option}`"
                ));
                format!("only wheels, which `{option}` does not allow")
            }
            Unusable::Yanked => {
                hints.push(format!(
                    "pin the yanked version with `{name}==VERSION` to use it anyway (PEP 592), \
                     or require another version"
                ));
                "yanked (a yanked version is used only when pinned with `==`)".to_string()
            }
            Unusable::BuildFailed => {
                "its metadata could not be built from its sdist (below)".to_string()
            }
            Unusable::InvalidMetadata => "its metadata is invalid (below)".to_string(),
            Unusable::NotBuilt(n) => {
                hints.push(format!(
                    "envlock stopped building the sdists of {name} after {n} of them failed; \
                     `{name}==VERSION` builds that version's"
                ));
                format!(
                    "only an sdist, not built because the metadata builds of {n} other versions \
                     failed (below)"
                )
            }
        });
    }
    (parts.join("; "), hints)
}

/// The lines that say why each package in `unavailable` has no usable version (one per group
/// of versions with the same reasons, newest group first), and the hints for them.
pub fn unavailable(unavailable: &[Unavailable], cx: &Context) -> (Vec<String>, Vec<String>) {
    let mut lines = Vec::new();
    let mut hints = Vec::new();
    for package in unavailable {
        let name = &package.name;
        if let Some(page) = &package.empty_page {
            lines.push(format!("`{name}`: the index page {page} lists no files"));
            hints.push(format!(
                "open {page}: a page with no files may be a proxy's or login page answering \
                 in the index's place"
            ));
        }
        // Versions with the same reasons, in the order of their newest version.
        let mut groups: Vec<(&Vec<Unusable>, Vec<&Version>)> = Vec::new();
        for (version, why) in package.versions.iter().rev() {
            match groups.iter_mut().find(|(reasons, _)| *reasons == why) {
                Some((_, versions)) => versions.push(version),
                None => groups.push((why, vec![version])),
            }
        }
        for (why, mut versions) in groups {
            versions.reverse();
            let (clause, more) = reasons(name, why, cx);
            lines.push(format!("`{name}` {}: {clause}", version_list(&versions)));
            hints.extend(more);
        }
        for requirement in &package.skipped {
            lines.push(format!(
                "{requirement} does not apply: its marker is false for {} with Python {}",
                cx.target.platform(),
                cx.target.python_version()
            ));
        }
    }
    (lines, hints)
}

/// Formats a failed resolution; `roots` gives where each root requirement was written.
pub struct Formatter<'a> {
    /// `file:line:column` of the requirement that names each root package.
    pub roots: &'a HashMap<PackageName, String>,
    /// The packages with versions that exist but cannot be used, and why.
    pub unavailable: &'a [Unavailable],
}

type Vs = Ranges<Version>;

impl Formatter<'_> {
    /// One package and version set: `` `numpy>=1.26` ``, `your requirements`.
    fn term(&self, package: &Pkg, set: &Vs) -> String {
        match package {
            Pkg::Root => "your requirements".to_string(),
            Pkg::Conda => "the conda environment".to_string(),
            Pkg::Name(_) | Pkg::Extra(..) => {
                let specifiers = specifiers(set);
                let joiner =
                    if specifiers.starts_with(['<', '>', '=', '!', '~']) || specifiers.is_empty() {
                        ""
                    } else {
                        " "
                    };
                format!("`{package}{joiner}{specifiers}`")
            }
        }
    }

    /// Whether some version of `package` in `set` exists but cannot be used.
    fn has_unusable(&self, package: &Pkg, set: &Vs) -> bool {
        let (Pkg::Name(name) | Pkg::Extra(name, _)) = package else {
            return false;
        };
        self.unavailable
            .iter()
            .filter(|u| &u.name == name)
            .any(|u| u.versions.iter().any(|(v, _)| set.contains(v)))
    }

    /// Where the root requirement for `package` was written, as ` (file:line:column)`.
    fn written_at(&self, package: &Pkg) -> String {
        match package {
            Pkg::Name(name) | Pkg::Extra(name, _) => self
                .roots
                .get(name)
                .map(|at| format!(" ({at})"))
                .unwrap_or_default(),
            _ => String::new(),
        }
    }
}

impl<M: Eq + Clone + std::fmt::Debug + Display> ReportFormatter<Pkg, Vs, M> for Formatter<'_> {
    type Output = String;

    fn format_external(&self, external: &External<Pkg, Vs, M>) -> String {
        match external {
            External::NotRoot(package, _) => {
                format!("we are solving {}", self.term(package, &Ranges::full()))
            }
            External::NoVersions(package, set) => {
                let usable = if self.has_unusable(package, set) {
                    "usable "
                } else {
                    ""
                };
                if set == &Ranges::full() {
                    format!("there is no usable version of `{package}`")
                } else if let Some(only) = super::ranges::pinned(&set.complement()) {
                    format!("there is no {usable}version of `{package}` other than {only}")
                } else {
                    format!(
                        "there is no {usable}version of `{package}` that matches {}",
                        specifiers(set)
                    )
                }
            }
            External::Custom(package, set, reason) => {
                let reason = reason.to_string();
                let reason = reason.strip_prefix("because ").unwrap_or(&reason);
                format!("{} cannot be used: {reason}", self.term(package, set))
            }
            External::FromDependencyOf(package, set, dependency, dependency_set) => match package {
                Pkg::Root if dependency == &Pkg::Conda => {
                    "the conda environment is fixed by the conda solve".to_string()
                }
                Pkg::Root => format!(
                    "you require {}{}",
                    self.term(dependency, dependency_set),
                    self.written_at(dependency)
                ),
                Pkg::Conda => format!(
                    "the conda environment has {}",
                    self.term(dependency, dependency_set)
                ),
                _ => format!(
                    "{} depends on {}",
                    self.term(package, set),
                    self.term(dependency, dependency_set)
                ),
            },
        }
    }

    fn format_terms(&self, terms: &Map<Pkg, Term<Vs>>) -> String {
        let terms: Vec<_> = terms.iter().collect();
        match terms.as_slice() {
            [] | [(Pkg::Root, Term::Positive(_))] => {
                "your requirements cannot be satisfied".to_string()
            }
            [(package, Term::Positive(set))] => {
                format!("{} cannot be used", self.term(package, set))
            }
            [(package, Term::Negative(set))] => {
                format!("{} is needed", self.term(package, set))
            }
            [(p1, Term::Positive(r1)), (p2, Term::Negative(r2))]
            | [(p2, Term::Negative(r2)), (p1, Term::Positive(r1))] => {
                self.format_external(&External::<_, _, M>::FromDependencyOf(
                    (*p1).clone(),
                    r1.clone(),
                    (*p2).clone(),
                    r2.clone(),
                ))
            }
            [
                (Pkg::Root, Term::Positive(_)),
                (package, Term::Positive(set)),
            ]
            | [
                (package, Term::Positive(set)),
                (Pkg::Root, Term::Positive(_)),
            ] => {
                format!(
                    "{} cannot be used with your requirements",
                    self.term(package, set)
                )
            }
            [(p1, Term::Positive(r1)), (p2, Term::Positive(r2))] => format!(
                "{} and {} cannot be used together",
                self.term(p1, r1),
                self.term(p2, r2)
            ),
            slice => {
                let terms: Vec<String> = slice
                    .iter()
                    .map(|(p, t)| match t {
                        Term::Positive(set) => self.term(p, set),
                        Term::Negative(set) => format!("not {}", self.term(p, set)),
                    })
                    .collect();
                format!("{} cannot all be used together", terms.join(", "))
            }
        }
    }

    fn explain_both_external(
        &self,
        external1: &External<Pkg, Vs, M>,
        external2: &External<Pkg, Vs, M>,
        current_terms: &Map<Pkg, Term<Vs>>,
    ) -> String {
        format!(
            "Because {} and {}, {}.",
            self.format_external(external1),
            self.format_external(external2),
            ReportFormatter::<Pkg, Vs, M>::format_terms(self, current_terms)
        )
    }

    fn explain_both_ref(
        &self,
        ref_id1: usize,
        derived1: &Derived<Pkg, Vs, M>,
        ref_id2: usize,
        derived2: &Derived<Pkg, Vs, M>,
        current_terms: &Map<Pkg, Term<Vs>>,
    ) -> String {
        format!(
            "Because {} ({ref_id1}) and {} ({ref_id2}), {}.",
            ReportFormatter::<Pkg, Vs, M>::format_terms(self, &derived1.terms),
            ReportFormatter::<Pkg, Vs, M>::format_terms(self, &derived2.terms),
            ReportFormatter::<Pkg, Vs, M>::format_terms(self, current_terms)
        )
    }

    fn explain_ref_and_external(
        &self,
        ref_id: usize,
        derived: &Derived<Pkg, Vs, M>,
        external: &External<Pkg, Vs, M>,
        current_terms: &Map<Pkg, Term<Vs>>,
    ) -> String {
        format!(
            "Because {} ({ref_id}) and {}, {}.",
            ReportFormatter::<Pkg, Vs, M>::format_terms(self, &derived.terms),
            self.format_external(external),
            ReportFormatter::<Pkg, Vs, M>::format_terms(self, current_terms)
        )
    }

    fn and_explain_external(
        &self,
        external: &External<Pkg, Vs, M>,
        current_terms: &Map<Pkg, Term<Vs>>,
    ) -> String {
        format!(
            "And because {}, {}.",
            self.format_external(external),
            ReportFormatter::<Pkg, Vs, M>::format_terms(self, current_terms)
        )
    }

    fn and_explain_ref(
        &self,
        ref_id: usize,
        derived: &Derived<Pkg, Vs, M>,
        current_terms: &Map<Pkg, Term<Vs>>,
    ) -> String {
        format!(
            "And because {} ({ref_id}), {}.",
            ReportFormatter::<Pkg, Vs, M>::format_terms(self, &derived.terms),
            ReportFormatter::<Pkg, Vs, M>::format_terms(self, current_terms)
        )
    }

    fn and_explain_prior_and_external(
        &self,
        prior_external: &External<Pkg, Vs, M>,
        external: &External<Pkg, Vs, M>,
        current_terms: &Map<Pkg, Term<Vs>>,
    ) -> String {
        format!(
            "And because {} and {}, {}.",
            self.format_external(prior_external),
            self.format_external(external),
            ReportFormatter::<Pkg, Vs, M>::format_terms(self, current_terms)
        )
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    #[test]
    fn version_sets_read_as_specifiers() {
        assert_eq!(specifiers(&Ranges::full()), "");
        assert_eq!(specifiers(&Ranges::singleton(v("1.0"))), "==1.0");
        assert_eq!(
            specifiers(&Ranges::between(v("1.0"), v("2.0"))),
            ">=1.0,<2.0"
        );
        assert_eq!(
            specifiers(&Ranges::singleton(v("1.0")).complement()),
            "!=1.0"
        );
        // Versions left out one at a time read as one range with holes.
        let holes = ["1.7.2", "2.0", "2.1"]
            .iter()
            .fold(Ranges::higher_than(v("0.2.10")), |set, x| {
                set.intersection(&Ranges::singleton(v(x)).complement())
            });
        assert_eq!(specifiers(&holes), ">=0.2.10,!=1.7.2,!=2.0,!=2.1");
        let apart = Ranges::strictly_lower_than(v("1.0"))
            .union(&Ranges::higher_than(v("2.0")))
            .intersection(&Ranges::singleton(v("3.0")).complement());
        assert_eq!(specifiers(&apart), "<1.0 or >=2.0,!=3.0");
    }

    fn linux64(glibc: &str) -> Target {
        let vp = rattler_conda_types::GenericVirtualPackage {
            name: rattler_conda_types::PackageName::new_unchecked("__glibc"),
            version: glibc.parse().unwrap(),
            build_string: rattler_conda_types::package::BuildString::new_unchecked("0"),
        };
        Target::new(rattler_conda_types::Subdir::Linux64, &v("3.11.7"), &[vp]).unwrap()
    }

    #[test]
    fn versions_with_the_same_reasons_share_a_line_newest_group_first() {
        let target = linux64("2.17");
        let cx = Context {
            target: &target,
            exclude_newer: None,
        };
        let python = |tag: &str| {
            Unusable::Wheels(WheelMismatch::Python(
                std::iter::once(tag.to_string()).collect(),
            ))
        };
        let versions = ["1.0", "1.1", "1.2", "1.3", "1.4"]
            .into_iter()
            .map(|x| (v(x), vec![python("cp312")]))
            .chain([(v("1.5"), vec![Unusable::Yanked])])
            .chain([(v("2.0"), vec![python("cp313")])])
            .collect();
        let u = Unavailable {
            name: PackageName::from_str("pkg").unwrap(),
            versions,
            skipped: vec![],
            empty_page: None,
        };
        let (lines, hints) = unavailable(&[u], &cx);
        assert_eq!(
            lines,
            [
                "`pkg` 2.0: only cp313 wheels, and linux-64 has CPython 3.11.7",
                "`pkg` 1.5: yanked (a yanked version is used only when pinned with `==`)",
                "`pkg` 1.0, 1.1, …, 1.4 (5 versions): only cp312 wheels, and linux-64 has \
                 CPython 3.11.7",
            ]
        );
        // One hint per kind of reason, each naming the package.
        assert_eq!(hints.len(), 3);
        assert!(hints.iter().all(|h| h.contains("pkg")), "{hints:?}");
    }

    #[test]
    fn the_glibc_hint_reads_the_targets_glibc() {
        for (has, needs) in [("2.17", (2, 28)), ("2.28", (2, 34))] {
            let target = linux64(has);
            let cx = Context {
                target: &target,
                exclude_newer: None,
            };
            let mismatch = WheelMismatch::Glibc {
                needs,
                has: target.glibc().unwrap(),
            };
            let (clause, hints) = reasons(
                &PackageName::from_str("pkg").unwrap(),
                &[Unusable::Wheels(mismatch)],
                &cx,
            );
            let need = format!("{}.{}", needs.0, needs.1);
            assert_eq!(
                clause,
                format!(
                    "its wheels need manylinux_{}_{} (glibc {need}), and linux-64 has glibc {has}",
                    needs.0, needs.1
                )
            );
            assert!(hints[0].contains(&format!("--virtual-package __glibc={need}")));
        }
    }

    #[test]
    fn an_sdist_next_to_unusable_wheels_is_not_the_only_file() {
        let target = linux64("2.17");
        let cx = Context {
            target: &target,
            exclude_newer: None,
        };
        let name = PackageName::from_str("pkg").unwrap();
        let sdist = Unusable::SdistForbidden("--only-binary :all:".to_string());
        let (alone, _) = reasons(&name, std::slice::from_ref(&sdist), &cx);
        assert_eq!(
            alone,
            "only a source distribution, which `--only-binary :all:` does not allow"
        );
        let wheels = Unusable::Wheels(WheelMismatch::Platform(
            std::iter::once("win_amd64".to_string()).collect(),
        ));
        let (both, hints) = reasons(&name, &[wheels, sdist], &cx);
        assert_eq!(
            both,
            "only win_amd64 wheels; a source distribution, which `--only-binary :all:` does not \
             allow"
        );
        assert!(hints[1].contains("--no-binary pkg"), "{hints:?}");
    }

    #[test]
    fn the_root_is_what_you_require_and_where() {
        let name = PackageName::from_str("torch").unwrap();
        let roots = HashMap::from([(name.clone(), "requirements.txt:3:1".to_string())]);
        let f = Formatter {
            roots: &roots,
            unavailable: &[],
        };
        let external: External<Pkg, Vs, String> = External::FromDependencyOf(
            Pkg::Root,
            Ranges::singleton(v("0")),
            Pkg::Name(name.clone()),
            Ranges::singleton(v("2.0.0")),
        );
        assert_eq!(
            f.format_external(&external),
            "you require `torch==2.0.0` (requirements.txt:3:1)"
        );
        let conda: External<Pkg, Vs, String> = External::FromDependencyOf(
            Pkg::Conda,
            Ranges::singleton(v("0")),
            Pkg::Name(name),
            Ranges::singleton(v("2.1")),
        );
        assert_eq!(
            f.format_external(&conda),
            "the conda environment has `torch==2.1`"
        );
    }
}
