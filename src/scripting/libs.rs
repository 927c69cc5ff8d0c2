//! The libraries Redis gives scripts besides Lua's own: cjson, cmsgpack,
//! bit and struct, written to produce the same bytes as Redis's builds of
//! them for the same input (checked by the differential corpus).

use mlua::{ffi, Function, LightUserData, Lua, MultiValue, Table, Value};

mod cjson;
mod cmsgpack;
mod structlib;

pub fn install(lua: &Lua, g: &Table) -> mlua::Result<()> {
    g.raw_set("bit", bit(lua)?)?;
    g.raw_set("cjson", cjson::table(lua)?)?;
    g.raw_set("cmsgpack", cmsgpack::table(lua)?)?;
    g.raw_set("struct", structlib::table(lua)?)?;
    Ok(())
}

/// A library function's result: its values, or the message Lua's
/// `luaL_error` would raise.
pub type LibResult = Result<MultiValue, String>;

/// Marks a failed library call for `lib_raiser`.
static ERR_TAG: u8 = 0;

fn err_tag() -> Value {
    Value::LightUserData(LightUserData(
        &ERR_TAG as *const u8 as *mut std::ffi::c_void,
    ))
}

/// Calls its upvalue; if that reports a failure, raises the message
/// prefixed with the caller's position ("user_script:1: ..."), as a C
/// library's `luaL_error` does.
unsafe extern "C-unwind" fn lib_raiser(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    let n = ffi::lua_gettop(l);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, n, ffi::LUA_MULTRET);
    let got = ffi::lua_gettop(l);
    if got >= 2
        && ffi::lua_type(l, 1) == ffi::LUA_TLIGHTUSERDATA
        && ffi::lua_touserdata(l, 1) as *const u8 == &ERR_TAG as *const u8
    {
        ffi::luaL_where(l, 1);
        ffi::lua_pushvalue(l, 2);
        ffi::lua_concat(l, 2);
        ffi::lua_error(l);
    }
    got
}

/// A library function whose errors read like a C library's.
pub fn lib_fn<F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, MultiValue) -> LibResult + 'static,
{
    let inner = lua.create_function(move |lua, mv: MultiValue| match f(lua, mv) {
        Ok(r) => Ok(r),
        Err(msg) => Ok(MultiValue::from_vec(vec![
            err_tag(),
            Value::String(lua.create_string(msg)?),
        ])),
    })?;
    // SAFETY: pushes one C closure over `inner` (the one argument on the stack).
    unsafe { lua.exec_raw::<Function>(inner, |l| ffi::lua_pushcclosure(l, lib_raiser, 1)) }
}

/// One value as a library result.
pub fn one(v: Value) -> LibResult {
    Ok(MultiValue::from_vec(vec![v]))
}

/// Lua 5.1 numbers as LuaBitOp reads them: the low 32 bits of the value
/// rounded to an integer, so out-of-range numbers wrap.
fn tobit(v: &Value, pos: usize, fname: &str) -> Result<i32, String> {
    let n = match v {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| bad_arg(pos, fname, "number", v))?,
        _ => return Err(bad_arg(pos, fname, "number", v)),
    };
    Ok(((n + 6755399441055744.0).to_bits() as u32) as i32)
}

/// Lua's "bad argument" message for a wrong-typed argument.
pub fn bad_arg(pos: usize, fname: &str, expected: &str, got: &Value) -> String {
    let got = match got {
        Value::Nil => "no value".to_string(),
        other => other.type_name().to_string(),
    };
    format!("bad argument #{pos} to '{fname}' ({expected} expected, got {got})")
}

pub fn arg(mv: &MultiValue, i: usize) -> Value {
    mv.get(i).cloned().unwrap_or(Value::Nil)
}

fn bit(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "tobit",
        lib_fn(lua, |_, mv| {
            one(Value::Number(tobit(&arg(&mv, 0), 1, "tobit")? as f64))
        })?,
    )?;
    t.raw_set(
        "bnot",
        lib_fn(lua, |_, mv| {
            one(Value::Number(!tobit(&arg(&mv, 0), 1, "bnot")? as f64))
        })?,
    )?;
    t.raw_set(
        "bswap",
        lib_fn(lua, |_, mv| {
            one(Value::Number(
                tobit(&arg(&mv, 0), 1, "bswap")?.swap_bytes() as f64
            ))
        })?,
    )?;
    type Fold = fn(i32, i32) -> i32;
    for (name, f) in [
        ("band", (|a, b| a & b) as Fold),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ] {
        t.raw_set(
            name,
            lib_fn(lua, move |_, mv| {
                let mut acc = tobit(&arg(&mv, 0), 1, name)?;
                for (i, v) in mv.iter().enumerate().skip(1) {
                    acc = f(acc, tobit(v, i + 1, name)?);
                }
                one(Value::Number(acc as f64))
            })?,
        )?;
    }
    type Shift = fn(i32, u32) -> i32;
    for (name, f) in [
        ("lshift", (|a: i32, n| ((a as u32) << n) as i32) as Shift),
        ("rshift", |a, n| ((a as u32) >> n) as i32),
        ("arshift", |a, n| a >> n),
        ("rol", |a, n| (a as u32).rotate_left(n) as i32),
        ("ror", |a, n| (a as u32).rotate_right(n) as i32),
    ] {
        t.raw_set(
            name,
            lib_fn(lua, move |_, mv| {
                let a = tobit(&arg(&mv, 0), 1, name)?;
                let n = tobit(&arg(&mv, 1), 2, name)? as u32 & 31;
                one(Value::Number(f(a, n) as f64))
            })?,
        )?;
    }
    t.raw_set(
        "tohex",
        lib_fn(lua, |lua, mv| {
            let x = tobit(&arg(&mv, 0), 1, "tohex")? as u32;
            let mut n = match arg(&mv, 1) {
                Value::Nil => 8,
                v => tobit(&v, 2, "tohex")?,
            };
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.clamp(0, 8) as usize;
            let s = if upper {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            one(Value::String(
                lua.create_string(&s[8 - n..]).map_err(|e| e.to_string())?,
            ))
        })?,
    )?;
    Ok(t)
}

/// cjson.null / a nil placeholder: the NULL light userdata.
pub fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// Lua's own number-to-string ("%.14g"), as cjson and struct print them.
pub fn lua_number_string(lua: &Lua, n: f64) -> mlua::Result<Vec<u8>> {
    Ok(lua
        .coerce_string(Value::Number(n))?
        .map(|s| s.as_bytes().to_vec())
        .unwrap_or_default())
}

pub fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}
