//! Real job-queue libraries run their jobs on Redust end to end: RQ and
//! Celery (Redis broker and result backend), from PyPI, driven by the Python
//! scripts in tests/job_queue/. Each script enqueues jobs, runs a real
//! worker, and checks results, statuses, retries and the failed registry;
//! it exits non-zero naming the first check that failed.
//!
//! The scripts run against a real redis-server first when one is installed,
//! so that a failure on Redust is Redust's and not the script's.
//!
//! The packages live in a venv at target/pyenv (or $REDUST_PYENV) made by
//! tests/job_queue/setup_pyenv.sh, which scripts/test.sh runs; the test runs
//! it too when the venv is missing. Only a missing python3 skips the test.

mod common;
use common::*;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn script_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/job_queue")
}

/// The venv's python, made once per test process (both tests share it).
fn venv_python() -> &'static Result<PathBuf, String> {
    static PY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PY.get_or_init(|| {
        let venv = std::env::var_os("REDUST_PYENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyenv"));
        let out = Command::new("bash")
            .arg(script_dir().join("setup_pyenv.sh"))
            .arg(&venv)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running setup_pyenv.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "tests/job_queue/setup_pyenv.sh {} failed (needs PyPI):\n{}{}",
                venv.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(venv.join("bin/python"))
    })
}

/// Runs `script url` with a deadline; returns (success, combined output).
fn run_script(python: &PathBuf, script: &str, port: u16) -> (bool, String) {
    let url = format!("redis://127.0.0.1:{port}/0");
    let mut child = Command::new(python)
        .arg(script_dir().join(script))
        .arg(&url)
        .current_dir(script_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python");
    // Drain both pipes in threads so a chatty worker cannot block on a full
    // pipe while we wait.
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break Some(st);
        }
        if start.elapsed() > Duration::from_secs(240) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = format!(
        "--- stdout\n{}--- stderr\n{}",
        t_out.join().unwrap_or_default(),
        t_err.join().unwrap_or_default()
    );
    match status {
        Some(st) => (st.success(), text),
        None => (false, format!("timed out after 240 s\n{text}")),
    }
}

/// Whether the output has the script's closing line "<prefix>N checks passed".
fn passed(out: &str, prefix: &str) -> bool {
    out.lines()
        .any(|l| l.starts_with(prefix) && l.ends_with(" checks passed"))
}

fn run_library(script: &str, prefix: &str) {
    if !have_program("python3") {
        eprintln!(
            "SKIPPED {script}: python3 is not installed, so the job-queue libraries cannot run"
        );
        return;
    }
    let python = match venv_python() {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    if have_redis() {
        let oracle = Server::start_redis(&[]);
        let (ok, out) = run_script(python, script, oracle.port);
        assert!(
            ok && passed(&out, prefix),
            "{script} fails against real redis-server (the script is wrong, not Redust):\n{out}"
        );
    }
    let s = Server::start(&[]);
    let (ok, out) = run_script(python, script, s.port);
    assert!(
        ok && passed(&out, prefix),
        "{script} against Redust:\n{out}\n--- server log\n{}",
        s.log_text()
    );
    // The server survived the whole run and still answers.
    let mut r = s.raw();
    assert_eq!(r.call(&["PING"]), simple("PONG"));
}

#[test]
fn rq_enqueue_run_retry_result() {
    run_library("rq_e2e.py", "rq e2e: ");
}

#[test]
fn celery_redis_broker_and_backend() {
    run_library("celery_e2e.py", "celery e2e: ");
}
