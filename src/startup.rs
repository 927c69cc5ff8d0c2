//! Start-up: command line and config file, daemonizing, pidfile, logging,
//! the single-threaded runtime that runs the network and the executor, and
//! orderly shutdown.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;

use crate::config::file::{self, Extras};
use crate::config::{Config, D};
use crate::server::{Server, ShutdownMode};

#[derive(Parser, Debug)]
#[command(
    name = "redust-server",
    disable_version_flag = true,
    about = "A Redis-compatible server",
    override_usage = "redust-server [/path/to/redis.conf] [--directive value ...]\n       redust-server --port 7777\n       redust-server /etc/redis/6379.conf --loglevel verbose"
)]
struct Cli {
    /// A redis.conf path, then `--directive value` pairs as in redis.conf.
    #[arg(allow_hyphen_values = true, trailing_var_arg = true, num_args = 0..)]
    args: Vec<String>,
}

/// Builds the configuration from argv (without the program name).
pub fn load_config(args: &[String]) -> Result<(Config, Extras), String> {
    let mut lines = Vec::new();
    let mut cfg = Config::default();
    let mut rest = args;
    if let Some(first) = args.first() {
        if !first.starts_with("--") {
            file::read_lines(first, 0, &mut lines).map_err(|e| e.0)?;
            let p = std::path::Path::new(first);
            cfg.file = Some(std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()));
            rest = &args[1..];
        }
    }
    lines.extend(file::lines_from_argv(rest).map_err(|e| e.0)?);
    let mut extras = Extras::default();
    file::apply_lines(&mut cfg, &lines, &mut extras).map_err(|e| e.0)?;
    Ok((cfg, extras))
}

fn daemonize() {
    // Safety: called before any thread is started, as fork requires.
    unsafe {
        match libc::fork() {
            -1 => eprintln!("fork failed; continuing in the foreground"),
            0 => {
                libc::setsid();
                let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if fd >= 0 {
                    libc::dup2(fd, 0);
                    libc::dup2(fd, 1);
                    libc::dup2(fd, 2);
                    if fd > 2 {
                        libc::close(fd);
                    }
                }
            }
            _ => libc::_exit(0),
        }
    }
}

/// The `-v` / `--version` line, in redis-server's format (tools parse
/// `v=`), naming Redust's own version too.
pub fn version_line() -> String {
    format!(
        "Redust server v={} sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=0 redust_version={}",
        crate::REDIS_VERSION,
        crate::REDUST_VERSION
    )
}

pub fn main() -> i32 {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if matches!(
        argv.first().map(String::as_str),
        Some("-v" | "-V" | "--version")
    ) {
        println!("{}", version_line());
        return 0;
    }
    let cli = Cli::parse();
    let (mut cfg, extras) = match load_config(&cli.args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    if !cfg.str(D::DIR).is_empty() {
        if let Err(e) = std::env::set_current_dir(cfg.str(D::DIR)) {
            eprintln!("Can't chdir to '{}': {e}", cfg.str(D::DIR));
            return 1;
        }
    }
    if let Ok(cwd) = std::env::current_dir() {
        let _ = cfg.set_startup("dir", &cwd.display().to_string());
    }
    let daemon = cfg.bool(D::DAEMONIZE);
    if daemon {
        daemonize();
        if cfg.str(D::PIDFILE).is_empty() {
            let _ = cfg.set_startup("pidfile", "/var/run/redis.pid");
        }
    }
    if let Err(e) = crate::logging::init(cfg.str(D::LOGFILE), cfg.str(D::LOGLEVEL)) {
        eprintln!("Can't open the log file: {e}");
        return 1;
    }
    for w in &extras.warnings {
        tracing::warn!("{w}");
    }
    tracing::info!("oO0OoO0OoO0Oo Redust is starting oO0OoO0OoO0Oo");
    tracing::info!(
        "Redust version={}, redis_version={}, bits=64, pid={}, just started",
        crate::REDUST_VERSION,
        crate::REDIS_VERSION,
        std::process::id()
    );
    if cfg.file.is_none() {
        tracing::warn!("Warning: no config file specified, using the default config. In order to specify a config file use redust-server /path/to/redis.conf");
    }
    let pidfile = cfg.str(D::PIDFILE).to_string();
    if !pidfile.is_empty() {
        if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
            tracing::warn!("Failed to write PID file: {e}");
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(crate::net::busypoll::parking)
        .on_thread_unpark(crate::net::busypoll::unparked)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("Can't start the runtime: {e}");
            return 1;
        }
    };
    // The LocalSet polls the future it runs each time any of its tasks is
    // woken, that is on every request: `run` (which waits on signals, a few
    // hundred instructions per poll) goes in a task of its own, and what
    // is polled here is one flag (cheaper than a JoinHandle).
    let done: Rc<Done> = Rc::default();
    let code = tokio::task::LocalSet::new().block_on(&rt, {
        let done = done.clone();
        async move {
            let task_done = done.clone();
            tokio::task::spawn_local(async move {
                let guard = DoneOnDrop(task_done);
                let code = run(cfg, extras.users).await;
                guard.0.code.set(Some(code));
            });
            done.wake.notified().await;
            // A panic has been printed already; a panicking server exits
            // with a failure code.
            done.code.get().unwrap_or(1)
        }
    });
    // Start-up failures return before `run` removed it.
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    code
}

async fn run(cfg: Config, users: Vec<Vec<String>>) -> i32 {
    let tls_port = cfg.int(D::TLS_PORT) as u16;
    let tls = if tls_port != 0 {
        match crate::net::tls::build(&cfg) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!("{e}");
                tracing::warn!("Failed to configure TLS. Check logs for more info.");
                return 1;
            }
        }
    } else {
        None
    };
    let bound = async {
        let plain = crate::net::bind_all(&cfg, cfg.int(D::PORT) as u16).await?;
        let tls = crate::net::bind_all(&cfg, tls_port).await?;
        Ok::<_, std::io::Error>((plain, tls))
    };
    let (listeners, tls_listeners) = match bound.await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("{e}");
            return 1;
        }
    };
    // The Prometheus endpoint (metrics-port), on the same addresses.
    let metrics_listeners = match cfg.int(D::METRICS_PORT) as u16 {
        0 => Vec::new(),
        port => match crate::net::bind_all(&cfg, port).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("Failed opening the metrics port: {e}");
                return 1;
            }
        },
    };
    let unixsocket = cfg.str(D::UNIXSOCKET).to_string();
    if listeners.is_empty() && tls_listeners.is_empty() && unixsocket.is_empty() {
        tracing::warn!("Configured to not listen anywhere, exiting.");
        return 1;
    }
    let mut srv = Server::new(cfg);
    srv.tls = tls;
    srv.config_file = srv.cfg.file.as_ref().map(|p| p.display().to_string());
    if let Err(e) = srv.init_acl(&users) {
        tracing::warn!("{e}");
        return 1;
    }
    srv.bound_port = listeners
        .iter()
        .chain(&tls_listeners)
        .find_map(|l| l.local_addr().ok())
        .map(|a| a.port())
        .unwrap_or(0);
    let srv = Rc::new(RefCell::new(srv));
    let mut tasks = Vec::new();
    let has_tcp = !listeners.is_empty() || !tls_listeners.is_empty();
    let all = listeners.into_iter().map(|l| (l, false)).chain(tls_listeners.into_iter().map(|l| (l, true)));
    for (l, tls) in all {
        tasks.push(tokio::task::spawn_local(crate::net::accept_tcp(
            l,
            srv.clone(),
            tls,
        )));
    }
    if !unixsocket.is_empty() {
        let _ = std::fs::remove_file(&unixsocket);
        match tokio::net::UnixListener::bind(&unixsocket) {
            Ok(l) => {
                let perm = srv.borrow().cfg.str(D::UNIXSOCKETPERM).to_string();
                if let Ok(mode) = u32::from_str_radix(&perm, 8) {
                    if mode != 0 {
                        use std::os::unix::fs::PermissionsExt;
                        let _ = std::fs::set_permissions(
                            &unixsocket,
                            std::fs::Permissions::from_mode(mode),
                        );
                    }
                }
                tracing::info!("The server is now ready to accept connections at {unixsocket}");
                tasks.push(tokio::task::spawn_local(crate::net::accept_unix(
                    l,
                    unixsocket.clone(),
                    srv.clone(),
                )));
            }
            Err(e) => {
                tracing::warn!("Failed opening Unix socket: {e}");
                return 1;
            }
        }
    }
    for l in metrics_listeners {
        tasks.push(tokio::task::spawn_local(crate::net::metrics::accept(l, srv.clone())));
    }
    // Clients connected meanwhile get LOADING (see persist::loading).
    if let Err(e) = crate::persist::loading::load_at_startup(&srv).await {
        tracing::warn!("{e}");
        for t in &tasks {
            t.abort();
        }
        return 1;
    }
    srv.borrow_mut().replica_init();
    tasks.push(tokio::task::spawn_local(cron(srv.clone())));
    tasks.push(tokio::task::spawn_local(crate::net::busypoll::run(srv.clone())));
    tasks.push(tokio::task::spawn_local(crate::persist::snapshot::driver(srv.clone())));
    tasks.push(tokio::task::spawn_local(crate::repl::replica::run(srv.clone())));
    tracing::info!("Server initialized");
    if has_tcp {
        tracing::info!("Ready to accept connections tcp");
    }
    if !unixsocket.is_empty() {
        tracing::info!("Ready to accept connections unix");
    }

    let notify = srv.borrow().shutdown_notify.clone();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    // A signal may first wait for lagging replicas (then the cron
    // notifies), and SHUTDOWN ABORT may call that off.
    loop {
        tokio::select! {
            _ = notify.notified() => break,
            _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {
                tracing::warn!("Received SIGTERM scheduling shutdown...");
                if srv.borrow_mut().shutdown_on_signal(D::SHUTDOWN_ON_SIGTERM) {
                    break;
                }
            }
            _ = async { match int.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {
                tracing::warn!("Received SIGINT scheduling shutdown...");
                if srv.borrow_mut().shutdown_on_signal(D::SHUTDOWN_ON_SIGINT) {
                    break;
                }
            }
        }
    }
    tracing::warn!("User requested shutdown...");
    for t in &tasks {
        t.abort();
    }
    // Let connection tasks write the replies they already produced.
    for c in srv.borrow().clients.values() {
        c.kill();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while !srv.borrow().clients.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    {
        let mut s = srv.borrow_mut();
        // A signal (or SHUTDOWN without a saved snapshot) saves when save
        // rules are configured; SHUTDOWN saves itself and says NoSave here.
        let mode = s.shutdown.unwrap_or(ShutdownMode::Default);
        s.finish_snapshot_now();
        if s.persist.bgsave.is_some() {
            tracing::warn!("There is a child saving an .rdb. Waiting for it to finish.");
            while s.persist.bgsave.is_some() {
                s.persist_cron();
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        s.aof_shutdown();
        let wants = mode == ShutdownMode::Save
            || (mode == ShutdownMode::Default && !s.cfg.save_rules().is_empty());
        if wants {
            tracing::info!("Saving the final RDB snapshot before exiting.");
            if let Err(e) = s.save_now() {
                tracing::warn!("Error trying to save the DB: {e}");
            }
        }
    }
    let pidfile = srv.borrow().cfg.str(D::PIDFILE).to_string();
    if !pidfile.is_empty() {
        tracing::info!("Removing the pid file.");
        let _ = std::fs::remove_file(&pidfile);
    }
    if !unixsocket.is_empty() {
        tracing::info!("Removing the unix socket file.");
        let _ = std::fs::remove_file(&unixsocket);
    }
    tracing::warn!("Redust is now ready to exit, bye bye...");
    0
}

#[derive(Default)]
struct Done {
    code: Cell<Option<i32>>,
    wake: crate::util::wake::Wake,
}

/// Wakes the main future when `run` ends, also by a panic.
struct DoneOnDrop(Rc<Done>);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.wake.notify_one();
    }
}

async fn cron(srv: Rc<RefCell<Server>>) {
    loop {
        let hz = srv.borrow().cfg.int(D::HZ).clamp(1, 500) as u64;
        tokio::time::sleep(Duration::from_millis(1000 / hz)).await;
        srv.borrow_mut().cron();
    }
}
