//! Redis functions: libraries loaded with FUNCTION LOAD (`#!lua name=lib`),
//! whose code registers functions with `redis.register_function`, called by
//! FCALL. They live in their own Lua state, apart from EVAL's.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Table, Value};

use super::{err_table, Limits, Origin, Vm};
use crate::commands::is;
use crate::errors::{CmdResult, Error};
use crate::persist::rdb;
use crate::server::Ctx;

/// Function flags in the order Redis lists them.
pub const FLAG_NAMES: &[&str] = &[
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];
const NO_WRITES: u8 = 1;
const ALLOW_OOM: u8 = 2;

/// RDB opcode that carries one library's code (RDB_OPCODE_FUNCTION2).
pub const OP_FUNCTION2: u8 = 0xF5;

pub struct FuncInfo {
    pub name: String,
    pub func: Function,
    pub flags: u8,
    pub desc: Option<Vec<u8>>,
}

pub struct Library {
    pub name: String,
    pub code: Bytes,
    pub funcs: Vec<FuncInfo>,
}

/// Shared with `redis.register_function` while a library loads.
#[derive(Default)]
struct Loading {
    active: Cell<bool>,
    pending: RefCell<Vec<FuncInfo>>,
}

#[derive(Default)]
pub struct Registry {
    vm: Option<Rc<Vm>>,
    loading: Rc<Loading>,
    pub libs: BTreeMap<String, Library>,
    /// Lowercased function name -> library name (FCALL ignores case).
    index: HashMap<String, String>,
}

fn msg(s: impl Into<String>) -> Error {
    Error::Msg(s.into().into())
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

const BAD_NAME: &str =
    "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// `redis.register_function(name, fn)` or `redis.register_function{...}`.
fn register(lua: &Lua, st: &Loading, mv: MultiValue) -> mlua::Result<(Value, bool)> {
    let fail =
        |m: &str| -> mlua::Result<(Value, bool)> { Ok((err_table(lua, m.as_bytes())?, true)) };
    if !st.active.get() {
        return fail("ERR redis.register_function can only be called on FUNCTION LOAD command");
    }
    let (name, func, flags, desc) = match mv.len() {
        2 => {
            let Value::String(n) = &mv[0] else {
                return fail("ERR first argument to redis.register_function must be a string");
            };
            let Value::Function(f) = &mv[1] else {
                return fail("ERR second argument to redis.register_function must be a function");
            };
            (n.to_string_lossy(), f.clone(), 0u8, None)
        }
        1 => {
            let Value::Table(t) = &mv[0] else {
                return fail("ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
            };
            let (mut name, mut func, mut flags, mut desc) = (None, None, 0u8, None);
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let key = match &k {
                    Value::String(s) => s.to_string_lossy(),
                    _ => return fail(
                        "ERR named argument key given to redis.register_function is not a string",
                    ),
                };
                match (key.as_str(), v) {
                    ("function_name", Value::String(s)) => name = Some(s.to_string_lossy()),
                    ("function_name", _) => return fail("ERR function_name argument given to redis.register_function must be a string"),
                    ("description", Value::String(s)) => desc = Some(s.as_bytes().to_vec()),
                    ("description", _) => return fail("ERR description argument given to redis.register_function must be a string"),
                    ("callback", Value::Function(f)) => func = Some(f),
                    ("callback", _) => return fail("ERR callback argument given to redis.register_function must be a function"),
                    ("flags", Value::Table(ft)) => {
                        for f in ft.sequence_values::<Value>() {
                            let bit = match f? {
                                Value::String(s) => FLAG_NAMES.iter().position(|n| s.as_bytes() == n.as_bytes()),
                                _ => None,
                            };
                            match bit {
                                Some(i) => flags |= 1 << i,
                                None => return fail("ERR unknown flag given"),
                            }
                        }
                    }
                    ("flags", _) => return fail("ERR flags argument to redis.register_function must be a table representing function flags"),
                    _ => return fail("ERR unknown argument given to redis.register_function"),
                }
            }
            let Some(name) = name else {
                return fail("ERR redis.register_function must get a function name argument");
            };
            let Some(func) = func else {
                return fail("ERR redis.register_function must get a callback argument");
            };
            (name, func, flags, desc)
        }
        _ => return fail("ERR wrong number of arguments to redis.register_function"),
    };
    if !valid_name(&name) {
        return fail(BAD_NAME);
    }
    let mut pending = st.pending.borrow_mut();
    if pending.iter().any(|f| f.name.eq_ignore_ascii_case(&name)) {
        return fail("ERR Function already exists in the library");
    }
    pending.push(FuncInfo {
        name,
        func,
        flags,
        desc,
    });
    Ok((Value::Nil, false))
}

/// The library name from the `#!lua name=<lib>` line.
fn parse_header(code: &[u8]) -> Result<String, Error> {
    if !code.starts_with(b"#!") {
        return Err(msg("ERR Missing library metadata"));
    }
    let end = memchr::memchr(b'\n', code).unwrap_or(code.len());
    let line = String::from_utf8_lossy(&code[2..end]).into_owned();
    let mut parts = line.split(' ').filter(|s| !s.is_empty());
    let engine = parts.next().unwrap_or("");
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(msg(format!("ERR Engine '{engine}' not found")));
    }
    let mut name = None;
    for p in parts {
        match p.strip_prefix("name=") {
            Some(n) => name = Some(n.to_string()),
            None => return Err(msg(format!("ERR Invalid metadata value given: {p}"))),
        }
    }
    let name = name.ok_or_else(|| msg("ERR Library name was not given"))?;
    if !valid_name(&name) {
        return Err(msg(BAD_NAME));
    }
    Ok(name)
}

impl Registry {
    fn vm(&mut self) -> Result<&Rc<Vm>, Error> {
        if self.vm.is_none() {
            let st = self.loading.clone();
            let vm = Vm::new(move |lua: &Lua, api: &Table| {
                let load = lua.create_table()?;
                load.raw_set(
                    "register_function",
                    lua.create_function(move |lua, mv: MultiValue| register(lua, &st, mv))?,
                )?;
                api.raw_set("load", load)
            })
            .map_err(|e| msg(format!("ERR {e}")))?;
            self.vm = Some(Rc::new(vm));
        }
        self.vm
            .as_ref()
            .ok_or_else(|| msg("ERR functions unavailable"))
    }

    /// Compiles and runs a library's code, collecting its functions;
    /// installs it unless another library owns one of the names.
    pub fn load(&mut self, code: &Bytes, replace: bool) -> Result<String, Error> {
        let name = parse_header(code)?;
        if self.libs.contains_key(&name) && !replace {
            return Err(msg(format!("ERR Library '{name}' already exists")));
        }
        let body = super::strip_shebang(code)?.1.into_owned();
        let vm = self.vm()?.clone();
        let f = vm
            .compile(&body, "@user_function")
            .map_err(|m| msg(format!("ERR Error compiling function: {m}")))?;
        self.loading.pending.borrow_mut().clear();
        self.loading.active.set(true);
        let r = vm
            .set_loading(true)
            .and_then(|()| vm.pcall(&f, &[], |_, _| {}));
        let _ = vm.set_loading(false);
        self.loading.active.set(false);
        let funcs = std::mem::take(&mut *self.loading.pending.borrow_mut());
        match r {
            Ok(Ok(())) => {}
            Ok(Err(info)) => {
                let e = match &info {
                    Value::Table(t) => t.raw_get::<Value>(1).unwrap_or(Value::Nil),
                    other => other.clone(),
                };
                let text = match &e {
                    Value::Table(t) => match t.raw_get::<Value>("err") {
                        Ok(Value::String(s)) => s.to_string_lossy(),
                        _ => "ERR unknown error".into(),
                    },
                    Value::String(s) => format!("ERR {}", s.to_string_lossy()),
                    other => format!("ERR {}", other.to_string().unwrap_or_default()),
                };
                return Err(msg(format!("ERR Error registering functions: {text}")));
            }
            Err(e) => return Err(msg(format!("ERR Error registering functions: ERR {e}"))),
        }
        if funcs.is_empty() {
            return Err(msg("ERR No functions registered"));
        }
        for f in &funcs {
            if let Some(owner) = self.index.get(&f.name.to_ascii_lowercase()) {
                if *owner != name {
                    return Err(msg(format!("ERR Function {} already exists", f.name)));
                }
            }
        }
        self.delete(&name);
        for f in &funcs {
            self.index.insert(f.name.to_ascii_lowercase(), name.clone());
        }
        self.libs.insert(
            name.clone(),
            Library {
                name: name.clone(),
                code: code.clone(),
                funcs,
            },
        );
        Ok(name)
    }

    pub fn delete(&mut self, name: &str) -> bool {
        match self.libs.remove(name) {
            Some(lib) => {
                for f in &lib.funcs {
                    self.index.remove(&f.name.to_ascii_lowercase());
                }
                true
            }
            None => false,
        }
    }

    pub fn flush(&mut self) {
        self.libs.clear();
        self.index.clear();
        self.vm = None;
    }

    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    /// FUNCTION DUMP: each library as an RDB function opcode and string,
    /// then the RDB version and a CRC64, as DUMP payloads are.
    pub fn dump(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_rdb(&mut out);
        rdb::seal_payload(&mut out);
        out
    }

    /// The libraries as RDB records, for snapshots.
    pub fn rdb_records(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_rdb(&mut out);
        out
    }

    /// Installs the libraries found in an RDB image.
    pub fn load_all(&mut self, codes: &[Vec<u8>]) -> Result<(), String> {
        for code in codes {
            self.load(&Bytes::copy_from_slice(code), true)
                .map_err(|e| {
                    format!(
                        "Failed loading library from the RDB: {}",
                        String::from_utf8_lossy(e.text())
                    )
                })?;
        }
        Ok(())
    }

    /// The libraries as RDB records (FUNCTION DUMP and snapshots).
    pub fn write_rdb(&self, out: &mut Vec<u8>) {
        for lib in self.libs.values() {
            out.push(OP_FUNCTION2);
            rdb::write_string(out, &lib.code, true);
        }
    }

    /// Library codes from a FUNCTION DUMP payload.
    fn parse_dump(payload: &[u8]) -> Result<Vec<Bytes>, Error> {
        let bad = || msg("ERR DUMP payload version or checksum are wrong");
        if payload.len() < 10 {
            return Err(bad());
        }
        let body_end = payload.len() - 10;
        let version = u16::from_le_bytes([payload[body_end], payload[body_end + 1]]);
        let crc = u64::from_le_bytes(payload[body_end + 2..].try_into().map_err(|_| bad())?);
        if version as u32 > 11 || (crc != 0 && crc != rdb::crc64(&payload[..body_end + 2])) {
            return Err(bad());
        }
        let mut pos = 0;
        let mut codes = Vec::new();
        while pos < body_end {
            if payload[pos] != OP_FUNCTION2 {
                return Err(msg("ERR given type is not a function"));
            }
            pos += 1;
            let code = rdb::read_string(&payload[..body_end], &mut pos)
                .map_err(|_| msg("ERR payload is corrupted"))?;
            codes.push(Bytes::from(code));
        }
        Ok(codes)
    }
}

/// FCALL / FCALL_RO.
pub fn call(
    ctx: &mut Ctx,
    command: &[Bytes],
    keys: &[Bytes],
    argv: &[Bytes],
    ro: bool,
) -> CmdResult {
    let name = &command[1];
    let reg = &mut ctx.srv.scripting.functions;
    let lname = String::from_utf8_lossy(name).to_ascii_lowercase();
    let Some(lib) = reg.index.get(&lname).and_then(|l| reg.libs.get(l)) else {
        return Err(msg("ERR Function not found"));
    };
    let Some(f) = lib
        .funcs
        .iter()
        .find(|f| f.name.to_ascii_lowercase() == lname)
    else {
        return Err(msg("ERR Function not found"));
    };
    if ro && f.flags & NO_WRITES == 0 {
        return Err(msg(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    let limits = Limits {
        read_only: ro || f.flags & NO_WRITES != 0,
        allow_oom: f.flags & ALLOW_OOM != 0,
    };
    let (func, fname) = (f.func.clone(), f.name.clone());
    let vm = reg.vm()?.clone();
    let origin = Origin {
        name: &fname,
        source: "user_function",
        command,
    };
    super::run(ctx, &vm, &func, &[keys, argv], limits, &origin, true)
}

pub fn load_cmd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut replace = false;
    let mut i = 2;
    while i < a.len() - 1 {
        if is(&a[i], "replace") {
            replace = true;
        } else {
            return Err(Error::Bytes(
                [b"ERR Unknown option given: ".as_slice(), &a[i]].concat(),
            ));
        }
        i += 1;
    }
    let name = ctx.srv.scripting.functions.load(&a[a.len() - 1], replace)?;
    ctx.dirty(1);
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

pub fn delete_cmd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&a[2]).into_owned();
    if !ctx.srv.scripting.functions.delete(&name) {
        return Err(msg("ERR Library not found"));
    }
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

pub fn list_cmd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut pattern: Option<&[u8]> = None;
    let mut withcode = false;
    let mut i = 2;
    while i < a.len() {
        if is(&a[i], "withcode") {
            if withcode {
                return Err(msg("ERR Unknown argument withcode"));
            }
            withcode = true;
        } else if is(&a[i], "libraryname") {
            if pattern.is_some() {
                return Err(msg("ERR library name argument was already given"));
            }
            i += 1;
            let Some(p) = a.get(i) else {
                return Err(msg("ERR library name argument was not given"));
            };
            pattern = Some(p);
        } else {
            return Err(Error::Bytes(
                [b"ERR Unknown argument ".as_slice(), &a[i]].concat(),
            ));
        }
        i += 1;
    }
    let reg = &ctx.srv.scripting.functions;
    let libs: Vec<&Library> = reg
        .libs
        .values()
        .filter(|l| {
            pattern.is_none_or(|p| crate::util::glob::glob_match(p, l.name.as_bytes(), false))
        })
        .collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for lib in libs {
        out.map(if withcode { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.funcs.len());
        for f in &lib.funcs {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.desc {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = FLAG_NAMES
                .iter()
                .enumerate()
                .filter(|(i, _)| f.flags & (1 << i) != 0)
                .map(|(_, n)| *n)
                .collect();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if withcode {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}

pub fn restore_cmd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    #[derive(PartialEq)]
    enum Policy {
        Append,
        Replace,
        Flush,
    }
    let policy =
        match a.get(3) {
            None => Policy::Append,
            Some(p) if is(p, "append") => Policy::Append,
            Some(p) if is(p, "replace") => Policy::Replace,
            Some(p) if is(p, "flush") => Policy::Flush,
            Some(_) => return Err(msg(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    if a.len() > 4 {
        return Err(Error::Syntax);
    }
    let codes = Registry::parse_dump(&a[2])?;
    let reg = &mut ctx.srv.scripting.functions;
    if policy == Policy::Append {
        for code in &codes {
            let name = parse_header(code)?;
            if reg.libs.contains_key(&name) {
                return Err(msg(format!("ERR Library {name} already exists")));
            }
        }
    }
    if policy == Policy::Flush {
        reg.flush();
    }
    for code in &codes {
        reg.load(code, policy != Policy::Append)?;
    }
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

pub fn stats_cmd(ctx: &mut Ctx) -> CmdResult {
    let s = &ctx.srv.scripting;
    let libs = s.functions.libs.len();
    let funcs = s.functions.function_count();
    let running = s
        .running
        .as_ref()
        .filter(|r| r.is_function)
        .map(|r| (r.name.clone(), r.started));
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match running {
        None => out.null(),
        Some((name, started)) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name.as_bytes());
            out.bulk(b"command");
            out.array(0);
            out.bulk(b"duration_ms");
            out.int(started.elapsed().as_millis() as i64);
        }
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libs as i64);
    out.bulk(b"functions_count");
    out.int(funcs as i64);
    Ok(())
}
