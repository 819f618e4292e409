//! Running a Node.js script of the tests (`tests/<dir>/run.mjs`) the way the
//! HBP SDK test and the browser test do: `npm ci` first when the package the
//! script needs is not installed yet, then `node`, with the given environment.
//! A missing `node` or `npm` is a failure naming the install command, never a skip.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `program args` in `dir`; `what` names the test in the install hint.
pub fn run(dir: &Path, program: &str, args: &[&str], env: &[(&str, String)], what: &str) -> Output {
    let mut command = Command::new(program);
    command.args(args).current_dir(dir);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap_or_else(|e| {
        panic!(
            "cannot run `{program}` ({e}): {what} needs Node.js 18+ and npm \
             (sudo apt-get install -y nodejs npm, or scripts/ensure-deps --test)"
        )
    })
}

/// `node tests/<dir>/run.mjs` from the repository root `root`, after `npm ci
/// --prefix tests/<dir>` when `tests/<dir>/node_modules/<package>` is missing.
pub fn run_script(
    root: &Path,
    dir: &str,
    package: &str,
    env: &[(&str, String)],
    what: &str,
) -> Output {
    let prefix = format!("tests/{dir}");
    let installed = root
        .join(&prefix)
        .join("node_modules")
        .join(package)
        .join("package.json");
    if !installed.exists() {
        let npm = run(
            root,
            "npm",
            &["ci", "--no-audit", "--no-fund", "--prefix", &prefix],
            &[],
            what,
        );
        assert!(
            npm.status.success(),
            "npm ci --prefix {prefix} failed:\n{}\n{}",
            String::from_utf8_lossy(&npm.stdout),
            String::from_utf8_lossy(&npm.stderr)
        );
    }
    run(root, "node", &[&format!("{prefix}/run.mjs")], env, what)
}
