//! Helpers for the integration tests that start real servers: running
//! redis-cli, polling, process inspection, differential runs against a real
//! redis-server, and reading a connection until the server closes it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use redust::resp::reply::Frame;

use crate::common::{have_redis, Raw, Server};

/// Polls `f` every 20 ms until it is true or `limit` has passed.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the openssl CLI in `dir` (test certificates); it must succeed.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A self-signed test CA in `dir`: `<name>.key` and `<name>.crt`.
pub fn make_ca(dir: &Path, name: &str, cn: &str) {
    let (key, crt, subj) = (format!("{name}.key"), format!("{name}.crt"), format!("/CN={cn}"));
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(dir, &[&["req", "-x509"][..], &ec, &["-keyout", &key, "-out", &crt, "-days", "2", "-subj", &subj]].concat());
}

/// A key and a certificate `<name>.key`/`<name>.crt` in `dir`, signed by the
/// CA `<ca>.crt`/`<ca>.key` with the extensions in file `ext`.
pub fn sign_cert(dir: &Path, name: &str, ca: &str, ext: &str) {
    let (key, csr, crt, subj) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"), format!("/CN={name}"));
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(dir, &[&["req"][..], &ec, &["-keyout", &key, "-out", &csr, "-subj", &subj]].concat());
    let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
    openssl(
        dir,
        &["x509", "-req", "-in", &csr, "-CA", &ca_crt, "-CAkey", &ca_key, "-CAcreateserial", "-out", &crt, "-days", "2", "-extfile", ext],
    );
}

/// Runs redis-cli with `args`; stdout as text.
pub fn redis_cli(args: &[&str]) -> Output {
    Command::new("redis-cli").args(args).stdin(Stdio::null()).output().expect("run redis-cli")
}

pub fn cli_port(port: u16, args: &[&str]) -> String {
    let p = port.to_string();
    let mut all = vec!["-p", &p];
    all.extend_from_slice(args);
    String::from_utf8_lossy(&redis_cli(&all).stdout).into_owned()
}

/// Runs a binary to completion (it must exit within `limit`), capturing
/// its exit status, stdout and stderr.
pub fn run_to_exit(bin: &str, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{bin} {args:?} did not exit within {limit:?}; stdout={} stderr={}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Resident set size of a process in bytes (from /proc/<pid>/statm).
pub fn rss_bytes(pid: u32) -> u64 {
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    std::fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|x| x.parse::<u64>().ok()))
        .map(|p| p * page)
        .unwrap_or(0)
}

/// The fields of /proc/<pid>/stat after the command name (state first),
/// or None once the process is gone.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(s.rsplit(')').next()?.split_whitespace().map(str::to_string).collect())
}

pub fn pid_alive(pid: i32) -> bool {
    // Zombies count as dead: look at the state in /proc.
    match stat_fields(pid as u32) {
        Some(f) => {
            let state = f.first().map(String::as_str).unwrap_or("");
            state != "Z" && state != "X"
        }
        None => false,
    }
}

/// User plus system CPU time a process has used.
pub fn cpu_time(pid: u32) -> Duration {
    let f = stat_fields(pid).expect("read /proc/<pid>/stat");
    let ticks: u64 = f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime");
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write file");
    p
}

/// The value of `field` in INFO text.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|l| l.strip_prefix(&format!("{field}:")).map(|v| v.trim_end().to_string()))
}

/// INFO text from a raw connection (RESP2 bulk or RESP3 verbatim).
pub fn info(r: &mut Raw, section: &[&str]) -> String {
    let mut args = vec!["INFO"];
    args.extend_from_slice(section);
    match r.call(&args) {
        Frame::Bulk(Some(b)) => String::from_utf8(b).expect("utf8"),
        Frame::Verbatim(b) => String::from_utf8(b[4..].to_vec()).expect("utf8"),
        other => panic!("INFO replied {other:?}"),
    }
}

/// A bulk/verbatim/simple reply as text.
pub fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(Some(b)) | Frame::Simple(b) | Frame::Error(b) => String::from_utf8_lossy(b).into_owned(),
        Frame::Verbatim(b) => String::from_utf8_lossy(&b[4..]).into_owned(),
        other => panic!("not text: {other:?}"),
    }
}

/// Sends `bytes` on a fresh connection and reads until the server closes
/// the connection or nothing arrives for `quiet`. Returns what was read
/// and whether the server closed the connection.
pub fn exchange(port: u16, bytes: &[u8], quiet: Duration) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(quiet)).expect("timeout");
    s.write_all(bytes).expect("write");
    read_until_close(&mut s)
}

pub fn read_until_close(s: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// Whether the server closed `s` within `limit` (reads and discards data).
pub fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(100))).expect("timeout");
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => {}
        }
    }
    false
}

/// A Redust server and, when installed, a real redis-server started with
/// the same arguments, for differential checks.
pub struct Pair {
    pub redust: Server,
    pub redis: Option<Server>,
}

impl Pair {
    pub fn start(args: &[&str]) -> Pair {
        let redis = if have_redis() {
            Some(Server::start_redis(args))
        } else {
            eprintln!("redis-server not installed: differential checks are skipped");
            None
        };
        Pair { redust: Server::start(args), redis }
    }

    /// Runs `args` on fresh connections to both servers, after `setup`
    /// commands, and returns (redust reply bytes, redis reply bytes).
    pub fn reply_bytes(&self, setup: &[&[&str]], args: &[&str]) -> (Vec<u8>, Option<Vec<u8>>) {
        let run = |s: &Server| {
            let mut r = s.raw();
            for c in setup {
                r.call(c);
            }
            r.call_raw(args)
        };
        (run(&self.redust), self.redis.as_ref().map(run))
    }

    /// Asserts that both servers reply to `args` with the same bytes.
    pub fn assert_same(&self, setup: &[&[&str]], args: &[&str]) -> Vec<u8> {
        let (ours, theirs) = self.reply_bytes(setup, args);
        if let Some(theirs) = theirs {
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "reply to {args:?} differs from redis-server's (left: redust, right: redis)"
            );
        }
        ours
    }
}

/// Starts `bin` with exactly `args` plus `--port <free port>` (unless
/// `args` has one), in `dir`, without the defaults `Server::start` adds
/// (so a config file's `save` lines stay in effect). `log` is where the
/// caller's arguments send the log, for `Server::log_text`.
pub fn start_exact(bin: &str, dir: &Path, log: &Path, args: &[&str]) -> Server {
    for _ in 0..5 {
        let port = crate::common::free_port();
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let port = match all.iter().position(|a| a == "--port") {
            Some(i) => all[i + 1].parse().expect("port"),
            None => {
                all.extend(["--port".into(), port.to_string()]);
                port
            }
        };
        let child = Command::new(bin)
            .args(&all)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        let mut s = Server { port, dir: dir.to_path_buf(), child: Some(child), log: log.to_path_buf() };
        if s.wait_ready(Duration::from_secs(10)) {
            return s;
        }
        // Keep the directory (it holds the caller's files): detach it from
        // the Server so that dropping it does not delete it.
        s.stop();
        s.dir = std::env::temp_dir().join("redust-test-nonexistent");
    }
    panic!("{bin} {args:?} did not start");
}

pub fn pid_of(s: &Server) -> u32 {
    s.child.as_ref().expect("running").id()
}

pub fn send_signal(s: &Server, sig: i32) {
    unsafe {
        libc::kill(pid_of(s) as i32, sig);
    }
}

/// Waits for the server process to exit and returns its status.
pub fn wait_exit(s: &mut Server, limit: Duration) -> Option<std::process::ExitStatus> {
    let mut c = s.child.take()?;
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(st)) = c.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = c.kill();
    let _ = c.wait();
    None
}

/// Removes a temporary directory when dropped.
pub struct Cleanup(pub PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh temporary directory, removed when the guard is dropped.
pub fn scratch_dir(tag: &str) -> (PathBuf, Cleanup) {
    let d = crate::common::temp_dir(tag);
    (d.clone(), Cleanup(d))
}
