//! Geo commands: GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH,
//! GEOSEARCHSTORE and the older GEORADIUS family.
//!
//! A geo index is an ordinary sorted set whose scores are 52-bit geohashes:
//! longitude in [-180, 180] and latitude in [-85.05112878, 85.05112878]
//! (the Web Mercator limits) are each scaled to a 26-bit integer and their
//! bits interleaved, longitude in the odd positions. Nearby points therefore
//! have nearby scores, and a search reads the sorted set by score ranges:
//! the geohash cell around the centre at a precision chosen from the radius,
//! plus its eight neighbours, each cell being one contiguous score range.
//! Every candidate is then checked against the real shape.
//!
//! The visible details follow Redis: which cells are read and in what order
//! (that is the order of unsorted results), distances by the haversine
//! formula on a sphere of radius 6372797.560856 m, distances printed with
//! four decimals and coordinates with up to seventeen.

use bytes::Bytes;

use super::zsets::{store_result, zadd};
use super::{
    cmd, int_arg, is, Command, KeyFind, Keys, C_GEO, DENYOOM, KEY1, MOVABLE_KEYS, READONLY, WRITE,
};
use crate::db::zset::ZSet;
use crate::db::Value;
use crate::errors::{self, CmdResult, Error};
use crate::resp::Out;
use crate::server::Ctx;
use crate::util::num::parse_f64;

const G: &str = "geo";
/// GEORADIUS ... STORE dst (STOREDIST's key is found by the handler).
const STORE_KEY: KeyFind = KeyFind::OneAfterWord { word: "store" };

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    cmd("geoadd", -5, WRITE | DENYOOM, KEY1, C_GEO, geoadd, G, "3.2.0", "Adds one or more members to a geospatial index. The key is created if it doesn't exist."),
    cmd("geopos", -2, READONLY, KEY1, C_GEO, geopos, G, "3.2.0", "Returns the longitude and latitude of members from a geospatial index."),
    cmd("geodist", -4, READONLY, KEY1, C_GEO, geodist, G, "3.2.0", "Returns the distance between two members of a geospatial index."),
    cmd("geohash", -2, READONLY, KEY1, C_GEO, geohash, G, "3.2.0", "Returns members from a geospatial index as geohash strings."),
    cmd("geosearch", -7, READONLY, KEY1, C_GEO, geosearch, G, "6.2.0", "Queries a geospatial index for members inside an area of a box or a circle."),
    cmd("geosearchstore", -8, WRITE | DENYOOM, Keys { first: 1, last: 2, step: 1 }, C_GEO, geosearchstore, G, "6.2.0", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result."),
    cmd("georadius", -6, WRITE | DENYOOM | MOVABLE_KEYS, KEY1, C_GEO, georadius, G, "3.2.0", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.").find_keys(STORE_KEY),
    cmd("georadius_ro", -6, READONLY, KEY1, C_GEO, georadius_ro, G, "3.2.10", "Returns members from a geospatial index that are within a distance from a coordinate."),
    cmd("georadiusbymember", -5, WRITE | DENYOOM | MOVABLE_KEYS, KEY1, C_GEO, georadiusbymember, G, "3.2.0", "Queries a geospatial index for members within a distance from a member, optionally stores the result.").find_keys(STORE_KEY),
    cmd("georadiusbymember_ro", -5, READONLY, KEY1, C_GEO, georadiusbymember_ro, G, "3.2.10", "Returns members from a geospatial index that are within a distance from a member."),
];

// ---------------------------------------------------------------------------
// Geohash cells
// ---------------------------------------------------------------------------

const LON_MIN: f64 = -180.0;
const LON_MAX: f64 = 180.0;
const LAT_MIN: f64 = -85.05112878;
const LAT_MAX: f64 = 85.05112878;
/// Bits per coordinate in a stored score.
const STEP_MAX: u8 = 26;
const EARTH_RADIUS_M: f64 = 6372797.560856;
/// Half the Earth's circumference in Web Mercator metres.
const MERCATOR_MAX: f64 = 20037726.37;
const BASE32: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";

type Range = (f64, f64);
const LON_RANGE: Range = (LON_MIN, LON_MAX);
const LAT_RANGE: Range = (LAT_MIN, LAT_MAX);

/// A geohash cell: `step` bits of each coordinate, interleaved. The all-zero
/// cell stands for "no cell" (a neighbour excluded from a search).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cell {
    bits: u64,
    step: u8,
}

const NO_CELL: Cell = Cell { bits: 0, step: 0 };

/// The bits of `v` moved to the even positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// The even-position bits of `x`, packed.
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | (x >> 4)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x >> 8)) & 0x0000_ffff_0000_ffff;
    (x | (x >> 16)) as u32
}

impl Cell {
    fn new(lon_i: u32, lat_i: u32, step: u8) -> Cell {
        Cell {
            bits: spread(lat_i) | spread(lon_i) << 1,
            step,
        }
    }

    /// The cell of a point at `step` bits of precision, relative to the
    /// given coordinate ranges; None outside the indexable area.
    fn of(lon: f64, lat: f64, lon_r: Range, lat_r: Range, step: u8) -> Option<Cell> {
        let outside = |v: f64, r: Range| v < r.0 || v > r.1;
        if outside(lon, LON_RANGE)
            || outside(lat, LAT_RANGE)
            || outside(lon, lon_r)
            || outside(lat, lat_r)
        {
            return None;
        }
        let scale = (1u64 << step) as f64;
        // Truncation to 32 bits: a coordinate at the top of its range gives
        // 2^step, one past the last cell, as in Redis.
        let lat_i = ((lat - lat_r.0) / (lat_r.1 - lat_r.0) * scale) as u32;
        let lon_i = ((lon - lon_r.0) / (lon_r.1 - lon_r.0) * scale) as u32;
        Some(Cell::new(lon_i, lat_i, step))
    }

    fn lon_i(self) -> u32 {
        squash(self.bits >> 1)
    }

    fn lat_i(self) -> u32 {
        squash(self.bits)
    }

    /// The cell `dx` columns east and `dy` rows north, wrapping around.
    fn moved(self, dx: i64, dy: i64) -> Cell {
        let mask = (1u64 << self.step) - 1;
        let shift = |v: u32, d: i64| {
            if d == 0 {
                v
            } else {
                ((v as i64 + d) as u64 & mask) as u32
            }
        };
        Cell::new(shift(self.lon_i(), dx), shift(self.lat_i(), dy), self.step)
    }

    /// (longitude range, latitude range) the cell covers.
    fn area(self) -> (Range, Range) {
        let n = (1u64 << self.step) as f64;
        let side = |i: u32, r: Range| {
            let w = r.1 - r.0;
            (
                r.0 + (i as f64 / n) * w,
                r.0 + (i.wrapping_add(1) as f64 / n) * w,
            )
        };
        (side(self.lon_i(), LON_RANGE), side(self.lat_i(), LAT_RANGE))
    }

    /// The cell as a score range [min, max) of full-precision scores.
    fn score_range(self) -> (f64, f64) {
        let shift = 2 * (STEP_MAX - self.step) as u32;
        (
            (self.bits << shift) as f64,
            ((self.bits + 1) << shift) as f64,
        )
    }
}

/// The score of a valid point.
fn score_of(lon: f64, lat: f64) -> f64 {
    Cell::of(lon, lat, LON_RANGE, LAT_RANGE, STEP_MAX).map_or(0.0, |c| c.bits as f64)
}

/// A score's position: the centre of its cell, kept inside the valid area.
fn position(score: f64) -> (f64, f64) {
    let (lon, lat) = Cell {
        bits: score as u64,
        step: STEP_MAX,
    }
    .area();
    let lon = ((lon.0 + lon.1) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((lat.0 + lat.1) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The standard 11-character geohash (latitude range ±90) of a score.
fn geohash_text(score: f64) -> [u8; 11] {
    let (lon, lat) = position(score);
    let bits = Cell::of(lon, lat, LON_RANGE, (-90.0, 90.0), STEP_MAX).map_or(0, |c| c.bits);
    let mut s = [b'0'; 11];
    // 52 bits give ten characters; the eleventh is always '0'.
    for (i, c) in s.iter_mut().take(10).enumerate() {
        *c = BASE32[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    s
}

fn rad(deg: f64) -> f64 {
    deg * (std::f64::consts::PI / 180.0)
}

fn deg(rad: f64) -> f64 {
    rad / (std::f64::consts::PI / 180.0)
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (rad(lat2) - rad(lat1)).abs()
}

/// Great-circle distance in metres (haversine).
fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((rad(lon2) - rad(lon1)) / 2.0).sin();
    if v == 0.0 {
        // Same meridian: a plain arc of latitude.
        return lat_distance(lat1, lat2);
    }
    let (lat1, lat2) = (rad(lat1), rad(lat2));
    let u = ((lat2 - lat1) / 2.0).sin();
    let a = u * u + lat1.cos() * lat2.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

// ---------------------------------------------------------------------------
// Search areas
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Shape {
    /// A circle of this radius (in `unit`s).
    Radius(f64),
    /// A box of this width and height (in `unit`s).
    Box(f64, f64),
}

#[derive(Debug, Clone, Copy)]
struct Area {
    lon: f64,
    lat: f64,
    shape: Shape,
    /// Metres per unit.
    unit: f64,
}

impl Area {
    /// (min lon, min lat, max lon, max lat) around the shape.
    fn bounds(&self) -> [f64; 4] {
        let (hw, hh) = match self.shape {
            Shape::Radius(r) => (r, r),
            Shape::Box(w, h) => (w / 2.0, h / 2.0),
        };
        let (height, width) = (self.unit * hh, self.unit * hw);
        let lat_delta = deg(height / EARTH_RADIUS_M);
        let lon_delta_top = deg(width / EARTH_RADIUS_M / rad(self.lat + lat_delta).cos());
        let lon_delta_bottom = deg(width / EARTH_RADIUS_M / rad(self.lat - lat_delta).cos());
        // The wider edge is the one nearer the equator.
        let lon_delta = if self.lat < 0.0 {
            lon_delta_bottom
        } else {
            lon_delta_top
        };
        [
            self.lon - lon_delta,
            self.lat - lat_delta,
            self.lon + lon_delta,
            self.lat + lat_delta,
        ]
    }

    /// The precision whose cells are about as large as the search radius.
    fn step(&self) -> u8 {
        let mut r = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
        } * self.unit;
        if r == 0.0 {
            return STEP_MAX;
        }
        let mut step: i32 = 1;
        while r < MERCATOR_MAX {
            r *= 2.0;
            step += 1;
        }
        step -= 2;
        // Cells get narrower towards the poles.
        if self.lat > 66.0 || self.lat < -66.0 {
            step -= 1;
            if self.lat > 80.0 || self.lat < -80.0 {
                step -= 1;
            }
        }
        step.clamp(1, STEP_MAX as i32) as u8
    }

    /// The cells to read, in order: the centre's, then north, south, east,
    /// west, north-east, north-west, south-east, south-west; neighbours
    /// that cannot hold a match are NO_CELL.
    fn cells(&self) -> [Cell; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let mut step = self.step();
        let at = |step| {
            Cell::of(self.lon, self.lat, LON_RANGE, LAT_RANGE, step)
                .unwrap_or(Cell { bits: 0, step })
        };
        let mut centre = at(step);
        // If the estimated cells are too small for the shape near the
        // centre cell's edges, take one level coarser.
        let too_small = {
            let (n, s) = (centre.moved(0, 1).area().1, centre.moved(0, -1).area().1);
            let (e, w) = (centre.moved(1, 0).area().0, centre.moved(-1, 0).area().0);
            n.1 < max_lat || s.0 > min_lat || e.1 < max_lon || w.0 > min_lon
        };
        if step > 1 && too_small {
            step -= 1;
            centre = at(step);
        }
        let m = |dx, dy| centre.moved(dx, dy);
        let mut c = [
            centre,
            m(0, 1),
            m(0, -1),
            m(1, 0),
            m(-1, 0),
            m(1, 1),
            m(-1, 1),
            m(1, -1),
            m(-1, -1),
        ];
        if step >= 2 {
            let (lon_r, lat_r) = centre.area();
            let mut exclude = |idx: [usize; 3]| idx.iter().for_each(|&i| c[i] = NO_CELL);
            if lat_r.0 < min_lat {
                exclude([2, 8, 7]);
            }
            if lat_r.1 > max_lat {
                exclude([1, 5, 6]);
            }
            if lon_r.0 < min_lon {
                exclude([4, 8, 6]);
            }
            if lon_r.1 > max_lon {
                exclude([3, 7, 5]);
            }
        }
        c
    }

    /// The point's distance from the centre in metres, if inside the shape.
    fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.shape {
            Shape::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.unit).then_some(d)
            }
            Shape::Box(w, h) => {
                if lat_distance(lat, self.lat) > h * self.unit / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > w * self.unit / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }
}

struct Found {
    member: Vec<u8>,
    score: f64,
    dist: f64,
    lon: f64,
    lat: f64,
}

/// The members inside `area`, cell by cell; stops at `limit` (0: none).
fn find(z: &ZSet, area: &Area, limit: usize) -> Vec<Found> {
    let cells = area.cells();
    let mut found = Vec::new();
    let mut last = 0;
    for (i, &cell) in cells.iter().enumerate() {
        if cell == NO_CELL {
            continue;
        }
        // With huge radii neighbours can coincide; a cell equal to the one
        // just read is skipped (the centre cell does not count as read).
        if last != 0 && cell == cells[last] {
            continue;
        }
        if limit > 0 && found.len() >= limit {
            break;
        }
        let (min, max) = cell.score_range();
        let (from, to) = (z.score_rank(min, false), z.score_rank(max, false));
        z.walk(from, to, false, |m, score| {
            let (lon, lat) = position(score);
            if let Some(dist) = area.contains(lon, lat) {
                found.push(Found {
                    member: m.to_vec(),
                    score,
                    dist,
                    lon,
                    lat,
                });
            }
            !(limit > 0 && found.len() >= limit)
        });
        last = i;
    }
    found
}

// ---------------------------------------------------------------------------
// Argument parsing and replies
// ---------------------------------------------------------------------------

fn float_or(b: &[u8], msg: &'static str) -> Result<f64, Error> {
    parse_f64(b).ok_or(Error::msg(msg))
}

/// A longitude, latitude pair within the indexable area.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), Error> {
    let lon = parse_f64(lon).ok_or(Error::NotFloat)?;
    let lat = parse_f64(lat).ok_or(Error::NotFloat)?;
    if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return Err(Error::err(format!(
            "invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

/// Metres per unit.
fn unit(b: &[u8]) -> Result<f64, Error> {
    const UNITS: &[(&str, f64)] = &[("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)];
    UNITS
        .iter()
        .find(|(n, _)| is(b, n))
        .map(|u| u.1)
        .ok_or(Error::msg(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ))
}

/// `<radius> <unit>`.
fn radius(a: &[Bytes]) -> Result<(f64, f64), Error> {
    let r = float_or(&a[0], "ERR need numeric radius")?;
    if r < 0.0 {
        return Err(Error::msg("ERR radius cannot be negative"));
    }
    Ok((r, unit(&a[1])?))
}

/// `<width> <height> <unit>`.
fn box_size(a: &[Bytes]) -> Result<(f64, f64, f64), Error> {
    let w = float_or(&a[0], "ERR need numeric width")?;
    let h = float_or(&a[1], "ERR need numeric height")?;
    if h < 0.0 || w < 0.0 {
        return Err(Error::msg("ERR height or width cannot be negative"));
    }
    Ok((w, h, unit(&a[2])?))
}

/// A distance with four decimals, always a bulk string (also in RESP3).
fn reply_distance(out: &mut Out, d: f64) {
    out.bulk(format!("{d:.4}").as_bytes());
}

/// A coordinate with seventeen decimals, trailing zeros dropped.
fn reply_coord(out: &mut Out, v: f64) {
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        let keep = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(keep);
    }
    if s == "-0" {
        s = "0".into();
    }
    out.double_text(&s);
}

/// The sorted set at `key` (counting a keyspace hit or miss); WRONGTYPE for
/// other types.
fn zset<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut ZSet>, Error> {
    super::typed(ctx.lookup_with_out(key, true).0, Value::as_zset_mut)
}

/// The position of `member`, looked up again without counting a hit.
fn member_position(ctx: &mut Ctx, key: &[u8], member: &[u8]) -> Option<(f64, f64)> {
    let now = ctx.now_ms;
    match &ctx.db().lookup(key, now)?.val {
        Value::ZSet(z) => z.score(member).map(position),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// GEOADD, GEOPOS, GEODIST, GEOHASH
// ---------------------------------------------------------------------------

fn geoadd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx) = (false, false);
    let mut first = 2;
    while first < a.len() {
        if is(&a[first], "nx") {
            nx = true;
        } else if is(&a[first], "xx") {
            xx = true;
        } else if !is(&a[first], "ch") {
            break;
        }
        first += 1;
    }
    if (a.len() - first) % 3 != 0 || (nx && xx) {
        return Err(Error::Syntax);
    }
    // The work is ZADD's, with each longitude, latitude turned into a score.
    let mut z: Vec<Bytes> = Vec::with_capacity(first + (a.len() - first) / 3 * 2);
    z.push(Bytes::from_static(b"zadd"));
    z.extend_from_slice(&a[1..first]);
    for t in a[first..].chunks(3) {
        let (lon, lat) = lon_lat(&t[0], &t[1])?;
        z.push(Bytes::from((score_of(lon, lat) as u64).to_string()));
        z.push(t[2].clone());
    }
    zadd(ctx, &z)
}

fn geopos(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (e, out) = ctx.lookup_with_out(&a[1], true);
    let z = super::typed(e, Value::as_zset_mut)?;
    out.array(a.len() - 2);
    for m in &a[2..] {
        match z.as_ref().and_then(|z| z.score(m)) {
            Some(score) => {
                let (lon, lat) = position(score);
                out.array(2);
                reply_coord(out, lon);
                reply_coord(out, lat);
            }
            None => out.null_array(),
        }
    }
    Ok(())
}

fn geodist(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let to_m = match a.len() {
        4 => 1.0,
        5 => unit(&a[4])?,
        _ => return Err(Error::Syntax),
    };
    let (e, out) = ctx.lookup_with_out(&a[1], true);
    let points =
        super::typed(e, Value::as_zset_mut)?.and_then(|z| Some((z.score(&a[2])?, z.score(&a[3])?)));
    match points {
        Some((s1, s2)) => {
            let ((lon1, lat1), (lon2, lat2)) = (position(s1), position(s2));
            reply_distance(out, distance(lon1, lat1, lon2, lat2) / to_m);
        }
        None => out.null(),
    }
    Ok(())
}

fn geohash(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (e, out) = ctx.lookup_with_out(&a[1], true);
    let z = super::typed(e, Value::as_zset_mut)?;
    out.array(a.len() - 2);
    for m in &a[2..] {
        match z.as_ref().and_then(|z| z.score(m)) {
            Some(score) => out.bulk(&geohash_text(score)),
            None => out.null(),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// GEOSEARCH and GEORADIUS
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Form {
    /// GEORADIUS[_RO] key lon lat radius unit ...
    Coords,
    /// GEORADIUSBYMEMBER[_RO] key member radius unit ...
    Member,
    /// GEOSEARCH key ... / GEOSEARCHSTORE dst key ...
    Search,
}

#[derive(Clone, Copy, PartialEq)]
enum Order {
    None,
    Asc,
    Desc,
}

fn georadius(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    search(ctx, a, Form::Coords, true)
}

fn georadius_ro(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    search(ctx, a, Form::Coords, false)
}

fn georadiusbymember(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    search(ctx, a, Form::Member, true)
}

fn georadiusbymember_ro(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    search(ctx, a, Form::Member, false)
}

fn geosearch(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    search(ctx, a, Form::Search, false)
}

fn geosearchstore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    search(ctx, a, Form::Search, true)
}

const NOT_MEMBER: &str = "ERR could not decode requested zset member";

/// Every search command. `store`: GEOSEARCHSTORE, or a GEORADIUS form that
/// accepts STORE / STOREDIST. Errors come in Redis's order: the key's type,
/// the fixed arguments, each option as it is read, then the combinations.
fn search(ctx: &mut Ctx, a: &[Bytes], form: Form, store: bool) -> CmdResult {
    let searchstore = form == Form::Search && store;
    let key = &a[if searchstore { 2 } else { 1 }];
    let exists = zset(ctx, key)?.is_some();
    let mut centre: Option<(f64, f64)> = None;
    let mut shape: Option<(Shape, f64)> = None;
    let mut dest: Option<&Bytes> = None;
    let base = match form {
        Form::Coords => {
            centre = Some(lon_lat(&a[2], &a[3])?);
            let (r, u) = radius(&a[4..6])?;
            shape = Some((Shape::Radius(r), u));
            6
        }
        Form::Member => {
            // A missing key is reported after the options are checked.
            if exists {
                centre = Some(member_position(ctx, key, &a[2]).ok_or(Error::msg(NOT_MEMBER))?);
                let (r, u) = radius(&a[3..5])?;
                shape = Some((Shape::Radius(r), u));
            }
            5
        }
        Form::Search if searchstore => {
            dest = Some(&a[1]);
            3
        }
        Form::Search => 2,
    };
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) =
        (false, false, false, false);
    let mut storedist = false;
    let mut order = Order::None;
    let mut count: i64 = 0;
    let mut i = base;
    while i < a.len() {
        let opt = &a[i];
        let left = a.len() - i - 1;
        let geosearch = form == Form::Search;
        if is(opt, "withdist") {
            withdist = true;
        } else if is(opt, "withhash") {
            withhash = true;
        } else if is(opt, "withcoord") {
            withcoord = true;
        } else if is(opt, "any") {
            any = true;
        } else if is(opt, "asc") {
            order = Order::Asc;
        } else if is(opt, "desc") {
            order = Order::Desc;
        } else if is(opt, "count") && left >= 1 {
            count = int_arg(&a[i + 1])?;
            if count <= 0 {
                return Err(Error::msg("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if (is(opt, "store") || is(opt, "storedist")) && left >= 1 && store && !geosearch {
            dest = Some(&a[i + 1]);
            storedist = is(opt, "storedist");
            i += 1;
        } else if is(opt, "storedist") && searchstore {
            storedist = true;
        } else if is(opt, "frommember") && left >= 1 && geosearch && !from_lonlat {
            if exists {
                centre = Some(member_position(ctx, key, &a[i + 1]).ok_or(Error::msg(NOT_MEMBER))?);
            }
            from_member = true;
            i += 1;
        } else if is(opt, "fromlonlat") && left >= 2 && geosearch && !from_member {
            centre = Some(lon_lat(&a[i + 1], &a[i + 2])?);
            from_lonlat = true;
            i += 2;
        } else if is(opt, "byradius") && left >= 2 && geosearch && !by_box {
            let (r, u) = radius(&a[i + 1..i + 3])?;
            shape = Some((Shape::Radius(r), u));
            by_radius = true;
            i += 2;
        } else if is(opt, "bybox") && left >= 3 && geosearch && !by_radius {
            let (w, h, u) = box_size(&a[i + 1..i + 4])?;
            shape = Some((Shape::Box(w, h), u));
            by_box = true;
            i += 3;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if dest.is_some() && (withdist || withhash || withcoord) {
        return Err(Error::msg(if searchstore {
            "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        } else {
            "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        }));
    }
    if form == Form::Search && !(from_member || from_lonlat) {
        return Err(errors::quoting(
            "exactly one of FROMMEMBER or FROMLONLAT can be specified for ",
            &a[0],
            "",
        ));
    }
    if form == Form::Search && !(by_radius || by_box) {
        return Err(errors::quoting(
            "exactly one of BYRADIUS and BYBOX can be specified for ",
            &a[0],
            "",
        ));
    }
    if any && count == 0 {
        return Err(Error::msg("ERR the ANY argument requires COUNT argument"));
    }
    let event = if form == Form::Search {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    let (Some((lon, lat)), Some((shape, unit))) = (centre, shape) else {
        // The source key does not exist.
        match dest {
            Some(d) => store_found(ctx, d, &[], false, event),
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    if count > 0 && order == Order::None && !any {
        // The nearest N only make sense sorted.
        order = Order::Asc;
    }
    let area = Area {
        lon,
        lat,
        shape,
        unit,
    };
    let limit = if any { count as usize } else { 0 };
    let now = ctx.now_ms;
    let mut found = match ctx.db().lookup(key, now).map(|e| &e.val) {
        Some(Value::ZSet(z)) => find(z, &area, limit),
        _ => Vec::new(),
    };
    match order {
        Order::Asc => found.sort_by(|x, y| x.dist.total_cmp(&y.dist)),
        Order::Desc => found.sort_by(|x, y| y.dist.total_cmp(&x.dist)),
        Order::None => {}
    }
    if count > 0 {
        found.truncate(count as usize);
    }
    for f in &mut found {
        f.dist /= unit;
    }
    if let Some(d) = dest {
        store_found(ctx, d, &found, storedist, event);
        return Ok(());
    }
    let extra = withdist as usize + withhash as usize + withcoord as usize;
    let out = &mut *ctx.out;
    out.array(found.len());
    for f in &found {
        if extra > 0 {
            out.array(extra + 1);
        }
        out.bulk(&f.member);
        if withdist {
            reply_distance(out, f.dist);
        }
        if withhash {
            out.int(f.score as i64);
        }
        if withcoord {
            out.array(2);
            reply_coord(out, f.lon);
            reply_coord(out, f.lat);
        }
    }
    Ok(())
}

/// Stores search results as a sorted set scored by geohash or, with
/// `storedist`, by distance; an empty result deletes the destination.
fn store_found(ctx: &mut Ctx, dst: &[u8], found: &[Found], storedist: bool, event: &str) {
    let mut items: Vec<(&[u8], f64)> = found
        .iter()
        .map(|f| (&f.member[..], if storedist { f.dist } else { f.score }))
        .collect();
    items.sort_by(|x, y| x.1.total_cmp(&y.1).then_with(|| x.0.cmp(y.0)));
    items.dedup_by(|x, y| x.0 == y.0);
    store_result(ctx, dst, &items, event);
    // GEORADIUS names its destination after an option, outside the key
    // positions the command table gives, so watchers are told here.
    let db = ctx.db_index();
    ctx.srv.touch_watched(db, dst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaving_round_trips() {
        for v in [0u32, 1, 0x3ff_ffff, 0x155_5555, 0x2aa_aaaa, 12345678] {
            assert_eq!(squash(spread(v)), v);
        }
        let c = Cell::new(5, 9, 4);
        assert_eq!((c.lon_i(), c.lat_i()), (5, 9));
        assert_eq!(c.moved(1, -1).lon_i(), 6);
        assert_eq!(c.moved(1, -1).lat_i(), 8);
        assert_eq!(Cell::new(15, 0, 4).moved(1, 0).lon_i(), 0);
    }

    #[test]
    fn palermo_and_catania() {
        // The examples of Redis's GEOADD / GEODIST / GEOHASH documentation.
        let p = score_of(13.361389, 38.115556);
        let c = score_of(15.087269, 37.502669);
        assert_eq!(p, 3479099956230698.0);
        assert_eq!(&geohash_text(p), b"sqc8b49rny0");
        assert_eq!(&geohash_text(c), b"sqdtr74hyu0");
        let ((x1, y1), (x2, y2)) = (position(p), position(c));
        assert_eq!(format!("{:.4}", distance(x1, y1, x2, y2)), "166274.1516");
    }
}
