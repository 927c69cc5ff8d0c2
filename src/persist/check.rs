//! The check tools: `redis-check-rdb FILE` and
//! `redis-check-aof [--fix] FILE|MANIFEST` (also `redust-server check-rdb`
//! / `check-aof`), reporting in the same shape as Redis's tools and
//! exiting 0 when the files are valid, 1 otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::aof::load::{scan, ParseError};
use super::aof::manifest::Manifest;
use super::rdb;
use crate::db::Keyspace;

/// Runs a check tool when argv asks for one (by program name or first
/// argument); None means start the server.
pub fn dispatch(argv: &[String]) -> Option<i32> {
    let prog = argv
        .first()
        .map(|a| {
            Path::new(a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let (tool, rest) = match (prog.as_str(), argv.get(1).map(String::as_str)) {
        ("redis-check-rdb", _) => ("rdb", &argv[1..]),
        ("redis-check-aof", _) => ("aof", &argv[1..]),
        (_, Some("check-rdb")) => ("rdb", &argv[2..]),
        (_, Some("check-aof")) => ("aof", &argv[2..]),
        _ => return None,
    };
    Some(if tool == "rdb" {
        check_rdb_main(rest)
    } else {
        check_aof_main(rest)
    })
}

fn check_rdb_main(args: &[String]) -> i32 {
    let [file] = args else {
        println!("Usage: redis-check-rdb <rdb-file-name>");
        return 1;
    };
    match std::fs::read(file) {
        Ok(data) => check_rdb(file, &data).map_or(1, |_| 0),
        Err(e) => {
            println!("Fatal error: can't open the RDB file {file} for reading: {e}");
            1
        }
    }
}

/// Checks an RDB image, printing the report; the bytes it took.
fn check_rdb(name: &str, data: &[u8]) -> Option<usize> {
    println!("[offset 0] Checking RDB file {name}");
    let mut ks = Keyspace::new(16);
    let lim = crate::persist::rdb_types::TypeLimits::redis_defaults();
    let res = rdb::load(data, &mut ks, crate::server::now_ms(), &lim);
    let info = |ks: &Keyspace, expired: usize| {
        println!("[info] {} keys read", ks.total_keys() + expired);
        println!(
            "[info] {} expires",
            ks.dbs.iter().map(|d| d.expires().len()).sum::<usize>() + expired
        );
        println!("[info] {expired} already expired");
    };
    match res {
        Ok(st) => {
            println!("[offset {}] Checksum OK", st.consumed);
            println!("[offset {}] \\o/ RDB looks OK! \\o/", st.consumed);
            info(&ks, st.expired_skipped);
            Some(st.consumed)
        }
        Err(e) => {
            println!("--- RDB ERROR DETECTED ---");
            println!("[additional info] {e}");
            info(&ks, 0);
            None
        }
    }
}

fn newlines(b: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', b).count()
}

/// Checks one AOF file (an optional RDB preamble, then commands). Returns
/// whether it is valid; with `fix`, a file whose only problem is a cut
/// tail is truncated to its last whole command (after confirmation).
fn check_aof_file(path: &Path, shown: &str, fix: bool, may_fix: bool) -> bool {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) => {
            println!("Cannot open file {shown}: {e}");
            return false;
        }
    };
    let mut start = 0;
    if data.starts_with(b"REDIS") {
        match check_rdb(shown, &data) {
            Some(n) => {
                println!("RDB preamble is OK, proceeding with AOF tail...");
                start = n;
            }
            None => {
                println!("RDB preamble of AOF file is not sane, aborting.");
                return false;
            }
        }
    }
    let sc = scan(&data, start);
    let line = 1 + newlines(&data[start..sc.ok_up_to]);
    if let Some((at, e)) = &sc.error {
        let why = match e {
            ParseError::Truncated => "Unexpected EOF (a command is cut)".to_string(),
            ParseError::Bad(w) => format!("Invalid format: {w}"),
        };
        println!("0x{at:>16x}: {why}");
    }
    let diff = data.len() - sc.ok_up_to;
    println!(
        "AOF analyzed: filename={shown}, size={}, ok_up_to={}, ok_up_to_line={line}, diff={diff}",
        data.len(),
        sc.ok_up_to
    );
    if diff == 0 {
        return true;
    }
    let truncated = matches!(sc.error, Some((_, ParseError::Truncated)));
    if !fix {
        println!("AOF {shown} is not valid. Use the --fix option to try fixing it.");
        return false;
    }
    if !truncated || !may_fix {
        println!("AOF {shown} format error: it can't be fixed by truncating it.");
        return false;
    }
    println!(
        "This will shrink the AOF {shown} from {} bytes, with {diff} bytes, to {} bytes",
        data.len(),
        sc.ok_up_to
    );
    print!("Continue? [y/N]: ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if !answer.trim_start().to_ascii_lowercase().starts_with('y') {
        println!("Aborting...");
        return false;
    }
    let res = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(sc.ok_up_to as u64));
    match res {
        Ok(()) => {
            println!("Successfully truncated AOF {shown}");
            true
        }
        Err(e) => {
            println!("Failed to truncate AOF {shown}: {e}");
            false
        }
    }
}

fn check_aof_main(args: &[String]) -> i32 {
    let (fix, file) = match args {
        [f] => (false, f),
        [opt, f] if opt == "--fix" => (true, f),
        _ => {
            println!("Usage: redis-check-aof [--fix] <file.manifest|file.aof>");
            return 1;
        }
    };
    let path = PathBuf::from(file);
    let is_manifest = file.ends_with(".manifest")
        || std::fs::read(&path).is_ok_and(|d| d.starts_with(b"file ") || d.starts_with(b"#"));
    if !is_manifest {
        println!("Start checking Old-Style AOF");
        if check_aof_file(&path, file, fix, true) {
            println!("AOF {file} is valid");
            return 0;
        }
        return 1;
    }
    println!("Start checking Multi Part AOF");
    let m = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| Manifest::parse(&t))
    {
        Ok(m) => m,
        Err(e) => {
            println!("Invalid AOF manifest {file}: {e}");
            return 1;
        }
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if let Some(b) = &m.base {
        let p = dir.join(&b.name);
        let rdb = std::fs::read(&p).is_ok_and(|d| d.starts_with(b"REDIS"));
        println!(
            "Start to check BASE AOF ({} format).",
            if rdb { "RDB" } else { "AOF" }
        );
        if !check_aof_file(&p, &b.name, fix, false) {
            return 1;
        }
        println!("BASE AOF {} is valid", b.name);
    }
    if !m.incrs.is_empty() {
        println!("Start to check INCR files.");
    }
    for (i, f) in m.incrs.iter().enumerate() {
        let last = i + 1 == m.incrs.len();
        if !check_aof_file(&dir.join(&f.name), &f.name, fix, last) {
            return 1;
        }
        println!("INCR AOF {} is valid", f.name);
    }
    println!("All AOF files and manifest are valid");
    0
}
