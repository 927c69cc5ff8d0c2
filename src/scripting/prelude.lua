-- Runs once in each Lua state, before any user code. Builds the redis.*
-- wrappers over the Rust primitives, the error handler that finds the user
-- line an error comes from, and the read-only views scripts see.
local impl, getinfo, G, api = ...
local error, type, xpcall, setmetatable, tostring = error, type, xpcall, setmetatable, tostring

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
-- impl.call straight under the raiser: no Lua frame between the script
-- and the Rust primitive.
redis.call = raising(impl.call)
redis.pcall = function(...)
  return (impl.call(...))
end

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

impl.run = function(f, a, b)
  return xpcall(function() return f(a, b) end, handler)
end

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

local env = strict(function(k)
  if impl.loading then
    if k == "redis" then return load_redis end
    return nil
  end
  return G[k]
end)
G._G = env
impl.env = env
impl.redis = redis
