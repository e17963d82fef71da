//! Requirement lines: PEP 508 requirements and direct URLs, as pip's `parse_req_from_line`
//! reads them (git URLs among them: `name @ git+https://…@ref`, or a bare one with `#egg=name`),
//! and the forms that cannot be locked (editables of non-directories, archives on this machine,
//! other version-control systems).

use std::str::FromStr;

use pep508_rs::{Pep508ErrorSource, RequirementOrigin, VerbatimUrl, VersionOrUrl, split_scheme};
use url::Url;

use super::{
    Parser, PipRequirement, failure,
    options::{Given, Kind, check_config_settings, parse_hash, reject_global_option},
};
use crate::{inputs::Location, util::redact};

impl Parser<'_> {
    /// A line with a requirement: the requirement and its `--hash`/`--config-settings`.
    pub(super) fn requirement_line(
        &mut self,
        args: &str,
        given: &[Given],
        location: &Location,
        constraint: bool,
    ) -> anyhow::Result<()> {
        let mut hashes = Vec::new();
        for option in given {
            match option.kind {
                Kind::Hash => hashes.push(parse_hash(option, location)?),
                Kind::ConfigSettings => check_config_settings(option, location)?,
                Kind::GlobalOption => return Err(reject_global_option(location)),
                _ => {
                    return Err(failure(
                        location,
                        format!(
                            "`{}` on the requirement line `{}` would be ignored by pip: only \
                             --hash and --config-settings apply to a single requirement",
                            option.kind.name(),
                            redact::text(args.trim())
                        ),
                        format!("put `{}` on a line of its own", option.kind.name()),
                    ));
                }
            }
        }
        let (requirement, unnamed) = parse_requirement(args, location)?;
        if let Some(VersionOrUrl::Url(url)) = &requirement.version_or_url
            && is_git_scheme(url.scheme())
        {
            if !hashes.is_empty() {
                return Err(failure(
                    location,
                    format!(
                        "`{}` is a git URL with `--hash`: a repository has no file hash to \
                         check (pip refuses it too)",
                        redact::text(args.trim())
                    ),
                    "remove the --hash: the lock pins the commit, and the hash of the archive \
                     envlock makes of it",
                ));
            }
            if constraint {
                return Err(failure(
                    location,
                    format!(
                        "the constraint `{}` is a git URL, which pip does not allow in constraints",
                        redact::text(args.trim())
                    ),
                    "move it to a requirements file",
                ));
            }
        }
        if constraint && !requirement.extras.is_empty() {
            return Err(failure(
                location,
                format!(
                    "the constraint `{}` has extras, which pip does not allow in constraints",
                    redact::text(args.trim())
                ),
                format!(
                    "constrain the package without extras: `{}`",
                    redact::text(&without_extras(&requirement))
                ),
            ));
        }
        let requirement = PipRequirement {
            requirement,
            hashes,
            location: location.clone(),
            unnamed,
        };
        if constraint {
            self.spec.constraints.push(requirement);
        } else {
            self.spec.requirements.push(requirement);
        }
        Ok(())
    }
}

/// pip's `parse_req_from_line`, restricted to what can be locked; `true` with a requirement
/// whose name is a guess from a bare URL (see [`PipRequirement::unnamed`]).
fn parse_requirement(
    args: &str,
    location: &Location,
) -> anyhow::Result<(pep508_rs::Requirement, bool)> {
    let text = args.trim();
    // pip: a URL may contain `;`, so only `; ` starts the markers after a bare URL.
    let separator = if is_url(text) { "; " } else { ";" };
    let (name_part, markers) = match text.split_once(separator) {
        Some((name, markers)) => (name.trim(), Some(markers.trim()).filter(|m| !m.is_empty())),
        None => (text, None),
    };

    if is_url(name_part) {
        let scheme = scheme_of(name_part);
        // pip: a bare URL is named by its `#egg=` fragment; without one, envlock reads the name
        // from the file's metadata when it resolves, and guesses it from the URL until then.
        if is_git_scheme(&scheme) || scheme == "http" || scheme == "https" {
            let (name, unnamed) = match egg_of(name_part) {
                Some(egg) => (egg, false),
                None => match name_from_url(name_part)
                    .filter(|n| pep508_rs::PackageName::from_str(n).is_ok())
                {
                    Some(guess) => (guess, true),
                    // A stand-in the URL fixes, until the metadata gives the name.
                    None if is_git_scheme(&scheme) || is_archive(name_part) => {
                        let digest = rattler_digest::compute_bytes_digest::<rattler_digest::Sha256>(
                            redact::url_text(name_part).as_bytes(),
                        );
                        (format!("unnamed-{}", &hex::encode(digest)[..8]), true)
                    }
                    None => return Err(reject_unnamed_url(location, text, name_part)),
                },
            };
            let named = match markers {
                Some(markers) => format!("{name} @ {name_part} ; {markers}"),
                None => format!("{name} @ {name_part}"),
            };
            let (requirement, _) = parse_requirement(&named, location)?;
            return Ok((requirement, unnamed));
        }
        return Err(if is_vcs_scheme(&scheme) {
            reject_vcs(location, text)
        } else if scheme == "file" {
            reject_local(location, text)
        } else {
            reject_unnamed_url(location, text, name_part)
        });
    }
    // pip: `name @ …` is a PEP 508 requirement unless the part before `@` looks like a path.
    let named_url = name_part
        .split_once('@')
        .is_some_and(|(before, _)| !looks_like_path(before));
    if !named_url && (looks_like_path(name_part) || is_archive(name_part)) {
        return Err(reject_local(location, text));
    }

    let pep508 = match markers {
        Some(markers) => format!("{name_part} ; {markers}"),
        None => name_part.to_string(),
    };
    // Parsed with plain `Url`, then wrapped: pep508_rs's `VerbatimUrl` parser expands `${VAR}`
    // itself from the process environment (and `${PROJECT_ROOT}` to the working directory),
    // which would bypass `env` and make the lock depend on where envlock runs.
    let parsed = match crate::util::pep508::parse::<Url>(&pep508) {
        Ok(parsed) => parsed,
        Err(error) => {
            if let Pep508ErrorSource::UrlError(url_error) = &error.message {
                let url = name_part.split_once('@').map_or("", |(_, url)| url.trim());
                // No scheme (or a drive letter): a relative or absolute path.
                if split_scheme(url).is_none_or(|(scheme, _)| scheme.len() == 1) {
                    return Err(reject_local(location, text));
                }
                return Err(failure(
                    location,
                    format!("`{}` has an invalid URL: {url_error}", redact::text(text)),
                    "write `name @ https://…/name-1.0-py3-none-any.whl`",
                ));
            }
            let operators = ["==", "!=", "<=", ">=", "~=", "<", ">"];
            let hint =
                if name_part.contains('=') && !operators.iter().any(|o| name_part.contains(o)) {
                    "`=` is not a version operator; did you mean `==`?"
                } else {
                    "write a PEP 508 requirement such as `requests>=2.31`, \
                 `requests[socks]==2.32.3; python_version < \"3.12\"` or \
                 `name @ https://…/name-1.0-py3-none-any.whl`"
                };
            return Err(failure(
                location,
                format!(
                    "`{}` is not a valid requirement: {}",
                    redact::text(text),
                    redact::text(&error.message.to_string())
                ),
                hint,
            ));
        }
    };

    let version_or_url = match parsed.version_or_url {
        Some(VersionOrUrl::Url(url)) => {
            check_direct_url(&url, location, text)?;
            Some(VersionOrUrl::Url(VerbatimUrl::from_url(url)))
        }
        Some(VersionOrUrl::VersionSpecifier(specifiers)) => {
            Some(VersionOrUrl::VersionSpecifier(specifiers))
        }
        None => None,
    };
    Ok((
        pep508_rs::Requirement {
            name: parsed.name,
            extras: parsed.extras,
            version_or_url,
            marker: parsed.marker,
            origin: Some(RequirementOrigin::File(location.file.clone())),
        },
        false,
    ))
}

/// A `name @ URL` reference must be an http(s) URL to one wheel or source archive.
fn check_direct_url(url: &Url, location: &Location, text: &str) -> anyhow::Result<()> {
    let scheme = url.scheme();
    if is_git_scheme(scheme) {
        return check_git_url(url, location, text);
    }
    if is_vcs_scheme(scheme) {
        return Err(reject_vcs(location, text));
    }
    if scheme == "file" || scheme.len() == 1 {
        return Err(reject_local(location, text));
    }
    if scheme != "https" && scheme != "http" {
        return Err(failure(
            location,
            format!(
                "`{}` uses a `{scheme}:` URL; only https and http URLs can be downloaded and \
                 hashed for the lock",
                redact::text(text)
            ),
            "use an https URL to a wheel or source archive, or require the package by version \
             from an index",
        ));
    }
    let file = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .unwrap_or_default();
    if !is_archive(file) {
        return Err(failure(
            location,
            format!(
                "`{}` does not point to a wheel or source archive, so there is no single file \
                 to hash",
                redact::text(text)
            ),
            "use a URL ending in .whl, .tar.gz or .zip, or require the package by version from \
             an index",
        ));
    }
    Ok(())
}

/// A git URL must name a repository: a host (or a `file:` path), and at most one `@ref`.
fn check_git_url(url: &Url, location: &Location, text: &str) -> anyhow::Result<()> {
    let bad = |why: &str, hint: &str| {
        Err(failure(
            location,
            format!(
                "`{}` is not a git URL envlock can lock: {why}",
                redact::text(text)
            ),
            hint.to_string(),
        ))
    };
    if url.scheme() != "git+file" && url.host_str().is_none_or(str::is_empty) {
        return bad(
            "it names no host",
            "write `name @ git+https://host/org/repo@TAG`",
        );
    }
    let path = url.path();
    let repo = path.rsplit_once('@').map_or(path, |(repo, _)| repo);
    if repo.trim_matches('/').is_empty() {
        return bad(
            "it names no repository",
            "write `name @ git+https://host/org/repo@TAG`",
        );
    }
    if let Some((_, reference)) = path.rsplit_once('@')
        && reference.is_empty()
    {
        return bad(
            "the `@` after the repository names no branch, tag or commit",
            "write the ref after `@` (`…/repo@v1.2`), or leave out `@` for the default branch",
        );
    }
    for part in url.fragment().unwrap_or_default().split('&') {
        if let Some(sub) = part.strip_prefix("subdirectory=")
            && (sub.starts_with('/') || sub.split('/').any(|s| s == ".." || s.is_empty()))
        {
            return bad(
                "its `#subdirectory=` must be a relative path inside the repository",
                "write `#subdirectory=path/in/repo`",
            );
        }
    }
    Ok(())
}

/// The `#egg=` name of a bare VCS URL.
fn egg_of(url: &str) -> Option<String> {
    let (_, fragment) = url.split_once('#')?;
    fragment
        .split('&')
        .find_map(|part| part.strip_prefix("egg="))
        .filter(|egg| !egg.is_empty())
        .map(str::to_string)
}

/// `-e`/`--editable`, rejected wherever it appears on a line.
pub(super) fn reject_editable(location: &Location, line: &str) -> anyhow::Error {
    failure(
        location,
        format!(
            "`{}` is an editable install, which cannot be locked with hashes",
            redact::text(line)
        ),
        "publish the package to an index, or install it in a later Dockerfile step",
    )
}

fn reject_local(location: &Location, text: &str) -> anyhow::Error {
    failure(
        location,
        format!(
            "`{}` is a local path, which cannot be locked reproducibly: the lock records where \
             to download each package and its hash, and a path on this machine is neither",
            redact::text(text)
        ),
        "publish the package to an index and require it by name and version; a local project \
         is named by its existing directory (`./pkg`, `-e .`) with a pyproject.toml",
    )
}

fn reject_vcs(location: &Location, text: &str) -> anyhow::Error {
    failure(
        location,
        format!(
            "`{}` is a version-control URL of a kind envlock cannot lock: only git repositories \
             are resolved to a commit and archived for the image",
            redact::text(text)
        ),
        "use a git URL (`name @ git+https://host/org/repo@TAG`), require a released version \
         from an index, or point at a wheel or source archive \
         (`name @ https://…/name-1.0.tar.gz`)",
    )
}

fn reject_unnamed_url(location: &Location, text: &str, url: &str) -> anyhow::Error {
    failure(
        location,
        format!(
            "`{}` is a URL without a package name, which cannot be locked: the resolver needs \
             the name to match it against the other requirements",
            redact::text(text)
        ),
        format!(
            "name the package: `{} @ {}`",
            name_from_url(url).unwrap_or_else(|| "NAME".to_string()),
            redact::text(url)
        ),
    )
}

/// A best guess at the package name of an archive URL, for hints: `#egg=`, else the file name.
fn name_from_url(url: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    if let Some(egg) = parsed
        .fragment()
        .and_then(|f| f.split('&').find_map(|part| part.strip_prefix("egg=")))
    {
        return Some(egg.to_string());
    }
    if is_git_scheme(parsed.scheme()) {
        let path = parsed.path();
        let repo = path.rsplit_once('@').map_or(path, |(repo, _)| repo);
        let last = repo.trim_end_matches('/').rsplit('/').next()?;
        let name = last.strip_suffix(".git").unwrap_or(last);
        return (!name.is_empty()).then(|| name.to_string());
    }
    let segments: Vec<&str> = parsed.path_segments()?.collect();
    // A forge's archive of a branch or tag (`…/org/repo/archive/master.zip`): the file is
    // named after the ref, the repository after the project.
    if let Some(at) = segments.iter().position(|s| *s == "archive")
        && at > 0
        && at + 1 < segments.len()
    {
        return Some(segments[at - 1].to_string());
    }
    let file = segments.last()?;
    let lower = file.to_ascii_lowercase();
    let stem = ARCHIVE_EXTENSIONS.iter().find_map(|ext| {
        lower
            .ends_with(ext)
            .then(|| &file[..file.len() - ext.len()])
    })?;
    let name = if lower.ends_with(".whl") {
        stem.split('-').next()?
    } else {
        // `name-1.0.tar.gz`; a stem without a version says nothing about the name.
        let (name, version) = stem.rsplit_once('-')?;
        if !version.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        name
    };
    (!name.is_empty()).then(|| name.to_string())
}

fn without_extras(requirement: &pep508_rs::Requirement) -> String {
    let mut requirement = requirement.clone();
    requirement.extras.clear();
    requirement.to_string()
}

/// pip's `is_url`: a scheme pip downloads from or a version-control scheme.
fn is_url(text: &str) -> bool {
    if !text.contains(':') {
        return false;
    }
    let scheme = scheme_of(text);
    matches!(scheme.as_str(), "http" | "https" | "file" | "ftp") || is_vcs_scheme(&scheme)
}

fn scheme_of(text: &str) -> String {
    text.split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The git URL schemes pip reads: `git+https`, `git+http`, `git+ssh`, `git+git`, `git+file`.
pub(crate) fn is_git_scheme(scheme: &str) -> bool {
    matches!(
        scheme.to_ascii_lowercase().as_str(),
        "git+https" | "git+http" | "git+ssh" | "git+git" | "git+file"
    )
}

/// `git+https`, `hg+ssh`, …, and the bare `git:` protocol.
fn is_vcs_scheme(scheme: &str) -> bool {
    let scheme = scheme.to_ascii_lowercase();
    ["git", "hg", "svn", "bzr"].iter().any(|vcs| {
        scheme == *vcs
            || scheme
                .strip_prefix(vcs)
                .is_some_and(|rest| rest.starts_with('+'))
    })
}

/// pip's `_looks_like_path`.
fn looks_like_path(text: &str) -> bool {
    text.contains('/') || text.contains('\\') || text.starts_with('.')
}

/// pip's `ARCHIVE_EXTENSIONS`.
const ARCHIVE_EXTENSIONS: &[&str] = &[
    ".tar.bz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tlz",
    ".tar.lz",
    ".tar.lzma",
    ".zip",
    ".whl",
    ".tar.gz",
    ".tgz",
    ".tar",
];

/// pip's `is_archive_file`, ignoring extras (`./x.whl[extra]`).
fn is_archive(text: &str) -> bool {
    let text = match text.rfind('[') {
        Some(open) if text.ends_with(']') => &text[..open],
        _ => text,
    };
    let lower = text.to_ascii_lowercase();
    ARCHIVE_EXTENSIONS.iter().any(|ext| lower.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::requirements::testing::*;

    // --- Requirements -------------------------------------------------------------------------

    #[test]
    fn pep508_requirements_with_extras_markers_and_pins() {
        let spec = parse(
            "requests[socks]>=2; python_version<\"3.12\"\n\
             flask==3.0.0\n\
             numpy >= 1.26, < 2 ; sys_platform == 'linux'\n\
             Django\n",
        );
        let requests = &spec.requirements[0].requirement;
        assert_eq!(requests.name.as_ref(), "requests");
        assert_eq!(requests.extras.len(), 1);
        assert_eq!(requests.extras[0].as_ref(), "socks");
        let marker = requests.marker.contents().unwrap().to_string();
        assert!(marker.contains("python_full_version < '3.12'"), "{marker}");
        assert_eq!(
            spec.requirements[1]
                .requirement
                .version_or_url
                .as_ref()
                .unwrap()
                .to_string(),
            "==3.0.0"
        );
        let numpy = &spec.requirements[2].requirement;
        assert!(numpy.marker.contents().is_some());
        assert_eq!(
            numpy.version_or_url.as_ref().unwrap().to_string(),
            ">=1.26, <2"
        );
        assert_eq!(spec.requirements[3].requirement.name.as_ref(), "django");
        assert!(spec.requirements[3].requirement.version_or_url.is_none());
    }

    #[test]
    fn empty_marker_is_allowed() {
        let spec = parse("flask;\n");
        assert_eq!(names(&spec.requirements), ["flask"]);
    }

    #[test]
    fn direct_url_references_are_kept() {
        let spec = parse(
            "pkg @ https://example.com/files/pkg-1.0-py3-none-any.whl\n\
             other@http://example.com/other-2.0.tar.gz ; python_version >= \"3.9\"\n\
             third @ https://example.com/third-1.0.zip; sys_platform == \"linux\"\n",
        );
        let urls: Vec<String> = spec
            .requirements
            .iter()
            .map(|r| match r.requirement.version_or_url.as_ref().unwrap() {
                VersionOrUrl::Url(url) => url.to_string(),
                other => panic!("expected a URL, got {other}"),
            })
            .collect();
        assert_eq!(
            urls,
            [
                "https://example.com/files/pkg-1.0-py3-none-any.whl",
                "http://example.com/other-2.0.tar.gz",
                "https://example.com/third-1.0.zip",
            ]
        );
        assert!(spec.requirements[1].requirement.marker.contents().is_some());
        // pip splits the marker at `;` for named URLs, so no space is needed before it.
        assert!(spec.requirements[2].requirement.marker.contents().is_some());
    }

    #[test]
    fn direct_url_must_point_to_an_archive() {
        let (message, hint) = error("pkg @ https://example.com/simple/pkg/\n");
        assert!(
            message.contains("does not point to a wheel or source archive"),
            "{message}"
        );
        assert!(hint.contains(".whl"), "{hint}");
        let (message, _) = error("pkg @ ftp://example.com/pkg-1.0.tar.gz\n");
        assert!(message.contains("uses a `ftp:` URL"), "{message}");
    }

    #[test]
    fn invalid_requirements() {
        let (message, hint) = error("flask=3.0\n");
        assert!(
            message.starts_with("requirements.txt:1:1: `flask=3.0` is not a valid requirement"),
            "{message}"
        );
        assert!(hint.contains("did you mean `==`"), "{hint}");
        let (message, hint) = error("flask >= \n");
        assert!(message.contains("is not a valid requirement"), "{message}");
        assert!(hint.contains("PEP 508"), "{hint}");
    }

    // --- Rejected forms -----------------------------------------------------------------------

    #[test]
    fn editable_installs_are_rejected() {
        let (message, hint) = error("flask\n\n-e mypkg\n");
        assert_eq!(
            message,
            "requirements.txt:3:1: `-e mypkg` is an editable install, which cannot be locked \
             with hashes"
        );
        assert_eq!(
            hint,
            "publish the package to an index, or install it in a later Dockerfile step"
        );
        let (message, _) = error("--editable=hg+https://hg.example/o/r#egg=r\n");
        assert!(message.contains("is an editable install"), "{message}");
        let (message, _) = error("-e ./missing\n");
        assert!(
            message.ends_with("names a local project, but ./missing is not a directory"),
            "{message}"
        );
    }

    #[test]
    fn local_paths_are_rejected() {
        for line in [
            "./pkg",
            "../pkg[extra]",
            "/abs/path/pkg",
            "pkg/",
            "./missing",
            "pkg-1.0.tar.gz",
            "dist/pkg-1.0-py3-none-any.whl",
            "file:///abs/pkg-1.0.tar.gz",
            "pkg @ file:///abs/pkg-1.0.tar.gz",
            "pkg @ ./pkg",
            "pkg @ /abs/pkg-1.0.tar.gz",
            "C:\\pkgs\\pkg",
        ] {
            let (message, hint) = error(&format!("{line}\n"));
            assert!(
                message.starts_with(&format!("requirements.txt:1:1: `{line}` is a local path")),
                "{line}: {message}"
            );
            assert!(hint.contains("publish the package"), "{line}: {hint}");
        }
    }

    #[test]
    fn an_existing_local_directory_is_a_local_project() {
        let tree = Tree::new(&[
            (
                "requirements.txt",
                "./mypkg[a, b]\n-e mypkg/../mypkg\n-e ./mypkg --hash sha256:00\n",
            ),
            ("mypkg/pyproject.toml", ""),
        ]);
        let err = tree.parse("requirements.txt", &no_env).unwrap_err();
        let (message, _) = split(&tree, err);
        assert!(message.starts_with("requirements.txt:3:1: "), "{message}");
        let tree = Tree::new(&[
            ("requirements.txt", "./mypkg[a, b]\n-e mypkg/../mypkg\n"),
            ("mypkg/pyproject.toml", ""),
        ]);
        let parsed = tree.parse("requirements.txt", &no_env).unwrap();
        let dir = tree.dir.path().join("mypkg");
        assert_eq!(parsed.local.len(), 2);
        assert_eq!(
            (&parsed.local[0].dir, &parsed.local[0].extras),
            (&dir, &vec!["a".to_string(), "b".to_string()])
        );
        assert!(!parsed.local[0].editable);
        assert_eq!(parsed.local[1].dir, dir);
        assert!(parsed.local[1].editable);
        assert!(parsed.requirements.is_empty());
    }

    #[test]
    fn git_urls_are_requirements_and_other_vcs_urls_are_rejected() {
        let spec = parse(
            "git+https://github.com/org/repo@v1.0#egg=repo\n\
             pkg @ git+https://github.com/org/pkg@v1.0\n\
             other@git+ssh://git@github.com/org/other\n\
             sub @ git+file:///srv/mono@main#subdirectory=libs/sub ; sys_platform == 'linux'\n\
             -e git+https://github.com/org/dev@abc#egg=dev\n",
        );
        let names: Vec<&str> = spec
            .requirements
            .iter()
            .map(|r| r.requirement.name.as_ref())
            .collect();
        assert_eq!(names, ["repo", "pkg", "other", "sub", "dev"]);
        let url = |i: usize| match spec.requirements[i].requirement.version_or_url.as_ref() {
            Some(VersionOrUrl::Url(url)) => url.to_string(),
            other => panic!("expected a URL, got {other:?}"),
        };
        assert_eq!(url(0), "git+https://github.com/org/repo@v1.0#egg=repo");
        assert_eq!(url(3), "git+file:///srv/mono@main#subdirectory=libs/sub");
        assert!(spec.requirements[3].requirement.marker.contents().is_some());
        for line in [
            "hg+https://hg.example.com/repo#egg=repo",
            "pkg @ svn+https://svn.example.com/repo/trunk",
            "bzr+lp:pkg",
            "git://github.com/org/repo",
        ] {
            let (message, hint) = error(&format!("{line}\n"));
            assert!(
                message.contains("is a version-control URL of a kind envlock cannot lock"),
                "{line}: {message}"
            );
            assert!(hint.contains("git+https://"), "{line}: {hint}");
        }
    }

    #[test]
    fn bad_git_urls_say_what_to_write() {
        let (message, _) = error("pkg @ git+https://github.com/org/pkg@\n");
        assert!(
            message.contains("names no branch, tag or commit"),
            "{message}"
        );
        let (message, _) = error("pkg @ git+https://github.com/org/pkg#subdirectory=../x\n");
        assert!(message.contains("relative path inside"), "{message}");
        let (message, hint) = error(
            "pkg @ git+https://github.com/org/pkg@v1 --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
        );
        assert!(message.contains("is a git URL with `--hash`"), "{message}");
        assert!(hint.contains("remove the --hash"), "{hint}");
        let (message, _) = error("pkg @ git+https://u:s3cret@github.com/org/pkg@\n");
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[test]
    fn bare_urls_are_named_by_a_guess_until_resolve_reads_the_metadata() {
        let spec = parse(
            "https://example.com/files/My_Pkg-1.0-py3-none-any.whl\n\
             https://example.com/files/pkg-2.0.tar.gz\n\
             https://github.com/numpy/numpydoc/archive/master.zip\n\
             https://example.com/files/latest.tar.gz\n\
             git+https://github.com/org/tool.git@v1\n",
        );
        let guesses: Vec<(&str, bool)> = spec
            .requirements
            .iter()
            .map(|r| (r.requirement.name.as_ref(), r.unnamed))
            .collect();
        assert_eq!(
            &guesses[..3],
            [("my-pkg", true), ("pkg", true), ("numpydoc", true)]
        );
        assert!(
            guesses[3].0.starts_with("unnamed-") && guesses[3].1,
            "{guesses:?}"
        );
        assert_eq!(guesses[4], ("tool", true));
        // `#egg=` names it; the URL must still be one file.
        let (message, _) = error("https://example.com/download?id=3#egg=thing\n");
        assert!(
            message.contains("does not point to a wheel or source archive"),
            "{message}"
        );
        let (message, hint) = error("https://example.com/simple/\n");
        assert!(
            message.contains("is a URL without a package name"),
            "{message}"
        );
        assert!(hint.starts_with("name the package: `NAME @ "), "{hint}");
    }
}
