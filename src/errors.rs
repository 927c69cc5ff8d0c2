//! Redis's error replies, word for word: clients parse these strings.

use std::borrow::Cow;

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const SYNTAX: &str = "ERR syntax error";
pub const BGSAVE_BUSY: &str = "Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.";
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
/// An integer argument that must fit in a C int (database indexes).
pub const INT32_RANGE: &str =
    "ERR value is out of range, value must between -2147483648 and 2147483647";
pub const NO_SUCH_KEY: &str = "ERR no such key";
pub const DB_INDEX: &str = "ERR DB index is out of range";
pub const INVALID_EXPIRE: &str = "ERR invalid expire time in '{}' command";
pub const NOAUTH: &str = "NOAUTH Authentication required.";
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
pub const NO_PASSWORD_SET: &str = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
pub const OFFSET_RANGE: &str = "ERR offset is out of range";
pub const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";
pub const MAX_CLIENTS: &str = "ERR max number of clients reached";
/// Redust's ip-allowlist refusing a client (no Redis counterpart).
pub const NOT_IN_ALLOWLIST: &str = "ERR AUTH failed: Client IP address is not in the allowlist.";
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
pub const HLL_WRONGTYPE: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
pub const HLL_CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";
pub const CLUSTER_DISABLED: &str = "ERR This instance has cluster support disabled";
pub const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
// Bitmaps and SORT.
pub const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
pub const BIT_VALUE: &str = "ERR bit is not an integer or out of range";
pub const BITPOS_BIT: &str = "ERR The bit argument must be 1 or 0.";
pub const BITOP_NOT: &str = "ERR BITOP NOT must be called with a single source key.";
pub const BITFIELD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
pub const BITFIELD_OVERFLOW: &str = "ERR Invalid OVERFLOW type specified";
pub const BITFIELD_RO: &str = "ERR BITFIELD_RO only supports the GET subcommand";
pub const SORT_SCORE: &str = "ERR One or more scores can't be converted into double";

/// A failed command; converted into its reply in one place (exec).
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    WrongType,
    Syntax,
    NotInteger,
    NotFloat,
    Overflow,
    NoSuchKey,
    /// Any other error, with its full text including the code (`ERR ...`).
    Msg(Cow<'static, str>),
    /// An error quoting client bytes, which need not be UTF-8.
    Bytes(Vec<u8>),
}

impl Error {
    pub fn text(&self) -> &[u8] {
        match self {
            Error::WrongType => WRONGTYPE.as_bytes(),
            Error::Syntax => SYNTAX.as_bytes(),
            Error::NotInteger => NOT_INTEGER.as_bytes(),
            Error::NotFloat => NOT_FLOAT.as_bytes(),
            Error::Overflow => OVERFLOW.as_bytes(),
            Error::NoSuchKey => NO_SUCH_KEY.as_bytes(),
            Error::Msg(m) => m.as_bytes(),
            Error::Bytes(b) => b,
        }
    }

    pub fn msg(s: impl Into<Cow<'static, str>>) -> Self {
        Error::Msg(s.into())
    }

    /// `ERR <text>` built at run time.
    pub fn err(s: impl std::fmt::Display) -> Self {
        Error::Msg(Cow::Owned(format!("ERR {s}")))
    }
}

pub type CmdResult = Result<(), Error>;

/// Redis's "wrong number of arguments" error for a command (`get`) or a
/// subcommand (`config|get`).
pub fn wrong_arity(full_name: &str) -> Error {
    Error::Msg(Cow::Owned(format!(
        "ERR wrong number of arguments for '{full_name}' command"
    )))
}

/// `ERR <before><arg><after>`, quoting a client argument the way Redis
/// prints it with `%s`: up to its first NUL byte, other bytes as they are.
pub fn quoting(before: &str, arg: &[u8], after: &str) -> Error {
    let arg = &arg[..memchr::memchr(0, arg).unwrap_or(arg.len())];
    Error::Bytes([b"ERR ", before.as_bytes(), arg, after.as_bytes()].concat())
}

pub fn invalid_expire(cmd: &str) -> Error {
    Error::Msg(Cow::Owned(INVALID_EXPIRE.replace("{}", cmd)))
}
