//! Loading the AOF at start-up: the manifest, then the base (an RDB image,
//! possibly followed by commands, or commands only), then each
//! incremental file, replayed command by command through the normal
//! executor as a client of its own.
//!
//! Replay runs with the clock at zero, so that no key counts as expired
//! while the log is replayed (a later command may act on a key as it was
//! then, as Redis does while loading); keys whose absolute expiry has
//! passed go away through normal expiry afterwards.
//!
//! A last file cut in the middle of a command (a crash during a write) is
//! loaded up to the last whole command when `aof-load-truncated yes`, and
//! the cut tail is removed so that new commands follow a whole one. Damage
//! anywhere else stops start-up naming the file and the offset.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;

use crate::config::D;
use crate::resp::Out;
use crate::server::{exec, Client, Server};

use super::manifest::Manifest;

#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The data ends inside a command.
    Truncated,
    /// Not a RESP multibulk: what was wrong.
    Bad(&'static str),
}

fn line(data: &[u8], pos: usize) -> Result<(&[u8], usize), ParseError> {
    let rest = data.get(pos..).ok_or(ParseError::Truncated)?;
    let nl = memchr::memchr(b'\n', rest).ok_or(ParseError::Truncated)?;
    if nl == 0 || rest[nl - 1] != b'\r' {
        return Err(ParseError::Bad("line not ending in CRLF"));
    }
    Ok((&rest[..nl - 1], pos + nl + 1))
}

fn count(l: &[u8], prefix: u8, what: &'static str) -> Result<usize, ParseError> {
    if l.first() != Some(&prefix) {
        return Err(ParseError::Bad(what));
    }
    crate::util::num::parse_i64(&l[1..])
        .filter(|n| *n >= 0 && *n <= i32::MAX as i64)
        .map(|n| n as usize)
        .ok_or(ParseError::Bad(what))
}

/// The command starting at `pos`: its arguments and where the next one
/// starts; None at the end of the data.
pub fn next_command(
    data: &[u8],
    mut pos: usize,
) -> Result<Option<(Vec<Bytes>, usize)>, ParseError> {
    // Annotation lines ("#TS:<unix time>" from aof-timestamp-enabled, here
    // or in Redis 7) are not commands.
    while data.get(pos) == Some(&b'#') {
        pos = line(data, pos)?.1;
    }
    if pos >= data.len() {
        return Ok(None);
    }
    let (l, mut p) = line(data, pos)?;
    let argc = count(l, b'*', "expected '*'")?;
    if argc == 0 {
        return Err(ParseError::Bad("empty command"));
    }
    let mut argv = Vec::with_capacity(argc.min(1024));
    for _ in 0..argc {
        let (l, q) = line(data, p)?;
        let n = count(l, b'$', "expected '$'")?;
        let end = q.checked_add(n).ok_or(ParseError::Truncated)?;
        let arg = data.get(q..end).ok_or(ParseError::Truncated)?;
        match data.get(end..end + 2) {
            Some(b"\r\n") => {}
            Some(_) => return Err(ParseError::Bad("argument not ending in CRLF")),
            None => return Err(ParseError::Truncated),
        }
        argv.push(Bytes::copy_from_slice(arg));
        p = end + 2;
    }
    Ok(Some((argv, p)))
}

/// How far the commands in `data` from `start` are whole: the offset after
/// the last whole command (not inside an unfinished MULTI), the commands
/// counted, and the problem that stopped the scan, if any.
pub struct Scan {
    pub ok_up_to: usize,
    pub commands: usize,
    pub error: Option<(usize, ParseError)>,
}

pub fn scan(data: &[u8], start: usize) -> Scan {
    let mut pos = start;
    let mut ok_up_to = start;
    let mut commands = 0;
    let mut in_multi = false;
    loop {
        match next_command(data, pos) {
            Ok(None) => {
                let error = in_multi.then_some((ok_up_to, ParseError::Truncated));
                return Scan {
                    ok_up_to,
                    commands,
                    error,
                };
            }
            Ok(Some((argv, next))) => {
                commands += 1;
                if argv[0].eq_ignore_ascii_case(b"multi") {
                    in_multi = true;
                } else if argv[0].eq_ignore_ascii_case(b"exec") {
                    in_multi = false;
                }
                pos = next;
                if !in_multi {
                    ok_up_to = pos;
                }
            }
            Err(e) => {
                return Scan {
                    ok_up_to,
                    commands,
                    error: Some((pos, e)),
                }
            }
        }
    }
}

impl Server {
    /// A Redis 6 AOF (one file, named appendfilename, in `dir`) and no
    /// manifest: the file becomes the base of a multi-part AOF, moved into
    /// the AOF directory, as Redis 7 does on its first start. The move comes
    /// before the manifest, so a crash between the two finds the file in
    /// the directory and only the manifest is written next time.
    pub fn aof_upgrade_single_file(&mut self) -> Result<(), String> {
        if self.aof_manifest_path().exists() {
            return Ok(());
        }
        let name = self.aof_prefix();
        let dir = self.aof_dir();
        let (old, moved) = (std::path::PathBuf::from(&name), dir.join(&name));
        if old.is_file() {
            std::fs::create_dir_all(&dir)
                .and_then(|_| std::fs::rename(&old, &moved))
                .map_err(|e| {
                    format!(
                        "Can't move the old-style AOF file {name} into {}: {e}",
                        dir.display()
                    )
                })?;
        } else if !moved.is_file() {
            return Ok(());
        }
        let m = Manifest {
            base: Some(super::manifest::FileEntry {
                name: name.clone(),
                seq: 1,
            }),
            ..Default::default()
        };
        self.write_manifest(&m)?;
        tracing::info!(
            "Successfully migrated an old-style AOF file ({name}) into the AOF directory ({}).",
            dir.display()
        );
        Ok(())
    }

    /// Reads the manifest if there is one (also with appendonly no, so
    /// that switching on later continues the numbering).
    pub fn aof_read_manifest(&mut self) -> Result<(), String> {
        let path = self.aof_manifest_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                self.aof.manifest = Manifest::parse(&text)?;
                Ok(())
            }
            // No directory, or something else under its name: no AOF yet
            // (turning it on will say what is in the way).
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(format!(
                "Can't read the AOF manifest {}: {e}",
                path.display()
            )),
        }
    }
}

/// Commands replayed per slice.
const SLICE_COMMANDS: usize = 1024;

/// Start-up with appendonly yes: loads every file the manifest lists, a
/// slice at a time (clients get LOADING meanwhile, see `persist::loading`).
pub async fn aof_load(srv: &Rc<RefCell<Server>>) -> Result<(), String> {
    srv.borrow_mut().aof_upgrade_single_file()?;
    srv.borrow_mut().aof_read_manifest()?;
    let m = srv.borrow().aof.manifest.clone();
    if m.is_empty() {
        return Ok(());
    }
    let start = Instant::now();
    let client = Rc::new(Client::new(0, "aof".into(), String::new(), -1, false));
    client.authenticated.set(true);
    let files: Vec<_> = m.files().cloned().collect();
    let dir = srv.borrow().aof_dir();
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(dir.join(&f.name)).map_or(0, |m| m.len()))
        .collect();
    srv.borrow_mut().loading_begin(sizes.iter().sum());
    srv.borrow_mut().loading = true;
    let mut res = Ok(());
    let mut total = 0usize;
    let mut before = 0u64;
    for (i, f) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let is_base = m.base.as_ref() == Some(f);
        match aof_load_file(srv, &client, &f.name, is_base, last, before).await {
            Ok(n) => total += n,
            Err(e) => {
                res = Err(e);
                break;
            }
        }
        before += sizes[i];
    }
    let mut s = srv.borrow_mut();
    s.loading = false;
    res?;
    // Replay ran at clock zero: give the keys a fresh access time, as
    // an RDB load does, or they would all look idle since 1970.
    let now = crate::server::now_ms();
    for db in s.ks.dbs.iter_mut() {
        let keys: Vec<Vec<u8>> = db.dict().iter().map(|(k, _)| k.to_vec()).collect();
        for k in keys {
            if let Some(e) = db.entry_mut(&k) {
                e.lru = crate::db::access::fresh(now);
            }
        }
    }
    // Loading is not client traffic.
    s.stats = Default::default();
    s.cmd_stats.clear();
    s.error_stats.clear();
    s.dirty = 0;
    tracing::info!(
        "DB loaded from append only file: {:.3} seconds ({total} commands, {} keys)",
        start.elapsed().as_secs_f64(),
        s.ks.total_keys()
    );
    Ok(())
}

/// Loads one file; returns the number of commands replayed. `before`:
/// bytes of the files loaded before this one.
async fn aof_load_file(
    srv: &Rc<RefCell<Server>>,
    client: &Rc<Client>,
    name: &str,
    is_base: bool,
    last: bool,
    before: u64,
) -> Result<usize, String> {
    let path = srv.borrow().aof_dir().join(name);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        // Redis tolerates a missing empty last incr file.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && last && !is_base => return Ok(0),
        Err(e) => {
            return Err(format!(
                "Fatal error: can't open the append log file {name} for reading: {e}"
            ))
        }
    };
    let mut pos = 0;
    if data.starts_with(b"REDIS") {
        if !is_base {
            return Err(format!("Bad file format reading the append only file {name}: an RDB image in an incremental file"));
        }
        tracing::info!("Reading RDB base file on AOF loading...");
        let st = crate::persist::loading::load_rdb_sliced(srv, &data, Some(0), before)
            .await
            .map_err(|e| format!("Bad file format reading the AOF base file {name}: {e}"))?;
        srv.borrow_mut()
            .scripting
            .functions
            .load_all(&st.functions)?;
        tracing::info!("Loading RDB produced by version {}", crate::REDIS_VERSION);
        pos = st.consumed;
    }
    let sc = scan(&data, pos);
    if let Some((at, e)) = &sc.error {
        match e {
            ParseError::Truncated if last && srv.borrow().cfg.bool(D::AOF_LOAD_TRUNCATED) => {
                tracing::warn!("!!! Warning: short read while loading the AOF file {name}!!!");
                tracing::warn!(
                    "!!! Truncating the AOF {name} at offset {} !!!",
                    sc.ok_up_to
                );
                let f = std::fs::OpenOptions::new().write(true).open(&path);
                if let Err(e) = f.and_then(|f| f.set_len(sc.ok_up_to as u64)) {
                    return Err(format!("Error truncating the AOF file {name}: {e}"));
                }
                tracing::warn!("AOF {name} loaded anyway because aof-load-truncated is enabled");
            }
            ParseError::Truncated => {
                return Err(format!(
                    "Unexpected end of file reading the append only file {name} (offset {}). You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                    at
                ));
            }
            ParseError::Bad(why) => {
                return Err(format!(
                    "Bad file format reading the append only file {name} at offset {at} ({why}): make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"
                ));
            }
        }
    }
    let mut out = Out::new(false);
    let mut n = 0;
    while pos < sc.ok_up_to {
        let mut s = srv.borrow_mut();
        for _ in 0..SLICE_COMMANDS {
            if pos >= sc.ok_up_to {
                break;
            }
            let Ok(Some((argv, next))) = next_command(&data, pos) else {
                pos = sc.ok_up_to;
                break;
            };
            if crate::server::exec::resolve(&argv).is_err() {
                return Err(format!(
                    "Unknown command '{}' reading the append only file {name} at offset {pos}",
                    String::from_utf8_lossy(&argv[0])
                ));
            }
            exec::execute(&mut *s, client, &mut out, &argv, 0);
            out.buf.clear();
            pos = next;
            n += 1;
        }
        s.loading_progress(before + pos as u64);
        drop(s);
        tokio::task::yield_now().await;
    }
    *client.multi.borrow_mut() = None;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_whole_commands() {
        let d = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n";
        let s = scan(d, 0);
        assert_eq!((s.ok_up_to, s.commands, s.error), (d.len(), 2, None));
        let cut = &d[..d.len() - 3];
        let s = scan(cut, 0);
        assert_eq!(s.ok_up_to, 23);
        assert_eq!(s.error.map(|e| e.1), Some(ParseError::Truncated));
        let multi = b"*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nincr\r\n$1\r\na\r\n";
        let s = scan(multi, 0);
        assert_eq!(s.ok_up_to, 0);
        assert!(matches!(
            scan(b"+OK\r\n", 0).error,
            Some((0, ParseError::Bad(_)))
        ));
    }
}
