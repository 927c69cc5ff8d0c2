//! Lua scripting and functions: EVAL/EVALSHA/SCRIPT/FUNCTION/FCALL through
//! the real binary, plus a differential corpus of scripts whose replies must
//! match a real redis-server byte for byte in RESP2 and RESP3.
mod common;
use common::*;
use redust::resp::reply::Frame;

/// Scripts whose replies (including error texts) must equal Redis's.
/// Each entry is one command; they run in order on one connection.
const CORPUS: &[&[&str]] = &[
    // Conversions Lua -> reply.
    &["EVAL", "return 1", "0"],
    &["EVAL", "return 3.99", "0"],
    &["EVAL", "return -2.5", "0"],
    &["EVAL", "return 'x'", "0"],
    &["EVAL", "return true", "0"],
    &["EVAL", "return false", "0"],
    &["EVAL", "return nil", "0"],
    &["EVAL", "return {1,2,3,'ciao',{1,2}}", "0"],
    &["EVAL", "return {1,2,nil,4}", "0"],
    &["EVAL", "return {1.9,-2.9,'x',true,false}", "0"],
    &["EVAL", "return {ok='fine'}", "0"],
    &["EVAL", "return {err='My Error'}", "0"],
    &["EVAL", "return {{err='nested'},{ok='st'}}", "0"],
    &["EVAL", "return {double=3.5}", "0"],
    &["EVAL", "return {map={a=1}}", "0"],
    &["EVAL", "return {set={a=true}}", "0"],
    &["EVAL", "return {big_number='123'}", "0"],
    &["EVAL", "return {verbatim_string={format='txt',string='hi'}}", "0"],
    &["EVAL", "redis.setresp(3); return true", "0"],
    &["EVAL", "redis.setresp(3); return false", "0"],
    &["EVAL", "return redis.status_reply('X')", "0"],
    &["EVAL", "return redis.error_reply('MY code')", "0"],
    &["EVAL", "return redis.error_reply()", "0"],
    &["EVAL", "return KEYS[1]..ARGV[1]..#KEYS..#ARGV", "1", "a", "b"],
    &["EVAL", "return {KEYS[1], KEYS[2], ARGV[1]}", "2", "k1", "k2", "a1"],
    // Conversions reply -> Lua.
    &["EVAL", "redis.call('set','s','foo'); return redis.call('get','s')", "0"],
    &["EVAL", "return type(redis.call('get','nokey'))", "0"],
    &["EVAL", "return redis.call('get','nokey')", "0"],
    &["EVAL", "return redis.call('ping')", "0"],
    &["EVAL", "return redis.call('ping').ok", "0"],
    &["EVAL", "redis.call('del','h'); redis.call('hset','h','a','1'); return redis.call('hgetall','h')", "0"],
    &["EVAL", "redis.setresp(3); local r = redis.call('hgetall','h'); return r.map.a", "0"],
    &["EVAL", "redis.setresp(3); return redis.call('hgetall','h')", "0"],
    &["EVAL", "redis.setresp(3); return type(redis.call('get','nokey'))", "0"],
    &["EVAL", "redis.call('del','st'); redis.call('sadd','st','x'); redis.setresp(3); return tostring(redis.call('smembers','st').set.x)", "0"],
    &["EVAL", "redis.call('del','z'); redis.call('zadd','z','1.5','m'); redis.setresp(3); return redis.call('zscore','z','m').double", "0"],
    &["EVAL", "return redis.call('incr','counter')", "0"],
    &["EVAL", "return type(redis.call('incr','counter'))", "0"],
    &["EVAL", "return redis.call('rpush','l','a','b')", "0"],
    &["EVAL", "return redis.call('lrange','l',0,-1)", "0"],
    &["EVAL", "return redis.call('set', 'n', 12345678901)", "0"],
    &["EVAL", "return redis.call('get', 'n')", "0"],
    &["EVAL", "return redis.call('set', 'f', 1.5)", "0"],
    &["EVAL", "return redis.call('get', 'f')", "0"],
    // Errors.
    &["EVAL", "return x", "0"],
    &["EVAL", "x=1", "0"],
    &["EVAL", "redis.foo=1", "0"],
    &["EVAL", "string.foo=1", "0"],
    &["EVAL", "return redis.call('nosuch')", "0"],
    &["EVAL", "return redis.call('incr','a','b')", "0"],
    &["EVAL", "redis.call('set','s','foo') return redis.call('incr','s')", "0"],
    &["EVAL", "return redis.pcall('incr','s')", "0"],
    &["EVAL", "local r = redis.pcall('incr','s'); return r.err", "0"],
    &["EVAL", "error('boom')", "0"],
    &["EVAL", "error({err='boom2'})", "0"],
    &["EVAL", "\n\nerror('line3')", "0"],
    &["EVAL", "local function f()\n error('in f')\nend\nf()", "0"],
    &["EVAL", "return redis.call('subscribe','x')", "0"],
    &["EVAL", "return redis.call()", "0"],
    &["EVAL", "return redis.pcall()", "0"],
    &["EVAL", "return redis.call(1)", "0"],
    &["EVAL", "return redis.call({})", "0"],
    &["EVAL", "return redis.call('get', {})", "0"],
    &["EVAL", "return 1 + nil", "0"],
    &["EVAL", "local x = nil; return x.y", "0"],
    &["EVAL", "syntax error here", "0"],
    &["EVAL", "return redis.setresp(4)", "0"],
    &["EVAL", "return redis.setresp()", "0"],
    &["EVAL", "redis.log()", "0"],
    &["EVAL", "redis.log('a','b')", "0"],
    &["EVAL", "redis.log(9,'b')", "0"],
    &["EVAL", "redis.log(redis.LOG_WARNING, 'from a script')", "0"],
    &["EVAL", "return redis.sha1hex()", "0"],
    &["EVAL", "return redis.sha1hex('')", "0"],
    &["EVAL", "return redis.sha1hex('abc')", "0"],
    &["EVAL", "return redis.set_repl(9)", "0"],
    &["EVAL", "return redis.set_repl(redis.REPL_ALL)", "0"],
    &["EVAL", "return redis.replicate_commands()", "0"],
    &["EVAL", "return {redis.REPL_ALL, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_NONE, redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}", "0"],
    &["EVAL", "return pcall(function() error({err='x'}) end)", "0"],
    &["EVAL", "local ok, e = pcall(redis.call, 'incr', 's'); return e.err", "0"],
    &["EVAL", "local ok, e = pcall(function() error({err='x'}) end) return {type(e), tostring(e)}", "0"],
    &["EVAL", "local ok, e = pcall(function() error({foo='x'}) end) return {type(e), e.foo}", "0"],
    &["EVAL", "local ok, e = pcall(function() error('s') end) return {type(e), e}", "0"],
    &["EVAL", "local ok, e = pcall(function() redis.call('nosuch') end) return {type(e), e}", "0"],
    &["EVAL", "local ok, e = pcall(redis.setresp, 5) return {type(e), e}", "0"],
    &["EVAL", "local ok, e = xpcall(function() redis.call('incr','s') end, function(x) return x end) return {type(e), e}", "0"],
    &["EVAL", "error('ERR x', 0)", "0"],
    &["EVAL", "error('MYERR x', 0)", "0"],
    &["EVAL", "error({err='noerr'})", "0"],
    &["EVAL", "error()", "0"],
    &["EVAL", "error(123)", "0"],
    &["EVAL", "#!lua flags=no-writes,bad\nreturn 1", "0"],
    &["EVAL", "#!lua name=x\nreturn 1", "0"],
    &["EVAL", "#!lua  flags=no-writes  \nreturn 1", "0"],
    &["EVAL", "return type(os)", "0"],
    &["EVAL", "return type(print)", "0"],
    &["EVAL", "return type(loadstring)..type(coroutine)..type(_VERSION)", "0"],
    &["EVAL", "return 1", "-1"],
    &["EVAL", "return 1", "2", "a"],
    &["EVAL", "return 1", "x"],
    &["EVALSHA", "0000000000000000000000000000000000000000", "0"],
    &["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
    &["EVALSHA", "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB", "0"],
    &["SCRIPT", "LOAD", "return 'loaded'"],
    &["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
    &["SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "ffffffffffffffffffffffffffffffffffffffff"],
    &["SCRIPT", "LOAD", "syntax error"],
    &["SCRIPT", "FLUSH", "x"],
    &["SCRIPT", "KILL"],
    &["SCRIPT", "NOSUCH"],
    &["EVAL_RO", "return redis.call('get','s')", "0"],
    &["EVAL_RO", "return redis.call('set','x',1)", "0"],
    &["EVAL", "#!lua flags=no-writes\nreturn redis.call('set','x',1)", "0"],
    &["EVAL", "#!lua\nreturn redis.call('set','x',1)", "0"],
    &["EVAL", "#!lua flags=bad\nreturn 1", "0"],
    &["EVAL", "#!js\nreturn 1", "0"],
    &["EVAL", "#!lua\nerror('at two')", "0"],
    &["SCRIPT", "FLUSH"],
    &["SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"],
    // SELECT inside a script does not change the caller's database.
    &["EVAL", "redis.call('select', 1); redis.call('set','indb1','v'); return redis.call('get','indb1')", "0"],
    &["GET", "indb1"],
    // Functions.
    &["FUNCTION", "FLUSH"],
    &["FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('f1', function(keys, args) return keys[1] end)\nredis.register_function{function_name='f2', callback=function(k,a) return redis.call('set',k[1],a[1]) end, flags={'no-writes'}, description='desc'}"],
    &["FCALL", "f1", "1", "k"],
    &["FCALL", "F1", "1", "k"],
    &["FCALL", "f2", "1", "k", "v"],
    &["FCALL", "nosuch", "0"],
    &["FCALL_RO", "f1", "1", "k"],
    &["FCALL_RO", "f2", "1", "k", "v"],
    &["FCALL", "f1", "-1"],
    &["FUNCTION", "LOAD", "#!lua name=mylib\nreturn 1"],
    &["FUNCTION", "LOAD", "#!lua name=lib2\nreturn 1"],
    &["FUNCTION", "LOAD", "#!lua\nreturn 1"],
    &["FUNCTION", "LOAD", "#!lua name=lib2 foo=bar\nreturn 1"],
    &["FUNCTION", "LOAD", "return 1"],
    &["FUNCTION", "LOAD", "#!js name=lib2\nreturn 1"],
    &["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('f1', function() end)"],
    &["FUNCTION", "LOAD", "#!lua name=lib3\nredis.call('ping')"],
    &["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('f 1', function() end)"],
    &["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('x', function() end, 1)"],
    &["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function{function_name='x', callback=function() end, flags={'bad'}}"],
    &["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function{function_name='x', callback=function() end, foo=1}"],
    &["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('x', 1)"],
    &["FUNCTION", "LOAD", "#!lua name=lib3\nsyntax error"],
    &["FUNCTION", "LOAD", "#!lua name=lib3\nerror('boom')"],
    &["FUNCTION", "LOAD", "#!lua name=lib3\nlocal x = y"],
    &["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('a', function() end)\nredis.register_function('a', function() end)"],
    &["FUNCTION", "LOAD", "#!lua name=lib3\nredis.register_function('f3', function(k,a) return 1 + nil end)"],
    &["FCALL", "f3", "0"],
    &["FUNCTION", "LOAD", "#!lua name=lt\nlocal function h() return redis.call('ping') end\nredis.register_function('lth', function() return h() end)"],
    &["FCALL", "lth", "0"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "lt*", "WITHCODE"],
    &["FUNCTION", "STATS"],
    &["FUNCTION", "DELETE", "nosuch"],
    &["FUNCTION", "DELETE", "lib3"],
    &["FUNCTION", "RESTORE", "garbage"],
    &["FUNCTION", "FLUSH", "bad"],
    &["FUNCTION", "KILL"],
    &["EVAL", "redis.register_function('a', function() end)", "0"],
    &["FUNCTION", "LOAD", "REPLACE", "#!lua name=lt\nredis.register_function('lth', function() return 'v2' end)"],
    &["FCALL", "lth", "0"],
    &["FUNCTION", "FLUSH", "SYNC"],
    &["FUNCTION", "STATS"],
];

/// The libraries (cjson, cmsgpack, bit, struct): same bytes as Redis.
const LIB_CORPUS: &[&[&str]] = &[
    &["EVAL", "return cjson.encode({'a/b\\\"c\\\\\\\\', string.char(1,127,200,10,9,8,12,13), 1.5, 100, -0.0, 1e20, 0.1, {}, {x=1}, {1,2,nil,4}, true, cjson.null})", "0"],
    &["EVAL", "return cjson.encode({[1]=1,[5]=5})", "0"],
    &["EVAL", "return cjson.encode({[1]=1,[20]=5})", "0"],
    &["EVAL", "return cjson.encode(0/0)", "0"],
    &["EVAL", "return cjson.encode(function() end)", "0"],
    &["EVAL", "return cjson.encode({[true]=1})", "0"],
    &["EVAL", "return cjson.encode({a={b={c={1,2,{d=\"x\"}}}}, [3.5]=1})", "0"],
    &["EVAL", "return cjson.encode(1/3)", "0"],
    &["EVAL", "return cjson.encode(123456789012345678)", "0"],
    &["EVAL", "return cjson.decode('[1,2')", "0"],
    &["EVAL", "return cjson.decode('{\"a\":}')", "0"],
    &["EVAL", "return cjson.decode('')", "0"],
    &["EVAL", "return cjson.decode('[1,\"a\",{\"x\":null},true,1.5e3]')[2]", "0"],
    &["EVAL", "local t = cjson.decode('[1,\"a\",{\"x\":null},true,1.5e3,-2]') return {t[1], t[2], type(t[3].x), t[4], t[5], t[6]}", "0"],
    &["EVAL", "return cjson.decode('{\"a\":1} x')", "0"],
    &["EVAL", "return cjson.decode('[1 2]')", "0"],
    &["EVAL", "return cjson.decode('{1:2}')", "0"],
    &["EVAL", "return cjson.decode('{\"a\" 2}')", "0"],
    &["EVAL", "return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\"')", "0"],
    &["EVAL", "return cjson.decode('\"abc')", "0"],
    &["EVAL", "return cjson.decode('nul')", "0"],
    &["EVAL", "return cjson.encode(cjson.decode('{\"k\":[1,2,{\"z\":\"w\"}]}'))", "0"],
    &["EVAL", "return cjson.decode()", "0"],
    &["EVAL", "return cjson.encode()", "0"],
    &["EVAL", "return cmsgpack.pack({1,2,3})", "0"],
    &["EVAL", "return cmsgpack.pack(1, -1, -33, 200, 70000, 5000000000, -5000000000, 1.5, 0.1, 'abc', string.rep('x',40), true, false, nil, {a=1})", "0"],
    &["EVAL", "return cmsgpack.pack(string.rep('y',300), {}, {1,nil,3}, {[2]=1}, -129, -40000, 65535, 65536, 1/0, -1/0)", "0"],
    &["EVAL", "return {cmsgpack.unpack(cmsgpack.pack(1,'a',{1,2}, -5, 3.25, 0.1, 70000, -70000))}", "0"],
    &["EVAL", "local t = cmsgpack.unpack(cmsgpack.pack({a=1,b={c=2}})) return {t.a, t.b.c}", "0"],
    &["EVAL", "return cmsgpack.unpack('\\xd9')", "0"],
    &["EVAL", "return cmsgpack.unpack('\\xc1')", "0"],
    &["EVAL", "return cmsgpack.pack()", "0"],
    &["EVAL", "local t = {} local c = t for i=1,20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)", "0"],
    &["EVAL", "return {bit.band(0xff, 0x0f), bit.tohex(255), bit.tohex(-1, -4), bit.lshift(1, 31), bit.tobit(2^32+5), bit.bnot(0), bit.arshift(-256, 4), bit.rol(1, 33), bit.bswap(0x12345678), bit.bor(1,2,4), bit.bxor(7, 2), bit.rshift(-1, 28), bit.ror(1, 1), bit.tohex(0x1234, 2)}", "0"],
    &["EVAL", "return bit.band()", "0"],
    &["EVAL", "return bit.band('x')", "0"],
    &["EVAL", "return {struct.pack('>i2<I4b', 1, 2, -1), struct.unpack('<i4', struct.pack('<i4', -7)), struct.size('!4bi')}", "0"],
    &["EVAL", "return struct.pack('s c3 d f', 'ab', 'xyz', 1.5, 2.5)", "0"],
    &["EVAL", "return {struct.unpack('>hHbBlLi3I3', struct.pack('>hHbBlLi3I3', -2, 65000, -3, 250, -5000000000, 5000000000, -70000, 70000))}", "0"],
    &["EVAL", "return {struct.unpack('s c2 c0', struct.pack('s c2', 'hello', 'ab') .. '')}", "0"],
    &["EVAL", "return {struct.unpack('!4 b i', struct.pack('!4 b i', 1, 2))}", "0"],
    &["EVAL", "return struct.pack('q', 1)", "0"],
    &["EVAL", "return struct.unpack('i4', 'ab')", "0"],
    &["EVAL", "return {struct.unpack('B', 'abc', 2)}", "0"],
    &["EVAL", "return struct.size('s')", "0"],
    &["EVAL", "return struct.pack('c5', 'ab')", "0"],
    &["EVAL", "return {struct.unpack('>d<f', struct.pack('>d<f', 1.25, -0.5))}", "0"],
    &["EVAL", "return struct.size('c0')", "0"],
    &["EVAL", "return cjson.decode('\"a\\\\q\"')", "0"],
    &["EVAL", "return struct.unpack('!3i', '')", "0"],
    &["EVAL", "return cjson.decode('\"a\\\\u12\"')", "0"],
    &["EVAL", "return struct.pack('i9', 1)", "0"],
    &["EVAL", "return struct.pack('>i10', -2)", "0"],
    &["EVAL", "return {struct.unpack('<i10', struct.pack('<i10', -2))}", "0"],
];

/// Runs `cmds` on Redust and on a real redis-server (RESP2, or RESP3 after
/// HELLO 3) and requires identical bytes for every reply.
fn differential(cmds: &[&[&str]], resp3: bool) {
    if !have_redis() {
        eprintln!("redis-server not installed; differential test skipped");
        return;
    }
    let ours = Server::start(&[]);
    let theirs = Server::start_redis(&[]);
    let (mut a, mut b) = (ours.raw(), theirs.raw());
    if resp3 {
        a.call(&["HELLO", "3"]);
        b.call(&["HELLO", "3"]);
    }
    let mut diffs = Vec::new();
    for cmd in cmds {
        let x = a.call_raw(cmd);
        let y = b.call_raw(cmd);
        if x != y {
            diffs.push(format!(
                "{cmd:?}\n  redust: {}\n  redis:  {}",
                String::from_utf8_lossy(&x),
                String::from_utf8_lossy(&y)
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn corpus_matches_redis_resp2() {
    differential(CORPUS, false);
}

#[test]
fn corpus_matches_redis_resp3() {
    differential(CORPUS, true);
}

#[test]
fn libraries_match_redis_resp2() {
    differential(LIB_CORPUS, false);
}

#[test]
fn libraries_match_redis_resp3() {
    differential(LIB_CORPUS, true);
}

#[test]
fn evalsha_uses_the_cache_and_script_flush_empties_it() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let sha = match c.call(&["SCRIPT", "LOAD", "return ARGV[1]"]) {
        Frame::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(sha, "098e0f0d1448c0a81dafe820f66d460eb09263da");
    assert_eq!(c.call(&["EVALSHA", &sha, "0", "hello"]), bulk("hello"));
    let info = |c: &mut common::Raw| match c.call(&["INFO", "memory"]) {
        Frame::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("{other:?}"),
    };
    assert!(info(&mut c).contains("number_of_cached_scripts:1\r\n"));
    assert_eq!(
        c.call(&["SCRIPT", "EXISTS", &sha, "nope"]),
        Frame::Array(Some(vec![Frame::Int(1), Frame::Int(0)]))
    );
    assert_eq!(c.call(&["SCRIPT", "FLUSH", "ASYNC"]), simple("OK"));
    assert!(info(&mut c).contains("number_of_cached_scripts:0\r\n"));
    assert_eq!(
        c.call(&["EVALSHA", &sha, "0", "hello"]),
        err("NOSCRIPT No matching script. Please use EVAL.")
    );
    // EVAL caches too, so EVALSHA works after it.
    c.call(&["EVAL", "return ARGV[1]", "0", "x"]);
    assert_eq!(c.call(&["EVALSHA", &sha, "0", "again"]), bulk("again"));
}

#[test]
fn scripts_are_atomic_in_multi_and_touch_watched_keys() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut other = s.raw();
    assert_eq!(c.call(&["WATCH", "w"]), simple("OK"));
    other.call(&["EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "w"]);
    c.call(&["MULTI"]);
    c.call(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "n"]);
    assert_eq!(c.call(&["EXEC"]), Frame::Array(None));
    c.call(&["MULTI"]);
    assert_eq!(
        c.call(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "n"]),
        simple("QUEUED")
    );
    assert_eq!(c.call(&["EXEC"]), Frame::Array(Some(vec![Frame::Int(1)])));
}

#[test]
fn select_inside_a_script_stays_in_the_script() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["SELECT", "2"]);
    c.call(&[
        "EVAL",
        "redis.call('select', 5); redis.call('set', 'k', 'in5')",
        "0",
    ]);
    assert_eq!(c.call(&["GET", "k"]), Frame::Bulk(None));
    c.call(&["SELECT", "5"]);
    assert_eq!(c.call(&["GET", "k"]), bulk("in5"));
}

#[test]
fn write_commands_over_maxmemory_are_refused_unless_allow_oom() {
    let s = Server::start(&["--maxmemory", "1", "--maxmemory-policy", "noeviction"]);
    let mut c = s.raw();
    let r = c.call(&["EVAL", "return redis.call('set','a','b')", "0"]);
    match r {
        Frame::Error(e) => assert!(
            String::from_utf8_lossy(&e)
                .starts_with("OOM command not allowed when used memory > 'maxmemory'."),
            "{}",
            String::from_utf8_lossy(&e)
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.call(&["EVAL", "return redis.call('get','a')", "0"]),
        Frame::Bulk(None)
    );
    assert_eq!(
        c.call(&[
            "EVAL",
            "#!lua flags=allow-oom\nreturn redis.call('set','a','b')",
            "0"
        ]),
        simple("OK")
    );
}

#[test]
fn functions_dump_and_restore_round_trip() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let code =
        "#!lua name=lib1\nredis.register_function('hello', function(k, a) return 'hi '..a[1] end)";
    assert_eq!(c.call(&["FUNCTION", "LOAD", code]), bulk("lib1"));
    let dump = match c.call(&["FUNCTION", "DUMP"]) {
        Frame::Bulk(Some(b)) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        c.call(&["FUNCTION", "RESTORE", "x"]),
        err("ERR DUMP payload version or checksum are wrong")
    );
    c.call(&["FUNCTION", "FLUSH"]);
    assert_eq!(
        c.call(&["FCALL", "hello", "0", "you"]),
        err("ERR Function not found")
    );
    let mut raw = common::Raw::connect(s.port);
    let restore: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &dump];
    assert_eq!(raw.call(&restore), simple("OK"));
    assert_eq!(c.call(&["FCALL", "hello", "0", "you"]), bulk("hi you"));
    let append: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &dump, b"APPEND"];
    assert_eq!(raw.call(&append), err("ERR Library lib1 already exists"));
    let replace: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &dump, b"REPLACE"];
    assert_eq!(raw.call(&replace), simple("OK"));
}

#[test]
fn function_dump_is_accepted_by_real_redis() {
    if !have_redis() {
        return;
    }
    let ours = Server::start(&[]);
    let theirs = Server::start_redis(&[]);
    let (mut a, mut b) = (ours.raw(), theirs.raw());
    let code = "#!lua name=portable\nredis.register_function('p', function(k, a) return 'portable:'..a[1] end)";
    a.call(&["FUNCTION", "LOAD", code]);
    let Frame::Bulk(Some(dump)) = a.call(&["FUNCTION", "DUMP"]) else {
        panic!("no dump")
    };
    let restore: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &dump];
    assert_eq!(b.call(&restore), simple("OK"));
    assert_eq!(b.call(&["FCALL", "p", "0", "x"]), bulk("portable:x"));
    // And the other way round.
    b.call(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=back\nredis.register_function('q', function() return 'back' end)",
    ]);
    let Frame::Bulk(Some(dump)) = b.call(&["FUNCTION", "DUMP"]) else {
        panic!("no dump")
    };
    a.call(&["FUNCTION", "FLUSH"]);
    let restore: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &dump];
    assert_eq!(a.call(&restore), simple("OK"));
    assert_eq!(a.call(&["FCALL", "q", "0"]), bulk("back"));
}

#[test]
fn an_error_in_a_script_leaves_the_connection_and_server_usable() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for body in [
        "error('x')",
        "return {err='y'}",
        "while false do end return redis.call('nosuch')",
        "return (",
    ] {
        assert!(
            matches!(c.call(&["EVAL", body, "0"]), Frame::Error(_)),
            "{body}"
        );
    }
    // Deeply nested tables and self-references do not bring the server
    // down (the replies are too deep for the test's parser: read bytes).
    use std::io::{Read, Write};
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    for body in [
        "local t = {} t[1] = t return t",
        "local t = {} for i=1,2000 do t = {t} end return t",
    ] {
        raw.write_all(&redust::resp::reply::encode_request(&["EVAL", body, "0"]))
            .unwrap();
    }
    raw.write_all(b"PING\r\n").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while !got.ends_with(b"+PONG\r\n") {
        let n = raw.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got
        .windows(28)
        .any(|w| w == b"-ERR reached lua stack limit"));
    assert_eq!(c.call(&["PING"]), simple("PONG"));
}

#[test]
fn libraries_are_saved_in_rdb_files_readable_by_redis() {
    let mut ours = Server::start(&[]);
    let mut c = ours.raw();
    let code = "#!lua name=saved\nredis.register_function('sv', function(k, a) return 'saved:'..a[1] end)";
    assert_eq!(c.call(&["FUNCTION", "LOAD", code]), bulk("saved"));
    c.call(&["SET", "plain", "key"]);
    assert_eq!(c.call(&["SAVE"]), simple("OK"));
    let dir = ours.dir.display().to_string();
    ours.stop();
    // Redust reads its own file back...
    let again = Server::start(&["--dir", &dir]);
    assert_eq!(again.raw().call(&["FCALL", "sv", "0", "x"]), bulk("saved:x"));
    drop(again);
    // ...and so does Redis; and Redust reads what Redis saves.
    if have_redis() {
        let theirs = Server::start_redis(&["--dir", &dir]);
        let mut r = theirs.raw();
        assert_eq!(r.call(&["FCALL", "sv", "0", "y"]), bulk("saved:y"));
        r.call(&["FUNCTION", "LOAD", "#!lua name=fromredis\nredis.register_function('fr', function() return 'fr' end)"]);
        assert_eq!(r.call(&["SAVE"]), simple("OK"));
        drop(theirs);
        let back = Server::start(&["--dir", &dir]);
        let mut b = back.raw();
        assert_eq!(b.call(&["FCALL", "fr", "0"]), bulk("fr"));
        assert_eq!(b.call(&["GET", "plain"]), bulk("key"));
    }
}

#[test]
fn a_busy_script_answers_busy_and_can_be_killed() {
    let mut s = Server::start(&["--busy-reply-threshold", "100"]);
    let mut a = s.raw();
    let mut b = s.raw();
    let spin = "local i = 0 while true do i = i + 1 end";
    // Only clients connected before the script starts are answered.
    assert_eq!(b.call(&["PING"]), simple("PONG"));
    a.send(&["EVAL", spin, "0"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        b.call(&["GET", "x"]),
        err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
    );
    assert_eq!(b.call(&["SCRIPT", "KILL"]), simple("OK"));
    match a.read() {
        Frame::Error(e) => assert!(
            e.starts_with(b"ERR Script killed by user with SCRIPT KILL... script: "),
            "{}",
            String::from_utf8_lossy(&e)
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(b.call(&["SCRIPT", "KILL"]), err("NOTBUSY No scripts in execution right now."));
    // Functions are killed with FUNCTION KILL; FUNCTION STATS names them.
    let lib = "#!lua name=busy\nredis.register_function{function_name='spin', callback=function() local i = 0 while true do i = i + 1 end end, flags={'no-writes'}}";
    assert_eq!(b.call(&["FUNCTION", "LOAD", lib]), bulk("busy"));
    a.send(&["FCALL", "spin", "0"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        b.call(&["SCRIPT", "KILL"]),
        err("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")
    );
    let stats = format!("{:?}", b.call(&["FUNCTION", "STATS"]));
    assert!(stats.contains(&format!("{:?}", bulk("spin"))), "{stats}");
    assert_eq!(b.call(&["FUNCTION", "KILL"]), simple("OK"));
    assert!(matches!(a.read(), Frame::Error(_)));
    // A script that wrote cannot be killed; SHUTDOWN NOSAVE still works.
    a.send(&["EVAL", &format!("redis.call('set','w','1') {spin}"), "0"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    match b.call(&["SCRIPT", "KILL"]) {
        Frame::Error(e) => assert!(e.starts_with(b"UNKILLABLE"), "{}", String::from_utf8_lossy(&e)),
        other => panic!("{other:?}"),
    }
    b.send(&["SHUTDOWN", "NOSAVE"]);
    let t = std::time::Instant::now();
    let child = s.child.as_mut().unwrap();
    while child.try_wait().unwrap().is_none() {
        assert!(t.elapsed() < std::time::Duration::from_secs(10), "server still running");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
