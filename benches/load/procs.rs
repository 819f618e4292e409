//! The child processes of a run (redis-server, edgeauth, the hello server),
//! each killed when dropped, and what /proc says about them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use edgeauth::dev::RedisServer;

/// A child process killed (and reaped) on drop.
pub struct Proc {
    pub name: String,
    child: Child,
    /// Where its stderr goes (shown when it dies).
    stderr: Option<PathBuf>,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command, stderr: Option<PathBuf>) -> Proc {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.to_owned(),
            child,
            stderr,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Err with its exit status and the end of its stderr when it has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                let tail = self
                    .stderr
                    .as_ref()
                    .and_then(|p| std::fs::read_to_string(p).ok())
                    .map(|s| {
                        let lines: Vec<&str> = s.lines().collect();
                        lines[lines.len().saturating_sub(20)..].join("\n")
                    })
                    .unwrap_or_default();
                Err(format!("{} exited ({status}); stderr:\n{tail}", self.name))
            }
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }

    /// Peak resident set size (VmHWM) and current (VmRSS), in bytes.
    pub fn memory(&self) -> Memory {
        memory_of(self.pid())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub hwm: u64,
    pub rss: u64,
}

pub fn memory_of(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    Memory {
        hwm: field("VmHWM:"),
        rss: field("VmRSS:"),
    }
}

/// utime + stime from /proc/<pid>/stat (clock ticks of 1/100 s, Linux's USER_HZ).
pub fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name (field 2) may hold spaces; count fields after its ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // After ')': state is index 0, so utime (field 14) is 11 and stime 12.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// A scratch directory for key files and logs, removed on drop unless kept.
pub struct TempDir {
    pub path: PathBuf,
    pub keep: bool,
}

impl TempDir {
    pub fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("edgeauth-load-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir { path, keep: false }
    }

    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path.join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }

    pub fn file(&self, name: &str) -> std::fs::File {
        std::fs::File::create(self.path.join(name)).expect("create temp file")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

pub fn free_port() -> u16 {
    edgeauth::dev::free_port().expect("free port")
}

/// Waits until something accepts TCP connections on `addr`.
pub async fn wait_for_port(addr: SocketAddr, what: &str) {
    let deadline = edgeauth::clock::instant() + Duration::from_secs(20);
    while edgeauth::clock::instant() < deadline {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not listen on {addr} within 20 s");
}

/// A throwaway `redis-server` (loopback, free port, no persistence, killed
/// on drop), its working directory `dir`.
pub fn start_redis(dir: &Path) -> RedisServer {
    RedisServer::builder()
        .dir(dir)
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The settings of one edgeauth process.
pub struct EdgeauthSpec<'a> {
    pub name: &'a str,
    pub redis_url: &'a str,
    pub jwt_key_file: &'a Path,
    pub data_key_file: &'a Path,
    pub scrypt_log_n: u8,
    /// Every `EDGEAUTH_RATE_*` limit (the counting still runs).
    pub rate_limit: &'a str,
}

/// Starts `edgeauth serve` (the release build under `cargo bench`) with the
/// default log level, its stdout (one JSON line per request) to
/// `<dir>/<name>.log`. Returns the process and its public address.
pub async fn start_edgeauth(dir: &TempDir, spec: &EdgeauthSpec<'_>) -> (Proc, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let stderr = dir.path.join(format!("{}.stderr", spec.name));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgeauth"));
    cmd.arg("serve");
    // Nothing from the caller's environment may change what is measured.
    for (var, _) in std::env::vars() {
        if var.starts_with("EDGEAUTH_") {
            cmd.env_remove(var);
        }
    }
    cmd.env("EDGEAUTH_LISTEN", addr.to_string())
        .env("EDGEAUTH_ADMIN_LISTEN", admin.to_string())
        .env("EDGEAUTH_REDIS_URL", spec.redis_url)
        .env("EDGEAUTH_JWT_KEY_FILES", spec.jwt_key_file)
        .env("EDGEAUTH_DATA_KEY_FILE", spec.data_key_file)
        .env("EDGEAUTH_SCRYPT_LOG_N", spec.scrypt_log_n.to_string())
        .env("EDGEAUTH_AUTO_ACTIVATE", "true")
        .env("EDGEAUTH_COOKIE_SECURE", "false")
        .env("EDGEAUTH_PORTAL", "true")
        .env("EDGEAUTH_RATE_LOGIN_PER_EMAIL", spec.rate_limit)
        .env("EDGEAUTH_RATE_LOGIN_PER_IP", spec.rate_limit)
        .env("EDGEAUTH_RATE_REGISTER_PER_IP", spec.rate_limit)
        .env("EDGEAUTH_RATE_ACTIVATE_REQUEST_PER_IP", spec.rate_limit)
        .env("EDGEAUTH_RATE_FORGOT_REQUEST_PER_IP", spec.rate_limit)
        .stdout(dir.file(&format!("{}.log", spec.name)))
        .stderr(dir.file(&format!("{}.stderr", spec.name)));
    let mut proc = Proc::spawn(spec.name, &mut cmd, Some(stderr));
    let deadline = edgeauth::clock::instant() + Duration::from_secs(20);
    loop {
        if let Err(e) = proc.check_alive() {
            panic!("{e}");
        }
        if crate::client::readyz(addr).await {
            return (proc, addr);
        }
        if edgeauth::clock::instant() > deadline {
            panic!("{} was not ready on {addr} within 20 s", spec.name);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The hello baseline: this bench binary re-executed with `--serve-hello`.
pub async fn start_hello() -> (Proc, SocketAddr) {
    let port = free_port();
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.arg("--serve-hello")
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let proc = Proc::spawn("hello", &mut cmd, None);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    wait_for_port(addr, "the hello server").await;
    (proc, addr)
}
