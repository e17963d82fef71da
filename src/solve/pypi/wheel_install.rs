//! Installs hash-checked wheels into a build environment by unpacking them (the wheel format's
//! "spread" step, PEP 427), without pip.
//!
//! Why envlock's own: installing a build backend's wheels with `pip install --no-deps` took
//! about 3 s per sdist here (pip's start-up, twice with `pip --python`), most of a cold
//! metadata build; unpacking takes milliseconds. uv does the same with its own installer, which
//! is not published as a library. Only what a PEP 517 build environment needs is done: files
//! go to `site-packages` (the `.data/purelib` and `.data/platlib` trees too), `.data/scripts` to
//! the environment's `bin` (executable, `#!python` rewritten to the environment's python), and
//! each `console_scripts` / `gui_scripts` entry point of `*.dist-info/entry_points.txt` gets
//! pip's wrapper script in `bin` (meson-python runs `meson`, scikit-build runs `cmake` and
//! `ninja`: without them those builds fail with "meson executable not found"). `RECORD` is left
//! as the wheel has it, and nothing is byte-compiled (builds run with
//! `PYTHONDONTWRITEBYTECODE`). An entry whose path would leave its directory is refused; an
//! entry point whose name is not a plain file name or whose target is not `module:attribute`
//! gets no script (the build goes on without it, as it did before wrappers were written).

use std::{
    io::Read,
    path::{Component, Path, PathBuf},
};

/// Where the files of a wheel go.
#[derive(Debug, Clone)]
pub struct Scheme {
    /// `site-packages` of the environment.
    pub site_packages: PathBuf,
    /// Its `bin` directory (`Scripts` on Windows).
    pub scripts: PathBuf,
    /// Its python, for `#!python` lines of scripts.
    pub python: PathBuf,
}

/// Unpacks the wheel at `wheel` into `scheme`.
pub fn install(wheel: &Path, scheme: &Scheme) -> Result<(), String> {
    let what = || {
        wheel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let file = std::fs::File::open(wheel).map_err(|e| format!("{}: {e}", what()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("{}: {e}", what()))?;
    let mut entry_points = None;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("{}: {e}", what()))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry
            .name()
            .map_err(|e| format!("{}: {e}", what()))?
            .into_owned();
        let Some(target) =
            destination(&name, scheme).map_err(|e| format!("{}: entry `{name}` {e}", what()))?
        else {
            continue;
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{}: {name}: {e}", what()))?;
        if is_entry_points(&name) {
            entry_points = Some(String::from_utf8_lossy(&bytes).into_owned());
        }
        let script = target.starts_with(&scheme.scripts);
        if script && bytes.starts_with(b"#!python") {
            let rest = &bytes[b"#!python".len()..];
            let rest = rest.strip_prefix(b"w").unwrap_or(rest);
            let mut line = format!("#!{}", scheme.python.display()).into_bytes();
            line.extend_from_slice(rest);
            bytes = line;
        }
        std::fs::write(&target, &bytes).map_err(|e| format!("{}: {e}", target.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let executable = script || entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
            if executable {
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| format!("{}: {e}", target.display()))?;
            }
        }
    }
    if let Some(text) = entry_points {
        for (script, module, attribute) in console_scripts(&text) {
            write_wrapper(scheme, &script, &module, &attribute)?;
        }
    }
    Ok(())
}

/// `<name>-<version>.dist-info/entry_points.txt` at the top of the wheel.
fn is_entry_points(name: &str) -> bool {
    name.split_once('/').is_some_and(|(dir, rest)| {
        dir.ends_with(".dist-info") && !dir.contains('\\') && rest == "entry_points.txt"
    })
}

/// The `console_scripts` and `gui_scripts` of an `entry_points.txt` (an INI file:
/// `name = module:attribute [extras]`), as `(name, module, attribute)`; lines that are not
/// that are left out.
fn console_scripts(text: &str) -> Vec<(String, String, String)> {
    let dotted = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|part| {
                part.chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_')
                    && part.chars().all(|c| c.is_alphanumeric() || c == '_')
            })
    };
    let mut out = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        if section != "console_scripts" && section != "gui_scripts" {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim();
        // Extras in brackets after the target select nothing in a build environment.
        let value = value.split('[').next().unwrap_or_default().trim();
        let Some((module, attribute)) = value.split_once(':') else {
            continue;
        };
        let (module, attribute) = (module.trim(), attribute.trim());
        let plain_name = !name.is_empty()
            && !name.starts_with('.')
            && !name.contains(['/', '\\', '\0'])
            && !name.chars().any(char::is_whitespace);
        if plain_name && dotted(module) && dotted(attribute) {
            out.push((name.to_string(), module.to_string(), attribute.to_string()));
        }
    }
    out
}

/// pip's wrapper for the entry point `module:attribute`, as `bin/<script>`.
fn write_wrapper(
    scheme: &Scheme,
    script: &str,
    module: &str,
    attribute: &str,
) -> Result<(), String> {
    let head = attribute.split('.').next().unwrap_or(attribute);
    let text = format!(
        "#!{python}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {head}\n\
         if __name__ == \"__main__\":\n    \
         sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    \
         sys.exit({attribute}())\n",
        python = scheme.python.display(),
    );
    let target = scheme.scripts.join(script);
    std::fs::create_dir_all(&scheme.scripts)
        .map_err(|e| format!("{}: {e}", scheme.scripts.display()))?;
    std::fs::write(&target, text).map_err(|e| format!("{}: {e}", target.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("{}: {e}", target.display()))?;
    }
    Ok(())
}

/// Where the wheel entry `name` goes, or `None` for what a build environment does not need
/// (`.data/headers`, `.data/data`).
fn destination(name: &str, scheme: &Scheme) -> Result<Option<PathBuf>, String> {
    let relative = safe_relative(name)?;
    let mut parts = relative.components();
    let first = parts
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    if !first.ends_with(".data") {
        return Ok(Some(scheme.site_packages.join(relative)));
    }
    let kind = parts
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    let rest: PathBuf = parts.collect();
    if rest.as_os_str().is_empty() {
        return Ok(None);
    }
    Ok(match kind.as_str() {
        "purelib" | "platlib" => Some(scheme.site_packages.join(rest)),
        "scripts" => Some(scheme.scripts.join(rest)),
        _ => None,
    })
}

/// `name` as a relative path that stays inside the directory it is joined to.
fn safe_relative(name: &str) -> Result<PathBuf, String> {
    let path = Path::new(name);
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return Err("leaves the installation directory".to_string()),
        }
    }
    if out.as_os_str().is_empty() || name.contains('\\') {
        return Err("is not a relative path".to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn wheel(dir: &Path, entries: &[(&str, &str)]) -> PathBuf {
        let path = dir.join("demo-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for (name, text) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        path
    }

    fn scheme(dir: &Path) -> Scheme {
        Scheme {
            site_packages: dir.join("env/lib/python3.11/site-packages"),
            scripts: dir.join("env/bin"),
            python: dir.join("env/bin/python"),
        }
    }

    #[test]
    fn files_spread_into_site_packages_and_bin() {
        let dir = tempfile::tempdir().unwrap();
        let scheme = scheme(dir.path());
        let wheel = wheel(
            dir.path(),
            &[
                ("demo/__init__.py", "x = 1\n"),
                ("demo-1.0.dist-info/METADATA", "Name: demo\n"),
                ("demo-1.0.data/purelib/extra.py", "y = 2\n"),
                ("demo-1.0.data/scripts/tool", "#!python\nprint(1)\n"),
                ("demo-1.0.data/headers/demo.h", "int x;\n"),
            ],
        );
        install(&wheel, &scheme).unwrap();
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
        assert_eq!(
            read(scheme.site_packages.join("demo/__init__.py")),
            "x = 1\n"
        );
        assert_eq!(read(scheme.site_packages.join("extra.py")), "y = 2\n");
        assert!(
            scheme
                .site_packages
                .join("demo-1.0.dist-info/METADATA")
                .is_file()
        );
        assert_eq!(
            read(scheme.scripts.join("tool")),
            format!("#!{}\nprint(1)\n", scheme.python.display())
        );
        assert!(!dir.path().join("env").join("demo.h").exists());
        assert!(
            !files_named(dir.path(), "demo.h"),
            "headers are not installed"
        );
    }

    #[test]
    fn console_scripts_get_wrappers_that_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut scheme = scheme(dir.path());
        let python = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .unwrap();
        scheme.python = PathBuf::from(String::from_utf8(python.stdout).unwrap().trim());
        let wheel = wheel(
            dir.path(),
            &[
                (
                    "demo/__init__.py",
                    "class cli:\n    @staticmethod\n    def main():\n        print('ran', end='')\n        return 3\n",
                ),
                (
                    "demo-1.0.dist-info/entry_points.txt",
                    "# comment\n[console_scripts]\ndemo-tool = demo:cli.main [extra]\n../evil = demo:cli.main\n\n[other]\nx = y:z\n",
                ),
            ],
        );
        install(&wheel, &scheme).unwrap();
        let out = std::process::Command::new(scheme.scripts.join("demo-tool"))
            .env("PYTHONPATH", &scheme.site_packages)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ran");
        assert_eq!(out.status.code(), Some(3));
        assert!(
            !scheme.scripts.join("x").exists(),
            "only console and gui scripts"
        );
    }

    #[test]
    fn entry_points_that_would_leave_bin_or_inject_code_get_no_script() {
        for bad in [
            "[console_scripts]\n../evil = demo:main\n",
            "[console_scripts]\nevil = os; import shutil:main\n",
            "[console_scripts]\nevil = demo:main()\n",
            "[console_scripts]\n.hidden = demo:main\n",
            "[gui_scripts]\nno-target\n",
        ] {
            assert_eq!(console_scripts(bad), [], "{bad}");
        }
    }

    fn files_named(dir: &Path, name: &str) -> bool {
        std::fs::read_dir(dir).unwrap().flatten().any(|e| {
            let p = e.path();
            p.file_name().is_some_and(|n| n == name) || (p.is_dir() && files_named(&p, name))
        })
    }

    #[test]
    fn entries_that_leave_the_environment_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let scheme = scheme(dir.path());
        for name in [
            "../evil.py",
            "/abs/evil.py",
            "demo-1.0.data/purelib/../../../evil.py",
        ] {
            let wheel = wheel(dir.path(), &[(name, "boom\n")]);
            let err = install(&wheel, &scheme).unwrap_err();
            assert!(
                err.contains("leaves the installation directory"),
                "{name}: {err}"
            );
        }
        assert!(!files_named(dir.path(), "evil.py"));
    }
}
