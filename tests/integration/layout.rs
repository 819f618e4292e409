//! The repository's shape, checked from its files: no server, no Redis.
//!
//! - every module under `src/` has a row in ARCHITECTURE.md's code map;
//! - the layering stated there ("Invariants") holds for the `use` lines and `crate::` paths
//!   of every file: `store` and `auth` never reach up into the HTTP side, `auth` does no I/O,
//!   the operations layer knows nothing of HTTP, and the two adapters (JSON and HBP) do not
//!   lean on each other or on the router;
//! - only `clock` reads the time, only `config`/`cli` read the environment, only `store`
//!   spells Redis key names;
//! - nothing in the repository points at documents that are not in it.
//!
//! The checks are textual: comments are stripped, string literals are set aside, `use` trees
//! are expanded and `super::`/`self::` resolved against the file's module path. Code under
//! `#[cfg(test)]` (inline test modules and files declared `#[cfg(test)] mod x;`, files under
//! `src/**/tests/` and `*_tests.rs`) is test-only and exempt from every rule but the last.
//! Each failure names the file and the rule it broke.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `src/`, as `src/...` paths with forward slashes, sorted.
fn src_files() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let rel = path.strip_prefix(base).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("src"), &root(), &mut out);
    out
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// A source file with comments removed and string literals taken out.
struct Source {
    /// The code, comments removed, every string literal replaced by `""`.
    code: String,
    /// The string literals: (offset of their `""` in `code`, contents as written).
    strings: Vec<(usize, String)>,
}

/// Strips `//` and (nested) `/* */` comments and sets string literals aside. Handles escapes,
/// raw strings (`r"…"`, `r#"…"#`, `br…`), byte strings, char literals and lifetimes well
/// enough for this repository's code.
fn lex(text: &str) -> Source {
    let c: Vec<char> = text.chars().collect();
    let mut code = String::with_capacity(text.len());
    let mut strings = Vec::new();
    let mut i = 0;
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    while i < c.len() {
        let prev_ident = i > 0 && ident(c[i - 1]);
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            code.push(' ');
        } else if !prev_ident && (c[i] == 'r' || (c[i] == 'b' && c.get(i + 1) == Some(&'r'))) && {
            let mut j = i + if c[i] == 'b' { 2 } else { 1 };
            while c.get(j) == Some(&'#') {
                j += 1;
            }
            c.get(j) == Some(&'"')
        } {
            // Raw string.
            i += if c[i] == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while c[i] == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1;
            let start = i;
            loop {
                if i >= c.len() {
                    break;
                }
                if c[i] == '"' && (0..hashes).all(|h| c.get(i + 1 + h) == Some(&'#')) {
                    break;
                }
                i += 1;
            }
            strings.push((code.len(), c[start..i.min(c.len())].iter().collect()));
            code.push_str("\"\"");
            i += 1 + hashes;
        } else if c[i] == '"' {
            i += 1;
            let start = i;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            strings.push((code.len(), c[start..i.min(c.len())].iter().collect()));
            code.push_str("\"\"");
            i += 1;
        } else if c[i] == '\'' {
            // A char literal ('a', '\n', '\u{..}') or a lifetime ('a): keep lifetimes.
            if c.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                code.push_str("' '");
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                code.push_str("' '");
                i += 3;
            } else {
                code.push('\'');
                i += 1;
            }
        } else {
            code.push(c[i]);
            i += 1;
        }
    }
    Source { code, strings }
}

/// Byte ranges of `code` that are `#[cfg(test)]` items (the attribute through the item's end).
fn test_ranges(code: &str) -> Vec<(usize, usize)> {
    let b = code.as_bytes();
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(pos) = code[from..].find("#[cfg(test)]") {
        let start = from + pos;
        let mut i = start + "#[cfg(test)]".len();
        // The item ends at a `;` before any `{`, or at the `}` matching its first `{`.
        let mut depth = 0usize;
        while i < b.len() {
            match b[i] {
                b';' if depth == 0 => {
                    i += 1;
                    break;
                }
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        ranges.push((start, i));
        from = i.max(start + 1);
    }
    ranges
}

/// The production part of a file: comments stripped, `#[cfg(test)]` items blanked (newlines
/// kept so line numbers still point at the file), strings outside them.
fn production(rel: &str) -> Source {
    let src = lex(&read(rel));
    let ranges = test_ranges(&src.code);
    let inside = |at: usize| ranges.iter().any(|&(s, e)| at >= s && at < e);
    let code: String = src
        .code
        .char_indices()
        .map(|(at, ch)| if inside(at) && ch != '\n' { ' ' } else { ch })
        .collect();
    let strings = src
        .strings
        .into_iter()
        .filter(|(at, _)| !inside(*at))
        .collect();
    Source { code, strings }
}

/// The module path of a file: `src/api/compat.rs` → `crate::api::compat`, `src/store/mod.rs`
/// → `crate::store`, `src/lib.rs` → `crate`.
fn module_path(rel: &str) -> Vec<String> {
    let inner = rel
        .strip_prefix("src/")
        .unwrap()
        .strip_suffix(".rs")
        .unwrap();
    let mut parts: Vec<String> = vec!["crate".into()];
    parts.extend(inner.split('/').map(String::from));
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Files that only tests compile: under `src/**/tests/`, named `*_tests.rs`, or declared by
/// their parent as `#[cfg(test)] mod <stem>;`.
fn is_test_only(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    if parts[1..parts.len() - 1].contains(&"tests") || rel.ends_with("_tests.rs") {
        return true;
    }
    let stem = parts[parts.len() - 1].trim_end_matches(".rs");
    if stem == "mod" || parts.len() < 2 {
        return false;
    }
    let dir = parts[..parts.len() - 1].join("/");
    let parents = if dir == "src" {
        vec!["src/lib.rs".to_owned(), "src/main.rs".to_owned()]
    } else {
        vec![format!("{dir}/mod.rs"), format!("{dir}.rs")]
    };
    parents.iter().filter(|p| root().join(p).exists()).any(|p| {
        let code = lex(&read(p)).code;
        let squeezed: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
        [
            format!("#[cfg(test)] mod {stem};"),
            format!("#[cfg(test)] pub mod {stem};"),
            format!("#[cfg(test)] pub(crate) mod {stem};"),
        ]
        .iter()
        .any(|d| squeezed.contains(d.as_str()))
    })
}

/// The production source files (see [`is_test_only`]).
fn production_files() -> Vec<String> {
    src_files()
        .into_iter()
        .filter(|f| !is_test_only(f))
        .collect()
}

fn is_ident(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

/// Expands one `use` tree (`a::{b, c::{self, d}}`) into full paths.
fn expand_use(tree: &str) -> Vec<String> {
    // Drop renames (`x as y`), then the whitespace.
    let words: Vec<&str> = tree.split_whitespace().collect();
    let mut kept = String::new();
    let mut k = 0;
    while k < words.len() {
        if words[k] == "as" {
            // Skip the new name, keep what punctuation follows it (`y},` → `},`).
            let name = words.get(k + 1).copied().unwrap_or("");
            kept.push_str(name.trim_start_matches(is_ident));
            k += 2;
        } else {
            kept.push_str(words[k]);
            k += 1;
        }
    }
    let tree = kept;
    fn go(prefix: &str, tree: &str, out: &mut Vec<String>) {
        // Split at top-level commas.
        let mut depth = 0;
        let mut start = 0;
        let mut items = Vec::new();
        for (i, ch) in tree.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&tree[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&tree[start..]);
        for item in items.into_iter().filter(|s| !s.is_empty()) {
            let join = |p: &str, s: &str| {
                if p.is_empty() {
                    s.to_owned()
                } else if s == "self" {
                    p.to_owned()
                } else {
                    format!("{p}::{s}")
                }
            };
            if let Some(open) = item.find('{') {
                let head = item[..open].trim_end_matches("::");
                let inner = &item[open + 1..item.len() - 1];
                go(&join(prefix, head), inner, out);
            } else {
                out.push(join(prefix, item));
            }
        }
    }
    let mut out = Vec::new();
    go("", &tree, &mut out);
    out
}

/// Resolves a path written in module `module` to an absolute one (`crate::…`), or returns it
/// as written when it starts elsewhere (an external crate, a local name).
fn resolve(path: &str, module: &[String]) -> String {
    let segs: Vec<&str> = path.trim_start_matches("::").split("::").collect();
    let mut base: Vec<String> = Vec::new();
    let mut rest = &segs[..];
    match segs.first().copied() {
        Some("crate") => {
            base.push("crate".into());
            rest = &segs[1..];
        }
        Some("self") => {
            base = module.to_vec();
            rest = &segs[1..];
        }
        Some("super") => {
            base = module.to_vec();
            while rest.first() == Some(&"super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        _ => return path.to_owned(),
    }
    base.extend(rest.iter().map(|s| s.to_string()));
    base.join("::")
}

/// Every path a file names: its expanded `use` trees and every `a::b` path in its code,
/// resolved against the file's module, with the line each was found on.
fn paths_of(rel: &str) -> Vec<(usize, String)> {
    let src = production(rel);
    let module = module_path(rel);
    let code = &src.code;
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut out = Vec::new();
    // `use` statements (also `pub use`, `pub(crate) use`).
    let mut from = 0;
    while let Some(pos) = code[from..].find("use ") {
        let at = from + pos;
        from = at + 4;
        if at > 0 && is_ident(code[..at].chars().last().unwrap_or(' ')) {
            continue;
        }
        let Some(end) = code[at..].find(';') else {
            break;
        };
        let tree = &code[at + 4..at + end];
        for p in expand_use(tree) {
            out.push((line_of(at), resolve(&p, &module)));
        }
    }
    // Inline paths: maximal runs of `ident::ident…`.
    let chars: Vec<(usize, char)> = code.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, ch) = chars[i];
        let starts = (is_ident(ch) || (ch == ':' && code[at..].starts_with("::")))
            && (i == 0 || !is_ident(chars[i - 1].1) && chars[i - 1].1 != ':');
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && (is_ident(chars[j].1) || chars[j].1 == ':') {
            j += 1;
        }
        let end = chars.get(j).map_or(code.len(), |c| c.0);
        let text = code[at..end].trim_end_matches(':');
        if text.contains("::") {
            out.push((line_of(at), resolve(text, &module)));
        }
        i = j;
    }
    out
}

/// `path` is `target` or inside it (`crate::api` covers `crate::api::session::x`; `hyper`
/// covers `hyper::Method`).
fn under(path: &str, target: &str) -> bool {
    path == target || path.starts_with(&format!("{target}::"))
}

/// The files under `dir` (a `src/...` folder, plus the file `dir.rs` if the module is written
/// that way).
fn files_under(files: &[String], dir: &str) -> Vec<String> {
    let file = format!("{}.rs", dir.trim_end_matches('/'));
    files
        .iter()
        .filter(|f| f.starts_with(dir) || **f == file)
        .cloned()
        .collect()
}

/// The "Code map" section of ARCHITECTURE.md.
fn code_map() -> String {
    let text = read("ARCHITECTURE.md");
    let start = text
        .find("## Code map")
        .expect("ARCHITECTURE.md has a \"## Code map\" section");
    let rest = &text[start + 3..];
    let end = rest.find("\n## ").map_or(rest.len(), |e| e);
    rest[..end].to_owned()
}

/// Every module under `src/` appears in ARCHITECTURE.md's code map: by its path in backticks
/// (`src/store/rate.rs`), or — for a file inside a folder — on a line that names its folder in
/// backticks (`src/store/`) and its stem in backticks (`rate`). A `mod.rs` counts as its folder,
/// which must appear in backticks (`src/store/`). Test-only files are exempt.
#[test]
fn every_src_module_is_in_the_code_map() {
    let map = code_map();
    let mut missing = Vec::new();
    for rel in production_files() {
        if map.contains(&format!("`{rel}`")) {
            continue;
        }
        let (dir, file) = rel.rsplit_once('/').unwrap();
        let stem = file.trim_end_matches(".rs");
        let dir_tick = format!("`{dir}/`");
        let found = if stem == "mod" {
            map.contains(&dir_tick)
        } else if dir == "src" {
            false
        } else {
            map.lines()
                .any(|l| l.contains(&dir_tick) && l.contains(&format!("`{stem}`")))
        };
        if !found {
            missing.push(if stem == "mod" {
                format!("{rel}: its folder `{dir}/` is not in the code map")
            } else {
                format!(
                    "{rel}: neither `{rel}` nor a line with `{dir}/` and `{stem}` is in the code map"
                )
            });
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md \"Code map\" misses modules:\n{}",
        missing.join("\n")
    );
}

struct Rule {
    /// The files the rule applies to.
    files: Vec<String>,
    /// What it says, for the failure message.
    says: &'static str,
    /// Forbidden path roots (`crate::api`, `hyper`, …).
    forbidden: Vec<&'static str>,
}

#[test]
fn layering() {
    let files = production_files();
    let json_handlers: Vec<String> = files_under(&files, "src/api/")
        .into_iter()
        .filter(|f| f != "src/api/compat.rs" && f != "src/api/mod.rs" && f != "src/api.rs")
        .collect();
    let rules = vec![
        Rule {
            files: [
                files_under(&files, "src/store/"),
                files_under(&files, "src/auth/"),
            ]
            .concat(),
            says: "store and auth sit below the HTTP side: they never name the operations, \
                   the adapters, the router, the server or hyper",
            forbidden: vec![
                "crate::ops",
                "crate::api",
                "crate::portal",
                "crate::router",
                "crate::server",
                "hyper",
            ],
        },
        Rule {
            files: files_under(&files, "src/auth/"),
            says: "auth is pure: no file system, no tokio, no Redis",
            forbidden: vec!["std::fs", "tokio", "redis"],
        },
        Rule {
            files: files_under(&files, "src/ops/"),
            says: "the operations layer knows nothing of HTTP: no hyper, no http, no adapter, \
                   no router, no server",
            forbidden: vec![
                "hyper",
                "crate::http",
                "crate::api",
                "crate::portal",
                "crate::router",
                "crate::server",
            ],
        },
        Rule {
            files: files_under(&files, "src/portal/"),
            says: "the portal calls the operations and shares only `api::wire` with the JSON \
                   adapter; it never names the router",
            forbidden: vec![
                "crate::router",
                "crate::api::account",
                "crate::api::session",
                "crate::api::mfa",
                "crate::api::email",
                "crate::api::compat",
                "crate::api::verify",
            ],
        },
        Rule {
            files: files_under(&files, "src/api/compat.rs"),
            says: "the HBP adapter calls the operations, not the router nor the JSON handlers",
            forbidden: vec![
                "crate::router",
                "crate::api::account",
                "crate::api::session",
                "crate::api::mfa",
                "crate::api::email",
            ],
        },
        Rule {
            files: json_handlers,
            says: "the JSON handlers never use the HBP adapter",
            forbidden: vec!["crate::api::compat", "compat"],
        },
        Rule {
            files: [
                files_under(&files, "src/api/"),
                files_under(&files, "src/ops/"),
            ]
            .concat(),
            says: "the router owns the route tables and imports the adapters, never the \
                   other way round",
            forbidden: vec!["crate::router"],
        },
    ];
    // (file, line, rule) → the forbidden paths named there.
    let mut broken: BTreeMap<(String, usize, &str), BTreeSet<String>> = BTreeMap::new();
    for rule in &rules {
        for rel in &rule.files {
            for (line, path) in paths_of(rel) {
                if rule.forbidden.iter().any(|target| under(&path, target)) {
                    broken
                        .entry((rel.clone(), line, rule.says))
                        .or_default()
                        .insert(path);
                }
            }
        }
    }
    let report: Vec<String> = broken
        .into_iter()
        .map(|((rel, line, says), paths)| {
            let paths: Vec<String> = paths.into_iter().map(|p| format!("`{p}`")).collect();
            format!("{rel}:{line} names {} — rule: {says}", paths.join(", "))
        })
        .collect();
    assert!(report.is_empty(), "layering broken:\n{}", report.join("\n"));
}

/// Occurrences of `needle` in the production code of every file but `allowed`, as
/// `file:line: needle`.
fn occurrences(needles: &[&str], allowed: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    for rel in production_files() {
        if allowed.contains(&rel.as_str()) {
            continue;
        }
        let code = production(&rel).code;
        for (n, line) in code.lines().enumerate() {
            for needle in needles {
                if line.contains(needle) {
                    hits.push(format!("{rel}:{}: {needle}", n + 1));
                }
            }
        }
    }
    hits
}

#[test]
fn only_clock_reads_the_time() {
    let hits = occurrences(&["SystemTime::now", "Instant::now"], &["src/clock.rs"]);
    assert!(
        hits.is_empty(),
        "only src/clock.rs reads the time (everything else takes it as an argument):\n{}",
        hits.join("\n")
    );
}

#[test]
fn only_config_reads_the_environment() {
    let hits = occurrences(
        &["env::var", "env::vars", "env::var_os"],
        &["src/config.rs", "src/cli.rs"],
    );
    assert!(
        hits.is_empty(),
        "only src/config.rs and src/cli.rs read environment variables:\n{}",
        hits.join("\n")
    );
}

/// The key names `store/key_names.rs` spells after an account's hash tag or after the prefix.
const ACCOUNT_KEYS: &[&str] = &[
    "account",
    "none",
    "sessions",
    "session:",
    "reset_ticket",
    "mfa_tickets",
    "ticket:",
    "mfa_pending",
    "recovery",
];
const PREFIX_KEYS: &[&str] = &["ticket:", "rate:", "email:", "events"];

/// Why a string literal looks like a Redis key name, if it does.
fn key_name_literal(s: &str) -> Option<String> {
    // Key names hold no whitespace; messages such as "edgeauth: cannot start" do.
    if let Some(rest) = s.strip_prefix("edgeauth:")
        && !rest.is_empty()
        && !s.contains(char::is_whitespace)
    {
        return Some("a key name under the default prefix".into());
    }
    for (at, _) in s.match_indices("}:") {
        let after = &s[at + 2..];
        if let Some(k) = ACCOUNT_KEYS.iter().find(|k| after.starts_with(*k)) {
            return Some(format!("an account key (`}}:{k}`)"));
        }
    }
    for (at, _) in s.match_indices('}') {
        let after = &s[at + 1..];
        if let Some(k) = PREFIX_KEYS.iter().find(|k| after.starts_with(*k)) {
            return Some(format!("a key after a formatted prefix (`}}{k}`)"));
        }
    }
    None
}

#[test]
fn only_store_spells_key_names() {
    let mut hits = Vec::new();
    for rel in production_files() {
        if rel.starts_with("src/store/") || rel == "src/store.rs" {
            continue;
        }
        let src = production(&rel);
        for (at, s) in &src.strings {
            if let Some(why) = key_name_literal(s) {
                let line = src.code[..*at].matches('\n').count() + 1;
                hits.push(format!("{rel}:{line}: \"{s}\" is {why}"));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "only src/store/ (key_names.rs) spells Redis key names:\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_key_name_check_recognises_key_names() {
    for s in [
        "edgeauth:events",
        "edgeauth:{x}:account",
        "{}{{{account}}}:sessions",
        "{prefix}rate:{kind}:",
        "{p}email:{digest}",
        "{}events:audit",
    ] {
        assert!(key_name_literal(s).is_some(), "{s}");
    }
    for s in [
        "edgeauth:",
        "edgeauth: {e}",
        "{e}",
        "account",
        "x-hasura-user-id",
    ] {
        assert!(key_name_literal(s).is_none(), "{s}");
    }
}

/// The tracked files (`git ls-files`), or every file but `target/` and `.git/` when git is not
/// available.
fn tracked_files() -> Vec<String> {
    let out = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root())
        .output();
    if let Ok(out) = out
        && out.status.success()
    {
        return String::from_utf8_lossy(&out.stdout)
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
    }
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if rel == "target" || rel == ".git" || rel.ends_with("/target") {
                continue;
            }
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root(), &root(), &mut out);
    out
}

/// The word "issue" followed by a number, with or without `#` and spaces
/// (case-insensitive).
fn issue_reference(lower: &str) -> Option<usize> {
    for (at, _) in lower.match_indices("issue") {
        let before = lower[..at].chars().last();
        if before.is_some_and(is_ident) {
            continue;
        }
        let rest = lower[at + 5..].trim_start_matches([' ', '\t']);
        let rest = rest.strip_prefix('#').unwrap_or(rest);
        if rest.starts_with(|c: char| c.is_ascii_digit()) {
            return Some(at);
        }
    }
    None
}

/// The repository explains itself: no file points at a document outside it (a specification,
/// a design or measurement note) or at an issue number. The patterns are assembled at compile
/// time so this file does not match itself.
#[test]
fn no_reference_outside_the_repository() {
    let patterns = [
        concat!("spec", " §"),
        concat!("spec", ".md"),
        concat!("../", "shared"),
        concat!("measured", ".md"),
        concat!("design", ".md"),
    ];
    let mut hits = Vec::new();
    for rel in tracked_files() {
        if rel == "Cargo.lock" || rel.ends_with("/Cargo.lock") {
            continue;
        }
        let Ok(bytes) = std::fs::read(root().join(&rel)) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        for (n, line) in text.lines().enumerate() {
            for p in patterns {
                if line.contains(p) {
                    hits.push(format!("{rel}:{}: mentions \"{p}\"", n + 1));
                }
            }
            if issue_reference(line).is_some() {
                hits.push(format!("{rel}:{}: names an issue number", n + 1));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "the repository must stand on its own (explain in README.md, ARCHITECTURE.md, \
         SECURITY.md or docs/ instead):\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_parser_expands_use_trees_and_resolves_relative_paths() {
    let mut got = expand_use("crate::api::{self, Caller as C, session::{self, LogoutScope}}");
    got.sort();
    assert_eq!(
        got,
        [
            "crate::api",
            "crate::api::Caller",
            "crate::api::session",
            "crate::api::session::LogoutScope"
        ]
    );
    let m = module_path("src/api/compat.rs");
    assert_eq!(m, ["crate", "api", "compat"]);
    assert_eq!(resolve("super::session::x", &m), "crate::api::session::x");
    assert_eq!(resolve("self::y", &m), "crate::api::compat::y");
    assert_eq!(resolve("hyper::Method", &m), "hyper::Method");
    assert_eq!(module_path("src/store/mod.rs"), ["crate", "store"]);
    let src = lex("let a = \"crate::x // no\"; // crate::y\n/* crate::z */ let c = '\"'; r#\"q\"#");
    assert!(!src.code.contains("crate::"), "{}", src.code);
    assert_eq!(src.strings.len(), 2);
    assert!(issue_reference(&format!("see {} #12", "issue")).is_some());
    assert!(issue_reference(&format!("no t{} 3", "issue")).is_none());
    assert!(issue_reference("an issue with it").is_none());
}
