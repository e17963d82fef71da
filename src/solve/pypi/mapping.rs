//! Which PyPI distributions a conda environment already provides.
//!
//! Rule: a conda package provides the PyPI distribution of the same normalized name when it
//! depends on `python` (conda's Python packages all do; C libraries such as `zstd` or `tzdata`,
//! whose names clash with PyPI projects, do not). The table below covers the common packages
//! whose conda and PyPI names differ; `--pypi-mapping FILE` adds to or overrides it with a JSON
//! object of `"conda-name": "pypi-name"` (or `null` for "provides nothing").
//!
//! Not used: conda-forge's full `conda → PyPI` mapping service (it is a network dependency, and
//! the rule above gets the common cases right), and `purls` in repodata (rarely present yet).

use std::{collections::HashMap, path::Path, str::FromStr};

use anyhow::{Context, Result};
use pep440_rs::Version;
use pep508_rs::PackageName;
use rattler_conda_types::RepoDataRecord;

use crate::util::error::Failure;

/// conda name → PyPI name, for packages where they differ.
const BUILTIN: &[(&str, &str)] = &[
    ("brotli-python", "brotli"),
    ("matplotlib-base", "matplotlib"),
    ("msgpack-python", "msgpack"),
    ("numpy-base", "numpy"),
    ("py-opencv", "opencv-python"),
    ("py-xgboost", "xgboost"),
    ("pyqt", "pyqt5"),
    ("python-graphviz", "graphviz"),
    ("python-kubernetes", "kubernetes"),
    ("python-tzdata", "tzdata"),
    ("pytorch", "torch"),
    ("pytorch-cpu", "torch"),
    ("pytorch-gpu", "torch"),
    ("tensorflow-base", "tensorflow"),
];

/// Which PyPI distributions conda packages provide.
pub struct Mapping {
    /// conda name → the PyPI distribution it provides, or `None` for none.
    names: HashMap<String, Option<PackageName>>,
}

impl Mapping {
    /// The mapping without a `--pypi-mapping` file: the built-in table of conda names whose
    /// PyPI name differs (every other conda package that depends on `python` provides the PyPI
    /// name of the same spelling).
    pub fn builtin() -> Mapping {
        Mapping {
            names: BUILTIN
                .iter()
                .map(|(c, p)| (c.to_string(), PackageName::from_str(p).ok()))
                .collect(),
        }
    }

    /// The built-in table overlaid with a JSON mapping file.
    pub fn with_file(path: &Path) -> Result<Mapping> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read {}", path.display()))?;
        let entries: HashMap<String, Option<String>> =
            serde_json::from_str(&text).map_err(|e| {
                Failure::new(format!(
                    "{}:{}:{}: {e}",
                    path.display(),
                    e.line(),
                    e.column()
                ))
                .hint("write a JSON object such as {\"pytorch\": \"torch\", \"some-lib\": null}")
            })?;
        let mut mapping = Mapping::builtin();
        for (conda, pypi) in entries {
            let pypi = match pypi {
                Some(p) => Some(PackageName::from_str(&p).map_err(|e| {
                    Failure::new(format!("{}: `{p}` is not a PyPI name: {e}", path.display()))
                })?),
                None => None,
            };
            mapping.names.insert(conda, pypi);
        }
        Ok(mapping)
    }

    /// The PyPI distributions `records` provide, with their versions.
    pub fn provided(&self, records: &[RepoDataRecord]) -> HashMap<PackageName, Version> {
        self.provided_by(records.iter().map(|r| {
            let p = &r.package_record;
            let python = p
                .depends
                .iter()
                .any(|d| d.split_whitespace().next() == Some("python"));
            (p.name.as_normalized(), p.version.to_string(), python)
        }))
    }

    /// [`Self::provided`] from `(conda name, version, depends on python)` triples, as a
    /// lockfile gives them.
    pub fn provided_by<'a>(
        &self,
        packages: impl Iterator<Item = (&'a str, String, bool)>,
    ) -> HashMap<PackageName, Version> {
        let mut out = HashMap::new();
        for (conda_name, version, depends_on_python) in packages {
            let pypi = match self.names.get(conda_name) {
                Some(mapped) => mapped.clone(),
                None if depends_on_python => PackageName::from_str(conda_name).ok(),
                None => None,
            };
            if let (Some(pypi), Ok(version)) = (pypi, Version::from_str(&version)) {
                out.insert(pypi, version);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rattler_conda_types::{PackageName as CondaName, PackageRecord, package::BuildString};

    fn record(name: &str, version: &str, depends: &[&str]) -> RepoDataRecord {
        let mut p = PackageRecord::new(
            CondaName::try_from(name).unwrap(),
            rattler_conda_types::Version::from_str(version).unwrap(),
            BuildString::new_unchecked("0"),
        );
        p.depends = depends.iter().map(|s| s.to_string()).collect();
        RepoDataRecord {
            package_record: p,
            identifier: format!("{name}-{version}-0.conda").parse().unwrap(),
            url: url::Url::parse(&format!("https://c.example/{name}-{version}-0.conda")).unwrap(),
            channel: None,
        }
    }

    fn names(m: &Mapping, records: &[RepoDataRecord]) -> Vec<String> {
        let mut v: Vec<String> = m
            .provided(records)
            .into_iter()
            .map(|(n, v)| format!("{n}=={v}"))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn python_packages_provide_their_pypi_name_and_libraries_do_not() {
        let records = [
            record("numpy", "1.26.4", &["python >=3.12,<3.13.0a0", "libblas"]),
            record("zstd", "1.5.5", &["libgcc-ng >=12"]),
            record("pytorch", "2.3.0", &["python", "numpy"]),
            record("python", "3.12.1", &[]),
            record("typing_extensions", "4.9.0", &["python >=3.8"]),
        ];
        assert_eq!(
            names(&Mapping::builtin(), &records),
            ["numpy==1.26.4", "torch==2.3.0", "typing-extensions==4.9.0"]
        );
    }

    #[test]
    fn a_mapping_file_overrides_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.json");
        std::fs::write(&path, r#"{"numpy": null, "zstd": "zstandard"}"#).unwrap();
        let m = Mapping::with_file(&path).unwrap();
        let records = [
            record("numpy", "1.26.4", &["python"]),
            record("zstd", "1.5.5", &[]),
        ];
        assert_eq!(names(&m, &records), ["zstandard==1.5.5"]);
        std::fs::write(&path, "{\"a\": 3}").unwrap();
        let e = format!("{:#}", Mapping::with_file(&path).err().unwrap());
        assert!(e.contains("map.json:1:"), "{e}");
    }
}
