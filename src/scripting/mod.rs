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

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::os::raw::c_int;
use std::ptr::NonNull;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;
use mlua::ffi::{self, lua_State};
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
    /// `redis.call`'s reply buffer, kept between calls.
    reply: RefCell<Vec<u8>>,
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
    /// The prelude's private table: `env`, `set_loading`, `handler`.
    pub(crate) slot: Table,
    pub flags: Rc<RunFlags>,
    /// Registry reference of the prelude's error handler.
    handler: c_int,
    /// EVAL's global KEYS and ARGV tables (registry references, made on
    /// first use) and how many entries each was last given: they are
    /// refilled in place rather than made anew for every run.
    args: Cell<[(c_int, c_int); 2]>,
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
    eval: Option<Rc<Vm>>,
    /// EVAL scripts by SHA1: body and compiled function.
    scripts: hashbrown::HashMap<String, Rc<(Bytes, Function)>>,
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
        // The Vm keeps `flags` alive as long as the state, and the
        // functions only run while a script (so the Vm) runs.
        let fp = Rc::as_ptr(&flags) as *mut std::ffi::c_void;
        for (name, raise) in [("call", true), ("pcall", false)] {
            // SAFETY: pushes a C closure over two plain upvalues.
            let f = unsafe {
                lua.exec_raw::<Function>((), |l| {
                    ffi::lua_pushlightuserdata(l, fp);
                    ffi::lua_pushboolean(l, raise as c_int);
                    ffi::lua_pushcclosure(l, redis_call, 2);
                })?
            };
            slot.raw_set(name, f)?;
        }
        let f = flags.clone();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| f.on_hook(),
        )?;
        lua.load(include_str!("prelude.lua"))
            .set_name("=redust")
            .set_mode(ChunkMode::Text)
            .call::<()>((slot.clone(), getinfo, g, api))?;
        let handler: Function = slot.get("handler")?;
        // SAFETY: moves the pushed handler into the registry.
        let handler = unsafe {
            lua.exec_raw_lua(|raw| {
                raw.push(&handler)?;
                Ok::<_, mlua::Error>(ffi::luaL_ref(raw.state(), ffi::LUA_REGISTRYINDEX))
            })?
        };
        Ok(Vm {
            lua,
            slot,
            flags,
            handler,
            args: Cell::new([(ffi::LUA_NOREF, 0); 2]),
        })
    }

    /// Calls `func` with `params` as fresh arrays of strings, under the
    /// prelude's error handler. On success `ok` gets the result's absolute
    /// stack index; on error the handler's `{error, line}` is returned.
    fn pcall(
        &self,
        func: &Function,
        params: &[&[Bytes]],
        ok: impl FnOnce(*mut lua_State, c_int),
    ) -> mlua::Result<Result<(), Value>> {
        self.lua.exec_raw_lua(|raw| {
            // SAFETY: balanced: the stack is put back to `top` on every path.
            unsafe {
                let l = raw.state();
                let top = ffi::lua_gettop(l);
                if ffi::lua_checkstack(l, params.len() as c_int + 4) == 0 {
                    return Err(mlua::Error::runtime("out of Lua stack"));
                }
                ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, self.handler);
                if let Err(e) = raw.push(func) {
                    ffi::lua_settop(l, top);
                    return Err(e);
                }
                for p in params {
                    push_array(l, p);
                }
                let r = if ffi::lua_pcall(l, params.len() as c_int, 1, top + 1) == 0 {
                    ok(l, top + 2);
                    Ok(())
                } else {
                    Err(raw.pop_value())
                };
                ffi::lua_settop(l, top);
                Ok(r)
            }
        })
    }

    /// Fills the global KEYS and ARGV in place. A script may have changed
    /// them (they are plain tables): anything but the entries it was given
    /// gets it fresh tables instead.
    fn set_keys_argv(&self, keys: &[Bytes], argv: &[Bytes]) {
        let mut args = self.args.get();
        self.lua.exec_raw_lua(|raw| {
            // SAFETY: two slots at most above the caller's top, popped.
            unsafe {
                let l = raw.state();
                ffi::lua_checkstack(l, 4);
                for ((r, len), (items, name)) in
                    args.iter_mut().zip([(keys, c"KEYS"), (argv, c"ARGV")])
                {
                    ffi::lua_rawgeti_(l, ffi::LUA_REGISTRYINDEX, *r);
                    if !is_plain_array(l, *len) {
                        ffi::lua_pop(l, 1);
                        if *r != ffi::LUA_NOREF {
                            ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, *r);
                        }
                        ffi::lua_createtable(l, items.len().min(i32::MAX as usize) as c_int, 0);
                        ffi::lua_pushvalue(l, -1);
                        *r = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
                        ffi::lua_pushstring_(l, name.as_ptr());
                        ffi::lua_pushvalue(l, -2);
                        ffi::lua_rawset(l, ffi::LUA_GLOBALSINDEX);
                        *len = 0;
                    }
                    for (i, a) in items.iter().enumerate() {
                        convert::push_bytes(l, a);
                        ffi::lua_rawseti_(l, -2, (i + 1) as c_int);
                    }
                    for i in items.len() as c_int..*len {
                        ffi::lua_pushnil(l);
                        ffi::lua_rawseti_(l, -2, i + 1);
                    }
                    *len = items.len() as c_int;
                    ffi::lua_pop(l, 1);
                }
            }
        });
        self.args.set(args);
    }

    /// Switches the global lookup FUNCTION LOAD's library code sees.
    pub fn set_loading(&self, on: bool) -> mlua::Result<()> {
        self.slot.get::<Function>("set_loading")?.call::<()>(on)
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
    fn eval_vm(&mut self) -> Result<&Rc<Vm>, Error> {
        if self.eval.is_none() {
            let vm = Vm::new(|_, _| Ok(())).map_err(|e| Error::Msg(format!("ERR {e}").into()))?;
            self.eval = Some(Rc::new(vm));
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
        self.scripts.insert(sha.clone(), Rc::new((body.clone(), f)));
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
        self.scripts.values().map(|s| s.0.len() + 40).sum()
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
    let script = match ctx.srv.scripting.scripts.get(sha) {
        Some(s) => s.clone(),
        None => return Err(Error::msg("NOSCRIPT No matching script. Please use EVAL.")),
    };
    let mut limits = Limits {
        read_only,
        allow_oom: false,
    };
    if let (Some(line), _) = strip_shebang(&script.0)? {
        for f in shebang_flags(&line)? {
            match f.as_str() {
                "no-writes" => limits.read_only = true,
                "allow-oom" => limits.allow_oom = true,
                _ => {}
            }
        }
    }
    let vm = ctx.srv.scripting.eval_vm()?.clone();
    vm.set_keys_argv(keys, argv);
    let origin = Origin {
        name: sha,
        source: "user_script",
        command: &[],
    };
    run(ctx, &vm, &script.1, &[], limits, &origin, false)
}

/// Runs `func(params...)` as a script: redis.call available, time limit
/// and SCRIPT KILL checked by a hook, the reply written into `ctx.out`.
pub fn run(
    ctx: &mut Ctx,
    vm: &Vm,
    func: &Function,
    params: &[&[Bytes]],
    limits: Limits,
    origin: &Origin,
    is_function: bool,
) -> CmdResult {
    let flags = &vm.flags;
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
    let ctx_cell: CtxCell = RefCell::new(&mut *ctx);
    // Saved and restored, though scripts cannot nest (EVAL and FCALL are
    // noscript).
    let outer = (
        flags.ctx.get(),
        flags.limits.get(),
        flags.oom.get(),
        flags.started.get(),
    );
    flags.ctx.set(Some(NonNull::from(&ctx_cell).cast()));
    flags.limits.set(Some(limits));
    flags.oom.set(oom);
    flags.started.set(Some((started, threshold)));
    // A returned {err=...} becomes the command's error reply.
    let mut raised: Option<Vec<u8>> = None;
    let result = vm.pcall(func, params, |l, idx| {
        // SAFETY: `idx` holds the script's result.
        unsafe {
            if let Some(e) = convert::error_field(l, idx) {
                raised = Some(e);
                return;
            }
            let mut ctx = ctx_cell.borrow_mut();
            convert::write_reply(l, idx, ctx.out, flags.resp.get() == 3);
        }
    });
    flags.ctx.set(outer.0);
    flags.limits.set(outer.1);
    flags.oom.set(outer.2);
    flags.started.set(outer.3);
    flags.others.replace(None);
    drop(ctx_cell);
    ctx.client.db.set(saved_db);
    let killed = flags.kill.get();
    ctx.srv.scripting.running = None;
    match result {
        Ok(Ok(())) => match raised {
            Some(e) => Err(Error::Bytes(e)),
            None => Ok(()),
        },
        Ok(Err(info)) => Err(Error::Bytes(script_error(&info, origin, killed))),
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

/// `redis.call` (upvalue 2 true: raises error replies) and `redis.pcall`
/// (returns them as `{err=...}`); upvalue 1 is the state's `RunFlags`.
/// A C function so that no Lua frame stands between the script and the
/// command: errors are reported at the script's line, as Redis does.
unsafe extern "C-unwind" fn redis_call(l: *mut lua_State) -> c_int {
    let flags = &*(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *const RunFlags);
    let raise = ffi::lua_toboolean(l, ffi::lua_upvalueindex(2)) != 0;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call_command(l, flags)));
    let is_err = match r {
        Ok(Ok(is_err)) => is_err,
        Ok(Err(msg)) => {
            push_err_table(l, msg.as_bytes());
            true
        }
        Err(_) => {
            push_err_table(l, b"ERR command panicked");
            true
        }
    };
    // Nothing owned is alive here: lua_error may jump over this frame.
    if raise && is_err {
        ffi::lua_error(l);
    }
    1
}

/// Pushes `{err = msg}`.
unsafe fn push_err_table(l: *mut lua_State, msg: &[u8]) {
    ffi::lua_createtable(l, 0, 1);
    convert::push_bytes(l, msg);
    ffi::lua_setfield(l, -2, c"err".as_ptr());
}

/// Pushes a fresh array of `items`.
unsafe fn push_array(l: *mut lua_State, items: &[Bytes]) {
    ffi::lua_createtable(l, items.len().min(i32::MAX as usize) as c_int, 0);
    for (i, a) in items.iter().enumerate() {
        convert::push_bytes(l, a);
        ffi::lua_rawseti_(l, -2, (i + 1) as c_int);
    }
}

/// Whether the value on top of the stack is a table without a metatable
/// whose keys are all integers in 1..=len.
unsafe fn is_plain_array(l: *mut lua_State, len: c_int) -> bool {
    if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
        return false;
    }
    if ffi::lua_getmetatable(l, -1) != 0 {
        ffi::lua_pop(l, 1);
        return false;
    }
    let t = ffi::lua_gettop(l);
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, t) != 0 {
        ffi::lua_pop(l, 1);
        let k = ffi::lua_tonumber(l, -1);
        if ffi::lua_type(l, -1) != ffi::LUA_TNUMBER
            || !(1.0..=len as f64).contains(&k)
            || k.fract() != 0.0
        {
            ffi::lua_pop(l, 1);
            return false;
        }
    }
    true
}

/// One `redis.call` / `redis.pcall` with its arguments on the stack: pushes
/// the reply as a Lua value and says whether it is an error reply; Err is
/// an error found before running.
unsafe fn call_command(l: *mut lua_State, flags: &RunFlags) -> Result<bool, Cow<'static, str>> {
    let n = ffi::lua_gettop(l);
    if n == 0 {
        return Err("ERR Please specify at least one argument for this redis lib call".into());
    }
    let mut args = Vec::with_capacity(n as usize);
    for i in 1..=n {
        // lua_tolstring turns a number argument into its string in place.
        if !matches!(ffi::lua_type(l, i), ffi::LUA_TSTRING | ffi::LUA_TNUMBER) {
            return Err(BAD_ARG.into());
        }
        args.push(Bytes::copy_from_slice(convert::str_at(l, i)));
    }
    let (Some(cell), Some(limits)) = (flags.ctx(), flags.limits.get()) else {
        return Err("ERR redis.call is only available while a script runs".into());
    };
    let mut ctx = cell
        .try_borrow_mut()
        .map_err(|_| "ERR redis.call is not reentrant")?;
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
    if flags.oom.get() && cmd.flags & commands::DENYOOM != 0 {
        return Err(crate::errors::OOM.into());
    }
    let mut out = Out {
        buf: std::mem::take(&mut *flags.reply.borrow_mut()),
        resp3: flags.resp.get() == 3,
    };
    let ctx = &mut **ctx;
    exec::run_queued(ctx.srv, ctx.client, &mut out, &args, ctx.now_ms);
    let frame = match read_frame(&out.buf) {
        Ok(Some((f, _))) => f,
        _ => Frame::Null,
    };
    out.buf.clear();
    *flags.reply.borrow_mut() = out.buf;
    convert::push_frame(l, &frame);
    Ok(matches!(frame, Frame::Error(_)))
}

const BAD_ARG: &str = "ERR Lua redis lib command arguments must be strings or integers";

/// `busy-reply-threshold` in milliseconds (0: never busy).
pub fn busy_threshold(ctx: &Ctx) -> i64 {
    ctx.srv.cfg.int(D::BUSY_REPLY_THRESHOLD)
}
