/*
 * Small C helpers for Redust's numeric handling where exact C library
 * semantics matter:
 *
 *  - INCRBYFLOAT arithmetic is done in C `long double` (80-bit extended on
 *    x86_64) and formatted with "%.17Lf" with trailing zeros / dot removed,
 *    which is what Redis clients observe.
 *  - Double arguments (ZADD scores, etc.) are parsed with strtod so that
 *    exactly the same inputs as Redis are accepted (hex floats, "inf",
 *    "infinity", overflow / underflow rejection, ...).
 *
 * Written from the documented/observed Redis behaviour.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest accepted textual long double (inputs of this length or more are
 * rejected, as Redis does). Also large enough for any "%.17Lf" output of a
 * finite x87 long double (at most ~4952 chars). */
#define REDUST_LD_MAX_CHARS (5 * 1024)

#define REDUST_ERR_NOT_FLOAT (-1)
#define REDUST_ERR_NAN_OR_INF (-2)
#define REDUST_ERR_NO_ROOM (-3)

/* Parse `len` bytes as a long double; the whole input must be consumed,
 * no leading whitespace, no overflow/underflow-to-zero, no NaN. */
static int redust_parse_ld(const char *s, size_t len, long double *out) {
    char buf[REDUST_LD_MAX_CHARS];
    char *end;
    long double v;

    if (len == 0 || len >= REDUST_LD_MAX_CHARS) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) return -1;
    errno = 0;
    v = strtold(buf, &end);
    if (end != buf + len) return -1; /* trailing garbage or embedded NUL */
    if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0))
        return -1;
    if (isnan(v)) return -1;
    *out = v;
    return 0;
}

/* Format like Redis's "human" long double output: "%.17Lf" with trailing
 * zeros after the dot removed, then a trailing dot removed, and "-0" turned
 * into "0". Returns the length or REDUST_ERR_NO_ROOM. */
static int redust_fmt_ld_human(long double v, char *out, size_t outcap) {
    char buf[REDUST_LD_MAX_CHARS + 32];
    int l = snprintf(buf, sizeof(buf), "%.17Lf", v);
    if (l < 0 || (size_t)l >= sizeof(buf)) return REDUST_ERR_NO_ROOM;
    if (memchr(buf, '.', (size_t)l) != NULL) {
        while (l > 0 && buf[l - 1] == '0') l--;
        if (l > 0 && buf[l - 1] == '.') l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    if ((size_t)l > outcap) return REDUST_ERR_NO_ROOM;
    memcpy(out, buf, (size_t)l);
    return l;
}

/* INCRBYFLOAT core: parse `cur` and `incr`, add them in long double and
 * write the formatted result to `out` (not NUL-terminated).
 * Returns the output length (>= 1), or
 *   -1 if either input is not a valid float,
 *   -2 if the result is NaN or infinite (also when an input is +/-inf),
 *   -3 if `outcap` is too small (REDUST_LD_MAX_CHARS + 32 always suffices). */
int redust_ld_incr(const char *cur, size_t curlen, const char *incr,
                   size_t incrlen, char *out, size_t outcap) {
    long double a, b, r;
    if (redust_parse_ld(cur, curlen, &a) != 0) return REDUST_ERR_NOT_FLOAT;
    if (redust_parse_ld(incr, incrlen, &b) != 0) return REDUST_ERR_NOT_FLOAT;
    r = a + b;
    if (isnan(r) || isinf(r)) return REDUST_ERR_NAN_OR_INF;
    return redust_fmt_ld_human(r, out, outcap);
}

/* Classify a textual long double: -1 not a valid float, 0 finite,
 * 1 infinite ("inf", "-inf", ...). Used for HINCRBYFLOAT's checks. */
int redust_ld_check(const char *s, size_t len) {
    long double a;
    if (redust_parse_ld(s, len, &a) != 0) return -1;
    return isinf(a) ? 1 : 0;
}

/* Parse a double the way Redis parses double arguments: strtod over the
 * whole input, no leading whitespace, overflow (+/-HUGE_VAL with ERANGE) and
 * underflow to zero rejected, NaN rejected. "inf"/"-inf" accepted.
 * Returns 0 on success, -1 on error. */
int redust_parse_double(const char *s, size_t len, double *out) {
    char sbuf[128];
    char *buf = sbuf;
    char *end;
    double v;
    int ok;

    if (len == 0) return -1;
    if (isspace((unsigned char)s[0])) return -1;
    if (len >= sizeof(sbuf)) {
        buf = malloc(len + 1);
        if (buf == NULL) return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtod(buf, &end);
    ok = end == buf + len &&
         !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0)) &&
         !isnan(v);
    if (buf != sbuf) free(buf);
    if (!ok) return -1;
    *out = v;
    return 0;
}

/* snprintf(out, cap, "%.17g", v). Reference implementation used by the
 * Rust tests to cross-check the pure-Rust formatter. */
int redust_fmt_g17(double v, char *out, size_t cap) {
    return snprintf(out, cap, "%.17g", v);
}
