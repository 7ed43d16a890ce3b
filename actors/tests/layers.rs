//! The layer check: imports inside `jowi-actors` only point down.
//!
//! ```text
//! directory            (top: spawns actors, routes bus events to them)
//! store  tenant  writer  auth  maintenance  import  sessions  webhooks
//!                        (actors, the write order, upkeep, back-office services)
//! pg     bus             (queries and rows; the transport between instances)
//! domain                 (plain types, rules as pure functions)
//! error  metrics  memory (leaves)
//! ```
//!
//! It reads the module sources and fails naming the file and the import
//! that points up, so a wrong `use` is caught by `cargo nextest run`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each top-level module and the modules of this crate it may use.
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("metrics", &[]),
    ("memory", &[]),
    ("domain", &["error"]),
    ("bus", &["domain", "error", "metrics"]),
    ("pg", &["domain", "error"]),
    ("auth", &["domain", "error", "pg", "bus"]),
    ("writer", &["domain", "error", "metrics", "pg"]),
    ("maintenance", &["domain", "error", "metrics", "pg"]),
    ("import", &["domain", "error", "pg"]),
    ("sessions", &["domain", "error", "pg", "auth"]),
    ("webhooks", &["domain", "error", "pg"]),
    (
        "tenant",
        &["domain", "error", "metrics", "pg", "bus", "auth"],
    ),
    (
        "store",
        &[
            "domain", "error", "metrics", "memory", "pg", "bus", "writer", "tenant",
        ],
    ),
    (
        "directory",
        &[
            "domain", "error", "metrics", "memory", "pg", "bus", "auth", "writer", "tenant",
            "store",
        ],
    ),
];

/// Modules of this crate named by `crate::` paths in `source`, with the
/// line they appear on (`crate::a::b`, `crate::{a, b::c}`).
fn crate_imports(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push((n + 1, name));
                    }
                }
            } else {
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                // `crate::Error` / `crate::Result` are re-exports of `error`.
                let name = match name.as_str() {
                    "Error" | "Result" => "error".to_owned(),
                    _ => name,
                };
                if !name.is_empty() {
                    out.push((n + 1, name));
                }
            }
            rest = after;
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every import that breaks `ALLOWED`, as "file:line: module -> import".
fn violations(src: &Path) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap_or(&file);
        let first = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("")
            .trim_end_matches(".rs")
            .to_owned();
        if first == "lib" {
            continue;
        }
        let Some(may) = allowed.get(first.as_str()) else {
            bad.push(format!(
                "{}: module `{first}` has no place in the layer table (tests/layers.rs)",
                rel.display()
            ));
            continue;
        };
        let source = std::fs::read_to_string(&file).unwrap_or_default();
        for (line, import) in crate_imports(&source) {
            if import != first && !may.contains(&import.as_str()) {
                bad.push(format!(
                    "{}:{line}: `{first}` may not use `crate::{import}` (it points up or sideways)",
                    rel.display()
                ));
            }
        }
    }
    bad
}

/// No module of `jowi-actors` imports from a layer above its own.
#[test]
fn imports_only_point_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let bad = violations(&src);
    assert!(
        bad.is_empty(),
        "imports against the layers:\n{}",
        bad.join("\n")
    );
}

/// The HTTP crate (`src/`) holds no SQL and opens no transaction: queries
/// live in `actors/src/pg`, behind functions named for what they ask.
#[test]
fn the_http_crate_holds_no_sql() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(!files.is_empty(), "no sources under {}", src.display());
    let mut bad = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap_or_default();
        for (n, line) in source.lines().enumerate() {
            let found = [
                "SELECT ",
                "INSERT INTO",
                "UPDATE ",
                "DELETE FROM",
                ".transaction()",
                "batch_execute",
            ]
            .into_iter()
            .find(|s| line.contains(s));
            if let Some(s) = found {
                bad.push(format!("{}:{}: {s:?}", file.display(), n + 1));
            }
        }
    }
    assert!(bad.is_empty(), "SQL in src/:\n{}", bad.join("\n"));
}

/// The scanner sees plain, grouped and re-exported imports (so the check
/// above can fail).
#[test]
fn scanner_finds_every_form_of_import() {
    let found = crate_imports(
        "use crate::store::receipt::X;\nuse crate::{pg::Db, writer};\nfn f() -> crate::Result<()> { todo!() } // crate::bus\n",
    );
    assert_eq!(
        found,
        vec![
            (1, "store".to_owned()),
            (2, "pg".to_owned()),
            (2, "writer".to_owned()),
            (3, "error".to_owned()),
        ]
    );
}
