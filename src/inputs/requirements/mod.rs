//! pip requirements files: `requirements.txt` and the lines of an environment.yml `pip:` section.
//!
//! The format is whatever pip's `req_file.py` accepts, and this module follows it step by step:
//! lines are split, joined at trailing backslashes (the joined line keeps the first line's
//! location), stripped of comments (`#` at the start of a line or after whitespace), then
//! `${NAME}` environment variables are expanded, and only then parsed. A line is split at the
//! first space-separated token that starts with `-`: what comes before is the requirement, what
//! comes after is shell-split into options, exactly as pip does.
//!
//! Supported:
//!
//! - PEP 508 requirements with extras, version specifiers and markers
//!   (`requests[socks]>=2; python_version < "3.12"`), with any number of per-requirement
//!   `--hash=sha256:…` options (`--hash sha256:…` too; sha384 and sha512 are accepted as pip does).
//! - Direct references to a wheel or source archive over https or http
//!   (`name @ https://…/name-1.0-py3-none-any.whl`), kept as given.
//! - `-r`/`--requirement` and `-c`/`--constraint` includes, relative to the including file's
//!   directory (the environment.yml's directory for a `pip:` section, where conda writes the
//!   temporary requirements file it hands to pip). Requirements read through `-c` are
//!   constraints; as in pip, what a nested file holds depends only on the flag that names it
//!   (`-r` inside a constraints file reads requirements), and constraints cannot have extras.
//!   `file:` URLs work as paths. A file may be included twice through different paths (a
//!   diamond); including a file from itself, directly or not, is an error naming the chain.
//! - The options that shape a resolution: `-i`/`--index-url` (and its alias `--pypi-url`),
//!   `--extra-index-url`, `-f`/`--find-links`, `--pre`, `--only-binary`, `--no-binary`,
//!   `--prefer-binary`, in both `--opt value` and `--opt=value` spellings, and long options
//!   abbreviated to a unique prefix (`--extra-index`), since pip's optparse allows that.
//! - Accepted with no effect: `--trusted-host` and `--use-feature` (they change how pip talks to
//!   an index, not what gets locked), `--require-hashes` (the lock always has hashes),
//!   `-C`/`--config-settings` (build-backend settings; nothing is built to lock), and
//!   `--no-index`. pip reads `--no-index` as "use only `--find-links`"; envlock records nothing
//!   for it and resolves against the configured indexes and find-links as usual, which is fine
//!   because the lock pins every file by URL and hash, so installing from it never consults an
//!   index either way.
//!
//! Local project directories (`-e .`, `.`, `./pkg`, `-e ./pkg[extra]`: a path to an existing
//! directory, alone on its line, outside constraints files) are collected as [`LocalRef`]s;
//! [`crate::inputs::Inputs::load`] reads their pyproject.toml.
//!
//! Not supported, each rejected with an error that says why and what to do instead: other
//! editable installs (`-e`), other local paths (archives, wheels, missing directories) and
//! `file:` URLs, version-control URLs (`git+`, `hg+`, `svn+`,
//! `bzr+`), URLs without a package name, direct URLs that do not end in a wheel or source
//! archive, remote (`http:`/`https:`) `-r`/`-c` files, `--global-option`, and any option pip's
//! requirements-file parser does not know.
//!
//! Where pip silently drops part of a line, this module errors instead, so the lock can never
//! differ from what the user thinks they wrote: options other than `--hash`/`--config-settings`
//! on a requirement line (pip ignores them), anything else on a `-r`/`-c` line (pip reads only
//! the first file and ignores the rest), `--hash` on a line without a requirement, and stray
//! words after the options. Other deliberate differences from pip:
//!
//! - A later `--index-url` replaces an earlier one, but keeps the `--extra-index-url`s seen
//!   before it (pip drops those; an accident of its implementation).
//! - Every `-f` on a line is kept (pip keeps only the first).
//! - `--hash` digests are checked for length and hex digits here (pip finds out at install).
//!
//! Errors name `file:line:column` and never contain credentials from URLs.
//!
//! One step per file: `lexer` (physical to logical lines, comments, `${VAR}`, requirement vs.
//! options), `options` (optparse and every option), `requirement` (PEP 508 lines and direct
//! URLs, and the forms that are rejected), `includes` (`-r`/`-c`, cycles); this file holds the
//! types and drives the parse line by line.

mod includes;
mod lexer;
mod options;
mod requirement;
#[cfg(test)]
mod testing;

use std::{
    collections::BTreeSet,
    fmt,
    path::{Path, PathBuf},
};

use pep508_rs::PackageName;
use url::Url;

use self::{
    includes::Open,
    lexer::{break_args_options, logical_lines, split_lines},
    options::{Kind, parse_options},
    requirement::reject_editable,
};
use crate::{
    inputs::Location,
    util::{error::Failure, redact, shell},
};

/// One requirement line, with its hashes and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipRequirement {
    /// The requirement; `origin` is the file it was read from.
    pub requirement: pep508_rs::Requirement,
    /// `--hash` values as given, `algorithm:hexdigest` (e.g. `sha256:…`), in order.
    pub hashes: Vec<String>,
    /// Where the requirement was written (the first line of a continued line).
    pub location: Location,
    /// Written as a bare URL (`https://…/archive/main.zip`, `git+https://…/repo`): the name is
    /// a guess from the URL until `resolve` reads the file's metadata, and `check` finds the
    /// locked package by its URL.
    pub unnamed: bool,
}

/// pip's `--only-binary` / `--no-binary` value for one of the two lists.
///
/// pip keeps the two lists mutually exclusive: naming a package in one removes it from the
/// other, and `:all:` clears the other list. A package named explicitly in one list wins over
/// `:all:` in the other; [`PipOptions::allows_binary`] and [`PipOptions::allows_source`] apply
/// that rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BinaryChoice {
    /// No package (the default, or after `:none:`).
    #[default]
    None,
    /// Every package (`:all:`).
    All,
    /// These packages (comma-separated names, normalized).
    Packages(BTreeSet<PackageName>),
}

impl BinaryChoice {
    /// Whether `name` is listed by name (not through `:all:`).
    fn names(&self, name: &PackageName) -> bool {
        matches!(self, BinaryChoice::Packages(names) if names.contains(name))
    }

    fn insert(&mut self, name: PackageName) {
        match self {
            // pip adds the name next to `:all:`, which changes nothing.
            BinaryChoice::All => {}
            BinaryChoice::None => *self = BinaryChoice::Packages(BTreeSet::from([name])),
            BinaryChoice::Packages(names) => {
                names.insert(name);
            }
        }
    }

    fn remove(&mut self, name: &PackageName) {
        if let BinaryChoice::Packages(names) = self {
            names.remove(name);
            if names.is_empty() {
                *self = BinaryChoice::None;
            }
        }
    }
}

/// The resolver options given in requirements files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipOptions {
    /// `--index-url`; `None` means PyPI. The last one given wins.
    pub index_url: Option<Url>,
    /// `--extra-index-url`s in order, without repeats.
    pub extra_index_urls: Vec<Url>,
    /// `--find-links` values in order, without repeats. A relative path that exists next to the
    /// requirements file is joined to that file's directory, as pip does; anything else (URLs,
    /// other paths) is kept as written.
    pub find_links: Vec<String>,
    /// `--pre`: allow pre-releases of every package.
    pub pre: bool,
    /// `--only-binary`: packages that must come from wheels; ask [`PipOptions::allows_source`].
    pub only_binary: BinaryChoice,
    /// `--no-binary`: packages that must come from sdists; ask [`PipOptions::allows_binary`].
    pub no_binary: BinaryChoice,
    /// `--prefer-binary`: a wheel of an older version beats an sdist of a newer one.
    pub prefer_binary: bool,
}

impl PipOptions {
    /// Whether a wheel of `name` may be used (pip's `FormatControl.get_allowed_formats`).
    pub fn allows_binary(&self, name: &PackageName) -> bool {
        self.allowed_formats(name).0
    }

    /// Whether a source distribution of `name` may be used.
    pub fn allows_source(&self, name: &PackageName) -> bool {
        self.allowed_formats(name).1
    }

    /// `(binary, source)`: a package named in a list wins over `:all:` in either list.
    fn allowed_formats(&self, name: &PackageName) -> (bool, bool) {
        if self.only_binary.names(name) {
            (true, false)
        } else if self.no_binary.names(name) {
            (false, true)
        } else if self.only_binary == BinaryChoice::All {
            (true, false)
        } else if self.no_binary == BinaryChoice::All {
            (false, true)
        } else {
            (true, true)
        }
    }
}

/// Everything read from requirements files and `pip:` sections, combined.
#[derive(Debug, Clone, Default)]
pub struct PipInputs {
    /// Requirements in the order they were read (includes expanded in place).
    pub requirements: Vec<PipRequirement>,
    /// Requirements read through `-c` files.
    pub constraints: Vec<PipRequirement>,
    /// The options of every file and line, combined as pip combines them.
    pub options: PipOptions,
    /// Every file read, in the order first read, each once.
    pub files: Vec<PathBuf>,
    /// Local project directories named by requirement lines (`-e .`, `./pkg[extra]`), not yet
    /// read: [`crate::inputs::Inputs::load`] reads their pyproject.toml.
    pub local: Vec<LocalRef>,
}

/// A requirement line naming a local project directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRef {
    /// The directory, joined to the including file's directory and lexically normalized.
    pub dir: PathBuf,
    /// The extras written after it (`./pkg[a,b]`).
    pub extras: Vec<String>,
    /// Named with `-e`/`--editable`.
    pub editable: bool,
    /// The line.
    pub location: Location,
}

impl PipInputs {
    /// Parse a requirements file (and everything it includes) into self.
    pub fn add_file(
        &mut self,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<()> {
        Parser {
            spec: self,
            env,
            stack: Vec::new(),
        }
        .read_file(path, None, false)
    }

    /// Adds one PEP 508 requirement declared outside a requirements file (a pyproject.toml's
    /// dependencies): the same forms are accepted and refused as on a requirements line, but no
    /// options.
    pub fn add_requirement(&mut self, text: &str, location: &Location) -> anyhow::Result<()> {
        Parser {
            spec: self,
            env: &|_| None,
            stack: Vec::new(),
        }
        .requirement_line(text, &[], location, false)
    }

    /// Parse the lines of an environment.yml `pip:` section (each with its own Location; relative
    /// -r/-c paths resolve against `base_dir`, the environment.yml's directory).
    ///
    /// The lines go through the same steps as a file's lines, because conda writes them to a
    /// requirements file and runs `pip install -r` on it.
    pub fn add_lines(
        &mut self,
        lines: &[(String, Location)],
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<()> {
        let physical = lines
            .iter()
            .flat_map(|(text, location)| {
                split_lines(text)
                    .into_iter()
                    .map(move |line| (line.to_string(), location.clone()))
            })
            .collect();
        Parser {
            spec: self,
            env,
            stack: Vec::new(),
        }
        .parse_lines(physical, base_dir, false)
    }
}

/// One parse into a [`PipInputs`]: the file, line and option steps are `impl Parser` blocks
/// in the submodules.
struct Parser<'a> {
    spec: &'a mut PipInputs,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// The chain of files being read, outermost first.
    stack: Vec<Open>,
}

impl Parser<'_> {
    fn parse_lines(
        &mut self,
        physical: Vec<(String, Location)>,
        base_dir: &Path,
        constraint: bool,
    ) -> anyhow::Result<()> {
        for (line, location) in logical_lines(physical, self.env) {
            self.parse_line(&line, &location, base_dir, constraint)?;
        }
        Ok(())
    }

    fn parse_line(
        &mut self,
        line: &str,
        location: &Location,
        base_dir: &Path,
        constraint: bool,
    ) -> anyhow::Result<()> {
        if let Some(requirements) = pip_command(line) {
            return Err(failure(
                location,
                format!(
                    "`{}` is a pip command, not a requirement",
                    redact::text(line)
                ),
                if requirements.is_empty() {
                    "write only the requirements, one on each line, without `pip install` and its \
                     options"
                        .to_string()
                } else {
                    format!(
                        "write only the requirements, one on each line (`{}`), without \
                         `pip install` and its options",
                        redact::text(&requirements.join("`, `"))
                    )
                },
            ));
        }
        let (args, options) = break_args_options(line);
        let Some(tokens) = shell::split(&options) else {
            return Err(failure(
                location,
                format!("cannot split the options `{}`", redact::text(&options)),
                "close the quote, or remove the trailing backslash",
            ));
        };
        let (given, positional) = parse_options(&tokens, location)?;

        // An editable install of a local directory is a local project; any other is rejected.
        if let Some(option) = given.iter().find(|option| option.kind == Kind::Editable) {
            let local = option
                .value
                .as_deref()
                .and_then(|value| local_dir(value, base_dir));
            let alone = given.len() == 1 && positional.is_empty() && args.is_empty();
            match local {
                Some((dir, extras)) if alone && !constraint => {
                    self.spec.local.push(LocalRef {
                        dir,
                        extras,
                        editable: true,
                        location: location.clone(),
                    });
                    return Ok(());
                }
                None if option.value.as_deref().is_some_and(|v| {
                    let v = v.trim();
                    !v.contains("://")
                        && !v.contains('@')
                        && (v.starts_with('.') || v.contains('/'))
                }) =>
                {
                    return Err(failure(
                        location,
                        format!(
                            "`{}` names a local project, but {} is not a directory",
                            redact::text(line),
                            base_dir
                                .join(option.value.as_deref().unwrap_or_default().trim())
                                .display()
                        ),
                        "name the directory that holds the project's pyproject.toml, relative \
                         to this file",
                    ));
                }
                // `-e git+…#egg=name`: a checkout pip would leave editable; the image installs
                // the locked commit as a regular package, as it does `-e .`.
                _ if alone
                    && option.value.as_deref().is_some_and(|v| {
                        requirement::is_git_scheme(v.trim().split(':').next().unwrap_or(""))
                    }) =>
                {
                    let value = option.value.clone().unwrap_or_default();
                    return self.requirement_line(&value, &[], location, constraint);
                }
                _ => return Err(reject_editable(location, line)),
            }
        }
        if !constraint
            && given.is_empty()
            && positional.is_empty()
            && let Some((dir, extras)) = local_dir(&args, base_dir)
        {
            self.spec.local.push(LocalRef {
                dir,
                extras,
                editable: false,
                location: location.clone(),
            });
            return Ok(());
        }
        if let Some(word) = positional.first() {
            return Err(failure(
                location,
                format!(
                    "unexpected `{}` after the options of `{}` (pip would ignore it)",
                    redact::text(word),
                    redact::text(line)
                ),
                "put each requirement on a line of its own, before its --hash options",
            ));
        }
        if args.is_empty() {
            self.option_line(&given, line, location, base_dir)
        } else {
            self.requirement_line(&args, &given, location, constraint)
        }
    }
}

/// `text` as a local project directory relative to `base_dir` (`.`, `./pkg`, `../pkg[a,b]`,
/// `/abs/pkg`): a path (not a URL, not `name @ …`, no markers, not an archive) to an existing
/// directory. Returns the directory, lexically normalized, and the extras.
fn local_dir(text: &str, base_dir: &Path) -> Option<(PathBuf, Vec<String>)> {
    let text = text.trim();
    if text.is_empty() || text.contains(';') || text.contains("://") || text.contains('@') {
        return None;
    }
    let (path, extras) = match text.rfind('[') {
        Some(open) if text.ends_with(']') => {
            let extras = text[open + 1..text.len() - 1]
                .split(',')
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty())
                .collect();
            (&text[..open], extras)
        }
        _ => (text, Vec::new()),
    };
    if !(path.contains('/') || path.contains('\\') || path.starts_with('.')) {
        return None;
    }
    let joined = base_dir.join(path);
    if !joined.is_dir() {
        return None;
    }
    let mut dir = PathBuf::new();
    for component in joined.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir
                if matches!(
                    dir.components().next_back(),
                    Some(std::path::Component::Normal(_))
                ) =>
            {
                dir.pop();
            }
            other => dir.push(other),
        }
    }
    if dir.as_os_str().is_empty() {
        dir.push(".");
    }
    Some((dir, extras))
}

/// The words after `pip install` that are not options, when `line` is a pip command
/// (`pip install …`, `pip3 install …`, `python -m pip install …`, `uv pip install …`).
fn pip_command(line: &str) -> Option<Vec<&str>> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let rest = match words.as_slice() {
        ["pip" | "pip3", "install", rest @ ..] | ["uv", "pip", "install", rest @ ..] => rest,
        [python, "-m", "pip", "install", rest @ ..] if python.starts_with("python") => rest,
        _ => return None,
    };
    // Options, and the values of those that take one as the next word.
    const WITH_VALUE: &[&str] = &[
        "-r",
        "-c",
        "-e",
        "-i",
        "-f",
        "--index-url",
        "--extra-index-url",
    ];
    let mut requirements = Vec::new();
    let mut skip = false;
    for word in rest {
        if std::mem::take(&mut skip) {
            continue;
        }
        if word.starts_with('-') {
            skip = WITH_VALUE.contains(word);
        } else {
            requirements.push(*word);
        }
    }
    Some(requirements)
}

fn failure(
    location: &Location,
    message: impl fmt::Display,
    hint: impl Into<String>,
) -> anyhow::Error {
    Failure::new(format!("{location}: {message}"))
        .hint(hint)
        .at(&location.file, None, location.line, location.column)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::requirements::testing::*;

    #[test]
    fn a_pip_command_line_is_named_as_one() {
        let (message, hint) = error("pip install --no-deps pywin32\n");
        assert_eq!(
            message,
            "requirements.txt:1:1: `pip install --no-deps pywin32` is a pip command, not a \
             requirement"
        );
        assert!(hint.contains("(`pywin32`)"), "{hint}");
        let (message, _) = error("python3 -m pip install flask\n");
        assert!(message.contains("is a pip command"), "{message}");
        // A project named `pip` is still a requirement.
        assert_eq!(parse("pip>=23\n").requirements.len(), 1);
    }

    // --- Credentials --------------------------------------------------------------------------

    #[test]
    fn errors_never_contain_url_credentials() {
        for line in [
            "https://user:s3cret@example.com/simple/",
            "pkg @ git+https://user:s3cret@github.com/org/repo@",
            "pkg @ https://user:s3cret@example.com/simple/",
            "--index-url https://user:s3cret@[not-a-host/simple",
            "-e git+https://user:s3cret@github.com/org/repo@",
            "pkg @ https://user:s3cret@example.com/pkg.whl --frob",
            "pkg @ https://user:s3cret@example.com/pkg-1.0.tar.gz --hash=sha256:00 extra",
            "--only-binary https://user:s3cret@example.com/x",
        ] {
            let (message, hint) = error(&format!("{line}\n"));
            assert!(!message.contains("s3cret"), "{line}: {message}");
            assert!(!hint.contains("s3cret"), "{line}: {hint}");
        }
    }

    #[test]
    fn env_var_credentials_are_redacted_too() {
        let env = env_of(&[("TOKEN", "s3cret")]);
        let tree = Tree::new(&[(
            "requirements.txt",
            "pkg @ git+https://u:${TOKEN}@host/repo@\n",
        )]);
        let err = tree.parse("requirements.txt", &env).unwrap_err();
        let (message, _) = split(&tree, err);
        assert!(message.contains("git+https://host/repo"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[test]
    fn shown_redacts_urls_inside_text() {
        assert_eq!(
            redact::text("a --index-url=https://u:p@h.example/simple b"),
            "a --index-url=https://h.example/simple b"
        );
        assert_eq!(redact::text("x@https://u:p@h/y.whl;"), "x@https://h/y.whl;");
        assert_eq!(redact::text("no urls here"), "no urls here");
        // Unparseable URLs lose their user info by hand.
        assert_eq!(redact::text("https://u:p@[bad/x"), "https://[bad/x");
        // A credential-free URL keeps its spelling.
        assert_eq!(
            redact::text("https://h.example/simple"),
            "https://h.example/simple"
        );
    }

    // --- environment.yml `pip:` lines ---------------------------------------------------------

    fn at(file: &Path, line: usize, column: usize) -> Location {
        Location {
            file: file.to_path_buf(),
            line,
            column,
        }
    }

    #[test]
    fn pip_section_lines_keep_their_locations_and_resolve_includes() {
        let tree = Tree::new(&[
            ("envs/reqs/base.txt", "numpy\n"),
            ("envs/c.txt", "numpy<3\n"),
        ]);
        let yml = tree.path("envs/environment.yml");
        let lines = vec![
            ("flask==3.0.0".to_string(), at(&yml, 12, 7)),
            ("-r reqs/base.txt".to_string(), at(&yml, 13, 7)),
            ("--constraint c.txt".to_string(), at(&yml, 14, 7)),
            ("--extra-index-url ${EXTRA}".to_string(), at(&yml, 15, 7)),
            ("requests  # comment".to_string(), at(&yml, 16, 7)),
        ];
        let env = env_of(&[("EXTRA", "https://extra.example/simple")]);
        let mut spec = PipInputs::default();
        spec.add_lines(&lines, &tree.path("envs"), &env).unwrap();
        assert_eq!(
            names(&spec.requirements),
            ["flask==3.0.0", "numpy", "requests"]
        );
        assert_eq!(names(&spec.constraints), ["numpy<3"]);
        assert_eq!(spec.requirements[0].location, at(&yml, 12, 7));
        assert_eq!(spec.requirements[2].location, at(&yml, 16, 7));
        assert_eq!(
            spec.requirements[1].location.file,
            tree.path("envs/reqs/base.txt")
        );
        assert_eq!(
            spec.files,
            [tree.path("envs/reqs/base.txt"), tree.path("envs/c.txt")]
        );
        assert_eq!(
            spec.options.extra_index_urls[0].as_str(),
            "https://extra.example/simple"
        );
    }

    #[test]
    fn pip_section_errors_name_the_yaml_location() {
        let yml = PathBuf::from("environment.yml");
        let lines = vec![
            ("flask".to_string(), at(&yml, 10, 5)),
            ("-e hg+https://x.example/r".to_string(), at(&yml, 11, 7)),
        ];
        let err = PipInputs::default()
            .add_lines(&lines, Path::new("."), &no_env)
            .unwrap_err();
        let failure = err.downcast_ref::<Failure>().unwrap();
        assert!(
            failure.message.starts_with(
                "environment.yml:11:7: `-e hg+https://x.example/r` is an editable install"
            ),
            "{}",
            failure.message
        );
    }

    #[test]
    fn pip_section_missing_include_names_the_yaml_line() {
        let dir = tempfile::tempdir().unwrap();
        let yml = dir.path().join("environment.yml");
        let lines = vec![("-r missing.txt".to_string(), at(&yml, 9, 7))];
        let err = PipInputs::default()
            .add_lines(&lines, dir.path(), &no_env)
            .unwrap_err();
        let failure = err.downcast_ref::<Failure>().unwrap();
        assert!(
            failure.message.starts_with(&format!(
                "{}:9:7: `-r missing.txt`: cannot read",
                yml.display()
            )),
            "{}",
            failure.message
        );
    }

    #[test]
    fn add_file_and_add_lines_accumulate() {
        let tree = Tree::new(&[("requirements.txt", "--pre\nflask\n")]);
        let mut spec = PipInputs::default();
        spec.add_file(&tree.path("requirements.txt"), &no_env)
            .unwrap();
        let lines = vec![("numpy".to_string(), at(Path::new("environment.yml"), 3, 5))];
        spec.add_lines(&lines, tree.dir.path(), &no_env).unwrap();
        assert_eq!(names(&spec.requirements), ["flask", "numpy"]);
        assert!(spec.options.pre);
        assert_eq!(spec.files, [tree.path("requirements.txt")]);
    }
}
