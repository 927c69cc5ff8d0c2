//! TLS client connections (tls-port, mutual TLS, certificate reload) and the
//! ip-allowlist, through redis-cli, the `redis` crate and a plain rustls
//! client. Certificates are made at test time with the `openssl` CLI.

mod common;
mod helpers;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, redust_bin, temp_dir, Server};
use helpers::{make_ca, openssl, sign_cert};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

const DENIED: &str = "-ERR AUTH failed: Client IP address is not in the allowlist.\r\n";

/// A CA and certificates it signed (server ones valid for 127.0.0.1 and
/// localhost), plus a client certificate from an unrelated CA.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn make() -> Certs {
        let dir = temp_dir("certs");
        make_ca(&dir, "ca", "Redust Test CA");
        make_ca(&dir, "rogue-ca", "Rogue CA");
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,IP:127.0.0.2,DNS:localhost\n",
        )
        .unwrap();
        std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        let c = Certs { dir };
        c.sign("server", "ca", "server.ext");
        c.sign("swapped", "ca", "server.ext");
        c.sign("client", "ca", "client.ext");
        c.sign("rogue", "rogue-ca", "client.ext");
        // The server key again, as encrypted PKCS#8.
        openssl(
            &c.dir,
            &[
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-in",
                "server.key",
                "-out",
                "server-enc.key",
                "-passout",
                "pass:s3cret",
            ],
        );
        c
    }

    fn sign(&self, name: &str, ca: &str, ext: &str) {
        sign_cert(&self.dir, name, ca, ext);
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(file)).unwrap()
    }

    /// Directives for a TLS listener on `tls_port` with the main server
    /// certificate.
    fn server_args(&self, tls_port: u16) -> Vec<String> {
        [
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            &self.path("server.crt"),
            "--tls-key-file",
            &self.path("server.key"),
            "--tls-ca-cert-file",
            &self.path("ca.crt"),
            "--tls-auth-clients",
            "no",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(args: &[String]) -> Server {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(&a)
}

/// redis-cli over TLS to `port`, trusting our CA; extra args before the command.
fn cli(certs: &Certs, port: u16, extra: &[&str], cmd: &[&str]) -> Output {
    let ca = certs.path("ca.crt");
    let mut args = vec!["--tls", "--cacert", &ca, "-h", "127.0.0.1", "-p"];
    let p = port.to_string();
    args.push(&p);
    args.extend(extra);
    args.extend(cmd);
    Command::new("redis-cli")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli")
}

fn cli_ok(certs: &Certs, port: u16, cmd: &[&str]) -> String {
    let out = cli(certs, port, &[], cmd);
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

fn tls_client(certs: &Certs, client_cert: Option<&str>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&certs.read("ca.crt")) {
        roots.add(c.unwrap()).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let cfg = match client_cert {
        None => b.with_no_client_auth(),
        Some(name) => {
            let chain = CertificateDer::pem_slice_iter(&certs.read(&format!("{name}.crt")))
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_slice(&certs.read(&format!("{name}.key"))).unwrap();
            b.with_client_auth_cert(chain, key).unwrap()
        }
    };
    Arc::new(cfg)
}

/// A TCP connection to `port` from the local address `src` (any port).
fn connect_from(src: &str, port: u16) -> TcpStream {
    let src: IpAddr = src.parse().unwrap();
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::new(src, 0).into()).unwrap();
    sock.connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS session to 127.0.0.1:`port` from `src`, handshake completed.
fn tls_from(cfg: Arc<rustls::ClientConfig>, src: &str, port: u16) -> std::io::Result<Tls> {
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(cfg, name).unwrap();
    let mut s = rustls::StreamOwned::new(conn, connect_from(src, port));
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock)?;
    }
    Ok(s)
}

/// Sends one inline command and reads until a full line or EOF.
fn roundtrip<S: Read + Write>(s: &mut S, cmd: &str) -> String {
    let _ = s.write_all(format!("{cmd}\r\n").as_bytes());
    let _ = s.flush();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// The CN of the certificate the server presents.
fn served_cn(s: &Tls) -> String {
    let cert = &s.conn.peer_certificates().unwrap()[0];
    // Look for the names we issued as DER strings (UTF8String or
    // PrintableString, then the length).
    for cn in ["server", "swapped"] {
        let needle = cn.as_bytes();
        if cert.windows(needle.len() + 2).any(|w| {
            w[2..] == *needle && (w[0] == 0x0c || w[0] == 0x13) && w[1] as usize == needle.len()
        }) {
            return cn.to_string();
        }
    }
    String::new()
}

fn rediss(certs: &Certs, port: u16, client: Option<&str>) -> redis::RedisResult<redis::Connection> {
    let client_tls = client.map(|n| redis::ClientTlsConfig {
        client_cert: certs.read(&format!("{n}.crt")),
        client_key: certs.read(&format!("{n}.key")),
    });
    let tls = redis::TlsCertificates {
        client_tls,
        root_cert: Some(certs.read("ca.crt")),
    };
    redis::Client::build_with_tls(format!("rediss://127.0.0.1:{port}/"), tls)?.get_connection()
}

#[test]
fn redis_cli_over_tls_next_to_plaintext() {
    let certs = Certs::make();
    let tls_port = free_port();
    let srv = start(&certs.server_args(tls_port));
    assert_eq!(cli_ok(&certs, tls_port, &["SET", "k", "over-tls"]), "OK");
    assert_eq!(cli_ok(&certs, tls_port, &["GET", "k"]), "over-tls");
    // The plaintext port serves the same data.
    assert_eq!(srv.raw().call_raw(&["GET", "k"]), b"$8\r\nover-tls\r\n");
    let info = cli_ok(&certs, tls_port, &["INFO", "server"]);
    assert!(
        info.contains(&format!("tcp_port:{}\r", srv.port))
            || info.contains(&format!("tcp_port:{}\n", srv.port)),
        "{info}"
    );
    // A TLS client is an ordinary client in CLIENT LIST.
    let list = cli_ok(&certs, tls_port, &["CLIENT", "LIST"]);
    assert!(
        list.contains(&format!("laddr=127.0.0.1:{tls_port}")),
        "{list}"
    );
    assert!(list.contains("cmd=client|list"), "{list}");
    // Plaintext spoken to the TLS port gets no reply.
    let mut raw = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert!(!roundtrip(&mut raw, "PING").contains("PONG"));
}

#[test]
fn port_0_serves_tls_only() {
    let certs = Certs::make();
    let tls_port = free_port();
    let dir = temp_dir("tlsonly");
    let mut args = certs.server_args(tls_port);
    args.extend(["--port", "0", "--save", "", "--bind", "127.0.0.1", "--dir"].map(String::from));
    args.push(dir.display().to_string());
    let mut child = Command::new(redust_bin())
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while cli_ok(&certs, tls_port, &["PING"]) != "PONG" {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "TLS-only server did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let info = cli_ok(&certs, tls_port, &["INFO", "server"]);
    // With plaintext off Redis reports the TLS port.
    assert!(info.contains(&format!("tcp_port:{tls_port}")), "{info}");
    assert!(!roundtrip(
        &mut TcpStream::connect(("127.0.0.1", tls_port)).unwrap(),
        "PING"
    )
    .contains("PONG"));
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn redis_crate_over_rediss() {
    let certs = Certs::make();
    let tls_port = free_port();
    let _srv = start(&certs.server_args(tls_port));
    let mut c = rediss(&certs, tls_port, None).unwrap();
    let _: () = redis::cmd("SET").arg("n").arg(41).query(&mut c).unwrap();
    let n: i64 = redis::cmd("INCR").arg("n").query(&mut c).unwrap();
    assert_eq!(n, 42);
    let big = "x".repeat(300_000);
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(&big)
        .query(&mut c)
        .unwrap();
    let back: String = redis::cmd("GET").arg("big").query(&mut c).unwrap();
    assert_eq!(back, big);
}

#[test]
fn mutual_tls_checks_client_certificates() {
    let certs = Certs::make();
    let tls_port = free_port();
    let mut args = certs.server_args(tls_port);
    let auth = args.iter().position(|a| a == "--tls-auth-clients").unwrap();
    args[auth + 1] = "yes".into();
    let srv = start(&args);
    // A certificate from our CA is accepted.
    let mut good = rediss(&certs, tls_port, Some("client")).unwrap();
    let pong: String = redis::cmd("PING").query(&mut good).unwrap();
    assert_eq!(pong, "PONG");
    let client = certs.path("client.crt");
    let key = certs.path("client.key");
    assert_eq!(
        String::from_utf8_lossy(
            &cli(
                &certs,
                tls_port,
                &["--cert", &client, "--key", &key],
                &["PING"]
            )
            .stdout
        )
        .trim(),
        "PONG"
    );
    // No certificate, or one from another CA, is refused.
    let none = cli(&certs, tls_port, &[], &["PING"]);
    assert!(!String::from_utf8_lossy(&none.stdout).contains("PONG"));
    assert!(rediss(&certs, tls_port, None)
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_err());
    let rogue = rediss(&certs, tls_port, Some("rogue"))
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
    assert!(rogue.is_err(), "{rogue:?}");
    // optional: no certificate is fine, a bad one still is not.
    assert_eq!(
        srv.raw()
            .call_raw(&["CONFIG", "SET", "tls-auth-clients", "optional"]),
        b"+OK\r\n"
    );
    assert_eq!(cli_ok(&certs, tls_port, &["PING"]), "PONG");
    let rogue = rediss(&certs, tls_port, Some("rogue"))
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
    assert!(rogue.is_err(), "{rogue:?}");
    // The connection made under "yes" is still up.
    let pong: String = redis::cmd("PING").query(&mut good).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn config_set_swaps_the_certificate_for_new_connections() {
    let certs = Certs::make();
    let tls_port = free_port();
    let mut args = certs.server_args(tls_port);
    args.extend(["--enable-protected-configs".to_string(), "yes".to_string()]);
    let srv = start(&args);
    let cfg = tls_client(&certs, None);
    let mut old = tls_from(cfg.clone(), "127.0.0.1", tls_port).unwrap();
    assert_eq!(served_cn(&old), "server");
    assert_eq!(roundtrip(&mut old, "SET before swap"), "+OK\r\n");

    let mut admin = srv.raw();
    let reply = admin.call_raw(&[
        "CONFIG",
        "SET",
        "tls-cert-file",
        &certs.path("swapped.crt"),
        "tls-key-file",
        &certs.path("swapped.key"),
    ]);
    assert_eq!(reply, b"+OK\r\n");
    let new = tls_from(cfg.clone(), "127.0.0.1", tls_port).unwrap();
    assert_eq!(served_cn(&new), "swapped");
    // The connection opened before the swap keeps working.
    assert_eq!(roundtrip(&mut old, "GET before"), "$4\r\nswap\r\n");

    // A file that cannot be loaded changes nothing.
    let reply = admin.call_raw(&["CONFIG", "SET", "tls-cert-file", "/nonexistent/cert.pem"]);
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs.\r\n"
    );
    let got = admin.call_raw(&["CONFIG", "GET", "tls-cert-file"]);
    assert!(String::from_utf8_lossy(&got).contains("swapped.crt"));
    assert!(srv.log_text().contains("/nonexistent/cert.pem"));
    let again = tls_from(cfg, "127.0.0.1", tls_port).unwrap();
    assert_eq!(served_cn(&again), "swapped");
    let reply = admin.call_raw(&["CONFIG", "SET", "tls-ciphersuites", "TLS_NOPE"]);
    assert!(reply
        .starts_with(b"-ERR CONFIG SET failed (possibly related to argument 'tls-ciphersuites')"));

    // The failed change is undone whole: a password and a directory set in
    // the same call take no effect either.
    let dir = temp_dir("tls-undo");
    let dir_path = dir.to_str().unwrap();
    let reply = admin.call_raw(&[
        "CONFIG",
        "SET",
        "requirepass",
        "sekrit",
        "dir",
        dir_path,
        "tls-cert-file",
        "/nonexistent/cert.pem",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs.\r\n"
    );
    assert_eq!(
        admin.call_raw(&["CONFIG", "GET", "requirepass"]),
        b"*2\r\n$11\r\nrequirepass\r\n$0\r\n\r\n"
    );
    let mut fresh = srv.raw();
    assert_eq!(fresh.call_raw(&["PING"]), b"+PONG\r\n");
    // The working directory went back too: "." still names the old one.
    let old_dir = fresh.call_raw(&["CONFIG", "GET", "dir"]);
    assert_eq!(fresh.call_raw(&["CONFIG", "SET", "dir", "."]), b"+OK\r\n");
    assert_eq!(fresh.call_raw(&["CONFIG", "GET", "dir"]), old_dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sessions_resume_unless_caching_is_off() {
    let certs = Certs::make();
    let tls_port = free_port();
    let srv = start(&certs.server_args(tls_port));
    let kind = |cfg: &Arc<rustls::ClientConfig>| {
        let mut s = tls_from(cfg.clone(), "127.0.0.1", tls_port).unwrap();
        // The reply carries the session tickets along with it.
        assert_eq!(roundtrip(&mut s, "PING"), "+PONG\r\n");
        s.conn.handshake_kind()
    };
    let cfg = tls_client(&certs, None);
    assert_eq!(kind(&cfg), Some(rustls::HandshakeKind::Full));
    assert_eq!(kind(&cfg), Some(rustls::HandshakeKind::Resumed));
    assert_eq!(
        srv.raw()
            .call_raw(&["CONFIG", "SET", "tls-session-caching", "no"]),
        b"+OK\r\n"
    );
    let cfg = tls_client(&certs, None);
    assert_eq!(kind(&cfg), Some(rustls::HandshakeKind::Full));
    assert_eq!(kind(&cfg), Some(rustls::HandshakeKind::Full));
    // Cached sessions expire after tls-session-cache-timeout seconds.
    let set = [
        "CONFIG",
        "SET",
        "tls-session-caching",
        "yes",
        "tls-session-cache-timeout",
        "2",
    ];
    assert_eq!(srv.raw().call_raw(&set), b"+OK\r\n");
    assert_eq!(kind(&cfg), Some(rustls::HandshakeKind::Full));
    assert_eq!(kind(&cfg), Some(rustls::HandshakeKind::Resumed));
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(kind(&cfg), Some(rustls::HandshakeKind::Full));
}

#[test]
fn bad_certificate_files_stop_startup_naming_the_file() {
    let certs = Certs::make();
    let dir = temp_dir("badcert");
    let run = |over: &[(&str, &str)]| -> (bool, String) {
        let mut args = certs.server_args(free_port());
        for (k, v) in over {
            let i = args.iter().position(|a| a == k).unwrap();
            args[i + 1] = v.to_string();
        }
        args.extend(
            [
                "--port",
                "0",
                "--save",
                "",
                "--dir",
                &dir.display().to_string(),
            ]
            .map(String::from),
        );
        let mut child = Command::new(redust_bin())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = child.try_wait() {
                let out = child.wait_with_output().unwrap();
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                return (out.status.success(), text);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        (true, "still running".into())
    };
    let missing = "/nonexistent/server.crt";
    let (ok, text) = run(&[("--tls-cert-file", missing)]);
    assert!(!ok && text.contains(missing), "{text}");
    let junk = certs.path("server.ext");
    let (ok, text) = run(&[("--tls-key-file", &junk)]);
    assert!(!ok && text.contains(&junk), "{text}");
    let (ok, text) = run(&[
        ("--tls-ca-cert-file", missing),
        ("--tls-auth-clients", "yes"),
    ]);
    assert!(!ok && text.contains(missing), "{text}");
    // An encrypted key needs its passphrase.
    let enc = certs.path("server-enc.key");
    let (ok, text) = run(&[("--tls-key-file", &enc)]);
    assert!(
        !ok && text.contains(&enc) && text.contains("tls-key-file-pass"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // With the right passphrase it serves.
    let tls_port = free_port();
    let mut args = certs.server_args(tls_port);
    let i = args.iter().position(|a| a == "--tls-key-file").unwrap();
    args[i + 1] = enc;
    args.extend(["--tls-key-file-pass", "s3cret"].map(String::from));
    let _srv = start(&args);
    assert_eq!(cli_ok(&certs, tls_port, &["PING"]), "PONG");
}

#[test]
fn ip_allowlist_refuses_other_source_addresses() {
    let certs = Certs::make();
    let tls_port = free_port();
    let dir = temp_dir("allow");
    let conf = dir.join("redis.conf");
    std::fs::write(&conf, "ip-allowlist 127.0.0.1/32 10.0.0.0/8\n").unwrap();
    let mut args = vec![conf.display().to_string()];
    args.extend(certs.server_args(tls_port));
    args.extend(["--unixsocket", &dir.join("s.sock").display().to_string()].map(String::from));
    let srv = start(&args);
    let mut admin = srv.raw();

    let mut from1 = connect_from("127.0.0.1", srv.port);
    assert_eq!(roundtrip(&mut from1, "PING"), "+PONG\r\n");
    let mut from2 = connect_from("127.0.0.2", srv.port);
    assert_eq!(roundtrip(&mut from2, "PING"), DENIED);
    let mut tail = Vec::new();
    assert_eq!(
        from2.read_to_end(&mut tail).unwrap_or(0),
        0,
        "disconnected after the refusal"
    );
    // Over TLS the refusal comes after the handshake.
    let cfg = tls_client(&certs, None);
    let mut tls2 = tls_from(cfg.clone(), "127.0.0.2", tls_port).unwrap();
    assert_eq!(roundtrip(&mut tls2, "PING"), DENIED);
    let mut tls1 = tls_from(cfg.clone(), "127.0.0.1", tls_port).unwrap();
    assert_eq!(roundtrip(&mut tls1, "PING"), "+PONG\r\n");
    // Unix-socket clients are not checked.
    let mut unix = std::os::unix::net::UnixStream::connect(dir.join("s.sock")).unwrap();
    assert_eq!(roundtrip(&mut unix, "PING"), "+PONG\r\n");

    // Runtime changes apply to the next connection.
    assert_eq!(
        admin.call_raw(&["CONFIG", "SET", "ip-allowlist", "127.0.0.2/32  ::1/128"]),
        b"+OK\r\n"
    );
    assert_eq!(
        admin.call_raw(&["CONFIG", "GET", "ip-allowlist"]),
        b"*2\r\n$12\r\nip-allowlist\r\n$20\r\n127.0.0.2/32 ::1/128\r\n"
    );
    assert_eq!(
        roundtrip(&mut connect_from("127.0.0.2", srv.port), "PING"),
        "+PONG\r\n"
    );
    assert_eq!(
        roundtrip(&mut connect_from("127.0.0.1", srv.port), "PING"),
        DENIED
    );
    // Already connected clients stay.
    assert_eq!(roundtrip(&mut from1, "PING"), "+PONG\r\n");
    let bad = admin.call_raw(&["CONFIG", "SET", "ip-allowlist", "127.0.0.0/33"]);
    assert_eq!(
        String::from_utf8_lossy(&bad),
        "-ERR CONFIG SET failed (possibly related to argument 'ip-allowlist') - Invalid CIDR range '127.0.0.0/33'\r\n"
    );
    assert_eq!(admin.call_raw(&["CONFIG", "REWRITE"]), b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains("ip-allowlist \"127.0.0.2/32 ::1/128\""),
        "{text}"
    );
    // An empty list admits everyone.
    assert_eq!(
        admin.call_raw(&["CONFIG", "SET", "ip-allowlist", ""]),
        b"+OK\r\n"
    );
    assert_eq!(
        roundtrip(&mut connect_from("127.0.0.1", srv.port), "PING"),
        "+PONG\r\n"
    );
    assert_eq!(
        roundtrip(&mut connect_from("127.0.0.3", srv.port), "PING"),
        "+PONG\r\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
