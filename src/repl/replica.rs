//! The replica side of replication (REPLICAOF): owned by the replica work.
//! `ReplState::link` is Some while this server replicates from a primary.
//!
//! Notes from the primary side:
//! - Apply the primary's stream with propagation of those commands
//!   suppressed, then hand the applied bytes to `Server::repl_feed_raw`
//!   so the backlog and sub-replicas get the stream verbatim.
//! - `REPLCONF GETACK` arriving in the stream must be answered with
//!   `REPLCONF ACK <offset>` (handled where the stream is applied; the
//!   primary-side handler in master.rs ignores it).

use crate::server::Server;

/// The link to our primary.
#[derive(Debug, Default)]
pub struct Link {}

/// INFO replication's first fields on a replica (role:slave, master_host,
/// master_port, master_link_status, ...).
pub fn info(_srv: &Server, o: &mut String) {
    o.push_str("role:slave\r\n");
}

/// ROLE on a replica: ["slave", host, port, state, offset].
pub fn role(_srv: &Server, out: &mut crate::resp::Out) {
    out.array(1);
    out.bulk(b"slave");
}
