//! The Prometheus endpoint (`metrics-port`, off by default): `GET /metrics`
//! over HTTP/1.1 answers the INFO figures in the text exposition format,
//! named as redis_exporter names them, so existing dashboards work without
//! an exporter process. The figures are read from one INFO rendering, so
//! they always agree with INFO.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::server::Server;

/// Requests larger than this are refused (a scrape is one short line).
const MAX_REQUEST: usize = 8192;

pub async fn accept(listener: TcpListener, srv: Rc<RefCell<Server>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        tokio::task::spawn_local(serve(stream, srv.clone()));
    }
}

async fn serve(mut stream: TcpStream, srv: Rc<RefCell<Server>>) {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < MAX_REQUEST {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => req.extend_from_slice(&buf[..n]),
            }
        }
        true
    };
    if !matches!(
        tokio::time::timeout(Duration::from_secs(10), read).await,
        Ok(true)
    ) {
        return;
    }
    let line = req.split(|&c| c == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&c| c == b' ');
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let path = path.split(|&c| c == b'?').next().unwrap_or_default();
    let (status, ctype, body) = match (method, path) {
        (b"GET", b"/metrics") => {
            let info = crate::server::info::render(&srv.borrow(), &["everything".to_string()]);
            (
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                exposition(&info),
            )
        }
        (b"GET", _) => (
            "404 Not Found",
            "text/plain",
            "Not found: try /metrics\n".to_string(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "Only GET\n".to_string(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// INFO fields exported one to one: (field, metric, type, help).
const FIELDS: &[(&str, &str, &str, &str)] = &[
    (
        "uptime_in_seconds",
        "redis_uptime_in_seconds",
        "gauge",
        "Seconds since the server started",
    ),
    (
        "connected_clients",
        "redis_connected_clients",
        "gauge",
        "Client connections",
    ),
    (
        "blocked_clients",
        "redis_blocked_clients",
        "gauge",
        "Clients waiting in a blocking command or a pause",
    ),
    (
        "pubsub_clients",
        "redis_pubsub_clients",
        "gauge",
        "Clients with subscriptions",
    ),
    ("maxclients", "redis_max_clients", "gauge", "maxclients"),
    (
        "used_memory",
        "redis_memory_used_bytes",
        "gauge",
        "Bytes allocated",
    ),
    // The same figure under the name the INFO field suggests.
    (
        "used_memory",
        "redis_used_memory_bytes",
        "gauge",
        "Bytes allocated (alias of redis_memory_used_bytes)",
    ),
    (
        "used_memory_rss",
        "redis_memory_used_rss_bytes",
        "gauge",
        "Resident set size",
    ),
    (
        "used_memory_peak",
        "redis_memory_used_peak_bytes",
        "gauge",
        "Peak of used_memory",
    ),
    (
        "used_memory_startup",
        "redis_memory_used_startup_bytes",
        "gauge",
        "used_memory after start-up",
    ),
    (
        "used_memory_dataset",
        "redis_memory_used_dataset_bytes",
        "gauge",
        "used_memory minus overhead",
    ),
    (
        "maxmemory",
        "redis_memory_max_bytes",
        "gauge",
        "maxmemory (0: no limit)",
    ),
    (
        "mem_fragmentation_ratio",
        "redis_mem_fragmentation_ratio",
        "gauge",
        "RSS / used_memory",
    ),
    (
        "rdb_changes_since_last_save",
        "redis_rdb_changes_since_last_save",
        "gauge",
        "Writes since the last save",
    ),
    (
        "rdb_last_save_time",
        "redis_rdb_last_save_timestamp_seconds",
        "gauge",
        "Unix time of the last save",
    ),
    (
        "rdb_bgsave_in_progress",
        "redis_rdb_bgsave_in_progress",
        "gauge",
        "1 while a BGSAVE runs",
    ),
    ("aof_enabled", "redis_aof_enabled", "gauge", "appendonly"),
    (
        "total_connections_received",
        "redis_connections_received_total",
        "counter",
        "Connections accepted",
    ),
    (
        "total_commands_processed",
        "redis_commands_processed_total",
        "counter",
        "Commands run",
    ),
    (
        "instantaneous_ops_per_sec",
        "redis_instantaneous_ops_per_sec",
        "gauge",
        "Commands per second, recently",
    ),
    (
        "total_net_input_bytes",
        "redis_net_input_bytes_total",
        "counter",
        "Bytes read from clients",
    ),
    (
        "total_net_output_bytes",
        "redis_net_output_bytes_total",
        "counter",
        "Bytes written to clients",
    ),
    (
        "rejected_connections",
        "redis_rejected_connections_total",
        "counter",
        "Connections refused (maxclients)",
    ),
    (
        "expired_keys",
        "redis_expired_keys_total",
        "counter",
        "Keys expired",
    ),
    (
        "evicted_keys",
        "redis_evicted_keys_total",
        "counter",
        "Keys evicted (maxmemory)",
    ),
    (
        "keyspace_hits",
        "redis_keyspace_hits_total",
        "counter",
        "Successful key lookups",
    ),
    (
        "keyspace_misses",
        "redis_keyspace_misses_total",
        "counter",
        "Failed key lookups",
    ),
    (
        "pubsub_channels",
        "redis_pubsub_channels",
        "gauge",
        "Channels with subscribers",
    ),
    (
        "pubsub_patterns",
        "redis_pubsub_patterns",
        "gauge",
        "Pattern subscriptions",
    ),
    (
        "total_error_replies",
        "redis_total_error_replies",
        "counter",
        "Error replies sent",
    ),
    (
        "connected_slaves",
        "redis_connected_slaves",
        "gauge",
        "Connected replicas",
    ),
    (
        "master_repl_offset",
        "redis_master_repl_offset",
        "gauge",
        "Replication offset",
    ),
    (
        "used_cpu_sys",
        "redis_cpu_sys_seconds_total",
        "counter",
        "System CPU time",
    ),
    (
        "used_cpu_user",
        "redis_cpu_user_seconds_total",
        "counter",
        "User CPU time",
    ),
    (
        "used_cpu_sys_children",
        "redis_cpu_sys_children_seconds_total",
        "counter",
        "System CPU time of children",
    ),
    (
        "used_cpu_user_children",
        "redis_cpu_user_children_seconds_total",
        "counter",
        "User CPU time of children",
    ),
    (
        "used_cpu_sys_main_thread",
        "redis_cpu_sys_main_thread_seconds_total",
        "counter",
        "System CPU time of the main thread",
    ),
    (
        "used_cpu_user_main_thread",
        "redis_cpu_user_main_thread_seconds_total",
        "counter",
        "User CPU time of the main thread",
    ),
];

/// Label values escaped as the exposition format wants.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Family header lines, once per metric name.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The exposition text for one INFO rendering.
pub fn exposition(info: &str) -> String {
    let fields: std::collections::HashMap<&str, &str> = info
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .collect();
    let mut out = String::new();
    family(&mut out, "redis_up", "gauge", "1 when the server answers");
    out.push_str("redis_up 1\n");
    family(
        &mut out,
        "redis_instance_info",
        "gauge",
        "Version and role, as labels",
    );
    let _ = writeln!(
        out,
        "redis_instance_info{{redis_version=\"{}\",redis_mode=\"{}\",role=\"{}\",run_id=\"{}\",tcp_port=\"{}\"}} 1",
        label(fields.get("redis_version").unwrap_or(&"")),
        label(fields.get("redis_mode").unwrap_or(&"")),
        label(fields.get("role").unwrap_or(&"")),
        label(fields.get("run_id").unwrap_or(&"")),
        label(fields.get("tcp_port").unwrap_or(&"")),
    );
    for (field, name, kind, help) in FIELDS {
        let Some(v) = fields
            .get(field)
            .and_then(|v| v.trim_end_matches('%').parse::<f64>().ok())
        else {
            continue;
        };
        family(&mut out, name, kind, help);
        let _ = writeln!(out, "{name} {v}");
    }
    // db0:keys=1,expires=0,avg_ttl=0
    let dbs: Vec<(&str, Vec<(&str, f64)>)> = info
        .lines()
        .filter(|l| l.starts_with("db"))
        .filter_map(|l| l.split_once(':'))
        .map(|(db, rest)| (db, kv_pairs(rest)))
        .collect();
    let per_db = [
        ("keys", "redis_db_keys", "Keys in the database"),
        ("expires", "redis_db_keys_expiring", "Keys with an expiry"),
        (
            "avg_ttl",
            "redis_db_avg_ttl_seconds",
            "Average TTL of keys with an expiry",
        ),
    ];
    for (k, name, help) in per_db {
        family(&mut out, name, "gauge", help);
        for (db, kv) in &dbs {
            if let Some((_, v)) = kv.iter().find(|(x, _)| *x == k) {
                let v = if k == "avg_ttl" { v / 1000.0 } else { *v };
                let _ = writeln!(out, "{name}{{db=\"{db}\"}} {v}");
            }
        }
    }
    // cmdstat_set:calls=1,usec=5,usec_per_call=5.00,rejected_calls=0,failed_calls=0
    let cmds: Vec<(&str, Vec<(&str, f64)>)> = info
        .lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter_map(|l| l.split_once(':'))
        .map(|(c, rest)| (c, kv_pairs(rest)))
        .collect();
    let per_cmd = [
        ("calls", "redis_commands_total", "Calls per command", 1.0),
        (
            "usec",
            "redis_commands_duration_seconds_total",
            "Time spent per command",
            1e6,
        ),
        (
            "rejected_calls",
            "redis_commands_rejected_calls_total",
            "Calls refused before running",
            1.0,
        ),
        (
            "failed_calls",
            "redis_commands_failed_calls_total",
            "Calls that failed",
            1.0,
        ),
    ];
    // A divisor, not a factor: 10 / 1e6 prints 0.00001, 10 * 1e-6 does not.
    for (k, name, help, divisor) in per_cmd {
        family(&mut out, name, "counter", help);
        for (c, kv) in &cmds {
            if let Some((_, v)) = kv.iter().find(|(x, _)| *x == k) {
                let _ = writeln!(out, "{name}{{cmd=\"{}\"}} {}", label(c), v / divisor);
            }
        }
    }
    family(
        &mut out,
        "redis_errors_total",
        "counter",
        "Error replies per error code",
    );
    for l in info.lines().filter_map(|l| l.strip_prefix("errorstat_")) {
        if let Some((code, rest)) = l.split_once(':') {
            if let Some((_, v)) = kv_pairs(rest).into_iter().find(|(k, _)| *k == "count") {
                let _ = writeln!(out, "redis_errors_total{{err=\"{}\"}} {v}", label(code));
            }
        }
    }
    out
}

/// "a=1,b=2.5" as pairs; values that are not numbers are left out.
fn kv_pairs(s: &str) -> Vec<(&str, f64)> {
    s.split(',')
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn info_text_becomes_exposition_lines() {
        let info = "# Server\r\nredis_version:7.2.4\r\nrole:master\r\n# Clients\r\nconnected_clients:3\r\n# Commandstats\r\ncmdstat_client|list:calls=2,usec=10,usec_per_call=5.00,rejected_calls=0,failed_calls=0\r\n# Keyspace\r\ndb0:keys=5,expires=1,avg_ttl=2000\r\n";
        let t = super::exposition(info);
        assert!(t.contains("redis_connected_clients 3\n"), "{t}");
        assert!(t.contains("redis_db_keys{db=\"db0\"} 5\n"));
        assert!(t.contains("redis_db_avg_ttl_seconds{db=\"db0\"} 2\n"));
        assert!(t.contains("redis_commands_total{cmd=\"client|list\"} 2\n"));
        assert!(t.contains("redis_commands_duration_seconds_total{cmd=\"client|list\"} 0.00001\n"));
        assert!(t.contains(
            "redis_instance_info{redis_version=\"7.2.4\",redis_mode=\"\",role=\"master\""
        ));
        assert!(t.contains("# TYPE redis_connected_clients gauge\n"));
    }
}
