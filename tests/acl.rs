//! ACL users through the real binary: every rule of ACL SETUSER and how
//! GETUSER/LIST print it, the other ACL subcommands, AUTH/HELLO on users and
//! requirepass, NOPERM for commands, keys and channels (also in MULTI),
//! effects on live connections, `user` lines and ACL files, protected mode,
//! movable keys, and differential checks against redis-server 7.0.
//!
//! The one expected difference from Redis 7.0 is the wording of refusals:
//! Redust answers as Redis 7.2 does ("NOPERM User app has no permissions to
//! run the 'config|get' command", "NOPERM No permissions to access a key");
//! `to_72` maps 7.0's texts to those before comparing.

mod common;
mod helpers;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{bulk, err, simple, Raw, Server};
use helpers::{cli_port, run_to_exit, scratch_dir, wait_until, write_file, Pair};
use redust::resp::reply::Frame;

const SHA_PW: &str = "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4";
const SHA_PASSWORD: &str = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
const SHA_FOO: &str = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
const SHA_EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn text(f: &Frame) -> String {
    match f {
        Frame::Int(i) => i.to_string(),
        Frame::Double(d) => String::from_utf8_lossy(d).into_owned(),
        Frame::Array(_) | Frame::Map(_) | Frame::Set(_) => format!("{f:?}"),
        Frame::Bulk(None) | Frame::Null => "(nil)".into(),
        other => helpers::text(other),
    }
}

fn texts(f: &Frame) -> Vec<String> {
    match f {
        Frame::Array(Some(v)) | Frame::Set(v) => v.iter().map(text).collect(),
        other => panic!("not an array: {other:?}"),
    }
}

/// The NOPERM reply to a refused command.
fn noperm(user: &str, cmd: &str) -> Frame {
    err(&format!(
        "NOPERM User {user} has no permissions to run the '{cmd}' command"
    ))
}

fn ok(r: &mut Raw, args: &[&str]) {
    assert_eq!(r.call(args), simple("OK"), "{args:?}");
}

fn auth(s: &Server, user: &str, pass: &str) -> Raw {
    let mut r = s.raw();
    ok(&mut r, &["AUTH", user, pass]);
    r
}

/// Redis 7.0's refusal texts in Redis 7.2's words (the one expected
/// difference of the differential checks).
fn to_72(user: &str, reply: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(reply)
        .replace(
            "NOPERM this user has no permissions to access one of the keys used as arguments",
            "NOPERM No permissions to access a key",
        )
        .replace(
            "NOPERM this user has no permissions to access one of the channels used as arguments",
            "NOPERM No permissions to access a channel",
        )
        .replace(
            "NOPERM this user has no permissions to run",
            &format!("NOPERM User {user} has no permissions to run"),
        )
        .replace(
            "This user has no permissions",
            &format!("User {user} has no permissions"),
        );
    // The length of a bulk reply changes with the wording.
    if let Some(rest) = s.strip_prefix('$').filter(|r| !r.starts_with('-')) {
        if let Some((_, body)) = rest.split_once("\r\n") {
            let body = body.trim_end_matches("\r\n");
            return format!("${}\r\n{body}\r\n", body.len()).into_bytes();
        }
    }
    s.into_bytes()
}

#[test]
fn setuser_rules_getuser_and_list() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    ok(
        &mut r,
        &[
            "ACL",
            "SETUSER",
            "app",
            "on",
            ">pw",
            "~*",
            "&*",
            "+@all",
            "-@dangerous",
            "+client",
            "+lastsave",
        ],
    );
    assert_eq!(
        texts(&r.call(&["ACL", "LIST"])),
        vec![
            format!("user app on #{SHA_PW} ~* &* +@all -@dangerous +client +lastsave"),
            "user default on nopass ~* &* +@all".to_string(),
        ]
    );
    ok(
        &mut r,
        &[
            "ACL",
            "SETUSER",
            "u2",
            ">a",
            "<a",
            &format!("#{SHA_PASSWORD}"),
            "%R~foo*",
            "%W~bar",
            "%RW~baz",
            "&ch*",
            "+get",
            "+config|get",
            "-@dangerous",
            "+select|0",
            "(~x* +set)",
        ],
    );
    let expected = format!(
        "*12\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$9\r\npasswords\r\n*1\r\n$64\r\n{SHA_PASSWORD}\r\n$8\r\ncommands\r\n$44\r\n-@all +get +config|get -@dangerous +select|0\r\n$4\r\nkeys\r\n$19\r\n%R~foo* %W~bar ~baz\r\n$8\r\nchannels\r\n$4\r\n&ch*\r\n$9\r\nselectors\r\n*1\r\n*6\r\n$8\r\ncommands\r\n$10\r\n-@all +set\r\n$4\r\nkeys\r\n$3\r\n~x*\r\n$8\r\nchannels\r\n$0\r\n\r\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&r.call_raw(&["ACL", "GETUSER", "u2"])),
        expected
    );
    assert_eq!(
        text(&texts_frame(&mut r, &["ACL", "LIST"])[2]),
        format!("user u2 off #{SHA_PASSWORD} %R~foo* %W~bar ~baz resetchannels &ch* -@all +get +config|get -@dangerous +select|0 (~x* resetchannels -@all +set)")
    );

    // A repeated rule replaces its earlier occurrence; +@all/-@all and
    // allcommands/nocommands start the command rules afresh.
    let list_of = |r: &mut Raw, u: &str| -> String {
        let all = r.call(&["ACL", "LIST"]);
        texts(&all)
            .into_iter()
            .find(|l| l.starts_with(&format!("user {u} ")))
            .unwrap_or_default()
    };
    ok(
        &mut r,
        &[
            "ACL", "SETUSER", "r", "+get", "+set", "-get", "+@read", "-@read",
        ],
    );
    assert_eq!(
        list_of(&mut r, "r"),
        "user r off resetchannels -@all +set -get -@read"
    );
    ok(&mut r, &["ACL", "SETUSER", "r", "allcommands", "-flushall"]);
    assert_eq!(
        list_of(&mut r, "r"),
        "user r off resetchannels +@all -flushall"
    );
    ok(&mut r, &["ACL", "SETUSER", "r", "nocommands", "+GET"]);
    assert_eq!(list_of(&mut r, "r"), "user r off resetchannels -@all +get");
    // Passwords: > adds, < and ! remove, # adds a hash, nopass/resetpass.
    ok(
        &mut r,
        &[
            "ACL",
            "SETUSER",
            "r",
            ">foo",
            ">",
            &format!("#{SHA_PW}"),
            "on",
        ],
    );
    assert_eq!(
        list_of(&mut r, "r"),
        format!("user r on #{SHA_FOO} #{SHA_EMPTY} #{SHA_PW} resetchannels -@all +get")
    );
    ok(&mut r, &["ACL", "SETUSER", "r", "<", &format!("!{SHA_PW}")]);
    assert_eq!(
        list_of(&mut r, "r"),
        format!("user r on #{SHA_FOO} resetchannels -@all +get")
    );
    ok(&mut r, &["ACL", "SETUSER", "r", "nopass"]);
    assert_eq!(
        list_of(&mut r, "r"),
        "user r on nopass resetchannels -@all +get"
    );
    ok(&mut r, &["ACL", "SETUSER", "r", ">foo"]);
    assert_eq!(
        list_of(&mut r, "r"),
        format!("user r on #{SHA_FOO} resetchannels -@all +get")
    );
    ok(&mut r, &["ACL", "SETUSER", "r", "resetpass", "off"]);
    assert_eq!(list_of(&mut r, "r"), "user r off resetchannels -@all +get");
    // Keys and channels: allkeys/resetkeys, allchannels/resetchannels.
    ok(
        &mut r,
        &["ACL", "SETUSER", "r", "~a", "%R~a", "%W~b", "allchannels"],
    );
    assert_eq!(list_of(&mut r, "r"), "user r off ~a %W~b &* -@all +get");
    ok(
        &mut r,
        &[
            "ACL",
            "SETUSER",
            "r",
            "resetkeys",
            "allkeys",
            "resetchannels",
            "&x",
            "&y*",
        ],
    );
    assert_eq!(
        list_of(&mut r, "r"),
        "user r off ~* resetchannels &x &y* -@all +get"
    );
    ok(
        &mut r,
        &[
            "ACL",
            "SETUSER",
            "r",
            "resetkeys",
            "%R~r",
            "(+set ~s)",
            "(",
            "+del",
            "~d",
            ")",
        ],
    );
    assert_eq!(list_of(&mut r, "r"), "user r off %R~r resetchannels &x &y* -@all +get (~s resetchannels -@all +set) (~d resetchannels -@all +del)");
    ok(&mut r, &["ACL", "SETUSER", "r", "clearselectors"]);
    assert_eq!(
        list_of(&mut r, "r"),
        "user r off %R~r resetchannels &x &y* -@all +get"
    );
    ok(&mut r, &["ACL", "SETUSER", "r", "reset"]);
    assert_eq!(
        list_of(&mut r, "r"),
        "user r off sanitize-payload resetchannels -@all"
    );
    ok(&mut r, &["ACL", "SETUSER", "r", "skip-sanitize-payload"]);
    assert_eq!(
        texts(&getuser_field(&mut r, "r", "flags")),
        vec!["off", "skip-sanitize-payload"]
    );

    assert_eq!(
        texts(&r.call(&["ACL", "USERS"])),
        vec!["app", "default", "r", "u2"]
    );
    assert_eq!(r.call(&["ACL", "WHOAMI"]), bulk("default"));
    assert_eq!(r.call(&["ACL", "GETUSER", "nobody"]), Frame::Bulk(None));
    assert_eq!(
        r.call(&["ACL", "DELUSER", "r", "nobody", "u2"]),
        Frame::Int(2)
    );
    assert_eq!(
        r.call(&["ACL", "DELUSER", "default"]),
        err("ERR The 'default' user cannot be removed")
    );
    assert_eq!(
        r.call(&["ACL", "SETUSER", "a b"]),
        err("ERR Usernames can't contain spaces or null characters")
    );
}

fn texts_frame(r: &mut Raw, args: &[&str]) -> Vec<Frame> {
    match r.call(args) {
        Frame::Array(Some(v)) => v,
        other => panic!("{other:?}"),
    }
}

fn getuser_field(r: &mut Raw, user: &str, field: &str) -> Frame {
    let v = texts_frame(r, &["ACL", "GETUSER", user]);
    let i = v.iter().position(|f| text(f) == field).expect("field");
    v[i + 1].clone()
}

/// Rule errors, word for word as Redis 7.0 (and 7.2) gives them.
const BAD_RULES: &[(&[&str], &str)] = &[
    (&["foo"], "ERR Error in ACL SETUSER modifier 'foo': Syntax error"),
    (&["#abc"], "ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
    (&["!abc"], "ERR Error in ACL SETUSER modifier '!abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
    (&["<nop"], "ERR Error in ACL SETUSER modifier '<nop': The password you are trying to remove from the user does not exist"),
    (&["%X~a"], "ERR Error in ACL SETUSER modifier '%X~a': Syntax error"),
    (&["%~a"], "ERR Error in ACL SETUSER modifier '%~a': Syntax error"),
    (&["+nosuch"], "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"),
    (&["+@nosuch"], "ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL"),
    (&["+config|nosuch"], "ERR Error in ACL SETUSER modifier '+config|nosuch': Unknown command or category name in ACL"),
    (&["-config|get|x"], "ERR Error in ACL SETUSER modifier '-config|get|x': Unknown command or category name in ACL"),
    (&["+select|0|1"], "ERR Error in ACL SETUSER modifier '+select|0|1': Unknown command or category name in ACL"),
    (&["-select|0"], "ERR Error in ACL SETUSER modifier '-select|0': Unknown command or category name in ACL"),
    (&["+@all|x"], "ERR Error in ACL SETUSER modifier '+@all|x': Unknown command or category name in ACL"),
    (&["("], "ERR Unmatched parenthesis in acl selector starting at '('."),
    (&["(~a"], "ERR Unmatched parenthesis in acl selector starting at '(~a'."),
    (&["reset("], "ERR Error in ACL SETUSER modifier 'reset(': Syntax error"),
    (&["(on)"], "ERR Error in ACL SETUSER modifier '(on)': Syntax error"),
    (&["allkeys", "~x"], "ERR Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"),
    (&["allchannels", "&x"], "ERR Error in ACL SETUSER modifier '&x': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"),
];

#[test]
fn bad_rules_change_nothing() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    ok(&mut r, &["ACL", "SETUSER", "e", "on", "+get"]);
    for (rules, want) in BAD_RULES {
        let mut args = vec!["ACL", "SETUSER", "e", "+set"];
        args.extend_from_slice(rules);
        assert_eq!(r.call(&args), err(want), "{rules:?}");
    }
    // All or nothing: the +set before each bad rule was not applied.
    assert_eq!(text(&getuser_field(&mut r, "e", "commands")), "-@all +get");
}

#[test]
fn other_subcommands() {
    let s = Server::start(&["--acllog-max-len", "3"]);
    let mut r = s.raw();
    let cats = texts(&r.call(&["ACL", "CAT"]));
    assert_eq!(cats.len(), 21);
    assert_eq!(cats[0], "keyspace");
    assert!(texts(&r.call(&["ACL", "CAT", "read"])).contains(&"get".to_string()));
    let dangerous = texts(&r.call(&["ACL", "CAT", "DANGEROUS"]));
    assert!(
        dangerous.contains(&"config|set".to_string())
            && dangerous.contains(&"flushall".to_string())
    );
    assert_eq!(
        r.call(&["ACL", "CAT", "nosuch"]),
        err("ERR Unknown category 'nosuch'")
    );
    assert_eq!(text(&r.call(&["ACL", "GENPASS"])).len(), 64);
    assert_eq!(text(&r.call(&["ACL", "GENPASS", "5"])).len(), 2);
    assert_ne!(r.call(&["ACL", "GENPASS"]), r.call(&["ACL", "GENPASS"]));
    let genpass_err = err("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096");
    assert_eq!(r.call(&["ACL", "GENPASS", "0"]), genpass_err);
    assert_eq!(r.call(&["ACL", "GENPASS", "4097"]), genpass_err);
    assert_eq!(text(&r.call(&["ACL", "GENPASS", "4096"])).len(), 1024);
    let no_file = err("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.");
    assert_eq!(r.call(&["ACL", "SAVE"]), no_file);
    assert_eq!(r.call(&["ACL", "LOAD"]), no_file);
    let help = texts(&r.call(&["ACL", "HELP"]));
    assert!(
        help[0].starts_with("ACL <subcommand>") && help.iter().any(|l| l.starts_with("DRYRUN"))
    );

    // DRYRUN: OK, or the reason in 7.2's words.
    ok(
        &mut r,
        &[
            "ACL",
            "SETUSER",
            "k",
            "on",
            "nopass",
            "%W~w*",
            "%R~r*",
            "~b*",
            "+@all",
            "-config|get",
            "&news",
        ],
    );
    assert_eq!(r.call(&["ACL", "DRYRUN", "k", "get", "r1"]), simple("OK"));
    assert_eq!(
        r.call(&["ACL", "DRYRUN", "k", "get", "w1"]),
        bulk("User k has no permissions to access the 'w1' key")
    );
    assert_eq!(
        r.call(&["ACL", "DRYRUN", "k", "config", "get", "x"]),
        bulk("User k has no permissions to run the 'config|get' command")
    );
    assert_eq!(
        r.call(&["ACL", "DRYRUN", "k", "publish", "sport", "m"]),
        bulk("User k has no permissions to access the 'sport' channel")
    );
    assert_eq!(
        r.call(&["ACL", "DRYRUN", "nobody", "get", "x"]),
        err("ERR User 'nobody' not found")
    );
    assert_eq!(
        r.call(&["ACL", "DRYRUN", "k", "nosuch"]),
        err("ERR Command 'nosuch' not found")
    );
    assert_eq!(
        r.call(&["ACL", "DRYRUN", "k", "get"]),
        err("ERR wrong number of arguments for 'get' command")
    );

    // LOG: newest first, similar refusals counted together, at most
    // acllog-max-len entries, RESET.
    let mut k = auth(&s, "k", "x");
    for _ in 0..2 {
        assert_eq!(
            k.call(&["GET", "w1"]),
            err("NOPERM No permissions to access a key")
        );
    }
    assert_eq!(k.call(&["CONFIG", "GET", "x"]), noperm("k", "config|get"));
    assert_eq!(
        r.call(&["AUTH", "k2", "bad"]),
        err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    let log = texts_frame(&mut r, &["ACL", "LOG"]);
    assert_eq!(log.len(), 3);
    let entry = |f: &Frame| -> Vec<String> {
        match f {
            Frame::Array(Some(v)) => v.iter().take(10).map(text).collect(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        entry(&log[0])[..10],
        [
            "count", "1", "reason", "auth", "context", "toplevel", "object", "AUTH", "username",
            "k2"
        ]
    );
    assert_eq!(
        entry(&log[1])[..10],
        [
            "count",
            "1",
            "reason",
            "command",
            "context",
            "toplevel",
            "object",
            "config|get",
            "username",
            "k"
        ]
    );
    assert_eq!(
        entry(&log[2])[..10],
        ["count", "2", "reason", "key", "context", "toplevel", "object", "w1", "username", "k"]
    );
    let fields: Vec<String> = match &log[2] {
        Frame::Array(Some(v)) => v.iter().step_by(2).map(text).collect(),
        _ => unreachable!(),
    };
    assert_eq!(
        fields,
        [
            "count",
            "reason",
            "context",
            "object",
            "username",
            "age-seconds",
            "client-info",
            "entry-id",
            "timestamp-created",
            "timestamp-last-updated"
        ]
    );
    assert_eq!(texts_frame(&mut r, &["ACL", "LOG", "1"]).len(), 1);
    assert_eq!(
        k.call(&["PUBLISH", "x", "m"]),
        err("NOPERM No permissions to access a channel")
    );
    assert_eq!(
        texts_frame(&mut r, &["ACL", "LOG"]).len(),
        3,
        "acllog-max-len"
    );
    ok(&mut r, &["ACL", "LOG", "RESET"]);
    assert_eq!(texts_frame(&mut r, &["ACL", "LOG"]).len(), 0);
    assert_eq!(
        r.call(&["ACL", "LOG", "x"]),
        err("ERR value is not an integer or out of range")
    );
}

#[test]
fn auth_requirepass_and_hello() {
    let s = Server::start(&["--requirepass", "foo"]);
    let mut r = s.raw();
    assert_eq!(r.call(&["PING"]), err("NOAUTH Authentication required."));
    assert_eq!(
        r.call(&["AUTH", "bar"]),
        err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(
        r.call(&["AUTH", "default", "bar"]),
        err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    ok(&mut r, &["AUTH", "foo"]);
    ok(&mut r, &["AUTH", "default", "foo"]);
    assert_eq!(
        texts(&r.call(&["ACL", "LIST"])),
        vec![format!("user default on #{SHA_FOO} ~* &* +@all")]
    );
    // CONFIG SET requirepass replaces the default user's password.
    ok(&mut r, &["CONFIG", "SET", "requirepass", "pw"]);
    assert_eq!(
        texts(&getuser_field(&mut r, "default", "passwords")),
        vec![SHA_PW]
    );
    assert_eq!(
        s.raw().call(&["AUTH", "foo"]),
        err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    auth(&s, "default", "pw");
    // HELLO AUTH, and HELLO before authenticating.
    let mut h = s.raw();
    let e = h.call(&["HELLO", "3"]);
    assert!(
        text(&e).starts_with("NOAUTH HELLO must be called with the client already authenticated"),
        "{e:?}"
    );
    assert_eq!(
        h.call(&["HELLO", "3", "AUTH", "default", "nope"]),
        err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert!(matches!(
        h.call(&["HELLO", "3", "AUTH", "default", "pw"]),
        Frame::Map(_)
    ));
    assert_eq!(h.call(&["ACL", "WHOAMI"]), bulk("default"));
    // Users: a disabled user cannot log in; an enabled one can, and is
    // named by WHOAMI and CLIENT LIST.
    ok(&mut r, &["ACL", "SETUSER", "bob", ">secret", "+@all", "~*"]);
    assert_eq!(
        s.raw().call(&["AUTH", "bob", "secret"]),
        err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    ok(&mut r, &["ACL", "SETUSER", "bob", "on"]);
    let mut b = auth(&s, "bob", "secret");
    assert_eq!(b.call(&["ACL", "WHOAMI"]), bulk("bob"));
    assert!(text(&b.call(&["CLIENT", "INFO"])).contains(" user=bob "));
    // RESET logs the connection out again.
    assert_eq!(b.call(&["RESET"]), simple("RESET"));
    assert_eq!(
        b.call(&["GET", "x"]),
        err("NOAUTH Authentication required.")
    );
    // Back to no password: AUTH <password> alone is an error, and new
    // connections need no AUTH.
    ok(&mut r, &["CONFIG", "SET", "requirepass", ""]);
    assert_eq!(
        s.raw().call(&["AUTH", "x"]),
        err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
    );
    assert_eq!(s.raw().call(&["PING"]), simple("PONG"));
}

#[test]
fn noperm_for_commands_keys_channels_and_transactions() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "app",
            "on",
            ">pw",
            "%R~r*",
            "%W~w*",
            "~b*",
            "&news.*",
            "+@all",
            "-@dangerous",
            "+select|0",
        ],
    );
    let mut a = auth(&s, "app", "pw");
    assert_eq!(
        a.call(&["CONFIG", "GET", "maxmemory"]),
        noperm("app", "config|get")
    );
    assert_eq!(a.call(&["FLUSHALL"]), noperm("app", "flushall"));
    assert_eq!(
        a.call(&["GET", "w1"]),
        err("NOPERM No permissions to access a key")
    );
    assert_eq!(a.call(&["GET", "r1"]), Frame::Bulk(None));
    assert_eq!(
        a.call(&["SET", "r1", "v"]),
        err("NOPERM No permissions to access a key")
    );
    ok(&mut a, &["SET", "w1", "v"]);
    // SET ... GET also reads: it needs both.
    assert_eq!(
        a.call(&["SET", "w1", "v", "GET"]),
        err("NOPERM No permissions to access a key")
    );
    assert_eq!(a.call(&["SET", "b1", "v", "GET"]), Frame::Bulk(None));
    // A key command needing neither read nor write (EXISTS) may use either.
    assert_eq!(a.call(&["EXISTS", "w1", "r1"]), Frame::Int(1));
    assert_eq!(
        a.call(&["EXISTS", "x"]),
        err("NOPERM No permissions to access a key")
    );
    // Movable keys: every key of ZUNIONSTORE, LMPOP, SINTERCARD is checked.
    assert_eq!(
        a.call(&["ZUNIONSTORE", "w2", "2", "r1", "x"]),
        err("NOPERM No permissions to access a key")
    );
    assert_eq!(
        a.call(&["ZUNIONSTORE", "w2", "2", "r1", "b1z"]),
        Frame::Int(0)
    );
    assert_eq!(
        a.call(&["ZUNION", "2", "r1", "x"]),
        err("NOPERM No permissions to access a key")
    );
    assert_eq!(
        a.call(&["LMPOP", "2", "b1", "x", "LEFT"]),
        err("NOPERM No permissions to access a key")
    );
    assert_eq!(
        a.call(&["SINTERCARD", "2", "r5", "x"]),
        err("NOPERM No permissions to access a key")
    );
    // A first argument allowed on its own (+select|0).
    ok(
        &mut admin,
        &["ACL", "SETUSER", "app", "-select", "+select|0"],
    );
    ok(&mut a, &["SELECT", "0"]);
    assert_eq!(a.call(&["SELECT", "1"]), noperm("app", "select"));
    // Channels: PUBLISH and SUBSCRIBE match patterns; PSUBSCRIBE needs the
    // pattern itself.
    assert_eq!(a.call(&["PUBLISH", "news.it", "m"]), Frame::Int(0));
    assert_eq!(
        a.call(&["PUBLISH", "sport", "m"]),
        err("NOPERM No permissions to access a channel")
    );
    assert_eq!(
        a.call(&["SUBSCRIBE", "news.a", "sport"]),
        err("NOPERM No permissions to access a channel")
    );
    assert_eq!(
        a.call(&["PSUBSCRIBE", "news.i*"]),
        err("NOPERM No permissions to access a channel")
    );
    let mut p = auth(&s, "app", "pw");
    p.send(&["PSUBSCRIBE", "news.*"]);
    assert!(matches!(p.read(), Frame::Array(Some(_)) | Frame::Push(_)));
    // MULTI: refused while queueing dooms the transaction.
    ok(&mut a, &["MULTI"]);
    assert_eq!(
        a.call(&["GET", "w1"]),
        err("NOPERM No permissions to access a key")
    );
    assert_eq!(
        a.call(&["EXEC"]),
        err("EXECABORT Transaction discarded because of previous errors.")
    );
    // Checked again at EXEC: permissions taken away meanwhile apply.
    ok(&mut a, &["MULTI"]);
    assert_eq!(a.call(&["GET", "r1"]), simple("QUEUED"));
    assert_eq!(a.call(&["SET", "w1", "2"]), simple("QUEUED"));
    ok(&mut admin, &["ACL", "SETUSER", "app", "-get"]);
    assert_eq!(
        a.call(&["EXEC"]),
        Frame::Array(Some(vec![noperm("app", "get"), simple("OK")]))
    );
    let log = texts_frame(&mut admin, &["ACL", "LOG", "1"]);
    let e = texts(&log[0]);
    assert_eq!(
        e[..8],
        ["count", "1", "reason", "command", "context", "multi", "object", "get"]
    );
    // EXEC itself refused: the transaction is aborted with the reason.
    ok(&mut a, &["MULTI"]);
    ok(&mut admin, &["ACL", "SETUSER", "app", "-exec"]);
    assert_eq!(a.call(&["EXEC"]), err("EXECABORT Transaction discarded because of: NOPERM User app has no permissions to run the 'exec' command"));
    assert_eq!(a.call(&["EXEC"]), noperm("app", "exec"));
    assert_eq!(a.call(&["DISCARD"]), err("ERR DISCARD without MULTI"));
    // Selectors: a call allowed by any selector runs.
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "sel",
            "on",
            "nopass",
            "resetkeys",
            "-@all",
            "+get",
            "~g*",
            "(+set ~s*)",
        ],
    );
    let mut sl = auth(&s, "sel", "x");
    assert_eq!(sl.call(&["GET", "g"]), Frame::Bulk(None));
    ok(&mut sl, &["SET", "s", "1"]);
    assert_eq!(
        sl.call(&["SET", "g", "1"]),
        err("NOPERM No permissions to access a key")
    );
    assert_eq!(sl.call(&["DEL", "s"]), noperm("sel", "del"));
}

#[test]
fn changes_reach_live_connections() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "u", "on", ">p", "~*", "&*", "+@all"],
    );
    let mut u = auth(&s, "u", "p");
    assert_eq!(u.call(&["GET", "k"]), Frame::Bulk(None));
    ok(&mut admin, &["ACL", "SETUSER", "u", "-get"]);
    assert_eq!(u.call(&["GET", "k"]), noperm("u", "get"));
    let list = text(&admin.call(&["CLIENT", "LIST"]));
    assert!(list.lines().any(|l| l.contains(" user=u ")), "{list}");
    // A subscriber that loses its channel is disconnected.
    let mut sub = auth(&s, "u", "p");
    sub.send(&["SUBSCRIBE", "ch"]);
    sub.read();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "u", "resetchannels", "&other"],
    );
    assert!(
        wait_until(Duration::from_secs(5), || sub.is_closed()),
        "subscriber kept"
    );
    assert_eq!(u.call(&["PING"]), simple("PONG"));
    // Deleting a user closes its connections.
    assert_eq!(admin.call(&["ACL", "DELUSER", "u"]), Frame::Int(1));
    assert!(
        wait_until(Duration::from_secs(5), || u.is_closed()),
        "connection of a deleted user kept"
    );
    assert_eq!(
        s.raw().call(&["AUTH", "u", "p"]),
        err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(
        admin.call(&["CLIENT", "KILL", "USER", "nobody"]),
        err("ERR No such user 'nobody'")
    );
}

/// The managed-service recipe of README and redis.conf.example: the admin
/// commands a tenant may not run, and the ones it keeps.
const TENANT_REFUSED: &[&str] = &[
    "failover",
    "replicaof",
    "save",
    "slaveof",
    "cluster",
    "acl",
    "shutdown",
    "sync",
    "config",
    "module",
    "pfselftest",
    "bgsave",
    "debug",
    "replconf",
    "psync",
    "bgrewriteaof",
    "pfdebug",
];
const TENANT_KEPT: &[&str] = &[
    "client", "latency", "slowlog", "monitor", "lastsave", "role",
];

/// A call of each command (with a subcommand for containers).
fn sample_call(cmd: &str) -> Vec<&str> {
    match cmd {
        "cluster" => vec!["CLUSTER", "INFO"],
        "acl" => vec!["ACL", "WHOAMI"],
        "config" => vec!["CONFIG", "GET", "port"],
        "module" => vec!["MODULE", "LIST"],
        "debug" => vec!["DEBUG", "SLEEP", "0"],
        "client" => vec!["CLIENT", "ID"],
        "latency" => vec!["LATENCY", "LATEST"],
        "slowlog" => vec!["SLOWLOG", "LEN"],
        "replicaof" | "slaveof" => vec![cmd, "NO", "ONE"],
        "failover" => vec!["FAILOVER", "ABORT"],
        "replconf" => vec!["REPLCONF", "listening-port", "1"],
        "psync" => vec!["PSYNC", "?", "-1"],
        "pfdebug" => vec!["PFDEBUG", "GETREG", "h"],
        "shutdown" => vec!["SHUTDOWN", "ABORT"],
        other => vec![other],
    }
}

/// The tenant rule of the recipe as redis.conf.example ships it (with the
/// password ">pw"): everything but the refused commands. Read from the file
/// so that the file and this test cannot drift apart.
fn tenant_rules() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/redis.conf.example");
    let text = std::fs::read_to_string(path).expect("read redis.conf.example");
    let line = text
        .lines()
        .find(|l| l.starts_with("user tenant "))
        .expect("redis.conf.example has the tenant's user line");
    let rules: Vec<String> = line
        .split_whitespace()
        .skip(2)
        .map(|r| if r.starts_with('>') { ">pw" } else { r }.to_string())
        .collect();
    let refused: Vec<&str> = rules.iter().filter_map(|r| r.strip_prefix('-')).collect();
    assert_eq!(refused, TENANT_REFUSED, "redis.conf.example's tenant line");
    rules
}

#[test]
fn managed_service_recipe() {
    let pair = Pair::start(&["--enable-debug-command", "yes"]);
    let servers: Vec<(&str, &Server)> = std::iter::once(("redust", &pair.redust))
        .chain(pair.redis.iter().map(|r| ("redis", r)))
        .collect();
    for (name, s) in servers {
        let mut admin = s.raw();
        let exists = |c: &str| !matches!(s.raw().call(&["COMMAND", "INFO", c]), Frame::Array(Some(v)) if matches!(v.first(), Some(Frame::Array(None) | Frame::Null | Frame::Bulk(None))));
        let mut setuser: Vec<String> = vec!["ACL".into(), "SETUSER".into(), "tenant".into()];
        setuser.extend(tenant_rules());
        assert_eq!(admin.call(&setuser), simple("OK"), "{name}");
        let mut t = auth(s, "tenant", "pw");
        for c in TENANT_REFUSED {
            let call = sample_call(c);
            let reply = t.call(&call);
            let Frame::Error(e) = &reply else {
                panic!("{name}: {c} ran: {reply:?}")
            };
            let e = String::from_utf8_lossy(&to_72("tenant", &[b"-", &e[..], b"\r\n"].concat()))
                .trim_start_matches('-')
                .trim_end()
                .to_string();
            if exists(c) {
                let full = if ["cluster", "acl", "config", "module"].contains(c) {
                    format!("{}|{}", c, call[1].to_ascii_lowercase())
                } else {
                    c.to_string()
                };
                assert_eq!(
                    e,
                    format!("NOPERM User tenant has no permissions to run the '{full}' command"),
                    "{name}: {c}"
                );
            } else {
                assert!(e.starts_with("ERR unknown command"), "{name}: {c}: {e}");
            }
        }
        for c in TENANT_KEPT.iter().filter(|c| **c != "monitor" && exists(c)) {
            let reply = t.call(&sample_call(c));
            assert!(
                !matches!(&reply, Frame::Error(e) if e.starts_with(b"NOPERM")),
                "{name}: {c}: {reply:?}"
            );
        }
        if exists("monitor") {
            let mut m = auth(s, "tenant", "pw");
            assert_eq!(m.call(&["MONITOR"]), simple("OK"), "{name}");
        }
        assert_eq!(t.call(&["SET", "k", "v"]), simple("OK"));
        assert_eq!(
            t.call(&["FLUSHALL"]),
            simple("OK"),
            "{name}: only the listed commands are refused"
        );
    }
    // The read-only and read-write users of the recipe.
    let s = &pair.redust;
    let mut admin = s.raw();
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "reader",
            "on",
            ">pw",
            "~*",
            "resetchannels",
            "-@all",
            "+@read",
            "+@connection",
        ],
    );
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "writer",
            "on",
            ">pw",
            "~*",
            "&*",
            "-@all",
            "+@read",
            "+@write",
            "+@connection",
            "-@dangerous",
        ],
    );
    let mut rd = auth(s, "reader", "pw");
    let mut wr = auth(s, "writer", "pw");
    assert_eq!(wr.call(&["SET", "a", "1"]), simple("OK"));
    assert_eq!(rd.call(&["GET", "a"]), bulk("1"));
    assert_eq!(rd.call(&["SET", "a", "2"]), noperm("reader", "set"));
    assert_eq!(wr.call(&["FLUSHDB"]), noperm("writer", "flushdb"));
    assert_eq!(wr.call(&["KEYS", "*"]), noperm("writer", "keys"));
}

#[test]
fn user_lines_aclfile_save_and_load() {
    let (dir, _c) = scratch_dir("acl-files");
    // `user` lines in redis.conf.
    let conf = write_file(
        &dir,
        "users.conf",
        "user alice on >a ~a* +get +set\nuser default on nopass ~* &* +@all -flushall\n",
    );
    let s = Server::start(&[conf.to_str().unwrap()]);
    let mut r = s.raw();
    assert_eq!(
        texts(&r.call(&["ACL", "LIST"])),
        vec!["user alice on #ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb ~a* resetchannels -@all +get +set", "user default on nopass sanitize-payload ~* &* +@all -flushall"]
    );
    assert_eq!(r.call(&["FLUSHALL"]), noperm("default", "flushall"));
    // CONFIG REWRITE writes the users' current rules in place of the lines.
    ok(&mut r, &["ACL", "SETUSER", "alice", "+del"]);
    ok(&mut r, &["CONFIG", "REWRITE"]);
    let rewritten = std::fs::read_to_string(&conf).unwrap();
    assert!(
        rewritten.starts_with("user alice on #ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb ~a* resetchannels -@all +get +set +del\nuser default on nopass sanitize-payload ~* &* +@all -flushall\n"),
        "{rewritten}"
    );
    drop(r);
    drop(s);
    // Both is a start-up error, as is a bad rule.
    let acl_path = dir.join("users.acl");
    std::fs::write(&acl_path, "user bob on >b +get ~*\n").unwrap();
    let both = run_to_exit(
        common::redust_bin(),
        &[
            conf.to_str().unwrap(),
            "--aclfile",
            acl_path.to_str().unwrap(),
            "--port",
            "0",
        ],
        Duration::from_secs(10),
    );
    assert!(!both.status.success());
    let bad = write_file(&dir, "bad.conf", "user al on nopass +nosuch\n");
    let o = run_to_exit(
        common::redust_bin(),
        &[bad.to_str().unwrap(), "--port", "0"],
        Duration::from_secs(10),
    );
    assert!(!o.status.success());

    // An ACL file: loaded at start, written by SAVE, re-read by LOAD.
    let s = Server::start(&["--aclfile", acl_path.to_str().unwrap()]);
    let mut r = s.raw();
    assert_eq!(texts(&r.call(&["ACL", "USERS"])), vec!["bob", "default"]);
    ok(
        &mut r,
        &["ACL", "SETUSER", "carol", "on", "nopass", "+ping"],
    );
    ok(&mut r, &["ACL", "SAVE"]);
    let saved = std::fs::read_to_string(&acl_path).unwrap();
    assert!(
        saved.contains("user carol on nopass resetchannels -@all +ping\n")
            && saved.contains("user default on nopass ~* &* +@all\n"),
        "{saved}"
    );
    let mut bob = auth(&s, "bob", "b");
    std::fs::write(&acl_path, "user dave on nopass +@all ~*\n").unwrap();
    ok(&mut r, &["ACL", "LOAD"]);
    assert_eq!(texts(&r.call(&["ACL", "USERS"])), vec!["dave", "default"]);
    assert!(
        wait_until(Duration::from_secs(5), || bob.is_closed()),
        "connections of replaced users are closed"
    );
    let path = acl_path.to_str().unwrap();
    std::fs::write(
        &acl_path,
        "user bob on >x +nosuch ~a\nuser al on nopass +@all ~*\nfoo\n",
    )
    .unwrap();
    assert_eq!(
        r.call(&["ACL", "LOAD"]),
        err(&format!("ERR {path}:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. {path}:3 should start with user keyword followed by the username. WARNING: ACL errors detected, no change to the previously active ACL rules was performed"))
    );
    assert_eq!(texts(&r.call(&["ACL", "USERS"])), vec!["dave", "default"]);
}

#[test]
fn movable_keys_for_command_getkeys_and_watch() {
    let pair = Pair::start(&[]);
    for args in [
        &[
            "COMMAND",
            "GETKEYS",
            "ZUNIONSTORE",
            "d",
            "2",
            "a",
            "b",
            "WEIGHTS",
            "1",
            "2",
        ][..],
        &["COMMAND", "GETKEYS", "ZUNION", "2", "a", "b"],
        &[
            "COMMAND",
            "GETKEYS",
            "ZINTERCARD",
            "3",
            "a",
            "b",
            "c",
            "LIMIT",
            "1",
        ],
        &["COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT"],
        &["COMMAND", "GETKEYS", "BLMPOP", "0", "1", "a", "LEFT"],
        &["COMMAND", "GETKEYS", "BZMPOP", "0", "2", "a", "b", "MIN"],
        &["COMMAND", "GETKEYS", "SINTERCARD", "2", "a", "b"],
        &["COMMAND", "GETKEYS", "ZUNION", "5", "a", "b"],
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "ZUNIONSTORE",
            "d",
            "2",
            "a",
            "b",
        ],
        &["COMMAND", "GETKEYSANDFLAGS", "LMPOP", "2", "a", "b", "LEFT"],
        &["COMMAND", "GETKEYSANDFLAGS", "SET", "a", "b", "GET"],
        &["COMMAND", "GETKEYSANDFLAGS", "LPUSH", "a", "b"],
    ] {
        pair.assert_same(&[], args);
    }
    // WATCH: a movable-key write touches the keys it writes, not the ones
    // it only reads.
    let s = &pair.redust;
    let mut w = s.raw();
    let mut other = s.raw();
    other.call(&["ZADD", "src", "1", "a"]);
    other.call(&["RPUSH", "l1", "x"]);
    for (watched, cmd, aborted) in [
        ("src", &["ZUNIONSTORE", "dst", "1", "src"][..], false),
        ("dst", &["ZUNIONSTORE", "dst", "1", "src"], true),
        ("l1", &["LMPOP", "2", "nolist", "l1", "LEFT"], true),
    ] {
        ok(&mut w, &["WATCH", watched]);
        other.call(cmd);
        ok(&mut w, &["MULTI"]);
        w.call(&["PING"]);
        let reply = w.call(&["EXEC"]);
        assert_eq!(
            reply == Frame::Array(None) || reply == Frame::Null,
            aborted,
            "WATCH {watched} then {cmd:?}: {reply:?}"
        );
    }
}

/// Differential: the same ACL commands to redis-server 7.0 and Redust.
#[test]
fn acl_replies_match_redis() {
    let pair = Pair::start(&[]);
    let setup: &[&[&str]] = &[
        &["ACL", "SETUSER", "u1", "on", ">pw", "~*", "&*", "+@all"],
        &[
            "ACL",
            "SETUSER",
            "u2",
            ">a",
            "<a",
            "#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
            "%R~foo*",
            "%W~bar",
            "%RW~baz",
            "&ch*",
            "+get",
            "clearselectors",
            "(~x* +set)",
        ],
        &["ACL", "SETUSER", "u6", "on", "nopass", "+select|0", "~*"],
        &[
            "ACL",
            "SETUSER",
            "u3",
            "on",
            "nopass",
            "skip-sanitize-payload",
            "-@all",
            "+get",
            "~k*",
            "allchannels",
        ],
        &["ACL", "SETUSER", "u4", "reset"],
        &[
            "ACL",
            "SETUSER",
            "u5",
            "on",
            "nopass",
            "+@all",
            "-flushall",
            "resetkeys",
            "~a",
            "clearselectors",
            "(+get ~g*)",
            "(+set ~s*)",
        ],
    ];
    let r = |args: &[&str]| {
        let (ours, theirs) = pair.reply_bytes(setup, args);
        if let Some(theirs) = theirs {
            let theirs = to_72(args.get(2).copied().unwrap_or(""), &theirs);
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "{args:?} (left: redust, right: redis)"
            );
        }
    };
    for u in ["default", "u1", "u2", "u3", "u4", "u5", "u6", "nobody"] {
        r(&["ACL", "GETUSER", u]);
    }
    r(&["ACL", "LIST"]);
    r(&["ACL", "USERS"]);
    r(&["ACL", "CAT"]);
    r(&["ACL", "CAT", "nosuch"]);
    for call in [
        &["u2", "get", "foo1"][..],
        &["u2", "get", "bar"],
        &["u2", "set", "bar", "1"],
        &["u2", "set", "x1", "1"],
        &["u6", "select", "0"],
        &["u6", "select", "1"],
        &["u2", "publish", "ch1", "m"],
        &["u2", "publish", "x", "m"],
        &["u2", "subscribe", "ch1", "x"],
        &["u2", "psubscribe", "ch*"],
        &["u2", "psubscribe", "ch1*"],
        &["u3", "config", "get", "x"],
        &["u3", "config", "set", "x", "y"],
        &["u3", "get", "k1"],
        &["u3", "get", "a"],
        &["u5", "get", "g1"],
        &["u5", "set", "s1", "v"],
        &["u5", "set", "g1", "v"],
        &["u5", "flushall"],
        &["u5", "zunionstore", "a", "2", "a", "b"],
        &["u5", "lmpop", "2", "a", "g", "left"],
        &["nobody", "get", "x"],
        &["u1", "nosuch"],
        &["u1", "get"],
        &["u1", "get", "a", "b"],
    ] {
        let mut args = vec!["ACL", "DRYRUN"];
        args.extend_from_slice(call);
        let (ours, theirs) = pair.reply_bytes(setup, &args);
        if let Some(theirs) = theirs {
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&to_72(call[0], &theirs)),
                "{args:?}"
            );
        }
    }
    for (rules, _) in BAD_RULES {
        let mut args = vec!["ACL", "SETUSER", "e"];
        args.extend_from_slice(rules);
        r(&args);
    }
    // NOPERM replies on a real connection, after AUTH.
    for call in [
        &["CONFIG", "GET", "x"][..],
        &["GET", "bar"],
        &["PUBLISH", "zz", "m"],
        &["SET", "foo1", "v"],
    ] {
        let run = |s: &Server| {
            let mut c = s.raw();
            for st in setup {
                c.call(st);
            }
            c.call(&["ACL", "SETUSER", "u2", "on"]);
            c.call(&["AUTH", "u2", "password"]);
            c.call_raw(call)
        };
        let ours = run(&pair.redust);
        if let Some(redis) = &pair.redis {
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&to_72("u2", &run(redis))),
                "{call:?}"
            );
        }
    }
    // Categories: each command both have is in the same categories.
    let Some(redis) = &pair.redis else { return };
    let cats = texts(&pair.redust.raw().call(&["ACL", "CAT"]));
    let all_of = |s: &Server| -> std::collections::BTreeSet<String> {
        cats.iter()
            .flat_map(|c| texts(&s.raw().call(&["ACL", "CAT", c])))
            .collect()
    };
    let (ours_all, theirs_all) = (all_of(&pair.redust), all_of(redis));
    for c in &cats {
        let ours: std::collections::BTreeSet<String> =
            texts(&pair.redust.raw().call(&["ACL", "CAT", c]))
                .into_iter()
                .filter(|n| theirs_all.contains(n))
                .collect();
        let theirs: std::collections::BTreeSet<String> =
            texts(&redis.raw().call(&["ACL", "CAT", c]))
                .into_iter()
                .filter(|n| ours_all.contains(n))
                .collect();
        assert_eq!(ours, theirs, "category {c}");
    }
}

/// The machine's first non-loopback IPv4 address, if it has one.
fn non_loopback_ipv4() -> Option<std::net::Ipv4Addr> {
    let mut found = None;
    unsafe {
        let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut ifap) != 0 {
            return None;
        }
        let mut p = ifap;
        while !p.is_null() {
            let a = (*p).ifa_addr;
            if !a.is_null() && (*a).sa_family as i32 == libc::AF_INET {
                let sin = &*(a as *const libc::sockaddr_in);
                let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                if !ip.is_loopback() && found.is_none() {
                    found = Some(ip);
                }
            }
            p = (*p).ifa_next;
        }
        libc::freeifaddrs(ifap);
    }
    found
}

fn first_reply_from(ip: std::net::Ipv4Addr, port: u16) -> (Vec<u8>, bool) {
    let mut c = TcpStream::connect((ip, port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    c.write_all(b"PING\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    helpers::read_until_close(&mut c)
}

#[test]
fn protected_mode_refuses_remote_clients_without_password() {
    let Some(ip) = non_loopback_ipv4() else {
        eprintln!("no non-loopback IPv4 address: protected mode is covered by the unit test of server::auth");
        return;
    };
    let pair = Pair::start(&["--bind", "0.0.0.0", "--protected-mode", "yes"]);
    let (ours, closed) = first_reply_from(ip, pair.redust.port);
    assert!(closed, "connection left open");
    let text = String::from_utf8_lossy(&ours).into_owned();
    assert!(text.starts_with("-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user."), "{text}");
    if let Some(redis) = &pair.redis {
        assert_eq!(
            text,
            String::from_utf8_lossy(&first_reply_from(ip, redis.port).0)
        );
    }
    // Loopback clients are served; so is everyone once there is a password.
    assert_eq!(cli_port(pair.redust.port, &["PING"]).trim(), "PONG");
    let mut r = pair.redust.raw();
    ok(&mut r, &["CONFIG", "SET", "requirepass", "pw"]);
    let mut c = TcpStream::connect((ip, pair.redust.port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    c.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 64];
    let n = c.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"-NOAUTH Authentication required.\r\n");
}
