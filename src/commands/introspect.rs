//! Introspection commands for operators: SLOWLOG, LATENCY, MONITOR and
//! MEMORY. The data they show is gathered in `server::observe` (slow log,
//! latency monitor, MONITOR feed) and `server::info` (memory figures).

use bytes::Bytes;

use super::{
    cmd, container, int_arg, is, Command, Keys, ADMIN, LOADING, NOSCRIPT, NO_KEYS, READONLY, STALE,
};
use crate::config::D;
use crate::db::Value;
use crate::errors::{CmdResult, Error};
use crate::server::info;
use crate::server::Ctx;

const G: &str = "server";
const LS: u32 = LOADING | STALE;
const ADM: u32 = ADMIN | NOSCRIPT | LS;

pub static COMMANDS: &[Command] = &[
    container(
        "slowlog",
        0,
        G,
        "2.2.12",
        "A container for slow log commands.",
        SLOWLOG_SUBS,
    ),
    container(
        "latency",
        0,
        G,
        "2.8.13",
        "A container for latency diagnostics commands.",
        LATENCY_SUBS,
    ),
    container(
        "memory",
        0,
        G,
        "4.0.0",
        "A container for memory diagnostics commands.",
        MEMORY_SUBS,
    ),
    cmd(
        "monitor",
        1,
        ADM,
        NO_KEYS,
        0,
        monitor,
        G,
        "1.0.0",
        "Listens for all requests received by the server in real-time.",
    ),
];

static SLOWLOG_SUBS: &[Command] = &[
    cmd(
        "slowlog|get",
        -2,
        ADMIN | LS,
        NO_KEYS,
        0,
        slowlog_get,
        G,
        "2.2.12",
        "Returns the slow log's entries.",
    ),
    cmd(
        "slowlog|len",
        2,
        ADMIN | LS,
        NO_KEYS,
        0,
        slowlog_len,
        G,
        "2.2.12",
        "Returns the number of entries in the slow log.",
    ),
    cmd(
        "slowlog|reset",
        2,
        ADMIN | LS,
        NO_KEYS,
        0,
        slowlog_reset,
        G,
        "2.2.12",
        "Clears all entries from the slow log.",
    ),
    cmd(
        "slowlog|help",
        2,
        LS,
        NO_KEYS,
        0,
        slowlog_help,
        G,
        "6.2.0",
        "Show helpful text about the different subcommands",
    ),
];

static LATENCY_SUBS: &[Command] = &[
    cmd(
        "latency|latest",
        2,
        ADM,
        NO_KEYS,
        0,
        latency_latest,
        G,
        "2.8.13",
        "Returns the latest latency samples for all events.",
    ),
    cmd(
        "latency|history",
        3,
        ADM,
        NO_KEYS,
        0,
        latency_history,
        G,
        "2.8.13",
        "Returns timestamp-latency samples for an event.",
    ),
    cmd(
        "latency|reset",
        -2,
        ADM,
        NO_KEYS,
        0,
        latency_reset,
        G,
        "2.8.13",
        "Resets the latency data for one or more events.",
    ),
    cmd(
        "latency|doctor",
        2,
        ADM,
        NO_KEYS,
        0,
        latency_doctor,
        G,
        "2.8.13",
        "Returns a human-readable latency analysis report.",
    ),
    cmd(
        "latency|graph",
        3,
        ADM,
        NO_KEYS,
        0,
        latency_graph,
        G,
        "2.8.13",
        "Returns a latency graph for an event.",
    ),
    cmd(
        "latency|histogram",
        -2,
        ADM,
        NO_KEYS,
        0,
        latency_histogram,
        G,
        "7.0.0",
        "Returns the cumulative distribution of latencies of a subset or all commands.",
    ),
    cmd(
        "latency|help",
        2,
        LS,
        NO_KEYS,
        0,
        latency_help,
        G,
        "2.8.13",
        "Returns helpful text about the different subcommands.",
    ),
];

static MEMORY_SUBS: &[Command] = &[
    cmd(
        "memory|usage",
        -3,
        READONLY,
        Keys {
            first: 2,
            last: 2,
            step: 1,
        },
        0,
        memory_usage,
        G,
        "4.0.0",
        "Estimates the memory usage of a key.",
    ),
    cmd(
        "memory|stats",
        2,
        0,
        NO_KEYS,
        0,
        memory_stats,
        G,
        "4.0.0",
        "Returns details about memory usage.",
    ),
    cmd(
        "memory|doctor",
        2,
        0,
        NO_KEYS,
        0,
        memory_doctor,
        G,
        "4.0.0",
        "Outputs a memory problems report.",
    ),
    cmd(
        "memory|malloc-stats",
        2,
        0,
        NO_KEYS,
        0,
        memory_malloc_stats,
        G,
        "4.0.0",
        "Returns the allocator statistics.",
    ),
    cmd(
        "memory|purge",
        2,
        0,
        NO_KEYS,
        0,
        memory_purge,
        G,
        "4.0.0",
        "Asks the allocator to release memory.",
    ),
    cmd(
        "memory|help",
        2,
        LS,
        NO_KEYS,
        0,
        memory_help,
        G,
        "4.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

// ---- SLOWLOG ----

fn slowlog_get(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let count = match a.len() {
        2 => 10,
        3 => match crate::util::num::parse_i64(&a[2]) {
            Some(n) if n >= -1 => n,
            _ => {
                return Err(Error::msg(
                    "ERR count should be greater than or equal to -1",
                ))
            }
        },
        _ => return Err(sub_syntax(&a[1], "SLOWLOG")),
    };
    ctx.srv.slowlog.reply(ctx.out, count);
    Ok(())
}

/// Redis's answer to a known subcommand with the wrong arguments.
fn sub_syntax(sub: &[u8], container: &str) -> Error {
    Error::err(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try {container} HELP.",
        String::from_utf8_lossy(sub)
    ))
}

fn slowlog_len(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.srv.slowlog.entries.len() as i64);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    ctx.srv.slowlog.entries.clear();
    ctx.out.ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    super::help_reply(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

// ---- LATENCY ----

fn latency_latest(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let ev = &ctx.srv.latency.events;
    let out = &mut *ctx.out;
    out.array(ev.len());
    for (name, s) in ev {
        let (t, ms) = s.samples.back().copied().unwrap_or((0, 0));
        out.array(4);
        out.bulk(name.as_bytes());
        out.int(t);
        out.int(ms as i64);
        out.int(s.max as i64);
    }
    Ok(())
}

fn latency_history(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&a[2]);
    let out = &mut *ctx.out;
    match ctx.srv.latency.events.get(name.as_ref()) {
        None => out.array(0),
        Some(s) => {
            out.array(s.samples.len());
            for &(t, ms) in &s.samples {
                out.array(2);
                out.int(t);
                out.int(ms as i64);
            }
        }
    }
    Ok(())
}

fn latency_reset(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let ev = &mut ctx.srv.latency.events;
    let n = if a.len() == 2 {
        let n = ev.len();
        ev.clear();
        n
    } else {
        a[2..]
            .iter()
            .filter(|e| ev.remove(String::from_utf8_lossy(e).as_ref()).is_some())
            .count()
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn latency_graph(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&a[2]);
    match ctx.srv.latency.graph(&name) {
        Some(g) => ctx.out.verbatim(g.as_bytes()),
        None => {
            return Err(Error::err(format!(
                "No samples available for event '{name}'"
            )));
        }
    }
    Ok(())
}

fn latency_doctor(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let threshold = ctx.srv.cfg.int(D::LATENCY_MONITOR_THRESHOLD);
    let ev = &ctx.srv.latency.events;
    let text = if threshold == 0 && ev.is_empty() {
        "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".to_string()
    } else if ev.is_empty() {
        "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n".to_string()
    } else {
        let mut t = String::from("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        for (i, (name, s)) in ev.iter().enumerate() {
            let n = s.samples.len().max(1) as u64;
            let avg = s.samples.iter().map(|x| x.1).sum::<u64>() / n;
            let period = match (s.samples.front(), s.samples.back()) {
                (Some(a), Some(b)) if s.samples.len() > 1 => {
                    (b.0 - a.0) as f64 / (s.samples.len() - 1) as f64
                }
                _ => 0.0,
            };
            t.push_str(&format!(
                "{}. {}: {} latency spikes (average {}ms, period {:.2} sec). Worst all time event {}ms.\n",
                i + 1,
                name,
                s.samples.len(),
                avg,
                period,
                s.max
            ));
        }
        t.push_str("\nI have a few advices for you:\n\n");
        if ev.contains_key("command") || ev.contains_key("fast-command") {
            t.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
        }
        if ev.contains_key("fast-command") {
            t.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to: 1) Lower the system load. 2) Use a computer / VM just for Redis if you are running other software in the same system.\n");
        }
        if ev.contains_key("expire-cycle") {
            t.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
        }
        t
    };
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// LATENCY HISTOGRAM [command ...]: for each command with samples, its
/// call count and cumulative counts per power-of-two microseconds.
fn latency_histogram(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut names: Vec<&'static str> = Vec::new();
    if a.len() == 2 {
        names.extend(
            ctx.srv
                .cmd_stats
                .iter()
                .filter(|(_, s)| s.hist.is_some())
                .map(|(n, _)| *n),
        );
        names.sort_unstable();
    } else {
        for q in &a[2..] {
            let q = String::from_utf8_lossy(q).to_ascii_lowercase();
            // A container name stands for all its subcommands.
            let mut found: Vec<&'static str> = ctx
                .srv
                .cmd_stats
                .iter()
                .filter(|(n, s)| {
                    s.hist.is_some()
                        && (**n == q
                            || n.strip_prefix(q.as_str())
                                .is_some_and(|r| r.starts_with('|')))
                })
                .map(|(n, _)| *n)
                .collect();
            found.sort_unstable();
            for n in found {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
    }
    let out = &mut *ctx.out;
    out.map(names.len());
    for n in names {
        let Some(h) = ctx.srv.cmd_stats.get(n).and_then(|s| s.hist.as_ref()) else {
            continue;
        };
        out.bulk(n.as_bytes());
        out.map(2);
        out.bulk(b"calls");
        out.int(h.total as i64);
        out.bulk(b"histogram_usec");
        let b = h.pow2_buckets();
        out.map(b.len());
        for (usec, count) in b {
            out.int(usec as i64);
            out.int(count as i64);
        }
    }
    Ok(())
}

fn latency_help(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    super::help_reply(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

// ---- MONITOR ----

fn monitor(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    // Already monitoring: Redis ignores it without a reply.
    if ctx.client.monitor.get() {
        return Ok(());
    }
    ctx.client.monitor.set(true);
    ctx.srv.monitors.push(ctx.client.id);
    ctx.out.ok();
    Ok(())
}

// ---- MEMORY ----

/// Bytes a heap block of `n` bytes really takes (jemalloc's size classes:
/// 8 and 16 byte steps for small sizes, four classes per doubling above).
fn alloc_size(n: usize) -> usize {
    match n {
        0 => 0,
        1..=8 => 8,
        9..=128 => n.div_ceil(16) * 16,
        _ => {
            let step = (n.next_power_of_two() / 8).max(16);
            n.div_ceil(step) * step
        }
    }
}

/// Per-element bookkeeping of each encoding, besides the element's bytes.
fn per_element_overhead(encoding: &str) -> usize {
    match encoding {
        // Hash-table node with its bucket pointer; skiplist node with a level.
        "hashtable" => 32,
        "skiplist" => 56,
        // Packed encodings: a length prefix and a back length per entry.
        _ => 2,
    }
}

/// MEMORY USAGE key [SAMPLES count]: the key's dictionary node, its entry
/// and its value, collections estimated from `count` sampled elements
/// (all when 0).
fn memory_usage(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut samples = 5usize;
    let mut j = 3;
    while j < a.len() {
        if is(&a[j], "samples") && j + 1 < a.len() {
            let n = int_arg(&a[j + 1])?;
            if n < 0 {
                return Err(Error::Syntax);
            }
            samples = if n == 0 { usize::MAX } else { n as usize };
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let now = ctx.now_ms;
    let i = ctx.db_index();
    let Some(e) = ctx.srv.ks.dbs[i].peek(&a[2], now) else {
        ctx.out.null();
        return Ok(());
    };
    // Node header, key with its length prefix, the 24-byte entry and the
    // bucket slot pointing to it.
    let key = alloc_size(16 + a[2].len() + 1 + 24) + 8;
    let value = match &e.val {
        Value::Str(s) => match s {
            crate::db::StrVal::Emb(b) | crate::db::StrVal::Raw(b) => alloc_size(b.len() + 4),
            _ => 0,
        },
        // Packed nodes plus the groups; not sampled (Redis neither).
        Value::Stream(s) => s.memory(),
        v => {
            let enc = v.encoding();
            let (len, sampled, bytes) = sample_elements(v, samples);
            let avg = if sampled > 0 {
                bytes as f64 / sampled as f64
            } else {
                0.0
            };
            let each = avg + per_element_overhead(enc) as f64;
            let spread = if enc == "hashtable" || enc == "skiplist" {
                // Separately allocated elements round up individually.
                alloc_size(avg.ceil() as usize) as f64 + per_element_overhead(enc) as f64
            } else {
                each
            };
            64 + (len as f64 * spread) as usize
        }
    };
    ctx.out.int((key + value) as i64);
    Ok(())
}

/// (elements, elements sampled, their bytes) of a collection.
fn sample_elements(v: &Value, n: usize) -> (usize, usize, usize) {
    let elem = |e: crate::db::list::Elem| match e {
        crate::db::list::Elem::Int(_) => 8,
        crate::db::list::Elem::Str(s) => s.len(),
    };
    match v {
        Value::Str(_) => (1, 0, 0),
        Value::List(l) => {
            let sizes: Vec<usize> = l.iter().take(n).map(elem).collect();
            (l.len(), sizes.len(), sizes.iter().sum())
        }
        Value::Hash(h) => {
            let sizes: Vec<usize> = h.iter().take(n).map(|(k, v)| k.len() + v.len()).collect();
            (h.len(), sizes.len(), sizes.iter().sum())
        }
        Value::Set(s) => {
            let sizes: Vec<usize> = s
                .iter()
                .take(n)
                .map(|e| match e {
                    crate::db::set::Elem::Int(_) => 8,
                    crate::db::set::Elem::Str(b) => b.len(),
                })
                .collect();
            (s.len(), sizes.len(), sizes.iter().sum())
        }
        Value::ZSet(z) => {
            let (mut count, mut bytes) = (0usize, 0usize);
            z.walk(0, z.len().min(n).saturating_sub(1), false, |m, _| {
                count += 1;
                bytes += m.len() + 8;
                true
            });
            (z.len(), count, bytes)
        }
        Value::Stream(s) => (s.len(), 0, 0),
    }
}

/// The figures of MEMORY STATS, by Redis's names.
fn memory_stats(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let m = info::memory_figures(ctx.srv);
    let srv = &*ctx.srv;
    let keys: usize = srv.ks.dbs.iter().map(|d| d.len()).sum();
    let overhead = m.startup;
    let dataset = m.used.saturating_sub(overhead);
    let pct = |a: u64, b: u64| {
        if b > 0 {
            a as f64 * 100.0 / b as f64
        } else {
            0.0
        }
    };
    let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    let out = &mut *ctx.out;
    let dbs: Vec<(usize, usize, usize)> = srv
        .ks
        .dbs
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.is_empty())
        .map(|(i, d)| (i, d.dict().buckets() * 8, d.expires().buckets() * 8))
        .collect();
    out.map(27 + dbs.len());
    let int = |out: &mut crate::resp::Out, k: &str, v: u64| {
        out.bulk(k.as_bytes());
        out.int(v as i64);
    };
    let dbl = |out: &mut crate::resp::Out, k: &str, v: f64| {
        out.bulk(k.as_bytes());
        out.double(v);
    };
    int(out, "peak.allocated", m.peak);
    int(out, "total.allocated", m.used);
    int(out, "startup.allocated", m.startup);
    int(out, "replication.backlog", 0);
    int(out, "clients.slaves", 0);
    int(out, "clients.normal", m.clients);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", 0);
    int(out, "lua.caches", 0);
    int(out, "functions.caches", 0);
    for (i, main, expires) in dbs {
        out.bulk(format!("db.{i}").as_bytes());
        out.map(2);
        int(out, "overhead.hashtable.main", main as u64);
        int(out, "overhead.hashtable.expires", expires as u64);
    }
    int(out, "overhead.total", overhead);
    int(out, "keys.count", keys as u64);
    int(
        out,
        "keys.bytes-per-key",
        if keys > 0 { dataset / keys as u64 } else { 0 },
    );
    int(out, "dataset.bytes", dataset);
    dbl(out, "dataset.percentage", pct(dataset, m.used));
    dbl(out, "peak.percentage", pct(m.used, m.peak));
    int(out, "allocator.allocated", m.used);
    int(out, "allocator.active", m.active);
    int(out, "allocator.resident", m.resident);
    dbl(
        out,
        "allocator-fragmentation.ratio",
        ratio(m.active, m.used),
    );
    int(
        out,
        "allocator-fragmentation.bytes",
        m.active.saturating_sub(m.used),
    );
    dbl(out, "allocator-rss.ratio", ratio(m.resident, m.active));
    int(
        out,
        "allocator-rss.bytes",
        m.resident.saturating_sub(m.active),
    );
    dbl(out, "rss-overhead.ratio", ratio(m.rss, m.resident));
    int(out, "rss-overhead.bytes", m.rss.saturating_sub(m.resident));
    dbl(out, "fragmentation", ratio(m.rss, m.used));
    int(out, "fragmentation.bytes", m.rss.saturating_sub(m.used));
    Ok(())
}

fn memory_doctor(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let m = info::memory_figures(ctx.srv);
    let text = if m.used < 5 * 1024 * 1024 {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string()
    } else {
        let mut issues = Vec::new();
        if m.peak as f64 > m.used as f64 * 1.5 {
            issues.push(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
        }
        if m.rss as f64 > m.used as f64 * 1.4 && m.rss > m.used + 10 * 1024 * 1024 {
            issues.push(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"jemalloc\".\n\n");
        }
        if issues.is_empty() {
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string()
        } else {
            let mut t = String::from(
                "Sam, I detected a few issues in this Redis instance memory implants:\n\n",
            );
            for i in issues {
                t.push_str(i);
            }
            t.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
            t
        }
    };
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn memory_malloc_stats(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let text = info::allocator_report();
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn memory_purge(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    info::purge_allocator();
    ctx.srv.mem.refresh();
    ctx.out.ok();
    Ok(())
}

fn memory_help(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    super::help_reply(
        ctx,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}
