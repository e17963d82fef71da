//! Helpers for the unit tests of the requirements parser.

use std::{collections::HashMap, path::PathBuf, str::FromStr};

use pep508_rs::PackageName;

use super::{PipInputs, PipRequirement};
use crate::util::error::Failure;

pub(super) const SHA_A: &str =
    "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub(super) const SHA_B: &str =
    "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

pub(super) fn no_env(_: &str) -> Option<String> {
    None
}

pub(super) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |key| map.get(key).cloned()
}

/// A temporary directory with files written into it (subdirectories created).
pub(super) struct Tree {
    pub(super) dir: tempfile::TempDir,
}

impl Tree {
    pub(super) fn new(files: &[(&str, &str)]) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Tree { dir }
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(super) fn parse(
        &self,
        name: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<PipInputs> {
        let mut spec = PipInputs::default();
        spec.add_file(&self.path(name), env)?;
        Ok(spec)
    }
}

pub(super) fn parse_with(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<PipInputs> {
    Tree::new(&[("requirements.txt", text)]).parse("requirements.txt", env)
}

pub(super) fn parse(text: &str) -> PipInputs {
    parse_with(text, &no_env).unwrap()
}

/// The failure for `text` as requirements.txt: (message, hint), with the temp dir removed
/// from the message so tests can match `requirements.txt:3:1: …`.
pub(super) fn error(text: &str) -> (String, String) {
    let tree = Tree::new(&[("requirements.txt", text)]);
    let err = tree.parse("requirements.txt", &no_env).unwrap_err();
    split(&tree, err)
}

pub(super) fn split(tree: &Tree, err: anyhow::Error) -> (String, String) {
    let failure = err
        .downcast_ref::<Failure>()
        .unwrap_or_else(|| panic!("not a Failure: {err:#}"));
    let prefix = format!("{}/", tree.dir.path().display());
    (
        failure.message.replace(&prefix, ""),
        failure.hint.clone().unwrap_or_default(),
    )
}

pub(super) fn names(requirements: &[PipRequirement]) -> Vec<String> {
    requirements
        .iter()
        .map(|r| r.requirement.to_string())
        .collect()
}

pub(super) fn package(name: &str) -> PackageName {
    PackageName::from_str(name).unwrap()
}
