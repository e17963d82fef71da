//! `-r`/`-c` includes: reading a file, paths relative to the including file, and cycles.

use std::path::{Path, PathBuf};

use url::Url;

use super::{Parser, failure, lexer::split_lines};
use crate::{
    inputs::Location,
    util::{error::Failure, redact},
};

/// A file being read, for cycle detection.
pub(super) struct Open {
    /// Canonical path, to recognize a file however it was reached.
    key: PathBuf,
    /// The path as it was reached, for messages.
    shown: PathBuf,
}

/// Who asked for a file: the `-r`/`-c` line and its text.
pub(super) struct Include<'a> {
    location: &'a Location,
    directive: String,
}

impl Parser<'_> {
    /// Reads one file (the top-level one when `from` is `None`) into the parse.
    pub(super) fn read_file(
        &mut self,
        path: &Path,
        from: Option<Include<'_>>,
        constraint: bool,
    ) -> anyhow::Result<()> {
        let unreadable = |error: std::io::Error| -> anyhow::Error {
            match &from {
                Some(include) => failure(
                    include.location,
                    format!(
                        "`{}`: cannot read {}: {error}",
                        redact::text(&include.directive),
                        path.display()
                    ),
                    format!(
                        "paths in -r and -c are relative to the directory of the file that \
                         names them ({}); fix the path",
                        dir_shown(&include.location.file)
                    ),
                ),
                None => Failure::new(format!(
                    "{}: cannot read the requirements file: {error}",
                    path.display()
                ))
                .hint("check the path")
                .into(),
            }
        };
        let key = std::fs::canonicalize(path).map_err(unreadable)?;
        if let Some(start) = self.stack.iter().position(|open| open.key == key) {
            let chain: Vec<String> = self.stack[start..]
                .iter()
                .map(|open| open.shown.display().to_string())
                .chain([path.display().to_string()])
                .collect();
            // `from` is always set here: the outermost file cannot already be open.
            let include = from.expect("a file in the include chain was included");
            return Err(failure(
                include.location,
                format!(
                    "`{}` includes a file that is already being read: {}",
                    redact::text(&include.directive),
                    chain.join(" -> ")
                ),
                "requirements files must not include themselves; remove the -r/-c line that \
                 closes the cycle",
            ));
        }
        let bytes = crate::util::fs::read_input(path).map_err(unreadable)?;
        let text = crate::util::fs::input_text(path, bytes)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);

        // Once per file, however it was reached (`a/../b.txt` is `b.txt`).
        let seen = self
            .spec
            .files
            .iter()
            .any(|file| std::fs::canonicalize(file).is_ok_and(|file| file == key));
        if !seen {
            self.spec.files.push(path.to_path_buf());
        }
        let physical = split_lines(text)
            .into_iter()
            .enumerate()
            .map(|(index, line)| {
                let indent = line.chars().take_while(|c| c.is_whitespace()).count();
                let location = Location {
                    file: path.to_path_buf(),
                    line: index + 1,
                    column: indent + 1,
                };
                (line.to_string(), location)
            })
            .collect();
        let base_dir = path.parent().unwrap_or(Path::new("")).to_path_buf();

        self.stack.push(Open {
            key,
            shown: path.to_path_buf(),
        });
        let result = self.parse_lines(physical, &base_dir, constraint);
        self.stack.pop();
        result
    }

    /// `-r`/`-c` `value`: the file it names, relative to `base_dir`.
    pub(super) fn include(
        &mut self,
        value: &str,
        constraint: bool,
        location: &Location,
        base_dir: &Path,
    ) -> anyhow::Result<()> {
        let directive = format!("{} {value}", if constraint { "-c" } else { "-r" });
        let scheme = value
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        let path = match scheme.as_deref() {
            Some("http" | "https") => {
                return Err(failure(
                    location,
                    format!(
                        "`{}` is a remote requirements file, which envlock does not fetch: its \
                         content could change between locks",
                        redact::text(&directive)
                    ),
                    "download it, keep the copy next to this file, and include it by path",
                ));
            }
            Some("file") => match Url::parse(value).ok().map(|url| url.to_file_path()) {
                Some(Ok(path)) => path,
                _ => {
                    return Err(failure(
                        location,
                        format!("`{}` is not a usable file: URL", redact::text(&directive)),
                        "include the file by path instead",
                    ));
                }
            },
            _ => base_dir.join(value),
        };
        let from = Include {
            location,
            directive,
        };
        self.read_file(&path, Some(from), constraint)
    }
}

fn dir_shown(file: &Path) -> String {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.display().to_string(),
        _ => ".".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use pep508_rs::RequirementOrigin;

    use super::*;
    use crate::inputs::requirements::{PipInputs, testing::*};

    // --- Includes -----------------------------------------------------------------------------

    #[test]
    fn requirement_includes_are_relative_to_the_including_file() {
        let tree = Tree::new(&[
            (
                "requirements.txt",
                "-r sub/base.txt\nflask\n--requirement=sub/more.txt\n",
            ),
            ("sub/base.txt", "-r ../shared/common.txt\nnumpy\n"),
            ("sub/more.txt", "scipy\n"),
            ("shared/common.txt", "requests\n"),
        ]);
        let spec = tree.parse("requirements.txt", &no_env).unwrap();
        assert_eq!(
            names(&spec.requirements),
            ["requests", "numpy", "flask", "scipy"]
        );
        let files: Vec<String> = spec
            .files
            .iter()
            .map(|f| {
                f.strip_prefix(tree.dir.path())
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            files,
            [
                "requirements.txt",
                "sub/base.txt",
                "sub/../shared/common.txt",
                "sub/more.txt"
            ]
        );
        assert_eq!(
            spec.requirements[0].location.file,
            tree.path("sub/../shared/common.txt")
        );
        assert_eq!(spec.requirements[0].location.line, 1);
        assert_eq!(
            spec.requirements[0].requirement.origin,
            Some(RequirementOrigin::File(
                tree.path("sub/../shared/common.txt")
            ))
        );
    }

    #[test]
    fn long_and_attached_include_spellings() {
        let tree = Tree::new(&[
            (
                "requirements.txt",
                "--requirement a.txt\n-rb.txt\n--constraint=c.txt\n-c d.txt\n",
            ),
            ("a.txt", "aa\n"),
            ("b.txt", "bb\n"),
            ("c.txt", "cc==1\n"),
            ("d.txt", "dd==2\n"),
        ]);
        let spec = tree.parse("requirements.txt", &no_env).unwrap();
        assert_eq!(names(&spec.requirements), ["aa", "bb"]);
        assert_eq!(names(&spec.constraints), ["cc==1", "dd==2"]);
    }

    #[test]
    fn constraints_files_hold_constraints_and_their_options_apply() {
        let tree = Tree::new(&[
            ("requirements.txt", "-c constraints.txt\nflask\n"),
            (
                "constraints.txt",
                &format!("--pre\nwerkzeug<3 --hash={SHA_A}\n"),
            ),
        ]);
        let spec = tree.parse("requirements.txt", &no_env).unwrap();
        assert_eq!(names(&spec.requirements), ["flask"]);
        assert_eq!(names(&spec.constraints), ["werkzeug<3"]);
        assert_eq!(spec.constraints[0].hashes, [SHA_A]);
        assert!(spec.options.pre);
    }

    #[test]
    fn r_inside_a_constraints_file_reads_requirements_as_pip_does() {
        let tree = Tree::new(&[
            ("requirements.txt", "-c c.txt\n"),
            ("c.txt", "-r r.txt\nwerkzeug<3\n"),
            ("r.txt", "flask\n"),
        ]);
        let spec = tree.parse("requirements.txt", &no_env).unwrap();
        assert_eq!(names(&spec.requirements), ["flask"]);
        assert_eq!(names(&spec.constraints), ["werkzeug<3"]);
    }

    #[test]
    fn constraints_with_extras_are_rejected() {
        let tree = Tree::new(&[
            ("requirements.txt", "-c c.txt\n"),
            ("c.txt", "\nrequests[socks]==2.32.3\n"),
        ]);
        let err = tree.parse("requirements.txt", &no_env).unwrap_err();
        let (message, hint) = split(&tree, err);
        assert!(message.starts_with("c.txt:2:1: "), "{message}");
        assert!(message.contains("extras"), "{message}");
        assert!(hint.contains("`requests==2.32.3`"), "{hint}");
    }

    #[test]
    fn a_file_included_twice_without_a_cycle_is_fine() {
        let tree = Tree::new(&[
            ("requirements.txt", "-r a.txt\n-r sub/b.txt\n"),
            ("a.txt", "-r common.txt\n"),
            ("sub/b.txt", "-r ../common.txt\n"),
            ("common.txt", "numpy\n"),
        ]);
        let spec = tree.parse("requirements.txt", &no_env).unwrap();
        assert_eq!(names(&spec.requirements), ["numpy", "numpy"]);
        assert_eq!(spec.files.len(), 4, "{:?}", spec.files);
    }

    #[test]
    fn include_cycle_is_an_error_naming_the_chain() {
        let tree = Tree::new(&[
            ("requirements.txt", "flask\n-r a.txt\n"),
            ("a.txt", "-r b.txt\n"),
            ("b.txt", "# back\n-r ./a.txt\n"),
        ]);
        let err = tree.parse("requirements.txt", &no_env).unwrap_err();
        let (message, hint) = split(&tree, err);
        assert!(message.starts_with("b.txt:2:1: `-r ./a.txt`"), "{message}");
        assert!(message.ends_with("a.txt -> b.txt -> ./a.txt"), "{message}");
        assert!(hint.contains("cycle"), "{hint}");
    }

    #[test]
    fn self_include_is_a_cycle() {
        let (message, _) = error("-r requirements.txt\n");
        assert!(
            message.ends_with("requirements.txt -> requirements.txt"),
            "{message}"
        );
    }

    #[test]
    fn missing_include_names_the_including_line() {
        let tree = Tree::new(&[("requirements.txt", "flask\n\n-r nope.txt\n")]);
        let err = tree.parse("requirements.txt", &no_env).unwrap_err();
        let (message, hint) = split(&tree, err);
        assert!(
            message.starts_with("requirements.txt:3:1: `-r nope.txt`: cannot read nope.txt"),
            "{message}"
        );
        assert!(hint.contains("relative to the directory"), "{hint}");
    }

    #[test]
    fn missing_top_level_file_is_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let err = PipInputs::default()
            .add_file(&dir.path().join("missing.txt"), &no_env)
            .unwrap_err();
        let failure = err.downcast_ref::<Failure>().unwrap();
        assert!(
            failure.message.contains("missing.txt: cannot read"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn remote_includes_are_rejected_without_credentials() {
        let (message, hint) = error("-r https://user:s3cret@example.com/req.txt\n");
        assert!(message.starts_with("requirements.txt:1:1: "), "{message}");
        assert!(message.contains("remote requirements file"), "{message}");
        assert!(message.contains("https://example.com/req.txt"), "{message}");
        assert!(
            !message.contains("s3cret") && !message.contains("user"),
            "{message}"
        );
        assert!(hint.contains("download it"), "{hint}");
        let (message, _) = error("-c http://example.com/c.txt\n");
        assert!(
            message.contains("`-c http://example.com/c.txt` is a remote"),
            "{message}"
        );
    }

    #[test]
    fn file_url_includes_are_read() {
        let tree = Tree::new(&[("other.txt", "numpy\n")]);
        let url = Url::from_file_path(tree.path("other.txt")).unwrap();
        std::fs::write(tree.path("requirements.txt"), format!("-r {url}\n")).unwrap();
        let spec = tree.parse("requirements.txt", &no_env).unwrap();
        assert_eq!(names(&spec.requirements), ["numpy"]);
    }

    #[test]
    fn include_with_other_options_on_the_line_is_rejected() {
        let (message, hint) = error("-r a.txt --pre\n");
        assert!(
            message.contains("combines -r/-c with other options"),
            "{message}"
        );
        assert!(hint.contains("own"), "{hint}");
        let (message, _) = error("-r a.txt -r b.txt\n");
        assert!(message.contains("only the first file"), "{message}");
    }
}
