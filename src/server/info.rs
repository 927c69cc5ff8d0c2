//! INFO: sections and field names as Redis prints them, since dashboards and
//! exporters parse these exact names.

use std::fmt::Write;

use crate::config::D;
use crate::server::{now_ms, Server};

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_EXTRA: &[&str] = &["commandstats", "latencystats"];

/// Bytes allocated by the program, from the allocator.
pub fn used_memory() -> u64 {
    let _ = tikv_jemalloc_ctl::epoch::advance();
    tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) as u64
}

fn allocator_stat(f: fn() -> tikv_jemalloc_ctl::Result<usize>) -> u64 {
    f().unwrap_or(0) as u64
}

/// The memory figures INFO memory, MEMORY STATS and the metrics endpoint
/// share, read once.
pub struct MemFigures {
    pub used: u64,
    pub peak: u64,
    pub startup: u64,
    pub rss: u64,
    pub active: u64,
    pub resident: u64,
    /// Output and query buffers of normal clients.
    pub clients: u64,
}

pub fn memory_figures(srv: &Server) -> MemFigures {
    let used = used_memory();
    let peak = srv.peak_memory.get().max(used);
    srv.peak_memory.set(peak);
    let clients = srv
        .clients
        .values()
        .filter(|c| !c.replica.get())
        .map(|c| c.mem() as u64)
        .sum();
    MemFigures {
        used,
        peak,
        startup: srv.startup_memory,
        rss: rss(),
        active: allocator_stat(tikv_jemalloc_ctl::stats::active::read),
        resident: allocator_stat(tikv_jemalloc_ctl::stats::resident::read),
        clients,
    }
}

/// jemalloc's own statistics report (MEMORY MALLOC-STATS).
pub fn allocator_report() -> String {
    extern "C" fn write(opaque: *mut libc::c_void, msg: *const libc::c_char) {
        // Safety: `opaque` is the String passed below, alive for the call;
        // jemalloc passes NUL-terminated text.
        unsafe {
            let out = &mut *(opaque as *mut String);
            out.push_str(&std::ffi::CStr::from_ptr(msg).to_string_lossy());
        }
    }
    let mut out = String::new();
    // Safety: the callback only appends to `out` during this call.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(Some(write), &mut out as *mut String as *mut libc::c_void, std::ptr::null());
    }
    out
}

/// jemalloc's background thread (`jemalloc-bg-thread`), which hands pages
/// freed long ago back to the system even while the server sits idle, as
/// Redis's does; without it they stay resident until the next allocations.
pub fn set_allocator_bg_thread(on: bool) {
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(on) {
        tracing::warn!("Can't set jemalloc background_thread to {on}: {e}");
    }
}

/// Returns dirty pages of every arena to the system (MEMORY PURGE).
pub fn purge_allocator() {
    // 4096 is jemalloc's MALLCTL_ARENAS_ALL. Safety: a void mallctl with
    // no input or output.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"arena.4096.purge".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

pub fn rss() -> u64 {
    let page = 4096;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|x| x.parse::<u64>().ok())
        })
        .map(|p| p * page)
        .unwrap_or(0)
}

pub fn human(n: u64) -> String {
    let f = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if f < 1024.0 * 1024.0 {
        format!("{:.2}K", f / 1024.0)
    } else if f < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", f / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", f / 1024.0 / 1024.0 / 1024.0)
    }
}

fn cpu_times() -> (f64, f64) {
    // Safety: getrusage only writes into the struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        (t(ru.ru_stime), t(ru.ru_utime))
    }
}

fn uname() -> String {
    // Safety: uname fills the struct; fields are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "Linux".into();
        }
        let f = |x: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(x.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine))
    }
}

pub fn render(srv: &Server, asked: &[String]) -> String {
    let mut want: Vec<&str> = Vec::new();
    if asked.is_empty() {
        want.extend(DEFAULT);
    }
    for a in asked {
        match a.as_str() {
            "default" => want.extend(DEFAULT),
            // "all" leaves out sections generated by modules, not the
            // Modules section itself.
            "all" => {
                want.extend(DEFAULT);
                want.extend(ALL_EXTRA);
            }
            "everything" => {
                want.extend(DEFAULT);
                want.extend(ALL_EXTRA);
            }
            other => want.push(other),
        }
    }
    let order = [
        "server",
        "clients",
        "memory",
        "persistence",
        "stats",
        "replication",
        "cpu",
        "modules",
        "commandstats",
        "errorstats",
        "latencystats",
        "cluster",
        "keyspace",
    ];
    let mut out = String::new();
    for s in order.iter().filter(|s| want.contains(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        section(srv, s, &mut out);
    }
    out
}

macro_rules! field {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
        $out.push_str("\r\n");
    }};
}

fn section(srv: &Server, name: &str, o: &mut String) {
    let title = {
        let mut c = name.chars();
        match c.next() {
            Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
            None => String::new(),
        }
    };
    let title = match name {
        "cpu" => "CPU".to_string(),
        "commandstats" => "Commandstats".to_string(),
        _ => title,
    };
    o.push_str(&format!("# {title}\r\n"));
    let cfg = &srv.cfg;
    match name {
        "server" => {
            let up = srv.started.elapsed().as_secs();
            field!(o, "redis_version:{}", crate::REDIS_VERSION);
            field!(o, "redis_git_sha1:00000000");
            field!(o, "redis_git_dirty:0");
            field!(o, "redis_build_id:0");
            field!(o, "redust_version:{}", crate::REDUST_VERSION);
            field!(o, "server_name:redust");
            field!(o, "redis_mode:standalone");
            field!(o, "os:{}", uname());
            field!(o, "arch_bits:64");
            field!(o, "monotonic_clock:POSIX clock_gettime");
            field!(o, "multiplexing_api:epoll");
            field!(o, "atomicvar_api:c11-builtin");
            field!(o, "gcc_version:0.0.0");
            field!(o, "process_id:{}", std::process::id());
            field!(o, "process_supervised:no");
            field!(o, "run_id:{}", srv.run_id);
            field!(o, "tcp_port:{}", srv.bound_port);
            field!(o, "server_time_usec:{}", now_ms() * 1000);
            field!(o, "uptime_in_seconds:{up}");
            field!(o, "uptime_in_days:{}", up / 86400);
            field!(o, "hz:{}", cfg.int(D::HZ));
            field!(o, "configured_hz:{}", cfg.int(D::HZ));
            field!(o, "lru_clock:{}", crate::db::lru_clock(now_ms()) & 0xFFFFFF);
            field!(o, "executable:{}", srv.executable);
            field!(
                o,
                "config_file:{}",
                srv.config_file.as_deref().unwrap_or("")
            );
            field!(o, "io_threads_active:0");
        }
        "clients" => {
            field!(o, "connected_clients:{}", srv.clients.len());
            field!(o, "cluster_connections:0");
            field!(o, "maxclients:{}", cfg.int(D::MAXCLIENTS));
            let (max_in, max_out) = srv.clients_recent_max();
            field!(o, "client_recent_max_input_buffer:{max_in}");
            field!(o, "client_recent_max_output_buffer:{max_out}");
            // Clients held by CLIENT PAUSE count as blocked, as in Redis.
            let blocked = srv.clients.values().filter(|c| c.blocked.borrow().is_some() || c.paused.get()).count();
            field!(o, "blocked_clients:{blocked}");
            field!(o, "tracking_clients:{}", srv.tracking.clients);
            field!(o, "pubsub_clients:{}", srv.clients.values().filter(|c| c.in_pubsub()).count());
            field!(o, "watching_clients:0");
            field!(o, "clients_in_timeout_table:0");
            field!(o, "total_watched_keys:0");
            field!(o, "total_blocking_keys:{}", srv.blocking.len());
            field!(o, "total_blocking_keys_on_nokey:0");
        }
        "memory" => {
            let m = memory_figures(srv);
            let (used, rss, peak, active, resident) = (m.used, m.rss, m.peak, m.active, m.resident);
            let maxmem = cfg.int(D::MAXMEMORY) as u64;
            let sysmem = unsafe {
                libc::sysconf(libc::_SC_PHYS_PAGES) as u64
                    * libc::sysconf(libc::_SC_PAGESIZE) as u64
            };
            field!(o, "used_memory:{used}");
            field!(o, "used_memory_human:{}", human(used));
            field!(o, "used_memory_rss:{rss}");
            field!(o, "used_memory_rss_human:{}", human(rss));
            field!(o, "used_memory_peak:{peak}");
            field!(o, "used_memory_peak_human:{}", human(peak));
            field!(
                o,
                "used_memory_peak_perc:{:.2}%",
                if peak > 0 {
                    used as f64 * 100.0 / peak as f64
                } else {
                    100.0
                }
            );
            field!(o, "used_memory_overhead:{}", srv.startup_memory);
            field!(o, "used_memory_startup:{}", srv.startup_memory);
            let dataset = used.saturating_sub(srv.startup_memory);
            field!(o, "used_memory_dataset:{dataset}");
            field!(
                o,
                "used_memory_dataset_perc:{:.2}%",
                if used > 0 {
                    dataset as f64 * 100.0 / used as f64
                } else {
                    0.0
                }
            );
            field!(o, "allocator_allocated:{used}");
            field!(o, "allocator_active:{active}");
            field!(o, "allocator_resident:{resident}");
            field!(o, "total_system_memory:{sysmem}");
            field!(o, "total_system_memory_human:{}", human(sysmem));
            let sc = &srv.scripting;
            let lua_mem = sc.eval_memory().max(31744);
            field!(o, "used_memory_lua:{lua_mem}");
            field!(o, "used_memory_vm_eval:{lua_mem}");
            field!(o, "used_memory_lua_human:{}", human(lua_mem as u64));
            field!(o, "used_memory_scripts_eval:{}", sc.scripts_bytes());
            field!(o, "number_of_cached_scripts:{}", sc.script_count());
            field!(o, "number_of_functions:{}", sc.functions.function_count());
            field!(o, "number_of_libraries:{}", sc.functions.libs.len());
            field!(o, "used_memory_vm_functions:32768");
            field!(o, "used_memory_vm_total:64512");
            field!(o, "used_memory_vm_total_human:63.00K");
            field!(o, "used_memory_functions:184");
            field!(o, "used_memory_scripts:184");
            field!(o, "used_memory_scripts_human:184B");
            field!(o, "maxmemory:{maxmem}");
            field!(o, "maxmemory_human:{}", human(maxmem));
            field!(o, "maxmemory_policy:{}", cfg.str(D::MAXMEMORY_POLICY));
            field!(
                o,
                "allocator_frag_ratio:{:.2}",
                if used > 0 {
                    active as f64 / used as f64
                } else {
                    1.0
                }
            );
            field!(o, "allocator_frag_bytes:{}", active.saturating_sub(used));
            field!(
                o,
                "allocator_rss_ratio:{:.2}",
                if active > 0 {
                    resident as f64 / active as f64
                } else {
                    1.0
                }
            );
            field!(o, "allocator_rss_bytes:{}", resident.saturating_sub(active));
            field!(
                o,
                "rss_overhead_ratio:{:.2}",
                if resident > 0 {
                    rss as f64 / resident as f64
                } else {
                    1.0
                }
            );
            field!(o, "rss_overhead_bytes:{}", rss as i64 - resident as i64);
            field!(
                o,
                "mem_fragmentation_ratio:{:.2}",
                if used > 0 {
                    rss as f64 / used as f64
                } else {
                    1.0
                }
            );
            field!(o, "mem_fragmentation_bytes:{}", rss as i64 - used as i64);
            field!(o, "mem_not_counted_for_evict:0");
            field!(o, "mem_replication_backlog:0");
            field!(o, "mem_total_replication_buffers:0");
            field!(o, "mem_clients_slaves:0");
            field!(o, "mem_clients_normal:{}", m.clients);
            field!(o, "mem_cluster_links:0");
            field!(o, "mem_aof_buffer:{}", srv.aof.buf.capacity());
            field!(o, "mem_allocator:jemalloc-5.3.0");
            field!(o, "active_defrag_running:0");
            field!(o, "lazyfree_pending_objects:0");
            field!(o, "lazyfreed_objects:0");
        }
        "persistence" => {
            field!(o, "loading:{}", srv.is_loading() as u8);
            field!(o, "async_loading:0");
            // The snapshot's copy-on-write is the bytes it holds for its writer.
            let w = srv.persist.walk.as_ref();
            let (peak, done, total) = w.map_or((0, 0, 0), |w| (w.peak_bytes, w.keys_done, w.keys_total));
            field!(o, "current_cow_peak:{peak}");
            field!(o, "current_cow_size:{peak}");
            field!(o, "current_cow_size_age:{}", w.map_or(0, |w| w.elapsed().as_secs()));
            field!(o, "current_fork_perc:{:.2}", if total > 0 { done as f64 * 100.0 / total as f64 } else { 0.0 });
            field!(o, "current_save_keys_processed:{done}");
            field!(o, "current_save_keys_total:{total}");
            field!(o, "rdb_changes_since_last_save:{}", srv.dirty);
            // A full sync's snapshot counts, as Redis's RDB child does.
            let bgsave = srv.persist.bgsave.is_some() || srv.repl.sync.is_some();
            field!(o, "rdb_bgsave_in_progress:{}", bgsave as u8);
            field!(o, "rdb_last_save_time:{}", srv.last_save);
            field!(o, "rdb_last_bgsave_status:{}", if srv.persist.last_bgsave_ok { "ok" } else { "err" });
            field!(o, "rdb_last_bgsave_time_sec:{}", srv.persist.last_bgsave_secs);
            field!(o, "rdb_current_bgsave_time_sec:{}", srv.bgsave_secs());
            field!(o, "rdb_saves:{}", srv.persist.saves);
            field!(o, "rdb_last_cow_size:{}", srv.persist.last_cow_size);
            field!(o, "rdb_last_load_keys_expired:0");
            field!(o, "rdb_last_load_keys_loaded:0");
            srv.aof_info(o);
            srv.loading_info(o);
        }
        "stats" => {
            let st = &srv.stats;
            field!(o, "total_connections_received:{}", st.total_connections);
            field!(o, "total_commands_processed:{}", st.total_commands);
            field!(
                o,
                "instantaneous_ops_per_sec:{}",
                srv.ops_sampler.borrow().rate(0)
            );
            field!(o, "total_net_input_bytes:{}", st.net_input_bytes);
            field!(o, "total_net_output_bytes:{}", st.net_output_bytes);
            field!(o, "total_net_repl_input_bytes:{}", srv.repl.link.net_in);
            field!(o, "total_net_repl_output_bytes:0");
            field!(
                o,
                "instantaneous_input_kbps:{:.2}",
                srv.ops_sampler.borrow().rate(1) as f64 / 1024.0
            );
            field!(
                o,
                "instantaneous_output_kbps:{:.2}",
                srv.ops_sampler.borrow().rate(2) as f64 / 1024.0
            );
            field!(o, "instantaneous_input_repl_kbps:0.00");
            field!(o, "instantaneous_output_repl_kbps:0.00");
            field!(o, "rejected_connections:{}", st.rejected_connections);
            let sync = srv.repl.stats;
            field!(o, "sync_full:{}", sync.full);
            field!(o, "sync_partial_ok:{}", sync.partial_ok);
            field!(o, "sync_partial_err:{}", sync.partial_err);
            field!(o, "expired_keys:{}", srv.ks.expired_keys());
            field!(o, "expired_stale_perc:0.00");
            field!(o, "expired_time_cap_reached_count:0");
            field!(
                o,
                "expire_cycle_cpu_milliseconds:{}",
                st.expire_cycle_time_used_ms
            );
            field!(o, "evicted_keys:{}", srv.stats.evicted_keys);
            field!(o, "evicted_clients:{}", st.evicted_clients);
            field!(o, "total_eviction_exceeded_time:0");
            field!(o, "current_eviction_exceeded_time:0");
            field!(o, "keyspace_hits:{}", st.keyspace_hits);
            field!(o, "keyspace_misses:{}", st.keyspace_misses);
            field!(o, "pubsub_channels:{}", srv.pubsub.channels.len());
            field!(o, "pubsub_patterns:{}", srv.pubsub.patterns.len());
            field!(o, "pubsubshard_channels:{}", srv.pubsub.shard_channels.len());
            field!(o, "latest_fork_usec:0");
            field!(o, "total_forks:0");
            field!(o, "migrate_cached_sockets:0");
            field!(o, "slave_expires_tracked_keys:0");
            field!(o, "active_defrag_hits:0");
            field!(o, "active_defrag_misses:0");
            field!(o, "active_defrag_key_hits:0");
            field!(o, "active_defrag_key_misses:0");
            field!(o, "total_active_defrag_time:0");
            field!(o, "current_active_defrag_time:0");
            field!(o, "tracking_total_keys:{}", srv.tracking.keys.len());
            field!(o, "tracking_total_items:{}", srv.tracking.items());
            field!(o, "tracking_total_prefixes:{}", srv.tracking.prefixes.len());
            field!(
                o,
                "unexpected_error_replies:{}",
                st.unexpected_error_replies
            );
            field!(o, "total_error_replies:{}", st.total_error_replies);
            field!(o, "dump_payload_sanitizations:0");
            field!(o, "total_reads_processed:{}", st.total_reads);
            field!(o, "total_writes_processed:{}", st.total_writes);
            field!(o, "io_threaded_reads_processed:0");
            field!(o, "io_threaded_writes_processed:0");
            field!(o, "reply_buffer_shrinks:0");
            field!(o, "reply_buffer_expands:0");
            field!(o, "eventloop_cycles:0");
            field!(o, "eventloop_duration_sum:0");
            field!(o, "eventloop_duration_cmd_sum:0");
            field!(o, "instantaneous_eventloop_cycles_per_sec:0");
            field!(o, "instantaneous_eventloop_duration_usec:0");
            field!(o, "acl_access_denied_auth:0");
            field!(o, "acl_access_denied_cmd:0");
            field!(o, "acl_access_denied_key:0");
            field!(o, "acl_access_denied_channel:0");
        }
        "replication" => srv.repl_info(o),
        "cpu" => {
            let (sys, user) = cpu_times();
            field!(o, "used_cpu_sys:{sys:.6}");
            field!(o, "used_cpu_user:{user:.6}");
            field!(o, "used_cpu_sys_children:0.000000");
            field!(o, "used_cpu_user_children:0.000000");
            field!(o, "used_cpu_sys_main_thread:{sys:.6}");
            field!(o, "used_cpu_user_main_thread:{user:.6}");
        }
        "modules" => {}
        "latencystats" => {
            let percentiles: Vec<f64> = cfg
                .str(D::LATENCY_TRACKING_INFO_PERCENTILES)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            let mut names: Vec<_> = srv.cmd_stats.iter().filter_map(|(n, s)| Some((*n, s.hist.as_ref()?))).collect();
            names.sort_by_key(|(n, _)| *n);
            for (n, h) in names {
                let list: Vec<String> = percentiles
                    .iter()
                    .map(|&p| format!("{}={:.3}", super::latency::percentile_label(p), h.percentile(p) as f64 / 1000.0))
                    .collect();
                field!(o, "latency_percentiles_usec_{n}:{}", list.join(","));
            }
        }
        "commandstats" => {
            let mut names: Vec<_> = srv.cmd_stats.iter().collect();
            names.sort_by_key(|(n, _)| **n);
            for (n, s) in names {
                let per = if s.calls > 0 {
                    s.usec as f64 / s.calls as f64
                } else {
                    0.0
                };
                field!(
                    o,
                    "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}",
                    n,
                    s.calls,
                    s.usec,
                    per,
                    s.rejected,
                    s.failed
                );
            }
        }
        "errorstats" => {
            for (code, n) in &srv.error_stats {
                field!(o, "errorstat_{code}:count={n}");
            }
        }
        "cluster" => field!(o, "cluster_enabled:0"),
        "keyspace" => {
            let now = now_ms();
            for (i, db) in srv.ks.dbs.iter().enumerate() {
                if db.is_empty() {
                    continue;
                }
                let n = db.expires().len().min(64);
                let mut sum = 0i64;
                let mut cnt = 0i64;
                for (_, &at) in db.expires().iter().take(n) {
                    if at > now {
                        sum += at - now;
                        cnt += 1;
                    }
                }
                let avg = if cnt > 0 { sum / cnt } else { 0 };
                field!(
                    o,
                    "db{i}:keys={},expires={},avg_ttl={avg}",
                    db.len(),
                    db.expires().len()
                );
            }
        }
        _ => {}
    }
}
