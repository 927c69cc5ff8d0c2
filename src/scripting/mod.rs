//! Lua scripting (EVAL and FUNCTION): the Lua 5.1 states, the script cache,
//! and running a script atomically on the executor with `redis.call`
//! going through the normal command path as the calling client.
//!
//! Each state runs `prelude.lua` once: it wraps the Rust primitives of
//! `api` into the `redis` table, installs the read-only global environment
//! scripts run in, and the error handler that locates errors in user code.

pub mod api;
pub mod busy;
pub mod convert;
pub mod functions;
pub mod libs;

use std::cell::{Cell, RefCell};
use std::ptr::NonNull;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;
use mlua::{
    chunk::ChunkMode, Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState,
};

use crate::commands;
use crate::config::D;
use crate::errors::{CmdResult, Error};
use crate::resp::reply::{read_frame, Frame};
use crate::resp::Out;
use crate::server::{exec, Ctx};

/// Lua instructions between two checks of the time limit and SCRIPT KILL.
const HOOK_EVERY: u32 = 100_000;

/// State shared between the engine and the Lua primitives of one Lua
/// state: what the running script has selected.
#[derive(Default)]
pub struct RunFlags {
    /// Protocol of replies the script sees (`redis.setresp`).
    pub resp: Cell<u8>,
    /// Set by SCRIPT KILL / FUNCTION KILL; checked by the hook.
    pub kill: Cell<bool>,
    /// The script has called a write command (cannot be killed then).
    pub wrote: Cell<bool>,
    /// While a script runs: the `RefCell<&mut Ctx>` its `redis.call` and
    /// hook reach the server through (type-erased; null otherwise). The
    /// `call` primitive and the hook are made once per Lua state rather
    /// than per run, which is most of what a short script used to cost.
    ctx: Cell<Option<NonNull<()>>>,
    limits: Cell<Option<Limits>>,
    oom: Cell<bool>,
    /// When the running script started and `busy-reply-threshold`.
    started: Cell<Option<(Instant, i64)>>,
    /// The clients a busy script answers, gathered once it is busy.
    others: RefCell<Option<busy::Others>>,
}

type CtxCell<'a, 'b> = RefCell<&'a mut Ctx<'b>>;

impl RunFlags {
    /// The running script's context, if a script is running.
    fn ctx(&self) -> Option<&CtxCell<'static, 'static>> {
        let p = self.ctx.get()?.cast::<CtxCell<'static, 'static>>();
        // SAFETY: `run` sets the pointer to a cell that outlives the Lua
        // call it makes and clears it before the cell goes away; the
        // reference is used only within the primitive or hook that got it.
        Some(unsafe { p.as_ref() })
    }

    /// The instruction-count hook: serves other clients once the script is
    /// busy, and stops it after SCRIPT KILL.
    fn on_hook(&self) -> mlua::Result<VmState> {
        let Some((started, threshold)) = self.started.get() else {
            // No script runs (FUNCTION LOAD running a library's body).
            return Ok(VmState::Continue);
        };
        if threshold > 0 && started.elapsed().as_millis() as i64 >= threshold {
            let mut others = self.others.borrow_mut();
            if others.is_none() {
                // Not inside a redis.call (its command runs no Lua), so
                // the context is free to read.
                if let Some(Ok(ctx)) = self.ctx().map(|c| c.try_borrow()) {
                    *others = busy_others(&ctx);
                }
            }
            if let Some(o) = others.as_ref() {
                o.serve(self);
            }
        }
        if self.kill.get() {
            return Err(mlua::Error::runtime("killed"));
        }
        Ok(VmState::Continue)
    }
}

/// One Lua state with its prelude installed.
pub struct Vm {
    pub lua: Lua,
    /// The prelude's private table: `call`, `run`, `env`.
    pub(crate) slot: Table,
    pub flags: Rc<RunFlags>,
}

/// What a running script may do, decided before it starts.
#[derive(Clone, Copy)]
pub struct Limits {
    pub read_only: bool,
    pub allow_oom: bool,
}

/// Which script an error report names: `script: <sha>` for EVAL, the
/// function name for FCALL.
pub struct Origin<'a> {
    pub name: &'a str,
    pub source: &'a str,
    /// The FCALL command line (FUNCTION STATS shows it).
    pub command: &'a [Bytes],
}

/// Information about the running script, for SCRIPT KILL and FUNCTION STATS.
pub struct Running {
    pub name: String,
    /// The FCALL command line (FUNCTION STATS shows it while busy).
    pub command: Vec<Bytes>,
    pub is_function: bool,
    pub started: Instant,
    pub flags: Rc<RunFlags>,
}

#[derive(Default)]
pub struct Scripting {
    eval: Option<Vm>,
    /// EVAL scripts by SHA1: body and compiled function.
    scripts: hashbrown::HashMap<String, (Bytes, Function)>,
    pub functions: functions::Registry,
    pub running: Option<Running>,
}

impl Vm {
    /// A fresh state with Redis's libraries, the redis API and the
    /// read-only global environment.
    pub fn new(extra: impl FnOnce(&Lua, &Table) -> mlua::Result<()>) -> mlua::Result<Vm> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // SAFETY: the debug library is only handed to the prelude, which
        // keeps `debug.getinfo` private; user code never sees `debug`.
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::default()) };
        let flags = Rc::new(RunFlags {
            resp: Cell::new(2),
            ..Default::default()
        });
        let g = lua.globals();
        libs::install(&lua, &g)?;
        let debug: Table = g.get("debug")?;
        let getinfo: Function = debug.get("getinfo")?;
        for name in [
            "debug", "os", "print", "dofile", "loadfile", "setfenv", "getfenv", "require",
            "module", "newproxy", "io", "package",
        ] {
            g.raw_set(name, Value::Nil)?;
        }
        let api = api::build(&lua, &flags)?;
        extra(&lua, &api)?;
        let slot = lua.create_table()?;
        let f = flags.clone();
        let call = lua.create_function(move |lua, mv: mlua::MultiValue| {
            let argv: Vec<Value> = mv.into_iter().collect();
            let (Some(cell), Some(limits)) = (f.ctx(), f.limits.get()) else {
                return Err(mlua::Error::runtime("redis.call is only available while a script runs"));
            };
            let mut ctx = cell
                .try_borrow_mut()
                .map_err(|_| mlua::Error::runtime("redis.call is not reentrant"))?;
            match call_command(&mut ctx, lua, &argv, limits, f.oom.get(), &f) {
                Ok((v, is_err)) => Ok((v, is_err)),
                Err(msg) => Ok((err_table(lua, msg.as_bytes())?, true)),
            }
        })?;
        slot.raw_set("call", call)?;
        let f = flags.clone();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| f.on_hook(),
        )?;
        lua.load(include_str!("prelude.lua"))
            .set_name("=redust")
            .set_mode(ChunkMode::Text)
            .call::<()>((slot.clone(), getinfo, g, api))?;
        Ok(Vm { lua, slot, flags })
    }

    /// Compiles user code into a function running in the protected
    /// environment; the error is Lua's message.
    pub fn compile(&self, body: &[u8], chunk: &str) -> Result<Function, String> {
        let env: Table = self.slot.get("env").map_err(|e| e.to_string())?;
        self.lua
            .load(body)
            .set_name(chunk)
            .set_mode(ChunkMode::Text)
            .set_environment(env)
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            })
    }

    /// The script's global environment (the read-only view).
    pub fn real_globals(&self) -> Table {
        self.lua.globals()
    }
}

/// The 40 lowercase hex digits of SHA1(`b`).
pub fn sha1_hex(b: &[u8]) -> String {
    sha1_smol::Sha1::from(b).digest().to_string()
}

/// Error text for a compile failure, as Redis words it.
pub fn compile_error(msg: &str) -> Error {
    Error::Msg(format!("ERR Error compiling script (new function): {msg}").into())
}

impl Scripting {
    fn eval_vm(&mut self) -> Result<&Vm, Error> {
        if self.eval.is_none() {
            let vm = Vm::new(|_, _| Ok(())).map_err(|e| Error::Msg(format!("ERR {e}").into()))?;
            self.eval = Some(vm);
        }
        self.eval
            .as_ref()
            .ok_or_else(|| Error::msg("ERR scripting unavailable"))
    }

    /// SCRIPT LOAD / EVAL: compiles and caches; returns the SHA1.
    pub fn load_script(&mut self, body: &Bytes) -> Result<String, Error> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let code = strip_shebang(body)?.1;
        let f = self
            .eval_vm()?
            .compile(&code, "@user_script")
            .map_err(|m| compile_error(&m))?;
        self.scripts.insert(sha.clone(), (body.clone(), f));
        Ok(sha)
    }

    pub fn has_script(&self, sha: &[u8]) -> bool {
        std::str::from_utf8(sha)
            .map(|s| self.scripts.contains_key(&s.to_ascii_lowercase()))
            .unwrap_or(false)
    }

    /// SCRIPT FLUSH: forgets every script and starts a fresh Lua state.
    pub fn flush_scripts(&mut self) {
        self.scripts.clear();
        self.eval = None;
    }

    pub fn script_count(&self) -> usize {
        self.scripts.len()
    }

    /// Bytes of cached script bodies (used_memory_scripts_eval).
    pub fn scripts_bytes(&self) -> usize {
        self.scripts.values().map(|(b, _)| b.len() + 40).sum()
    }

    /// Memory used by the EVAL Lua state (INFO used_memory_lua).
    pub fn eval_memory(&self) -> usize {
        self.eval.as_ref().map_or(0, |v| v.lua.used_memory())
    }
}

/// Splits an optional `#!lua flags=...` first line from a script body.
/// The line is blanked rather than removed so line numbers stay right.
pub fn strip_shebang(body: &[u8]) -> Result<(Option<Vec<u8>>, std::borrow::Cow<'_, [u8]>), Error> {
    if !body.starts_with(b"#!") {
        return Ok((None, std::borrow::Cow::Borrowed(body)));
    }
    let end = memchr::memchr(b'\n', body).unwrap_or(body.len());
    let line = body[..end].to_vec();
    let mut code = Vec::with_capacity(body.len());
    code.extend_from_slice(&body[end..]);
    Ok((Some(line), std::borrow::Cow::Owned(code)))
}

/// Flags from an EVAL shebang line (`#!lua flags=no-writes,allow-oom`).
pub fn shebang_flags(line: &[u8]) -> Result<Vec<String>, Error> {
    let text = String::from_utf8_lossy(line).into_owned();
    let mut parts = text.split(' ').filter(|s| !s.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(Error::Msg(
            format!("ERR Unexpected engine in script shebang: {engine}").into(),
        ));
    }
    let mut flags = Vec::new();
    for p in parts {
        match p.strip_prefix("flags=") {
            Some(list) => {
                for f in list.split(',').filter(|s| !s.is_empty()) {
                    if !matches!(
                        f,
                        "no-writes"
                            | "allow-oom"
                            | "allow-stale"
                            | "no-cluster"
                            | "allow-cross-slot-keys"
                    ) {
                        return Err(Error::Msg(
                            format!("ERR Unexpected flag in script shebang: {f}").into(),
                        ));
                    }
                    flags.push(f.to_string());
                }
            }
            None => {
                return Err(Error::Msg(
                    format!("ERR Unknown lua shebang option: {p}").into(),
                ))
            }
        }
    }
    Ok(flags)
}

/// Runs EVAL's script `sha` (already cached) with KEYS and ARGV.
pub fn run_eval(
    ctx: &mut Ctx,
    sha: &str,
    keys: &[Bytes],
    argv: &[Bytes],
    read_only: bool,
) -> CmdResult {
    let (body, func) = match ctx.srv.scripting.scripts.get(sha) {
        Some((b, f)) => (b.clone(), f.clone()),
        None => return Err(Error::msg("NOSCRIPT No matching script. Please use EVAL.")),
    };
    let mut limits = Limits {
        read_only,
        allow_oom: false,
    };
    if let (Some(line), _) = strip_shebang(&body)? {
        for f in shebang_flags(&line)? {
            match f.as_str() {
                "no-writes" => limits.read_only = true,
                "allow-oom" => limits.allow_oom = true,
                _ => {}
            }
        }
    }
    let vm = ctx.srv.scripting.eval_vm()?;
    let (lua, slot, flags) = (vm.lua.clone(), vm.slot.clone(), vm.flags.clone());
    let g = lua.globals();
    let to_table = |items: &[Bytes]| -> mlua::Result<Table> {
        let t = lua.create_table_with_capacity(items.len(), 0)?;
        for (i, a) in items.iter().enumerate() {
            t.raw_set(i + 1, lua.create_string(a)?)?;
        }
        Ok(t)
    };
    let set_args = || -> mlua::Result<()> {
        g.raw_set("KEYS", to_table(keys)?)?;
        g.raw_set("ARGV", to_table(argv)?)
    };
    set_args().map_err(lua_err)?;
    let origin = Origin {
        name: sha,
        source: "user_script",
        command: &[],
    };
    run(
        ctx,
        &slot,
        &flags,
        func,
        (Value::Nil, Value::Nil),
        limits,
        &origin,
        false,
    )
}

fn lua_err(e: mlua::Error) -> Error {
    Error::Msg(format!("ERR {e}").into())
}

/// Runs `func(a, b)` as a script: redis.call available, time limit and
/// SCRIPT KILL checked by a hook, the reply converted into `ctx.out`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    ctx: &mut Ctx,
    slot: &Table,
    flags: &Rc<RunFlags>,
    func: Function,
    args: (Value, Value),
    limits: Limits,
    origin: &Origin,
    is_function: bool,
) -> CmdResult {
    flags.resp.set(2);
    flags.kill.set(false);
    flags.wrote.set(false);
    let started = Instant::now();
    ctx.srv.scripting.running = Some(Running {
        name: origin.name.to_string(),
        command: origin.command.to_vec(),
        is_function,
        started,
        flags: flags.clone(),
    });
    let threshold = ctx.srv.cfg.int(D::BUSY_REPLY_THRESHOLD);
    // Redis decides whether the server is out of memory once, at start.
    let oom = !limits.allow_oom && !ctx.srv.evict_to_fit(ctx.now_ms);
    let saved_db = ctx.client.db.get();
    let runner: Result<Function, _> = slot.get("run");
    let ctx_cell: CtxCell = RefCell::new(&mut *ctx);
    let result = match runner {
        Err(e) => Err(e),
        Ok(runner) => {
            // Saved and restored, though scripts cannot nest (EVAL and
            // FCALL are noscript).
            let outer = (flags.ctx.get(), flags.limits.get(), flags.oom.get(), flags.started.get());
            flags.ctx.set(Some(NonNull::from(&ctx_cell).cast()));
            flags.limits.set(Some(limits));
            flags.oom.set(oom);
            flags.started.set(Some((started, threshold)));
            let r = runner.call::<(bool, Value)>((func, args.0, args.1));
            flags.ctx.set(outer.0);
            flags.limits.set(outer.1);
            flags.oom.set(outer.2);
            flags.started.set(outer.3);
            flags.others.replace(None);
            r
        }
    };
    drop(ctx_cell);
    ctx.client.db.set(saved_db);
    let killed = flags.kill.get();
    ctx.srv.scripting.running = None;
    let resp3 = flags.resp.get() == 3;
    match result {
        Ok((true, v)) => {
            if let Value::Table(t) = &v {
                if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
                    return Err(Error::Bytes(e.as_bytes().to_vec()));
                }
            }
            convert::lua_to_reply(ctx.out, &v, resp3);
            Ok(())
        }
        Ok((false, info)) => Err(Error::Bytes(script_error(&info, origin, killed))),
        Err(e) => Err(Error::Bytes(format!("ERR {e}").into_bytes())),
    }
}

/// The clients a busy script answers (all but the caller and TLS ones).
fn busy_others(ctx: &Ctx) -> Option<busy::Others> {
    let r = ctx.srv.scripting.running.as_ref()?;
    let tls_port = ctx.srv.cfg.int(D::TLS_PORT);
    let tls_suffix = format!(":{tls_port}");
    Some(busy::Others {
        clients: ctx
            .srv
            .clients
            .values()
            .filter(|c| c.id != ctx.client.id && !(tls_port > 0 && c.laddr.ends_with(&tls_suffix)))
            .cloned()
            .collect(),
        is_function: r.is_function,
        name: r.name.clone(),
        command: r.command.clone(),
        started: r.started,
        libraries: ctx.srv.scripting.functions.libs.len(),
        functions: ctx.srv.scripting.functions.function_count(),
    })
}

/// The error reply for a script that raised `info` = {error, line}.
fn script_error(info: &Value, origin: &Origin, killed: bool) -> Vec<u8> {
    let (err, line) = match info {
        Value::Table(t) => (
            t.raw_get::<Value>(1).unwrap_or(Value::Nil),
            t.raw_get::<Value>(2).ok(),
        ),
        other => (other.clone(), None),
    };
    let mut msg: Vec<u8> = if killed {
        b"ERR Script killed by user with SCRIPT KILL...".to_vec()
    } else {
        match &err {
            Value::Table(t) => match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => s.as_bytes().to_vec(),
                _ => b"ERR unknown error".to_vec(),
            },
            Value::String(s) => {
                let mut m = b"ERR ".to_vec();
                m.extend_from_slice(&s.as_bytes());
                m
            }
            Value::Error(e) => format!("ERR {}", root_cause(e)).into_bytes(),
            other => format!("ERR {}", other.to_string().unwrap_or_default()).into_bytes(),
        }
    };
    msg.extend_from_slice(format!(" script: {}, on @{}:", origin.name, origin.source).as_bytes());
    match line {
        Some(Value::Integer(n)) => msg.extend_from_slice(format!("{n}.").as_bytes()),
        Some(Value::Number(n)) => msg.extend_from_slice(format!("{}.", n as i64).as_bytes()),
        _ => msg.extend_from_slice(b"?."),
    }
    msg
}

/// The message of an error raised from Rust, without mlua's wrapping.
fn root_cause(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => root_cause(cause),
        mlua::Error::RuntimeError(m) => m.clone(),
        other => other.to_string(),
    }
}

/// `{err = msg}`.
pub fn err_table(lua: &Lua, msg: &[u8]) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set("err", lua.create_string(msg)?)?;
    Ok(Value::Table(t))
}

/// One `redis.call` / `redis.pcall`: returns the reply as a Lua value and
/// whether it is an error reply; Err is an error found before running.
fn call_command(
    ctx: &mut Ctx,
    lua: &Lua,
    argv: &[Value],
    limits: Limits,
    oom: bool,
    flags: &RunFlags,
) -> Result<(Value, bool), String> {
    if argv.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call".into());
    }
    let mut args = Vec::with_capacity(argv.len());
    for v in argv {
        let b = match v {
            Value::String(s) => Bytes::copy_from_slice(&s.as_bytes()),
            Value::Integer(_) | Value::Number(_) => match lua.coerce_string(v.clone()) {
                Ok(Some(s)) => Bytes::copy_from_slice(&s.as_bytes()),
                _ => return Err(BAD_ARG.into()),
            },
            _ => return Err(BAD_ARG.into()),
        };
        args.push(b);
    }
    let cmd = match exec::resolve(&args) {
        Ok(c) => c,
        Err(e) if e.text().starts_with(b"ERR wrong number of arguments") => {
            return Err("ERR Wrong number of args calling Redis command from script".into())
        }
        Err(_) => return Err("ERR Unknown Redis command called from script".into()),
    };
    if cmd.flags & commands::NOSCRIPT != 0 {
        return Err("ERR This Redis command is not allowed from script".into());
    }
    if cmd.flags & commands::WRITE != 0 {
        if limits.read_only {
            return Err("ERR Write commands are not allowed from read-only scripts.".into());
        }
        flags.wrote.set(true);
    }
    if oom && cmd.flags & commands::DENYOOM != 0 {
        return Err(crate::errors::OOM.into());
    }
    // Not Out::new: its 16 KiB buffer is for connections.
    let mut out = Out {
        buf: Vec::new(),
        resp3: flags.resp.get() == 3,
    };
    exec::run_queued(ctx.srv, ctx.client, &mut out, &args, ctx.now_ms);
    let frame = match read_frame(&out.buf) {
        Ok(Some((f, _))) => f,
        _ => Frame::Null,
    };
    let is_err = matches!(frame, Frame::Error(_));
    let v = convert::frame_to_lua(lua, frame).map_err(|e| format!("ERR {e}"))?;
    Ok((v, is_err))
}

const BAD_ARG: &str = "ERR Lua redis lib command arguments must be strings or integers";

/// `busy-reply-threshold` in milliseconds (0: never busy).
pub fn busy_threshold(ctx: &Ctx) -> i64 {
    ctx.srv.cfg.int(D::BUSY_REPLY_THRESHOLD)
}
