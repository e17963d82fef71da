//! The pipeline runs one way (docs/ARCHITECTURE.md): a module may use its own stage and the
//! stages before it, never a later one, and no two files import each other, directly or not.
//!
//! Edges are read from the source as text: every `crate::<stage>::…` and `super::…` path in
//! `src/` (comments and doc comments excluded), which is how the crate's modules refer to each
//! other.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// The stages, from the ground floor up.
const STAGES: [&str; 8] = [
    "util", "net", "inputs", "solve", "lock", "render", "check", "commands",
];

/// `src/a/b.rs` → `["a", "b"]`; `src/a/mod.rs` → `["a"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The library's modules (by path) and, for each, the modules its code names.
fn edges() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(stage) = module.first() else {
            continue;
        };
        if !STAGES.contains(&stage.as_str()) {
            continue; // lib.rs, main.rs and the binary's cli/
        }
        let text = std::fs::read_to_string(file).unwrap();
        // Test modules may reach anywhere; they are not part of the pipeline.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut paths = Vec::new();
        // `use` trees, expanded: `use crate::{a::{b, c}, d};` names a::b, a::c and d.
        for statement in code.split("use ").skip(1) {
            let tree = statement.split(';').next().unwrap();
            for (root, base) in [("crate::", vec![]), ("super::", parent(&module))] {
                if let Some(rest) = tree.trim_start().strip_prefix(root) {
                    for path in expand(rest) {
                        let mut full = base.clone();
                        full.extend(path);
                        paths.push(full);
                    }
                }
            }
        }
        // Paths written inline in code: `crate::lock::read(…)`.
        for (at, _) in code.match_indices("crate::") {
            let path: Vec<String> = code[at + "crate::".len()..]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap()
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            paths.push(path);
        }
        let mut targets = BTreeSet::new();
        for mut full in paths {
            // The longest prefix of the path that is a module of the crate.
            while !full.is_empty() && !modules.contains(&full) {
                full.pop();
            }
            if !full.is_empty() && full != module {
                targets.insert(full);
            }
        }
        graph.insert(module, targets);
    }
    graph
}

/// The module `super::` names from `module`.
fn parent(module: &[String]) -> Vec<String> {
    module[..module.len().saturating_sub(1)].to_vec()
}

/// The paths a use tree names: `a::{b, c::{d}}` → `a::b`, `a::c::d`.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![
            tree.split("::")
                .filter(|s| !s.is_empty() && *s != "self")
                .map(|s| s.split(" as ").next().unwrap().to_string())
                .collect(),
        ];
    };
    let prefix: Vec<String> = tree[..open]
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    // Split the group at top-level commas.
    let (mut depth, mut start, mut items) = (0, 0, Vec::new());
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|i| !i.is_empty())
        .flat_map(expand)
        .map(|rest| prefix.iter().cloned().chain(rest).collect())
        .collect()
}

fn stage(module: &[String]) -> usize {
    STAGES.iter().position(|s| *s == module[0]).unwrap()
}

#[test]
fn no_stage_imports_a_later_one() {
    let mut back_edges = Vec::new();
    for (from, targets) in edges() {
        for to in targets {
            if STAGES.contains(&to[0].as_str()) && stage(&to) > stage(&from) {
                back_edges.push(format!("{} -> {}", from.join("::"), to.join("::")));
            }
        }
    }
    assert!(
        back_edges.is_empty(),
        "imports from an earlier stage into a later one (stage order: {}):\n{}",
        STAGES.join(" < "),
        back_edges.join("\n")
    );
}

#[test]
fn no_import_cycles() {
    let graph = edges();
    // Depth-first search for a back edge, reporting the cycle it closes.
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        path: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<String> {
        if let Some(start) = path.iter().position(|p| p == node) {
            let cycle: Vec<String> = path[start..]
                .iter()
                .chain([node])
                .map(|m| m.join("::"))
                .collect();
            return Some(cycle.join(" -> "));
        }
        if !done.insert(node.clone()) {
            return None;
        }
        path.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            // A module using its own parent's items (a `mod.rs` re-export) is not a cycle.
            if node.starts_with(next) {
                continue;
            }
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = visit(node, &graph, &mut path, &mut done) {
            panic!("import cycle: {cycle}");
        }
    }
}

#[test]
fn the_reader_sees_the_edges() {
    // A check that cannot fail is no check: the reader must find edges the code is known to have.
    let graph = edges();
    let of = |m: &str| graph[&m.split("::").map(str::to_string).collect::<Vec<_>>()].clone();
    assert!(of("check").contains(&vec!["lock".to_string()]), "{graph:?}");
    assert!(of("solve::pypi").contains(&vec!["solve".into(), "conda".into()]));
}
