//! Listeners (TCP and TLS on every `bind` address, optionally a unix
//! socket) and the accept loops that admit clients (ip-allowlist,
//! maxclients) and spawn their connection tasks.

pub mod allowlist;
mod aof_round;
pub mod busypoll;
pub mod conn;
pub mod metrics;
pub mod tls;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::config::D;
use crate::errors;
use crate::server::{Client, Server};

/// Turns a `bind` entry into a socket address; a leading '-' marks an
/// address that may be unavailable.
fn bind_addr(entry: &str, port: u16) -> (Option<SocketAddr>, bool) {
    let optional = entry.starts_with('-');
    let a = entry.trim_start_matches('-');
    let ip = match a {
        "*" => "0.0.0.0",
        "::*" => "::",
        other => other,
    };
    (ip.parse::<std::net::IpAddr>().ok().map(|ip| SocketAddr::new(ip, port)), optional)
}

/// Listens on `port` at every `bind` address; port 0 means no listener
/// (as `port 0` turns plaintext TCP off in Redis).
pub async fn bind_all(cfg: &crate::config::Config, port: u16) -> std::io::Result<Vec<TcpListener>> {
    let mut out = Vec::new();
    if port == 0 {
        return Ok(out);
    }
    for entry in cfg.str(D::BIND).split_whitespace() {
        let (addr, optional) = bind_addr(entry, port);
        let Some(addr) = addr else {
            return Err(std::io::Error::other(format!("Invalid bind address '{entry}'")));
        };
        let sock = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() };
        let res = sock.and_then(|s| {
            s.set_reuseaddr(true)?;
            if addr.is_ipv6() {
                socket2::SockRef::from(&s).set_only_v6(true)?;
            }
            s.bind(addr)?;
            s.listen(cfg.int(D::TCP_BACKLOG).clamp(1, 65535) as u32)
        });
        match res {
            Ok(l) => {
                tracing::info!("Listening on {}", l.local_addr()?);
                out.push(l)
            }
            Err(e) if optional => tracing::debug!("Skipping optional bind {entry}: {e}"),
            Err(e) => {
                return Err(std::io::Error::new(e.kind(), format!("Could not create server TCP listening socket {addr}: {e}")))
            }
        }
    }
    Ok(out)
}

/// Registers a new client, or refuses it when maxclients is reached.
fn register(srv: &Rc<RefCell<Server>>, addr: String, laddr: String, fd: i32, unix: bool) -> Option<Rc<Client>> {
    let mut s = srv.borrow_mut();
    if s.clients.len() as i64 >= s.cfg.int(D::MAXCLIENTS) {
        s.stats.rejected_connections += 1;
        return None;
    }
    s.stats.total_connections += 1;
    let id = s.next_client_id;
    s.next_client_id += 1;
    let c = Rc::new(Client::new(id, addr, laddr, fd, unix));
    c.authenticated.set(s.auth_on_connect());
    s.clients.insert(id, c.clone());
    Some(c)
}

/// Tells a client it is not admitted, then closes the connection.
async fn refuse<S: tokio::io::AsyncWrite + Unpin>(mut s: S, why: &str) {
    let _ = s.write_all(format!("-{why}\r\n").as_bytes()).await;
    let _ = s.shutdown().await;
}

/// Checks the allowlist and maxclients, then serves the client (or says
/// why not). Runs right after accept for TCP, after the handshake for TLS.
async fn admit<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: S,
    srv: Rc<RefCell<Server>>,
    peer: SocketAddr,
    laddr: String,
    fd: i32,
) {
    if !allowlist::allows(srv.borrow().cfg.str(D::IP_ALLOWLIST), peer.ip()) {
        tracing::info!("Refusing client {peer}: not in ip-allowlist");
        return refuse(stream, errors::NOT_IN_ALLOWLIST).await;
    }
    if srv.borrow().protected_mode_refuses(peer.ip()) {
        srv.borrow_mut().stats.rejected_connections += 1;
        return refuse(stream, crate::server::auth::PROTECTED_MODE).await;
    }
    match register(&srv, peer.to_string(), laddr, fd, false) {
        Some(client) => conn::serve(stream, srv, client).await,
        None => refuse(stream, errors::MAX_CLIENTS).await,
    }
}

fn tune(stream: &TcpStream, keepalive: i64) {
    let _ = stream.set_nodelay(true);
    if keepalive > 0 {
        let ka = socket2::TcpKeepalive::new()
            .with_time(Duration::from_secs(keepalive as u64))
            .with_interval(Duration::from_secs((keepalive as u64 / 3).max(1)));
        let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&ka);
    }
}

/// Accepts plaintext clients, or TLS clients when `tls` is set (each
/// handshake runs in the client's own task with the configuration current
/// at accept time).
pub async fn accept_tcp(listener: TcpListener, srv: Rc<RefCell<Server>>, tls: bool) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let keepalive = srv.borrow().cfg.int(D::TCP_KEEPALIVE);
        tune(&stream, keepalive);
        let laddr = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
        use std::os::fd::AsRawFd;
        let fd = stream.as_raw_fd();
        if !tls {
            tokio::task::spawn_local(admit(stream, srv.clone(), peer, laddr, fd));
            continue;
        }
        let Some(config) = srv.borrow().tls.clone() else {
            continue;
        };
        let srv = srv.clone();
        tokio::task::spawn_local(async move {
            if let Some(stream) = tls::accept(config, stream, &peer.to_string()).await {
                admit(stream, srv, peer, laddr, fd).await;
            }
        });
    }
}

pub async fn accept_unix(listener: tokio::net::UnixListener, path: String, srv: Rc<RefCell<Server>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        use std::os::fd::AsRawFd;
        let fd = stream.as_raw_fd();
        match register(&srv, format!("{path}:0"), format!("{path}:0"), fd, true) {
            Some(client) => {
                tokio::task::spawn_local(conn::serve(stream, srv.clone(), client));
            }
            None => {
                tokio::task::spawn_local(refuse(stream, errors::MAX_CLIENTS));
            }
        }
    }
}
