//! Loading the dataset at start-up while the listeners already accept
//! clients: the RDB file (or the AOF) is loaded in slices with a yield to
//! the connections in between, and until it is done commands without the
//! `loading` flag are answered `-LOADING` (INFO, AUTH, ... still work, and
//! INFO persistence shows the progress). The log shows it too, once a
//! second.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::rdb;
use crate::config::D;
use crate::server::{now_ms, Server};

/// Records loaded per slice.
const SLICE_RECORDS: usize = 2048;

/// A load under way (INFO persistence).
pub struct Loading {
    started_unix: i64,
    started: Instant,
    total: u64,
    loaded: u64,
    last_log: Instant,
    /// The `used-mem` AUX field of the image being loaded.
    rdb_used_mem: u64,
}

impl Server {
    pub fn loading_begin(&mut self, total: u64) {
        let now = Instant::now();
        tracing::info!("Loading the dataset from disk ({total} bytes)");
        self.persist.loading = Some(Loading {
            started_unix: now_ms() / 1000,
            started: now,
            total,
            loaded: 0,
            last_log: now,
            rdb_used_mem: 0,
        });
    }

    pub fn loading_progress(&mut self, loaded: u64) {
        if let Some(l) = &mut self.persist.loading {
            l.loaded = loaded;
            if l.last_log.elapsed() >= Duration::from_secs(1) {
                l.last_log = Instant::now();
                tracing::info!(
                    "Loading the dataset: {} of {} bytes ({:.2}%)",
                    l.loaded,
                    l.total,
                    perc(l)
                );
            }
        }
    }

    pub fn loading_end(&mut self) {
        self.persist.loading = None;
    }

    /// Whether start-up loading refuses commands without the `loading` flag.
    pub fn is_loading(&self) -> bool {
        self.persist.loading.is_some()
    }

    /// The loading_* fields of INFO persistence, while loading.
    pub fn loading_info(&self, o: &mut String) {
        use std::fmt::Write;
        let Some(l) = &self.persist.loading else {
            return;
        };
        let secs = l.started.elapsed().as_secs_f64();
        let eta = if l.loaded > 0 {
            ((l.total.saturating_sub(l.loaded)) as f64 * secs / l.loaded as f64) as i64
        } else {
            1
        };
        let _ = write!(
            o,
            "loading_start_time:{}\r\nloading_total_bytes:{}\r\nloading_rdb_used_mem:{}\r\nloading_loaded_bytes:{}\r\nloading_loaded_perc:{:.2}\r\nloading_eta_seconds:{}\r\n",
            l.started_unix,
            l.total,
            l.rdb_used_mem,
            l.loaded,
            perc(l),
            eta
        );
    }

    /// Turns keyspace events off for a load (Redis fires none either) and
    /// returns what to restore.
    pub fn events_off(&mut self) -> Vec<u8> {
        self.ks
            .dbs
            .iter_mut()
            .map(|d| std::mem::take(&mut d.log_events))
            .collect()
    }

    pub fn events_on(&mut self, saved: Vec<u8>) {
        for (d, l) in self.ks.dbs.iter_mut().zip(saved) {
            d.log_events = l;
        }
    }

    /// The end of an RDB load: the function libraries, and the log line.
    pub fn rdb_loaded(&mut self, st: rdb::LoadStats, start: Instant) -> Result<(), String> {
        self.scripting.functions.load_all(&st.functions)?;
        self.replica_note_rdb_aux(&st.aux);
        tracing::info!(
            "DB loaded from disk: {:.3} seconds ({} keys, {} expired keys skipped)",
            start.elapsed().as_secs_f64(),
            st.keys,
            st.expired_skipped
        );
        Ok(())
    }
}

fn perc(l: &Loading) -> f64 {
    if l.total == 0 {
        0.0
    } else {
        l.loaded as f64 * 100.0 / l.total as f64
    }
}

/// Loads `data`, an RDB image, a slice at a time; `base` is how many bytes
/// of the whole load came before it (for the progress figures).
pub async fn load_rdb_sliced(
    srv: &Rc<RefCell<Server>>,
    data: &[u8],
    now: Option<i64>,
    base: u64,
) -> Result<rdb::LoadStats, String> {
    let lim = srv.borrow().type_limits();
    let mut loader = rdb::Loader::new(data)?;
    let saved = srv.borrow_mut().events_off();
    let res = loop {
        let mut s = srv.borrow_mut();
        let r = loader.step(&mut s.ks, now.unwrap_or_else(now_ms), &lim, SLICE_RECORDS);
        s.loading_progress(base + loader.pos() as u64);
        if let Some(l) = s.persist.loading.as_mut().filter(|l| l.rdb_used_mem == 0) {
            let mem = loader
                .aux(b"used-mem")
                .and_then(|v| std::str::from_utf8(v).ok());
            l.rdb_used_mem = mem.and_then(|v| v.parse().ok()).unwrap_or(0);
        }
        drop(s);
        match r {
            Ok(Some(st)) => break Ok(st),
            Ok(None) => tokio::task::yield_now().await,
            // Where the reading stopped tells a truncated file (the end)
            // from damage in the middle.
            Err(e) => {
                break Err(format!(
                    "{e} (at byte {} of {} bytes)",
                    loader.pos(),
                    data.len()
                ))
            }
        }
    };
    srv.borrow_mut().events_on(saved);
    res
}

/// Start-up: the AOF when appendonly is on (it alone holds the dataset,
/// as in Redis), else the RDB file.
pub async fn load_at_startup(srv: &Rc<RefCell<Server>>) -> Result<(), String> {
    let aof = srv.borrow().cfg.bool(D::APPENDONLY);
    let res = if aof {
        match super::aof::load::aof_load(srv).await {
            Ok(()) => srv.borrow_mut().aof_open_at_start(),
            Err(e) => Err(e),
        }
    } else {
        match load_rdb(srv).await {
            Ok(()) => srv.borrow_mut().aof_read_manifest(),
            Err(e) => {
                // What went wrong, then one line to look for, as Redis.
                tracing::warn!("{e}");
                Err("Fatal error loading the DB, check server logs. Exiting.".into())
            }
        }
    };
    srv.borrow_mut().loading_end();
    res
}

async fn load_rdb(srv: &Rc<RefCell<Server>>) -> Result<(), String> {
    let path = srv.borrow().rdb_path();
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("Fatal error loading the DB: {e}. Exiting.")),
    };
    let start = Instant::now();
    srv.borrow_mut().loading_begin(data.len() as u64);
    let st = load_rdb_sliced(srv, &data, None, 0).await?;
    srv.borrow_mut().rdb_loaded(st, start)
}
