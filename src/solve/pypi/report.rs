//! Why a PyPI resolution failed, in the user's terms: pubgrub's derivation tree through a
//! formatter of envlock's own (uv's `PubGrubReportFormatter` is the model).
//!
//! pubgrub's default wording shows its internal nodes as packages with versions ("your
//! requirements 0 depends on …", "the conda environment 0"). Here the root is "you require
//! `name>=1` (requirements.txt:3:1)", naming where each root requirement was written; what the
//! conda solve installs reads "the conda environment has name==1.0"; version sets read as PEP
//! 440 specifiers; and a version that cannot be used says why (its `Requires-Python`, a failed
//! metadata build, a missing extra).

use std::{collections::HashMap, fmt::Display};

use pep440_rs::Version;
use pep508_rs::PackageName;
use pubgrub::{Derived, External, Map, Ranges, ReportFormatter, Term};

use super::resolver::Pkg;

/// Formats a failed resolution; `roots` gives where each root requirement was written.
pub struct Formatter<'a> {
    /// `file:line:column` of the requirement that names each root package.
    pub roots: &'a HashMap<PackageName, String>,
}

type Vs = Ranges<Version>;

/// `set` as PEP 440 specifiers: `==1.0`, `>=1.0,<2.0`, `<1.0 or >1.0`; empty for any version.
fn specifiers(set: &Vs) -> String {
    if set == &Ranges::full() {
        return String::new();
    }
    if let Some(v) = set.as_singleton() {
        return format!("=={v}");
    }
    set.to_string()
        .split(" | ")
        .map(|segment| segment.replace(", ", ","))
        .collect::<Vec<_>>()
        .join(" or ")
}

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
                if set == &Ranges::full() {
                    format!("there is no usable version of `{package}`")
                } else if let Some(only) = set.complement().as_singleton() {
                    format!("there is no version of `{package}` other than {only}")
                } else {
                    format!(
                        "there is no version of `{package}` that matches {}",
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
            "<1.0 or >1.0"
        );
    }

    #[test]
    fn the_root_is_what_you_require_and_where() {
        let name = PackageName::from_str("torch").unwrap();
        let roots = HashMap::from([(name.clone(), "requirements.txt:3:1".to_string())]);
        let f = Formatter { roots: &roots };
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
