//! The libraries Redis gives scripts besides Lua's own: cjson, cmsgpack,
//! bit and struct.

use mlua::{Lua, Table};

pub fn install(_lua: &Lua, _g: &Table) -> mlua::Result<()> {
    Ok(())
}
