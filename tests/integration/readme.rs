//! The README's walk-through ("Try it with curl", "Multi-factor
//! authentication", "Account self-service", "Re-authentication") runs as
//! written. Its shell blocks are read from README.md at test time — every
//! block fenced as "sh walkthrough", in order — and run as one bash script
//! (`set -euo pipefail`) against a real `edgeauth serve --dev`, with the
//! server's log in `$LOG` as the README tells the reader to keep it, and
//! `localhost:8080` replaced by the server's address. `curl` answers of
//! 4xx or 5xx fail the script, so a stale token, a reused TOTP code or a
//! ticket not found in the log fails the test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::TempDir;

/// The fence info string of the blocks this test runs.
const RUN: &str = "sh walkthrough";

/// The sections the walk-through spans: every shell block in them must be
/// either run or marked as an illustration.
const SECTIONS: [&str; 4] = [
    "## Try it with curl",
    "## Multi-factor authentication (TOTP)",
    "## Account self-service",
    "### Re-authentication",
];

/// Put before the blocks: what makes a failed request fail the script
/// (a reader sees the error answer; the test stops on it).
const PRELUDE: &str = r#"set -euo pipefail
curl() { command curl --fail-with-body --silent --show-error "$@"; }
"#;

/// The fenced blocks of `markdown` as (heading above it, info string, body).
fn blocks(markdown: &str) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    let mut heading = String::new();
    let mut open: Option<(String, String)> = None;
    for line in markdown.lines() {
        match &mut open {
            Some((info, body)) => {
                if line.trim_end() == "```" {
                    found.push((heading.clone(), info.clone(), std::mem::take(body)));
                    open = None;
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    open = Some((info.trim().to_owned(), String::new()));
                } else if line.starts_with('#') {
                    heading = line.trim_end().to_owned();
                }
            }
        }
    }
    assert!(open.is_none(), "README.md ends inside a fenced block");
    found
}

/// The walk-through's blocks, checked to cover the sections it spans.
fn walkthrough() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let all = blocks(&readme);
    for (heading, info, body) in &all {
        if SECTIONS.contains(&heading.as_str()) {
            assert!(
                info == RUN || info == "sh-example" || info == "text",
                "a block under {heading:?} is fenced {info:?}: fence it \"{RUN}\" (run by this \
                 test) or \"sh-example\" / \"text\" (an illustration):\n{body}"
            );
        } else {
            assert_ne!(
                info, RUN,
                "a walk-through block outside its sections:\n{body}"
            );
        }
    }
    for section in SECTIONS {
        assert!(
            all.iter().any(|(h, info, _)| h == section && info == RUN),
            "no walk-through block under {section:?}"
        );
    }
    all.into_iter()
        .filter(|(_, info, _)| info == RUN)
        .map(|(_, _, body)| body)
        .collect()
}

/// `edgeauth serve --dev` with its stdout and stderr in one log file, the
/// way `scripts/dev 2>&1 | tee` keeps it. Stopped (SIGTERM, which also ends
/// its Redis child) when dropped.
struct Dev {
    child: Child,
    public: String,
}

impl Dev {
    fn start(log: &Path) -> Dev {
        let file = std::fs::File::create(log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_edgeauth"))
            .args(["serve", "--dev"])
            .env("EDGEAUTH_LISTEN", "127.0.0.1:0")
            .env("EDGEAUTH_ADMIN_LISTEN", "127.0.0.1:0")
            // Unoptimized test builds: a cheaper hash keeps the logins quick.
            .env("EDGEAUTH_SCRYPT_LOG_N", "10")
            .env("EDGEAUTH_LOG", "info")
            .env_remove("EDGEAUTH_REDIS_URL")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("spawn edgeauth serve --dev");
        let mut dev = Dev {
            child,
            public: String::new(),
        };
        let deadline = edgeauth::clock::instant() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if let Some(addr) = text
                .lines()
                .filter(|l| l.contains("listening"))
                .find_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("public=")))
            {
                dev.public = addr.to_owned();
                return dev;
            }
            assert!(
                dev.child.try_wait().expect("try_wait").is_none(),
                "serve --dev exited:\n{text}"
            );
            assert!(
                edgeauth::clock::instant() < deadline,
                "serve --dev did not listen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = edgeauth::clock::instant() + Duration::from_secs(20);
        while let Ok(None) = self.child.try_wait() {
            if edgeauth::clock::instant() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.wait();
    }
}

/// Runs `script` with bash in `dir`, `LOG` set; (success, stdout + stderr).
fn bash(dir: &Path, log: &Path, script: &str) -> (bool, String) {
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("LOG", log)
        .stdin(Stdio::null())
        .output()
        .expect("run bash");
    let text = format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let blocks = walkthrough();
    let dir = TempDir::new();
    let log: PathBuf = dir.0.join("edgeauth.log");
    let dev = Dev::start(&log);
    let script = format!("{PRELUDE}{}", blocks.join("\n")).replace("localhost:8080", &dev.public);

    let (ok, output) = bash(&dir.0, &log, &script);
    let server_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        ok,
        "the README walk-through failed:\n{output}\n--- server log ---\n{server_log}"
    );
    // It went all the way: the account it made is removed at the end.
    assert!(
        server_log.contains(r#"event="account.removed""#),
        "{server_log}"
    );

    // And the script would have noticed a failed request.
    let probe =
        format!("{PRELUDE}curl -i localhost:8080/auth/verify -H 'Authorization: Bearer nope'\n")
            .replace("localhost:8080", &dev.public);
    let (ok, output) = bash(&dir.0, &log, &probe);
    assert!(!ok, "a 401 must fail the walk-through:\n{output}");
}
