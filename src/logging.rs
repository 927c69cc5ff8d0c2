//! Log lines in Redis's format: `pid:M 22 Nov 2026 02:32:37.123 * message`,
//! where the symbol is the level (. debug, - verbose, * notice, # warning).

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

struct RedisFormat;

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Civil date from days since the epoch (proleptic Gregorian).
fn civil(days: i64) -> (i64, usize, i64) {
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, (m - 1) as usize, d)
}

pub fn timestamp() -> String {
    let ms = crate::server::now_ms();
    let secs = ms / 1000;
    let (y, m, d) = civil(secs.div_euclid(86400));
    let t = secs.rem_euclid(86400);
    format!("{:02} {} {} {:02}:{:02}:{:02}.{:03}", d, MONTHS[m], y, t / 3600, t / 60 % 60, t % 60, ms % 1000)
}

impl<S, N> FormatEvent<S, N> for RedisFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, ev: &Event<'_>) -> fmt::Result {
        if !enabled(*ev.metadata().level()) {
            return Ok(());
        }
        let sym = match *ev.metadata().level() {
            Level::TRACE | Level::DEBUG => '.',
            Level::INFO => '*',
            Level::WARN | Level::ERROR => '#',
        };
        write!(w, "{}:M {} {} ", std::process::id(), timestamp(), sym)?;
        ctx.field_format().format_fields(w.by_ref(), ev)?;
        writeln!(w)
    }
}

/// The current `loglevel` as a rank: 0 debug, 1 verbose, 2 notice,
/// 3 warning, 4 nothing. CONFIG SET loglevel changes it at run time.
static LEVEL: AtomicU8 = AtomicU8::new(2);

fn rank(loglevel: &str) -> u8 {
    match loglevel {
        "debug" => 0,
        "verbose" => 1,
        "warning" => 3,
        "nothing" => 4,
        _ => 2,
    }
}

/// Applies a new `loglevel`.
pub fn set_level(loglevel: &str) {
    LEVEL.store(rank(loglevel), Ordering::Relaxed);
}

fn enabled(level: Level) -> bool {
    let current = LEVEL.load(Ordering::Relaxed);
    let event = match level {
        Level::TRACE | Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN | Level::ERROR => 3,
    };
    current < 4 && event >= current
}

/// Installs the global logger writing to `logfile` ("" = stdout).
pub fn init(logfile: &str, loglevel: &str) -> std::io::Result<()> {
    set_level(loglevel);
    let builder = tracing_subscriber::fmt().with_max_level(Level::DEBUG).event_format(RedisFormat);
    if logfile.is_empty() {
        let _ = builder.with_writer(std::io::stdout).try_init();
    } else {
        let f = std::fs::OpenOptions::new().create(true).append(true).open(logfile)?;
        let _ = builder.with_writer(Mutex::new(f)).try_init();
    }
    Ok(())
}
