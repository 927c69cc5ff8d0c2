//! Redust: a Redis-compatible server.
//!
//! Follow a command: `net::conn` reads and parses (`resp::parse`), hands it
//! to `server::exec`, which looks it up in `commands` and runs its handler
//! against `db`, writing the reply with `resp::encode`.

pub mod acl;
pub mod commands;
pub mod config;
pub mod db;
pub mod errors;
pub mod logging;
pub mod net;
pub mod persist;
pub mod repl;
pub mod resp;
pub mod scripting;
pub mod server;
pub mod startup;
pub mod util;

/// The Redis version Redust is compatible with; clients check it.
pub const REDIS_VERSION: &str = "7.2.4";
pub const REDUST_VERSION: &str = env!("CARGO_PKG_VERSION");
