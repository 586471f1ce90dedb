//! The direction of dependencies between the parts of `src/`: the edges
//! (`http`, `live`) use the rules (`domain`, `auth`), which use `storage`;
//! nothing points back up, and there is no circle. Read from the source
//! (every `crate::<part>` outside comments), so a wrong import fails here.
//! And the size of every file a reader opens: none over [`MAX_LINES`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What each part may use. Anything not listed is refused.
const ALLOWED: &[(&str, &[&str])] = &[
    ("rooms", &[]),
    ("metrics", &[]),
    ("storage", &["rooms"]),
    ("auth", &["storage", "rooms"]),
    ("domain", &["storage", "rooms"]),
    ("config", &["domain"]),
    ("cli", &["config", "domain"]),
    ("live", &["domain", "storage", "config", "metrics", "rooms"]),
    (
        "app",
        &[
            "auth", "config", "domain", "live", "metrics", "storage", "rooms",
        ],
    ),
    (
        "http",
        &[
            "app", "auth", "config", "domain", "live", "metrics", "storage", "rooms",
        ],
    ),
    (
        "ops",
        &[
            "app", "auth", "cli", "config", "domain", "http", "live", "metrics", "storage", "rooms",
        ],
    ),
];

fn uses() -> BTreeMap<String, BTreeSet<String>> {
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let part = relative
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            if part == "lib" || part == "main" {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for line in source.lines() {
                let code = line.split("//").next().unwrap_or_default();
                let mut rest = code;
                while let Some(at) = rest.find("crate::") {
                    rest = &rest[at + "crate::".len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != part {
                        uses.entry(part.clone()).or_default().insert(name);
                    }
                }
            }
        }
    }
    uses
}

#[test]
fn every_import_points_down() {
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(part, may)| (*part, may.iter().copied().collect()))
        .collect();
    let mut wrong = Vec::new();
    for (part, used) in uses() {
        let Some(may) = allowed.get(part.as_str()) else {
            wrong.push(format!("{part}: a part tests/layers.rs does not know"));
            continue;
        };
        for name in used {
            if !may.contains(name.as_str()) {
                wrong.push(format!("{part} uses {name}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layering: {wrong:?}");
}

#[test]
fn the_allowed_graph_has_no_circle() {
    let graph: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    fn visit<'a>(node: &'a str, graph: &BTreeMap<&'a str, &'a [&'a str]>, path: &mut Vec<&'a str>) {
        assert!(!path.contains(&node), "circle: {path:?} -> {node}");
        path.push(node);
        for next in graph.get(node).copied().unwrap_or_default() {
            visit(next, graph, path);
        }
        path.pop();
    }
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new());
    }
}

/// The most lines a source file may have: past this a file holds more
/// than one thing to find (split it into a folder of modules, as
/// `tests/chats/` or `src/live/writer/` are).
const MAX_LINES: usize = 400;

#[test]
fn no_source_file_is_over_max_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack: Vec<_> = ["src", "tests", "examples"]
        .iter()
        .map(|dir| root.join(dir))
        .collect();
    let mut long = Vec::new();
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let source = ["rs", "js", "css", "html"]
                .iter()
                .any(|ext| path.extension().is_some_and(|e| e == *ext));
            if !source {
                continue;
            }
            seen += 1;
            let lines = std::fs::read_to_string(&path).unwrap().lines().count();
            if lines > MAX_LINES {
                long.push(format!(
                    "{} ({lines})",
                    path.strip_prefix(root).unwrap().display()
                ));
            }
        }
    }
    assert!(
        seen > 100,
        "only {seen} source files found under {}",
        root.display()
    );
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:?}");
}
