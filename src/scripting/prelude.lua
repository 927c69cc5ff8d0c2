-- Runs once in each Lua state, before any user code. Builds the redis.*
-- wrappers over the Rust primitives, the error handler that finds the user
-- line an error comes from, and the read-only views scripts see.
local impl, getinfo, G, api = ...
local error, type, setmetatable, tostring = error, type, setmetatable, tostring

local function readonly()
  error("Attempt to modify a readonly table", 2)
end

local function protect(t)
  return setmetatable({}, { __index = t, __newindex = readonly, __metatable = false })
end

-- A read-only view over `lookup` that refuses names it does not know, as
-- Redis's global table does.
local function strict(lookup)
  return setmetatable({}, {
    __index = function(_, k)
      local v = lookup(k)
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = readonly,
    __metatable = false,
  })
end

-- Rust primitives answer (value, raise); raised values are {err=...}
-- tables, reported without a Lua position as Redis does.
local raising = api.raiser

local redis = {}
for k, v in pairs(api.raising) do redis[k] = raising(v) end
for k, v in pairs(api.plain) do redis[k] = v end
for k, v in pairs(api.consts) do redis[k] = v end
-- C functions: no Lua frame between the script and the command.
redis.call = impl.call
redis.pcall = impl.pcall

-- While FUNCTION LOAD runs a library, its code sees only this `redis`.
local load_redis
if api.load then
  local r = {}
  for k, v in pairs(api.load) do r[k] = raising(v) end
  r.log = redis.log
  for k, v in pairs(api.consts) do r[k] = v end
  load_redis = strict(function(k) return r[k] end)
end

-- The innermost frame of user code: where Redis says an error happened.
local function handler(e)
  local lvl = 2
  while true do
    local i = getinfo(lvl, "Sl")
    if i == nil then return { e } end
    if i.what ~= "C" and i.source ~= "=redust" then return { e, i.currentline } end
    lvl = lvl + 1
  end
end

-- The engine calls scripts with lua_pcall and this as message handler.
impl.handler = handler

-- Lua's pcall hands scripts the text of a Redis error, not its table.
local lua_pcall = pcall
local function text_of_error(ok, ...)
  if not ok then
    local e = ...
    if type(e) == "table" and type(rawget(e, "err")) == "string" then return false, e.err end
  end
  return ok, ...
end
G.pcall = function(...) return text_of_error(lua_pcall(...)) end

G.redis = protect(redis)
for _, name in ipairs({ "string", "table", "math", "os", "cjson", "cmsgpack", "bit", "struct" }) do
  if G[name] ~= nil then G[name] = protect(G[name]) end
end

-- Scripts read globals through `env`, whose __index is the table G itself
-- (a lookup stays inside the VM: no Lua call per global access); G's own
-- metatable refuses unknown names. While FUNCTION LOAD runs a library,
-- __index is switched to a lookup that only knows `redis`.
local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local env_meta = { __index = G, __newindex = readonly, __metatable = false }
local env = setmetatable({}, env_meta)
local function load_index(_, k)
  if k == "redis" then return load_redis end
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
impl.set_loading = function(on)
  env_meta.__index = on and load_index or G
end
G._G = env
setmetatable(G, { __index = missing, __metatable = false })
impl.env = env
impl.redis = redis
