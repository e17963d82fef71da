//! Snapshots of envlock runs, in the style of uv's `uv_snapshot!`: the exit code, stdout and
//! stderr of one run, with what differs between runs and machines replaced by placeholders.

use std::{path::Path, process::Output};

/// Snapshots a run: `envlock_snapshot!(project, command)` or, with an explicit snapshot name,
/// `envlock_snapshot!(project, command, "name")`. `command` is a `std::process::Command` (or
/// `&mut` one), usually from [`super::Project::command`]. Returns the `Output`.
#[macro_export]
macro_rules! envlock_snapshot {
    ($project:expr, $command:expr) => {{
        let mut command = $command;
        let (output, rendered, settings) = $crate::common::snapshot::run(&$project, &mut command);
        settings.bind(|| ::insta::assert_snapshot!(rendered));
        output
    }};
    ($project:expr, $command:expr, $name:expr) => {{
        let mut command = $command;
        let (output, rendered, settings) = $crate::common::snapshot::run(&$project, &mut command);
        settings.bind(|| ::insta::assert_snapshot!($name, rendered));
        output
    }};
}

/// Runs `command`; returns its output, the text to snapshot and the settings to compare it with
/// (the project's filters, and the command line as the snapshot's description).
pub fn run(
    project: &super::Project,
    command: &mut std::process::Command,
) -> (Output, String, insta::Settings) {
    let output = command.output().expect("run envlock");
    let filters = project.filters();
    let mut settings = settings(&filters);
    let line: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    settings.set_description(describe(project, &line.join(" ")));
    (output.clone(), render(&output), settings)
}

/// The command line for a snapshot's header, without the machine-specific parts: the filters
/// apply to the contents only, and a header that changes on every run would churn the files.
fn describe(project: &super::Project, line: &str) -> String {
    let mut line = line.to_string();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, name) in [
        (project.dir.path().to_path_buf(), "[TEMP]"),
        (repo.join("fixtures"), "[FIXTURES]"),
        (repo.to_path_buf(), "[REPO]"),
    ] {
        line = line.replace(&path.display().to_string(), name);
    }
    let mut out = String::new();
    let mut rest = line.as_str();
    while let Some(at) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..at]);
        out.push_str("[SERVER]");
        rest = rest[at + "127.0.0.1:".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    format!("envlock {out}")
}

/// Exit code, stdout and stderr, as uv's snapshots show them.
pub fn render(output: &Output) -> String {
    format!(
        "success: {}\nexit_code: {}\n----- stdout -----\n{}\n----- stderr -----\n{}",
        output.status.success(),
        output
            .status
            .code()
            .map_or("signal".to_string(), |c| c.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    )
}

pub fn settings(filters: &[(String, String)]) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(true);
    settings.set_omit_expression(true);
    for (pattern, replacement) in filters {
        settings.add_filter(pattern, replacement.as_str());
    }
    settings
}

/// `text` as a regex that matches it literally.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The lock's content hashes (recorded and actual, full and as the 12-digit prefix the
/// Dockerfile's header shows) as `[CONTENT-HASH:<platform>]`: they cover package URLs, which
/// name the test server's random port or the checkout's path.
pub fn content_hash_filters(lockfile: &Path) -> Vec<(String, String)> {
    let Ok(lock) = envlock::lock::read(lockfile) else {
        return Vec::new();
    };
    let mut hashes: Vec<(String, String)> =
        lock.metadata.content_hash.clone().into_iter().collect();
    hashes.extend(lock.compute_content_hashes());
    let mut filters = Vec::new();
    for (platform, hash) in hashes {
        if hash.len() < 12 {
            continue;
        }
        filters.push((hash.clone(), format!("[CONTENT-HASH:{platform}]")));
        filters.push((
            format!("{platform}={}\\b", &hash[..12]),
            format!("{platform}=[CONTENT-HASH]"),
        ));
    }
    filters
}

/// Filters for every snapshot: paths of this checkout and of temp dirs, server ports, timings
/// and the crate version.
pub fn common_filters() -> Vec<(String, String)> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut filters = Vec::new();
    let shared = repo.join("../shared");
    if let Ok(shared) = shared.canonicalize() {
        filters.push((escape(&shared.display().to_string()), "[SHARED]".into()));
    }
    for repo in [repo.to_path_buf(), repo.canonicalize().unwrap()] {
        filters.push((
            escape(&repo.join("fixtures").display().to_string()),
            "[FIXTURES]".into(),
        ));
        filters.push((escape(&repo.display().to_string()), "[REPO]".into()));
    }
    // Other temporary directories (a second index, a copied channel root).
    let tmp = std::env::temp_dir();
    for tmp in [tmp.clone(), tmp.canonicalize().unwrap_or(tmp)] {
        filters.push((
            format!(r"{}/\.tmp[A-Za-z0-9_]+", escape(&tmp.display().to_string())),
            "[TMP]".into(),
        ));
    }
    filters.extend([
        (r"127\.0\.0\.1:\d+".into(), "[SERVER]".into()),
        (r"\bin \d+(\.\d+)? ?(ms|s|µs)\b".into(), "in [TIME]".into()),
        (r"\(\d+(\.\d+)? ?(ms|s|µs)\)".into(), "([TIME])".into()),
        (
            format!(
                r"(envlock[ /@v:=]*\s*\x22?){}\b",
                escape(env!("CARGO_PKG_VERSION"))
            ),
            "${1}[VERSION]".into(),
        ),
    ]);
    filters
}
