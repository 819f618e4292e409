//! A real `nginx` for the gateway tests: Debian's binary, run in the
//! foreground as a child with a config of the test's own in a temp dir (pid,
//! logs and temp paths inside the dir, so it needs no root), killed by PID on
//! drop. [`Nginx::start`] wraps the `http { … }` body a test gives it (server
//! blocks) with the boilerplate nginx needs to run that way.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::TempDir;

/// An `nginx` child with its own prefix directory.
pub struct Nginx {
    child: Child,
    dir: TempDir,
}

/// `nginx` on PATH, else where Debian puts it (`/usr/sbin` is not on a
/// normal user's PATH).
pub fn binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nginx"))
            .find(|candidate| candidate.is_file())
    });
    on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"))
}

/// A whole config: one process, no daemon, every path under `dir`, and
/// `http_body` (server blocks, upstreams …) inside `http { }`.
pub fn config(dir: &Path, http_body: &str) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{
    worker_connections 64;
}}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;

{http_body}
}}
"#
    )
}

impl Nginx {
    /// Starts nginx with `http_body` (see [`config`]) and waits until it
    /// listens on every port of `ports`.
    pub fn start(http_body: &str, ports: &[u16]) -> Nginx {
        let dir = TempDir::new();
        let conf = dir.write("nginx.conf", &config(&dir.0, http_body));
        let binary = binary();
        let child = Command::new(&binary)
            .arg("-p")
            .arg(&dir.0)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.0.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start nginx ({}: {e}); the gateway tests need it: \
                     sudo apt-get install -y nginx (or scripts/ensure-deps --test, \
                     which .ci/run runs)",
                    binary.display()
                )
            });
        let mut nginx = Nginx { child, dir };
        nginx.wait_until_listening(ports);
        nginx
    }

    fn wait_until_listening(&mut self, ports: &[u16]) {
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nginx exited ({status}):\n{}", self.error_log());
            }
            let up = ports
                .iter()
                .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok());
            if up {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("nginx did not listen within 5 s:\n{}", self.error_log());
    }

    /// nginx's error log so far (for failure messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("error.log")).unwrap_or_default()
    }

    /// nginx's access log so far.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // `Child::kill` signals this PID only; with `master_process off`
        // there are no worker processes to leave behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
