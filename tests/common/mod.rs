//! Shared test support: start the real `redust-server` binary (or a real
//! `redis-server`, for differential tests) on a free loopback port, and talk
//! to it over raw RESP or with the `redis` crate.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redust::resp::reply::{encode_request, read_frame, Frame};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    l.local_addr().expect("local addr").port()
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("redust-test-{}-{}-{}", tag, std::process::id(), n));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

pub struct Server {
    pub port: u16,
    pub dir: PathBuf,
    pub child: Option<Child>,
    pub log: PathBuf,
}

pub fn redust_bin() -> &'static str {
    env!("CARGO_BIN_EXE_redust-server")
}

/// Whether `program --version` runs: tests that need a tool the test
/// command installs (redis-server, redis-benchmark, python3) skip without it.
pub fn have_program(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Whether a real redis-server is installed (differential tests need it).
pub fn have_redis() -> bool {
    have_program("redis-server")
}

impl Server {
    /// Starts redust with `args` (config file path and/or --directive pairs)
    /// plus a free port, a private dir and no save rules.
    pub fn start(args: &[&str]) -> Server {
        Self::spawn(redust_bin(), "redust", args)
    }

    /// Starts a real redis-server the same way.
    pub fn start_redis(args: &[&str]) -> Server {
        Self::spawn("redis-server", "redis", args)
    }

    pub fn spawn(bin: &str, tag: &str, args: &[&str]) -> Server {
        let dir = temp_dir(tag);
        let mut failures = Vec::new();
        for attempt in 0..5u64 {
            // A failed attempt's Drop removed the directory: without it the
            // next server cannot open its log and every retry fails at once.
            std::fs::create_dir_all(&dir).expect("create temp dir");
            let port = free_port();
            let log = dir.join("server.log");
            let mut cmd = Command::new(bin);
            let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            let given: Vec<String> = all.clone();
            let has = |name: &str| given.iter().any(|a| a == name);
            if !has("--port") {
                all.extend(["--port".into(), port.to_string()]);
            }
            if !has("--save") {
                all.extend(["--save".into(), "".into()]);
            }
            if !has("--dir") {
                all.extend(["--dir".into(), dir.display().to_string()]);
            }
            if !has("--bind") {
                all.extend(["--bind".into(), "127.0.0.1".into()]);
            }
            if !has("--logfile") && !has("--daemonize") {
                all.extend(["--logfile".into(), log.display().to_string()]);
            }
            // What a server prints before its log file is open (a bad
            // directive, a port in use) is only on stderr.
            let stderr_path = dir.join("stderr.log");
            let stderr = std::fs::File::create(&stderr_path)
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null());
            cmd.args(&all).stdout(Stdio::null()).stderr(stderr);
            let child = cmd.spawn().expect("spawn server");
            let real_port = all
                .iter()
                .position(|a| a == "--port")
                .and_then(|i| all.get(i + 1))
                .and_then(|p| p.parse().ok())
                .unwrap_or(port);
            let mut s = Server {
                port: real_port,
                dir: dir.clone(),
                child: Some(child),
                log,
            };
            if s.wait_ready(Duration::from_secs(10)) {
                return s;
            }
            let status = s.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            s.stop();
            // The directory goes with the test machine: say here why the
            // last attempt failed.
            failures.push(format!(
                "port {}: exit status {:?}, stderr:\n{}log:\n{}",
                s.port,
                status,
                std::fs::read_to_string(&stderr_path).unwrap_or_default(),
                s.log_text()
            ));
            // Whatever stopped it (a port taken meanwhile, a busy machine)
            // gets time to pass.
            std::thread::sleep(Duration::from_millis(200 * (attempt + 1)));
        }
        panic!(
            "server {bin} did not start; log in {}\n{}",
            dir.display(),
            failures.join("\n")
        );
    }

    pub fn wait_ready(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return false;
                }
            }
            if let Ok(mut c) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                // QUIT, and reading to its close, so that the probe is off
                // the server's client list (CLIENT LIST, connected_clients)
                // before the test starts counting.
                if c.write_all(b"PING\r\nQUIT\r\n").is_ok() {
                    let mut buf = Vec::new();
                    let mut tmp = [0u8; 64];
                    while let Ok(n) = c.read(&mut tmp) {
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&tmp[..n]);
                    }
                    if !buf.is_empty() && buf[0] != b'-' || buf.starts_with(b"-NOAUTH") {
                        return true;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("client")
            .get_connection()
            .expect("connect")
    }

    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        unsafe {
            libc::kill(c.id() as i32, libc::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        c.wait().ok()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A failing test shows how its server ended: a crash or an abort
        // leaves no other trace once the directory is gone.
        if std::thread::panicking() {
            let status = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            let log = self.log_text();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            eprintln!(
                "server on port {} (exit status: {:?}); last lines of its log:\n{}",
                self.port, status, tail
            );
        }
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A raw RESP connection: send exact bytes, read exact frames.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send_bytes(&mut self, b: &[u8]) {
        self.stream.write_all(b).expect("write");
    }

    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send_bytes(&encode_request(args));
    }

    /// Reads one whole frame and returns it with its exact bytes.
    pub fn read_raw(&mut self) -> Option<(Frame, Vec<u8>)> {
        loop {
            if let Ok(Some((f, n))) = read_frame(&self.buf) {
                let bytes: Vec<u8> = self.buf.drain(..n).collect();
                return Some((f, bytes));
            }
            let mut tmp = [0u8; 65536];
            match self.stream.read(&mut tmp) {
                // EINTR is not the server's answer: reads here came back
                // interrupted while other tests' child processes exited.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
            }
        }
    }

    pub fn read(&mut self) -> Frame {
        self.read_raw().expect("reply").0
    }

    /// Sends a command and returns the reply's exact bytes.
    pub fn call_raw<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(args);
        self.read_raw().map(|(_, b)| b).unwrap_or_default()
    }

    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Frame {
        self.send(args);
        self.read()
    }

    /// True once the server has closed the connection.
    pub fn is_closed(&mut self) -> bool {
        let mut tmp = [0u8; 1024];
        loop {
            match self.stream.read(&mut tmp) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }
}

pub fn bulk(s: &str) -> Frame {
    Frame::Bulk(Some(s.as_bytes().to_vec()))
}

pub fn simple(s: &str) -> Frame {
    Frame::Simple(s.as_bytes().to_vec())
}

pub fn err(s: &str) -> Frame {
    Frame::Error(s.as_bytes().to_vec())
}
