//! Start-up: command line and redis.conf (Redis 7 style), fatal config
//! errors, --help/--version, daemonizing with pidfile and logfile, and clean
//! shutdown on SIGTERM/SIGINT. Runs the real binary; where it matters the
//! same input is given to a real redis-server and the results compared.

mod common;
mod helpers;

use std::time::Duration;

use common::*;
use helpers::*;

fn config_get(port: u16, pass: Option<&str>, name: &str) -> String {
    let mut r = Raw::connect(port);
    if let Some(p) = pass {
        assert_eq!(r.call(&["AUTH", p]), simple("OK"));
    }
    match r.call(&["CONFIG", "GET", name]) {
        redust::resp::reply::Frame::Array(Some(v)) if v.len() == 2 => text(&v[1]),
        other => panic!("CONFIG GET {name}: {other:?}"),
    }
}

#[test]
fn command_line_wins_over_config_file() {
    let dir = temp_dir("cmdline");
    let conf = write_file(&dir, "redis.conf", "maxmemory 10mb\ntimeout 7\nhz 20\n");
    let log = dir.join("log");
    let s = start_exact(
        redust_bin(),
        &dir,
        &log,
        &[conf.to_str().unwrap(), "--maxmemory", "20mb", "--hz", "15", "--logfile", log.to_str().unwrap()],
    );
    assert_eq!(config_get(s.port, None, "maxmemory"), (20 * 1024 * 1024).to_string());
    assert_eq!(config_get(s.port, None, "hz"), "15");
    // Not on the command line: the file's value.
    assert_eq!(config_get(s.port, None, "timeout"), "7");
    // The file is known to INFO (absolute path) and used by CONFIG REWRITE.
    let mut r = s.raw();
    let server_info = info(&mut r, &["server"]);
    let cf = info_field(&server_info, "config_file").unwrap();
    assert_eq!(std::path::Path::new(&cf), conf.canonicalize().unwrap());
}

const STYLE_CONF: &str = r#"# Redis configuration file example (Redis 7 style).
#
# Note that in order to read the configuration file, Redis must be
# started with the file path as first argument.

################################## INCLUDES ###################################
include INCLUDED

################################## NETWORK #####################################
bind 127.0.0.1
   # an indented comment
protected-mode yes
tcp-keepalive 300
timeout 0

################################# GENERAL #####################################
loglevel notice
databases 4

################################ SNAPSHOTTING  ################################
save 3600 1
save 300 100
save 60 10000

################################## SECURITY ###################################
requirepass "pa ss\"wo'rd"

############################## MEMORY MANAGEMENT ################################
maxmemory 100MB
maxmemory-policy ALLKEYS-LRU
maxmemory-samples 5
notify-keyspace-events "KEA"
oom-score-adj-values 0 200 800
latency-tracking-info-percentiles 50 99 99.9
client-output-buffer-limit pubsub 32mb 8mb 60
"#;

const INCLUDED: &str = "# included file\nhash-max-ziplist-entries 256\nlist-max-ziplist-size -2\nslave-read-only yes\n";

const STYLE_PARAMS: &[&str] = &[
    "save",
    "requirepass",
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "databases",
    "hash-max-listpack-entries",
    "list-max-listpack-size",
    "replica-read-only",
    "notify-keyspace-events",
    "oom-score-adj-values",
    "latency-tracking-info-percentiles",
    "client-output-buffer-limit",
    "timeout",
    "tcp-keepalive",
    "protected-mode",
];

fn style_values(bin: &str) -> Vec<(String, String)> {
    let dir = temp_dir("style");
    let inc = write_file(&dir, "included.conf", INCLUDED);
    let conf = write_file(&dir, "redis.conf", &STYLE_CONF.replace("INCLUDED", inc.to_str().unwrap()));
    let log = dir.join("log");
    let s = start_exact(bin, &dir, &log, &[conf.to_str().unwrap(), "--logfile", log.to_str().unwrap()]);
    STYLE_PARAMS.iter().map(|p| (p.to_string(), config_get(s.port, Some("pa ss\"wo'rd"), p))).collect()
}

#[test]
fn redis7_style_config_file_with_include_quotes_and_save_lines() {
    let ours = style_values(redust_bin());
    let get = |n: &str| ours.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(get("save"), "3600 1 300 100 60 10000");
    assert_eq!(get("requirepass"), "pa ss\"wo'rd");
    assert_eq!(get("maxmemory"), (100u64 << 20).to_string());
    assert_eq!(get("maxmemory-policy"), "allkeys-lru");
    assert_eq!(get("databases"), "4");
    assert_eq!(get("hash-max-listpack-entries"), "256");
    assert_eq!(get("notify-keyspace-events"), "AKE");
    assert_eq!(get("oom-score-adj-values"), "0 200 800");
    assert_eq!(get("latency-tracking-info-percentiles"), "50 99 99.9");
    if have_redis() {
        // Redis 7.0 forgets earlier `save` lines once a file used `include`
        // (here it reports "60 10000"); every other value must agree.
        let theirs = style_values("redis-server");
        let no_save = |v: &[(String, String)]| v.iter().filter(|(k, _)| k != "save").cloned().collect::<Vec<_>>();
        assert_eq!(no_save(&ours), no_save(&theirs), "config values differ from redis-server's for the same file");
    }
}

#[test]
fn save_empty_string_turns_saving_off_and_later_lines_add_rules() {
    for (text, want) in [
        ("save 900 1\nsave \"\"\n", ""),
        ("save \"\"\nsave 60 5\n", "60 5"),
        ("save 900 1\nsave 300 10\n", "900 1 300 10"),
    ] {
        let dir = temp_dir("save");
        let conf = write_file(&dir, "redis.conf", text);
        let log = dir.join("log");
        let s = start_exact(redust_bin(), &dir, &log, &[conf.to_str().unwrap(), "--logfile", log.to_str().unwrap()]);
        assert_eq!(config_get(s.port, None, "save"), want, "for {text:?}");
        if have_redis() {
            let rdir = temp_dir("save-redis");
            let rconf = write_file(&rdir, "redis.conf", text);
            let rlog = rdir.join("log");
            let r = start_exact("redis-server", &rdir, &rlog, &[rconf.to_str().unwrap(), "--logfile", rlog.to_str().unwrap()]);
            assert_eq!(config_get(r.port, None, "save"), want, "redis-server, for {text:?}");
        }
    }
    // `--save` with no value on the command line also means "no saving".
    let s = Server::start(&["--save", "--appendonly", "no"]);
    assert_eq!(config_get(s.port, None, "save"), "");
    assert_eq!(config_get(s.port, None, "appendonly"), "no");
}

/// Runs a server that must refuse to start; returns (stderr, stdout).
fn failing_start(bin: &str, args: &[&str]) -> (String, String) {
    let out = run_to_exit(bin, args, Duration::from_secs(10));
    assert!(!out.status.success(), "{bin} {args:?} should fail to start");
    (String::from_utf8_lossy(&out.stderr).into_owned(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The lines of a fatal config error that name the line and the reason
/// (">>> '...'" and the one after it).
fn error_tail(text: &str) -> (String, String) {
    let lines: Vec<&str> = text.lines().collect();
    let i = lines.iter().position(|l| l.starts_with(">>> ")).unwrap_or_else(|| panic!("no >>> line in {text:?}"));
    (lines[i].to_string(), lines.get(i + 1).unwrap_or(&"").to_string())
}

#[test]
fn misspelled_directive_stops_startup_naming_file_line_and_directive() {
    let (dir, _cleanup) = scratch_dir("bad");
    let conf = write_file(&dir, "redis.conf", "# a comment\nport 7777\n\nmaxmemroy 1gb\n");
    let (err, _) = failing_start(redust_bin(), &[conf.to_str().unwrap()]);
    assert!(err.contains("FATAL CONFIG FILE ERROR"), "{err}");
    assert!(err.contains(conf.to_str().unwrap()), "stderr should name the file: {err}");
    assert!(err.contains("at line 4"), "stderr should name the line: {err}");
    assert!(err.contains(">>> 'maxmemroy 1gb'"), "{err}");
    assert!(err.contains("Bad directive or wrong number of arguments"), "{err}");
    if have_redis() {
        let (rerr, rout) = failing_start("redis-server", &[conf.to_str().unwrap()]);
        assert_eq!(error_tail(&err), error_tail(&format!("{rerr}{rout}")));
    }
}

#[test]
fn bad_values_in_config_file_are_fatal_with_redis_reasons() {
    for text in [
        "maxmemory lots\n",
        "maxmemory -1\n",
        "appendonly maybe\n",
        "maxmemory-policy sometimes\n",
        "timeout -1\n",
        "databases abc\n",
        "requirepass \"unbalanced\n",
        "save 100\n",
        "timeout 1 2\n",
        "notify-keyspace-events Q\n",
    ] {
        let (dir, _cleanup) = scratch_dir("badval");
        let conf = write_file(&dir, "redis.conf", text);
        let (err, _) = failing_start(redust_bin(), &[conf.to_str().unwrap(), "--port", &free_port().to_string()]);
        let ours = error_tail(&err);
        assert!(ours.0.contains(text.trim_end()), "{text:?}: {err}");
        if have_redis() {
            let (rerr, rout) = failing_start("redis-server", &[conf.to_str().unwrap(), "--port", &free_port().to_string()]);
            assert_eq!(ours, error_tail(&format!("{rerr}{rout}")), "for {text:?}");
        }
    }
}

#[test]
fn bad_command_line_option_and_missing_file_fail() {
    let (err, _) = failing_start(redust_bin(), &["--port", "0", "--maxmemroy", "1gb"]);
    assert!(err.contains("maxmemroy 1gb"), "{err}");
    assert!(err.contains("Bad directive or wrong number of arguments"), "{err}");
    let (err, _) = failing_start(redust_bin(), &["/nonexistent/dir/redis.conf"]);
    assert!(err.contains("/nonexistent/dir/redis.conf"), "{err}");
}

#[test]
fn help_and_version_exit_zero() {
    let out = run_to_exit(redust_bin(), &["--help"], Duration::from_secs(10));
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Usage"), "{help}");
    assert!(help.contains("redis.conf"), "{help}");
    for flag in ["--version", "-v"] {
        let out = run_to_exit(redust_bin(), &[flag], Duration::from_secs(10));
        assert!(out.status.success());
        let v = String::from_utf8_lossy(&out.stdout);
        // redis-server's format: tools look for "v=<version>".
        assert!(v.contains(&format!("v={}", redust::REDIS_VERSION)), "{v}");
        assert!(v.contains(env!("CARGO_PKG_VERSION")), "{v}");
    }
}

/// Checks one log line against Redis's format:
/// `pid:M dd Mon yyyy hh:mm:ss.mmm <level> message`.
fn check_log_line(line: &str) -> Option<u32> {
    let (pid, rest) = line.split_once(":M ")?;
    let pid: u32 = pid.parse().ok()?;
    let parts: Vec<&str> = rest.splitn(6, ' ').collect();
    if parts.len() < 6 {
        return None;
    }
    let (day, mon, year, time, level) = (parts[0], parts[1], parts[2], parts[3], parts[4]);
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|c| c.is_ascii_digit());
    let t: Vec<&str> = time.split([':', '.']).collect();
    let ok = digits(day, 2)
        && months.contains(&mon)
        && digits(year, 4)
        && t.len() == 4
        && digits(t[0], 2)
        && digits(t[1], 2)
        && digits(t[2], 2)
        && digits(t[3], 3)
        && [".", "-", "*", "#"].contains(&level);
    ok.then_some(pid)
}

/// Kills a daemonized server if a test fails before it stopped it.
struct DaemonGuard(i32);

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        if self.0 > 0 && pid_alive(self.0) {
            unsafe {
                libc::kill(self.0, libc::SIGKILL);
            }
        }
    }
}

#[test]
fn daemonize_writes_pidfile_and_log_and_sigterm_cleans_up() {
    let (dir, _cleanup) = scratch_dir("daemon");
    let port = free_port();
    let pidfile = dir.join("redust.pid");
    let logfile = dir.join("redust.log");
    let conf = write_file(
        &dir,
        "redis.conf",
        &format!(
            "daemonize yes\nport {port}\nbind 127.0.0.1\nsave \"\"\npidfile \"{}\"\nlogfile \"{}\"\ndir {}\n",
            pidfile.display(),
            logfile.display(),
            dir.display()
        ),
    );
    // The launching process returns as soon as the daemon is forked.
    let out = run_to_exit(redust_bin(), &[conf.to_str().unwrap()], Duration::from_secs(10));
    assert!(out.status.success(), "launcher exit: {:?}", out.status);
    assert!(wait_until(Duration::from_secs(10), || std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n'))));
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().expect("pid in pidfile");
    let _guard = DaemonGuard(pid);
    assert!(pid_alive(pid), "pid {pid} from the pidfile is not running");
    let mut up = false;
    assert!(wait_until(Duration::from_secs(10), || {
        up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        up
    }));
    let mut r = Raw::connect(port);
    assert_eq!(r.call(&["PING"]), simple("PONG"));
    let server_info = info(&mut r, &["server"]);
    assert_eq!(info_field(&server_info, "process_id").unwrap(), pid.to_string());
    drop(r);

    let log = std::fs::read_to_string(&logfile).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() >= 2, "{log}");
    for l in &lines {
        assert_eq!(check_log_line(l), Some(pid as u32), "log line not in Redis's format: {l:?}");
    }
    assert!(log.contains("Ready to accept connections"), "{log}");

    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    assert!(wait_until(Duration::from_secs(10), || !pid_alive(pid)), "daemon did not exit on SIGTERM");
    assert!(!pidfile.exists(), "pidfile left behind");
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(log.contains("Received SIGTERM"), "{log}");
    assert!(log.contains("ready to exit"), "{log}");
    for l in log.lines() {
        assert!(check_log_line(l).is_some(), "log line not in Redis's format: {l:?}");
    }
}

#[test]
fn sigterm_and_sigint_shut_down_cleanly() {
    for (sig, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT")] {
        let mut s = Server::start(&[]);
        // A connected client must not keep the server from exiting.
        let mut r = s.raw();
        assert_eq!(r.call(&["SET", "k", "v"]), simple("OK"));
        send_signal(&s, sig);
        let st = wait_exit(&mut s, Duration::from_secs(10)).expect("server did not exit");
        assert_eq!(st.code(), Some(0), "{name}: exit status {st:?}");
        assert!(r.is_closed(), "{name}: client connection not closed");
        let log = s.log_text();
        assert!(log.contains(&format!("Received {name}")), "{log}");
        assert!(log.contains("ready to exit"), "{log}");
    }
}
