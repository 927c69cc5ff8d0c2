#!/usr/bin/env python3
"""Redust vs. real Redis: throughput, CPU efficiency and memory, in one run.

Builds nothing: give it a built redust-server (default
target/release/redust-server). Starts a real `redis-server` and Redust,
each on its own free 127.0.0.1 port with persistence off, then

1. runs `redis-benchmark` (-c 50, -r 100000, --csv) against each for
   SET / GET / MSET x value size 3 B and 1 KiB, and INCR, each with
   pipelining 1 and 16, alternating which server goes first. Reports
   requests/s and requests per server CPU-second (utime+stime of the
   server process from /proc/<pid>/stat around each run) and the ratios
   redust/redis;
2. on freshly started servers, loads 1,000,000 keys (`key:%07d`, 100-byte
   values) with `redis-cli --pipe`, and reports RSS (/proc/<pid>/statm)
   and INFO used_memory per key, and the ratios;
3. on servers started with `appendonly yes, appendfsync everysec` (both
   the same), SET 3 B with pipelining 1 and 16: the cost of the AOF;
4. PUBLISH to 1 and 100 subscribers, MULTI/EXEC of 10 commands (own asyncio
   load generator), memory per element of big collections and small
   hashes, and SET under constant allkeys-lru eviction (benches/README.md).

With --tls, both servers also listen on a TLS port (certificates made
with the `openssl` CLI in a temp dir) and only SET and GET run, through
`redis-benchmark --tls --cacert ...`; the memory part is skipped.

On a machine with two or more CPUs both servers run on CPU 0 and every
load generator on the others (--no-pin turns this off): each server gets
exactly one core, the same one, never shared with the load. The machine's
own drift remains: use --repeat.

Standard library only. Servers are stopped on exit, errors and Ctrl-C.

With --replication (the same as --only replication), each server gets
one replica of its own kind (attached before the run) and
redis-benchmark SET 3 B (P=1 and P=16) runs against the primary: primary
throughput ratio, and replication lag (primary master_repl_offset minus
the replica's slave_repl_offset, the replica read first, every 50 ms during
the run) in bytes, mean and max.

    python3 benches/ratio.py [--quick] [--tls] [--aof-only] [--replication] [--requests N]
                             [--only PARTS] [--redust PATH] [--json out.json]
"""

import argparse
import asyncio
import csv
import io
import json
import os
import platform
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp_command(port, *args, timeout=10.0):
    """Sends one command, returns the reply decoded minimally (for PING,
    INFO, DBSIZE, FLUSHALL)."""
    req = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        req += b"$%d\r\n%s\r\n" % (len(a), a)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(req)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise BenchError("connection closed by server on port %d" % port)
            buf += chunk
            if b"\r\n" not in buf:
                continue
            head, rest = buf.split(b"\r\n", 1)
            t = head[:1]
            if t in (b"+", b"-", b":"):
                if t == b"-":
                    raise BenchError("server error: %s" % head[1:].decode(errors="replace"))
                return head[1:].decode()
            if t == b"$":
                n = int(head[1:])
                if n < 0:
                    return None
                if len(rest) >= n + 2:
                    return rest[:n].decode(errors="replace")
                continue
            raise BenchError("unexpected reply %r" % head[:40])


# CPUs for the servers and for the load generators; None: unpinned (--no-pin).
SERVER_CPUS = None
CLIENT_CPUS = None


def pin_cpus(enabled):
    """With two or more CPUs, servers get CPU 0 and this script with every
    load generator it starts (redis-benchmark, redis-cli, the Python
    subscribers) the others. Unpinned, the scheduler places each server's
    event loop and the load generator on the two cores of a small machine
    differently from run to run; pinned, both servers run on the same one
    core, never shared with the load, and the comparison is per core.
    Pinning does not remove the machine's own drift (per-round ratios
    still spread about +-15% at P=1): that is what --repeat is for."""
    global SERVER_CPUS, CLIENT_CPUS
    cpus = sorted(os.sched_getaffinity(0))
    if not enabled or len(cpus) < 2:
        return
    SERVER_CPUS, CLIENT_CPUS = {cpus[0]}, set(cpus[1:])
    os.sched_setaffinity(0, CLIENT_CPUS)


def _die_with_parent():
    """In the child before exec: get SIGTERM if this script dies, even by
    SIGKILL, so no server outlives a benchmark; and move to the servers'
    CPU when pinning."""
    if SERVER_CPUS:
        os.sched_setaffinity(0, SERVER_CPUS)
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except Exception:
        pass


def make_certs(workdir):
    """A CA and a server certificate for 127.0.0.1 signed by it (EC P-256),
    made with the openssl CLI. Returns the paths."""
    if not shutil.which("openssl"):
        raise BenchError("--tls needs the openssl CLI (apt-get install openssl)")
    d = os.path.join(workdir, "certs")
    os.makedirs(d, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for cmd in (
        ["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=bench CA"],
        ["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.crt", "-days", "2", "-extfile", "server.ext"],
    ):
        r = subprocess.run(["openssl"] + cmd, cwd=d, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise BenchError("openssl %s failed:\n%s" % (cmd[0], r.stdout.decode(errors="replace")))
    return {name: os.path.join(d, name + ".crt" if name != "key" else "server.key")
            for name in ("ca", "server", "key")}


class Server:
    def __init__(self, name, binary, certs=None, extra=()):
        self.name = name
        # Directives appended to the command line (they override ours).
        self.extra = list(extra) + (REDUST_ARGS if name.startswith("redust") else [])
        self.binary = binary
        self.proc = None
        self.port = None
        self.dir = None
        # With certificates the server also listens on tls_port (the
        # plaintext port stays for PING and INFO).
        self.certs = certs
        self.tls_port = None

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="redust-bench-%s-" % self.name)
        last = None
        for _ in range(5):
            self.port = free_port()
            cmd = [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", self.dir,
                "--logfile", os.path.join(self.dir, "server.log"),
            ] + self.extra
            if self.certs:
                self.tls_port = free_port()
                cmd += [
                    "--tls-port", str(self.tls_port),
                    "--tls-cert-file", self.certs["server"],
                    "--tls-key-file", self.certs["key"],
                    "--tls-ca-cert-file", self.certs["ca"],
                    "--tls-auth-clients", "no",
                ]
            # Own session: a Ctrl-C in the terminal reaches this script, which
            # then stops the servers itself.
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=_die_with_parent,
            )
            deadline = time.time() + 10
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if resp_command(self.port, "PING", timeout=1) == "PONG":
                        return self
                except (OSError, BenchError) as e:
                    last = e
                time.sleep(0.05)
            self.stop()
        log = os.path.join(self.dir, "server.log")
        tail = ""
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                tail = f.read()[-2000:]
        raise BenchError("%s (%s) did not start: %s\n%s" % (self.name, self.binary, last, tail))

    def stop(self):
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def cleanup(self):
        self.stop()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def cpu_seconds(self):
        """utime + stime of the whole process (all threads), in seconds."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            data = f.read()
        # Fields after the command name, which is in parentheses and may
        # contain spaces; utime and stime are fields 14 and 15 (1-based).
        fields = data[data.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_bytes(self):
        with open("/proc/%d/statm" % self.proc.pid) as f:
            return int(f.read().split()[1]) * PAGE

    def info_field(self, section, field):
        text = resp_command(self.port, "INFO", section)
        for line in text.splitlines():
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
        raise BenchError("%s: no %s in INFO %s" % (self.name, field, section))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


# ---------------------------------------------------------------------------
# Throughput
# ---------------------------------------------------------------------------

def workloads(tls=False):
    """(label, test, value size or None, pipeline), ordered so that each
    GET follows the SET of the same value size (GETs hit)."""
    out = []
    if tls:
        return [(test, size, pipe) for pipe in (1, 16) for size in (3, 1024) for test in ("set", "get")]
    for pipe in (1, 16):
        for size in (3, 1024):
            for test in ("set", "get", "mset"):
                out.append((test, size, pipe))
        out.append(("incr", None, pipe))
    # Data types (issue 3): redis-benchmark's own tests for them.
    for pipe in (1, 16):
        for test in ("lpush", "lpop", "lrange_100", "sadd", "spop", "hset", "zadd"):
            out.append((test, 3, pipe))
        out.append(("zrange", None, pipe))
    # Scripting (issue 4): a cached script that runs one command.
    for pipe in (1, 16):
        out.append(("evalsha", None, pipe))
    # Streams: redis-benchmark 7.0 has no -t xadd (a custom command).
    for pipe in (1, 16):
        out.append(("xadd", None, pipe))
    return out


# The script behind the EVALSHA workload: one redis.call per run.
EVALSHA_SCRIPT = "return redis.call('INCR', KEYS[1])"


def label(test, size, pipe):
    sz = "-" if size is None else ("3B" if size == 3 else "1KiB")
    return "%-10s %-4s P=%-2d" % (test.upper(), sz, pipe)


def run_benchmark(server, test, size, pipe, n, keyspace=100000):
    cmd = [
        "redis-benchmark", "-h", "127.0.0.1", "-p", str(server.tls_port or server.port),
        "-c", "50", "-n", str(n), "-r", str(keyspace),
        "-d", str(size if size is not None else 3),
        "-P", str(pipe), "--csv", "-q",
    ]
    if test == "evalsha":
        sha = resp_command(server.port, "SCRIPT", "LOAD", EVALSHA_SCRIPT)
        cmd += ["EVALSHA", sha, "1", "counter:__rand_int__"]
    elif test in CUSTOM_TESTS:
        cmd += CUSTOM_TESTS[test](server)
    else:
        cmd += ["-t", test]
    if server.tls_port:
        cmd += ["--tls", "--cacert", server.certs["ca"]]
    cpu0 = server.cpu_seconds()
    t0 = time.time()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=1800)
    wall = time.time() - t0
    cpu1 = server.cpu_seconds()
    if r.returncode != 0 or not server.alive():
        raise BenchError("redis-benchmark against %s failed (rc %d, server %s):\n%s%s" % (
            server.name, r.returncode, "alive" if server.alive() else "DEAD",
            r.stdout.decode(errors="replace")[-1000:], r.stderr.decode(errors="replace")[-1000:]))
    rps = None
    for row in csv.reader(io.StringIO(r.stdout.decode(errors="replace"))):
        if len(row) >= 2 and row[0].upper().startswith(test.upper()):
            try:
                rps = float(row[1])
            except ValueError:
                pass
    if rps is None:
        raise BenchError("could not read requests/s for %s from:\n%s" % (
            server.name, r.stdout.decode(errors="replace")))
    cpu = cpu1 - cpu0
    return {
        "rps": rps,
        "cpu_s": cpu,
        "wall_s": wall,
        # Operations per server CPU-second; None when the run was too short
        # to measure (less than one clock tick).
        "req_per_cpu_s": (n / cpu) if cpu > 0 else None,
    }


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_num(x):
    return "n/a" if x is None else "{:,.0f}".format(x)


def fmt_ratio(x):
    return "n/a" if x is None else "%.2f" % x


# Directives added to every Redust server's command line (--redust-args).
REDUST_ARGS = []

# Rounds per row (--repeat).
REPEAT = 1

AOF_EVERYSEC = ("--appendonly", "yes", "--appendfsync", "everysec")


def paired_runs(redis_bin, redust_bin, rows, measure, certs=None, extra=(), prepare=None, after_row=None):
    """Starts a real redis-server and Redust with the same directives and,
    for each row (a dict that names the workload), calls measure(server,
    row) on both, alternating which goes first, adds the ratios and prints
    the row. prepare(server) runs once after start-up; after_row(row,
    servers) after each row. Servers are stopped whatever happens."""
    servers = {"redis": Server("redis", redis_bin, certs, extra), "redust": Server("redust", redust_bin, certs, extra)}
    try:
        for s in servers.values():
            s.start()
            if prepare:
                prepare(s)
        for i, row in enumerate(rows):
            rounds = []
            for r in range(REPEAT):
                order = ["redis", "redust"] if (i + r) % 2 == 0 else ["redust", "redis"]
                got = {name: measure(servers[name], row) for name in order}
                got["rps_ratio"] = ratio(got["redust"]["rps"], got["redis"]["rps"])
                got["cpu_ratio"] = ratio(got["redust"]["req_per_cpu_s"], got["redis"]["req_per_cpu_s"])
                rounds.append(got)
            row["first"] = "redis" if i % 2 == 0 else "redust"
            if REPEAT == 1:
                row.update(rounds[0])
            else:
                # Medians per server and of the per-round ratios: a round's
                # two runs are back to back, so their ratio cancels most of
                # the drift of a shared machine.
                for name in ("redis", "redust"):
                    row[name] = {k: median([g[name][k] for g in rounds])
                                 if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                                 for k, v in rounds[0][name].items()}
                for k in ("rps_ratio", "cpu_ratio"):
                    vals = [g[k] for g in rounds if g[k] is not None]
                    row[k] = median(vals) if vals else None
                    row[k + "_range"] = (min(vals), max(vals)) if vals else None
                row["rounds"] = rounds
            print_row(row)
            if after_row:
                after_row(row, servers)
    finally:
        for s in servers.values():
            s.cleanup()
    return rows


def throughput(redis_bin, redust_bin, n, certs=None, extra=(), loads=None):
    if loads is None:
        loads = workloads(certs is not None)
    rows = [{"test": test.upper(), "value_size": size, "pipeline": pipe} for test, size, pipe in loads]

    def measure(server, row):
        # Pipelined runs go ~10x faster: give them more requests so a
        # run lasts long enough to measure (CPU time has 10 ms ticks).
        reqs = n * 8 if row["pipeline"] > 1 else n
        return run_benchmark(server, row["test"].lower(), row["value_size"], row["pipeline"], reqs)

    return paired_runs(redis_bin, redust_bin, rows, measure, certs, extra)


def replica_offset(replica):
    return int(replica.info_field("replication", "slave_repl_offset"))


def replication_run(primary, replica, pipe, n):
    """One SET load against `primary`, sampling the replica's lag."""
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(primary.port), "-c", "50", "-n", str(n),
           "-r", "100000", "-d", "3", "-P", str(pipe), "--csv", "-q", "-t", "set"]
    bench = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lags = []
    while bench.poll() is None:
        # Replica first: a primary read first would let the replica pass
        # it before its own read (lag 0); this way the figure includes
        # what the primary streamed between the two reads, an upper bound.
        roff = replica_offset(replica)
        lags.append(max(0, int(primary.info_field("replication", "master_repl_offset")) - roff))
        time.sleep(0.05)
    out = bench.stdout.read().decode(errors="replace")
    rps = None
    for row in csv.reader(io.StringIO(out)):
        if len(row) >= 2 and row[0].upper().startswith("SET"):
            rps = float(row[1])
    if rps is None:
        raise BenchError("no SET result from %s:\n%s" % (primary.name, out))
    # How long the replica takes to catch up once the load stops.
    t0 = time.time()
    while replica_offset(replica) < int(primary.info_field("replication", "master_repl_offset")):
        if time.time() - t0 > 30:
            raise BenchError("%s never caught up" % replica.name)
        time.sleep(0.01)
    return {"rps": rps, "lag_mean": sum(lags) / max(1, len(lags)), "lag_max": max(lags or [0]),
            "catch_up_s": time.time() - t0}


def replication(redis_bin, redust_bin, n):
    """Each primary with one replica of its own kind; SET load."""
    results = []
    servers = []
    try:
        pairs = {}
        for name, binary in (("redis", redis_bin), ("redust", redust_bin)):
            primary = Server(name, binary, extra=("--repl-diskless-sync-delay", "0")).start()
            servers.append(primary)
            # A Redust build without the replica side falls back to a
            # real Redis replica (said in the output).
            for rbin in (binary, redis_bin):
                replica = Server(name + "-replica", rbin, extra=("--replicaof", "127.0.0.1", str(primary.port))).start()
                servers.append(replica)
                deadline = time.time() + 15
                while time.time() < deadline:
                    try:
                        if replica.info_field("replication", "master_link_status") == "up":
                            break
                    except BenchError:
                        pass
                    time.sleep(0.1)
                else:
                    print("%s replica (%s) did not attach" % (name, rbin))
                    replica.cleanup()
                    continue
                break
            else:
                raise BenchError("no replica attached to %s" % name)
            print("%s primary, replica: %s" % (name, rbin))
            pairs[name] = (primary, replica)
        print("%-10s | %12s %12s %6s | %14s %14s | %14s %14s" % (
            "workload", "redis rps", "redust rps", "ratio", "redis lag avg", "redust lag avg",
            "redis lag max", "redust lag max"))
        for i, pipe in enumerate((1, 16)):
            reqs = n * 8 if pipe > 1 else n
            row = {"test": "SET", "pipeline": pipe}
            for name in (["redis", "redust"] if i % 2 == 0 else ["redust", "redis"]):
                row[name] = replication_run(pairs[name][0], pairs[name][1], pipe, reqs)
            row["rps_ratio"] = ratio(row["redust"]["rps"], row["redis"]["rps"])
            results.append(row)
            print("SET P=%-4d | %12s %12s %6s | %14s %14s | %14s %14s" % (
                pipe, fmt_num(row["redis"]["rps"]), fmt_num(row["redust"]["rps"]), fmt_ratio(row["rps_ratio"]),
                fmt_num(row["redis"]["lag_mean"]), fmt_num(row["redust"]["lag_mean"]),
                fmt_num(row["redis"]["lag_max"]), fmt_num(row["redust"]["lag_max"])))
    finally:
        for s in servers:
            s.cleanup()
    return results


def print_header():
    print("%-23s | %12s %12s %6s | %12s %12s %6s" % (
        "workload", "redis rps", "redust rps", "ratio", "redis r/cpu", "redust r/cpu", "ratio"))
    print("-" * 23 + "-+-" + "-" * 33 + "-+-" + "-" * 33)


def print_row(row):
    def spread(k):
        r = row.get(k + "_range")
        return "" if r is None else " (%.2f-%.2f)" % r
    print("%-23s | %12s %12s %6s | %12s %12s %6s%s" % (
        row.get("label") or label(row["test"].lower(), row["value_size"], row["pipeline"]),
        fmt_num(row["redis"]["rps"]), fmt_num(row["redust"]["rps"]), fmt_ratio(row["rps_ratio"]),
        fmt_num(row["redis"]["req_per_cpu_s"]), fmt_num(row["redust"]["req_per_cpu_s"]),
        fmt_ratio(row["cpu_ratio"]),
        "  rps%s cpu%s" % (spread("rps_ratio"), spread("cpu_ratio")) if "rps_ratio_range" in row else "",
    ), flush=True)


def median(vals):
    vals = sorted(v for v in vals if v is not None)
    if not vals:
        return None
    m = len(vals) // 2
    return vals[m] if len(vals) % 2 else (vals[m - 1] + vals[m]) / 2


# ---------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------

VALUE_SIZE = 100


def write_load_file(path, nkeys):
    """A RESP stream of SET key:%07d <100 bytes> for 0..nkeys-1."""
    with open(path, "wb", buffering=1 << 20) as f:
        for i in range(nkeys):
            key = b"key:%07d" % i
            val = (b"v" * (VALUE_SIZE - 7)) + (b"%07d" % i)
            f.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(val), val))


def memory(redis_bin, redust_bin, nkeys, workdir):
    load = os.path.join(workdir, "load.resp")
    write_load_file(load, nkeys)
    out = {"keys": nkeys, "value_size": VALUE_SIZE}
    for name, binary in (("redis", redis_bin), ("redust", redust_bin)):
        d = load_and_measure(name, binary, load, [("DBSIZE", nkeys)])
        d["rss_per_key"] = (d["rss_after"] - d["rss_before"]) / nkeys
        d["used_memory_per_key"] = (d["used_memory_after"] - d["used_memory_before"]) / nkeys
        out[name] = d
    out["rss_ratio"] = ratio(out["redust"]["rss_per_key"], out["redis"]["rss_per_key"])
    out["used_memory_ratio"] = ratio(out["redust"]["used_memory_per_key"], out["redis"]["used_memory_per_key"])
    return out


def load_and_measure(name, binary, load, checks):
    """On a fresh server: RSS and used_memory, load the RESP file `load`
    with redis-cli --pipe, check that each (command..., expected integer)
    in `checks` holds, and RSS and used_memory again."""
    s = Server(name, binary)
    try:
        s.start()
        resp_command(s.port, "FLUSHALL")
        time.sleep(0.2)
        rss0 = s.rss_bytes()
        used0 = int(s.info_field("memory", "used_memory"))
        t0 = time.time()
        with open(load, "rb") as f:
            r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(s.port), "--pipe"],
                               stdin=f, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1800)
        secs = time.time() - t0
        text = r.stdout.decode(errors="replace")
        if r.returncode != 0 or "errors: 0" not in text:
            raise BenchError("%s: redis-cli --pipe failed:\n%s" % (name, text[-1000:]))
        for check in checks:
            got = int(resp_command(s.port, *check[:-1]))
            if got != check[-1]:
                raise BenchError("%s: %s is %d after loading, expected %d" % (
                    name, " ".join(map(str, check[:-1])), got, check[-1]))
        time.sleep(0.5)
        return {
            "load_s": secs,
            "rss_before": rss0, "rss_after": s.rss_bytes(),
            "used_memory_before": used0, "used_memory_after": int(s.info_field("memory", "used_memory")),
        }
    finally:
        s.cleanup()


def print_memory(m):
    mib = 1024.0 * 1024.0
    print("%-12s | %11s %11s %9s | %14s %14s %9s | %7s" % (
        "server", "RSS before", "RSS after", "RSS/key", "used_mem before", "used_mem after", "used/key", "load s"))
    print("-" * 104)
    for name in ("redis", "redust"):
        d = m[name]
        print("%-12s | %9.1fMi %9.1fMi %9.1f | %12.1fMi %12.1fMi %9.1f | %7.2f" % (
            name, d["rss_before"] / mib, d["rss_after"] / mib, d["rss_per_key"],
            d["used_memory_before"] / mib, d["used_memory_after"] / mib, d["used_memory_per_key"],
            d["load_s"]))
    print("%-12s | %33s | %41s |" % (
        "redust/redis", "RSS/key ratio %s" % fmt_ratio(m["rss_ratio"]),
        "used_memory/key ratio %s" % fmt_ratio(m["used_memory_ratio"])))


# ---------------------------------------------------------------------------
# More workloads (issues 3, 4, 7): ZRANGE, PUBLISH fan-out, MULTI/EXEC,
# memory per element of big collections, SET under constant eviction
# ---------------------------------------------------------------------------

def encode_request(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


ZBENCH_MEMBERS = 1000


def _zrange_command(server):
    """ZRANGE over the first 10 of a 1,000-member sorted set (a skiplist on
    both servers), filled before each run."""
    args = ["ZADD", "zbench"]
    for i in range(ZBENCH_MEMBERS):
        args += [str(i * 1.5), "member:%05d" % i]
    resp_command(server.port, "DEL", "zbench")
    resp_command(server.port, *args)
    return ["ZRANGE", "zbench", "0", "9", "WITHSCORES"]


PUBLISH_CHANNEL = b"bench:chan"
PUBLISH_PAYLOAD = b"0123456789abcdef"

# redis-benchmark custom commands by test name; the CSV row of a custom
# command starts with the command's name, which is how run_benchmark finds it.
CUSTOM_TESTS = {
    "zrange": _zrange_command,
    "publish": lambda server: ["PUBLISH", PUBLISH_CHANNEL.decode(), PUBLISH_PAYLOAD.decode()],
    "xadd": lambda server: ["XADD", "mystream", "*", "myfield", "value"],
}


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise BenchError("connection closed while reading %d bytes" % n)
        buf += chunk
    return buf


class Subscribers:
    """`count` raw connections SUBSCRIBEd to one channel, drained by one
    thread that only counts bytes: in RESP2 every message of the benchmark
    has the same length, so the byte count tells how many arrived."""

    def __init__(self, port, count):
        self.socks = []
        confirm = (b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(PUBLISH_CHANNEL), PUBLISH_CHANNEL))
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(encode_request(b"SUBSCRIBE", PUBLISH_CHANNEL))
            got = recv_exact(s, len(confirm))
            if got != confirm:
                raise BenchError("SUBSCRIBE confirmation %r, expected %r" % (got, confirm))
            s.setblocking(False)
            self.socks.append(s)
        self.received = 0
        self.closed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    message = (b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
        len(PUBLISH_CHANNEL), PUBLISH_CHANNEL, len(PUBLISH_PAYLOAD), PUBLISH_PAYLOAD))

    def _drain(self):
        sel = selectors.DefaultSelector()
        for s in self.socks:
            sel.register(s, selectors.EVENT_READ)
        while not self._stop.is_set():
            for key, _ in sel.select(timeout=0.1):
                try:
                    data = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    self.closed += 1
                    continue
                self.received += len(data)
        sel.close()

    def wait_for_messages(self, messages, timeout=120):
        want = messages * len(self.message)
        deadline = time.time() + timeout
        while self.received < want and time.time() < deadline and not self.closed:
            time.sleep(0.02)
        return self.received == want and not self.closed

    def close(self):
        self._stop.set()
        self._thread.join()
        for s in self.socks:
            s.close()


def pubsub(redis_bin, redust_bin, n):
    """PUBLISH through redis-benchmark (-c 50) to 1 and to 100 subscribers;
    every subscriber must receive every message. Output buffers of pubsub
    clients are unlimited on both servers so that a subscriber falling
    behind for a moment is not disconnected."""
    rows = [{"test": "PUBLISH", "subscribers": subs, "value_size": len(PUBLISH_PAYLOAD), "pipeline": pipe,
             "label": "PUBLISH %3d sub P=%-2d" % (subs, pipe)}
            for subs in (1, 100) for pipe in (1, 16)]

    def measure(server, row):
        subs, pipe = row["subscribers"], row["pipeline"]
        # 100 subscribers make each publish 100 times the work.
        reqs = (n * 8 if pipe > 1 else n) // (10 if subs > 1 else 1)
        sub = Subscribers(server.port, subs)
        try:
            out = run_benchmark(server, "publish", None, pipe, reqs)
            if not sub.wait_for_messages(reqs * subs):
                raise BenchError("%s: subscribers got %d bytes (%d closed), expected %d" % (
                    server.name, sub.received, sub.closed, reqs * subs * len(sub.message)))
        finally:
            sub.close()
        return out

    return paired_runs(redis_bin, redust_bin, rows, measure, prepare=lambda s: resp_command(
        s.port, "CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 0 0"))


# MULTI + 5 x (SET key value, INCR counter) + EXEC. Counters start at 10^9 so
# that every INCR reply has the same length (10 digits) and a whole batch of
# replies can be checked by its length and then its contents.
TX_PAIRS = 5
TX_COUNTER_BASE = 10 ** 9
TX_CONNECTIONS = 50


def _tx_reply_len():
    return len(b"+OK\r\n" + b"+QUEUED\r\n" * (2 * TX_PAIRS) + b"*%d\r\n" % (2 * TX_PAIRS)
               + (b"+OK\r\n" + b":%d\r\n" % TX_COUNTER_BASE) * TX_PAIRS)


class _TxConnection(asyncio.Protocol):
    """One connection that sends `depth` transactions per write and waits
    for all their replies before the next write, `rounds` times."""

    def __init__(self, payloads, depth, rounds, done):
        self.payloads, self.depth, self.rounds, self.done = payloads, depth, rounds, done
        self.want = _tx_reply_len() * depth
        self.sent = 0
        self.chunks = []
        self.got = 0

    def connection_made(self, transport):
        self.transport = transport
        self._send()

    def _send(self):
        self.transport.write(self.payloads[self.sent % len(self.payloads)])
        self.sent += 1

    def data_received(self, data):
        self.chunks.append(data)
        self.got += len(data)
        if self.got < self.want:
            return
        buf = b"".join(self.chunks)
        self.chunks, self.got = [], 0
        if (len(buf) != self.want or buf.count(b"+QUEUED\r\n") != 2 * TX_PAIRS * self.depth
                or buf.count(b"*%d\r\n" % (2 * TX_PAIRS)) != self.depth):
            self._fail("unexpected transaction replies: %r" % buf[:300])
            return
        if self.sent == self.rounds:
            self.transport.close()
            if not self.done.done():
                self.done.set_result(True)
        else:
            self._send()

    def _fail(self, why):
        if not self.done.done():
            self.done.set_exception(BenchError(why))
        self.transport.close()

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_exception(BenchError("connection lost: %s" % exc))


def _tx_payloads(conn, depth, variants=8):
    """Pre-encoded writes of `depth` transactions: random keys over 100,000
    for the SETs, this connection's own counters for the INCRs."""
    import random
    rnd = random.Random(conn)
    out = []
    for _ in range(variants):
        parts = []
        for _ in range(depth):
            parts.append(encode_request(b"MULTI"))
            for j in range(TX_PAIRS):
                parts.append(encode_request(b"SET", b"key:%06d" % rnd.randrange(100000), b"xyz"))
                parts.append(encode_request(b"INCR", b"txctr:%02d:%d" % (conn, j)))
            parts.append(encode_request(b"EXEC"))
        out.append(b"".join(parts))
    return out


async def _tx_run(port, transactions, depth):
    loop = asyncio.get_running_loop()
    rounds = max(1, transactions // (TX_CONNECTIONS * depth))
    payloads = [_tx_payloads(c, depth) for c in range(TX_CONNECTIONS)]
    dones = []
    for c in range(TX_CONNECTIONS):
        done = loop.create_future()
        await loop.create_connection(lambda c=c, done=done: _TxConnection(payloads[c], depth, rounds, done),
                                     "127.0.0.1", port)
        dones.append(done)
    await asyncio.gather(*dones)
    return rounds * depth * TX_CONNECTIONS


def tx_bench(server, transactions, depth):
    counters = ["txctr:%02d:%d" % (c, j) for c in range(TX_CONNECTIONS) for j in range(TX_PAIRS)]
    mset = ["MSET"]
    for k in counters:
        mset += [k, str(TX_COUNTER_BASE)]
    resp_command(server.port, *mset)
    cpu0, client0, t0 = server.cpu_seconds(), time.process_time(), time.time()
    done = asyncio.run(_tx_run(server.port, transactions, depth))
    wall, client = time.time() - t0, time.process_time() - client0
    cpu = server.cpu_seconds() - cpu0
    # Every transaction ran whole: each counter went up once per transaction
    # of its connection.
    total = sum(int(resp_command(server.port, "GET", k)) - TX_COUNTER_BASE for k in counters)
    if total != done * TX_PAIRS:
        raise BenchError("%s: counters moved by %d, expected %d" % (server.name, total, done * TX_PAIRS))
    return {"rps": done / wall, "cpu_s": cpu, "wall_s": wall, "transactions": done,
            "req_per_cpu_s": (done / cpu) if cpu > 0 else None,
            "server_cpu_us_per_tx": (cpu / done * 1e6) if cpu > 0 else None,
            "client_busy": client / wall}


def multi_exec(redis_bin, redust_bin, n):
    """MULTI + 10 commands + EXEC from a Python asyncio load generator (50
    connections, 1 or 16 transactions per write). With 16 per write the
    generator needs far less CPU per transaction than the server; the
    client's CPU use is printed so a client-bound run shows as one."""
    rows = [{"test": "MULTI", "pipeline": depth, "value_size": 3, "label": "MULTI+10+EXEC P=%-2d" % depth}
            for depth in (1, 16)]

    def measure(server, row):
        depth = row["pipeline"]
        return tx_bench(server, n // 2 if depth == 1 else n * 2, depth)

    def cpu_us(d):
        return "n/a" if d["server_cpu_us_per_tx"] is None else "%.2f" % d["server_cpu_us_per_tx"]

    def after_row(row, servers):
        print("%23s   client CPU busy: %.0f%% (redis run), %.0f%% (redust run); "
              "server CPU per transaction: redis %s us, redust %s us" % (
                  "", 100 * row["redis"]["client_busy"], 100 * row["redust"]["client_busy"],
                  cpu_us(row["redis"]), cpu_us(row["redust"])), flush=True)

    return paired_runs(redis_bin, redust_bin, rows, measure, after_row=after_row)


def _member(i):
    return b"element:%07d" % i


def _variadic_file(path, key, command, count, element, batch=1000):
    """RESP for `command key <elements>` in batches of `batch` elements;
    element(i) gives the arguments of element i."""
    with open(path, "wb", buffering=1 << 20) as f:
        for start in range(0, count, batch):
            args = [command, key]
            for i in range(start, min(count, start + batch)):
                args += element(i)
            f.write(encode_request(*args))


def _small_hashes_file(path, count, fields=10):
    with open(path, "wb", buffering=1 << 20) as f:
        for h in range(count):
            args = [b"HSET", b"small:%06d" % h]
            for j in range(fields):
                args += [b"field%d" % j, b"v%d-%06d" % (j, h)]
            f.write(encode_request(*args))


def type_memory(redis_bin, redust_bin, elements, hashes, workdir):
    """Memory per element of one big list, hash, set and sorted set, and per
    small hash (10 fields) of `hashes` of them, each loaded on freshly
    started servers with redis-cli --pipe (variadic commands of 1,000
    elements)."""
    cases = [
        ("list", b"RPUSH", lambda i: [_member(i)], ("LLEN", "mem:list")),
        ("hash", b"HSET", lambda i: [b"field:%07d" % i, b"value:%07d" % i], ("HLEN", "mem:hash")),
        ("set", b"SADD", lambda i: [_member(i)], ("SCARD", "mem:set")),
        ("zset", b"ZADD", lambda i: [b"%d" % i, _member(i)], ("ZCARD", "mem:zset")),
    ]
    out = []
    for kind, command, element, check in cases:
        path = os.path.join(workdir, "mem-%s.resp" % kind)
        _variadic_file(path, b"mem:" + kind.encode(), command, elements, element)
        out.append(_type_memory_row("%s x%d" % (kind, elements), elements, path,
                                    [check + (elements,)], redis_bin, redust_bin))
        os.unlink(path)
    path = os.path.join(workdir, "mem-small-hashes.resp")
    _small_hashes_file(path, hashes)
    out.append(_type_memory_row("%d hashes x10" % hashes, hashes, path, [("DBSIZE", hashes)],
                                redis_bin, redust_bin))
    os.unlink(path)
    return out


def _type_memory_row(what, count, path, checks, redis_bin, redust_bin):
    row = {"what": what, "count": count}
    for name, binary in (("redis", redis_bin), ("redust", redust_bin)):
        d = load_and_measure(name, binary, path, checks)
        d["rss_per_element"] = (d["rss_after"] - d["rss_before"]) / count
        d["used_memory_per_element"] = (d["used_memory_after"] - d["used_memory_before"]) / count
        row[name] = d
    row["rss_ratio"] = ratio(row["redust"]["rss_per_element"], row["redis"]["rss_per_element"])
    row["used_memory_ratio"] = ratio(row["redust"]["used_memory_per_element"],
                                     row["redis"]["used_memory_per_element"])
    print("%-22s | %9.1f %9.1f %6s | %9.1f %9.1f %6s" % (
        what, row["redis"]["used_memory_per_element"], row["redust"]["used_memory_per_element"],
        fmt_ratio(row["used_memory_ratio"]), row["redis"]["rss_per_element"],
        row["redust"]["rss_per_element"], fmt_ratio(row["rss_ratio"])), flush=True)
    return row


def print_type_memory_header():
    print("%-22s | %9s %9s %6s | %9s %9s %6s" % (
        "bytes per element", "redis used", "redust used", "ratio", "redis RSS", "redust RSS", "ratio"))
    print("-" * 22 + "-+-" + "-" * 28 + "-+-" + "-" * 28)


EVICTION = ("--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru")


def eviction(redis_bin, redust_bin, n):
    """SET of 1 KiB values over 10,000,000 random keys with maxmemory 100mb
    and allkeys-lru: a warm-up run fills memory, then every SET of a new key
    evicts. Reports throughput, keys evicted during the measured run, and
    used_memory and RSS at the end."""
    rows = [{"test": "SET", "value_size": 1024, "pipeline": pipe, "label": "SET evict 1KiB P=%-2d" % pipe}
            for pipe in (1, 16)]

    def fill(server):
        # 200,000 x 1 KiB is twice maxmemory: eviction is steady after it.
        run_benchmark(server, "set", 1024, 16, 200000, keyspace=10000000)

    def measure(server, row):
        pipe = row["pipeline"]
        ev0 = int(server.info_field("stats", "evicted_keys"))
        out = run_benchmark(server, "set", 1024, pipe, n * 4 if pipe > 1 else n, keyspace=10000000)
        out["evicted"] = int(server.info_field("stats", "evicted_keys")) - ev0
        out["used_memory"] = int(server.info_field("memory", "used_memory"))
        out["rss"] = server.rss_bytes()
        out["keys"] = int(resp_command(server.port, "DBSIZE"))
        return out

    def after_row(row, servers):
        mib = 1024.0 * 1024.0
        for name in ("redis", "redust"):
            d = row[name]
            print("%23s   %-6s: used_memory %.1f MiB, RSS %.1f MiB (RSS/used %.2f), %d keys, %d evicted" % (
                "", name, d["used_memory"] / mib, d["rss"] / mib, d["rss"] / d["used_memory"], d["keys"],
                d["evicted"]))

    return paired_runs(redis_bin, redust_bin, rows, measure, extra=EVICTION, prepare=fill, after_row=after_row)


PARTS = ("throughput", "aof", "memory", "pubsub", "multi", "typemem", "eviction", "replication")


def run_more_parts(results, want, redis_bin, redust_bin, n, args, workdir):
    if want("pubsub"):
        print("\nPUBLISH (%d-byte payload) to 1 and 100 subscribers; r/cpu = publishes per server CPU-second"
              % len(PUBLISH_PAYLOAD))
        print_header()
        results["pubsub"] = pubsub(redis_bin, redust_bin, n)
    if want("multi"):
        print("\nMULTI + 5 x (SET, INCR) + EXEC, 50 connections, P = transactions per write; "
              "rps = transactions/s")
        print_header()
        results["multi_exec"] = multi_exec(redis_bin, redust_bin, n)
    if want("typemem"):
        elements = args.elements or (100000 if args.quick else 1000000)
        print("\nMemory per element: one key of each type, variadic commands of 1,000 elements; "
              "%d small hashes of 10 fields (per hash)" % (elements // 10))
        print_type_memory_header()
        results["type_memory"] = type_memory(redis_bin, redust_bin, elements, elements // 10, workdir)
    if want("eviction"):
        print("\nSET 1 KiB over 10,000,000 random keys with %s (after a 200,000-SET fill)" % " ".join(EVICTION))
        print_header()
        results["eviction"] = eviction(redis_bin, redust_bin, n)


def _raise_on_signal(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--redust", default=os.path.join(ROOT, "target", "release", "redust-server"),
                    help="redust-server binary (default: target/release/redust-server)")
    ap.add_argument("--requests", type=int, default=None,
                    help="requests per redis-benchmark run (default 200000; 50000 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="fewer requests and 100,000 keys for the memory part")
    ap.add_argument("--keys", type=int, default=None,
                    help="keys for the memory part (default 1,000,000; 100,000 with --quick)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--skip-memory", action="store_true", help="only the throughput part")
    ap.add_argument("--aof-only", action="store_true",
                    help="only the appendonly yes / everysec SET part")
    ap.add_argument("--replication", action="store_true",
                    help="only SET against a primary with one replica attached: throughput and lag "
                         "(--only replication)")
    ap.add_argument("--tls", action="store_true",
                    help="SET and GET over TLS (redis-benchmark --tls); no memory part")
    ap.add_argument("--workloads", metavar="TESTS",
                    help="throughput rows to run, comma-separated (e.g. xadd,set)")
    ap.add_argument("--only", metavar="PARTS",
                    help="run only these comma-separated parts: %s" % ",".join(PARTS))
    ap.add_argument("--elements", type=int, default=None,
                    help="elements of each big collection in the typemem part (default 1,000,000; "
                         "100,000 with --quick); a tenth as many small hashes")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds per row, alternating which server goes first; prints medians and the "
                         "range of the per-round ratios (default 1)")
    ap.add_argument("--redust-args", default="",
                    help="directives for every Redust server, e.g. \"--busy-poll-usec 0\" to see the "
                         "CPU cost of the work alone at -P 1")
    ap.add_argument("--no-pin", action="store_true",
                    help="leave CPU placement to the scheduler (default: servers on CPU 0, load "
                         "generators on the other CPUs)")
    args = ap.parse_args()
    pin_cpus(not args.no_pin)
    global REPEAT
    REPEAT = max(1, args.repeat)
    REDUST_ARGS.extend(shlex.split(args.redust_args))
    only = set(args.only.split(",")) if args.only else None
    if args.replication:
        only = {"replication"}
    if only and not only <= set(PARTS):
        sys.exit("ratio.py: --only takes %s" % ",".join(PARTS))

    def want(part):
        return part in only if only else not (args.tls and part not in ("throughput", "aof"))

    n = args.requests or (50000 if args.quick else 200000)
    nkeys = args.keys or (100000 if args.quick else 1000000)
    redust_bin = os.path.abspath(args.redust)
    redis_bin = shutil.which("redis-server")
    for tool, path in (("redust-server", redust_bin if os.access(redust_bin, os.X_OK) else None),
                       ("redis-server", redis_bin),
                       ("redis-benchmark", shutil.which("redis-benchmark")),
                       ("redis-cli", shutil.which("redis-cli"))):
        if not path:
            sys.exit("ratio.py: %s not found%s" % (
                tool, " at %s (cargo build --release first)" % redust_bin if tool == "redust-server" else ""))

    signal.signal(signal.SIGTERM, _raise_on_signal)
    signal.signal(signal.SIGHUP, _raise_on_signal)

    redis_version = subprocess.run([redis_bin, "--version"], stdout=subprocess.PIPE).stdout.decode().strip()
    print("redis:  %s" % redis_version)
    print("redust: %s%s" % (redust_bin, " " + " ".join(REDUST_ARGS) if REDUST_ARGS else ""))
    print("machine: %s, %d CPUs, load average %s" % (
        platform.machine(), os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg())))
    print("CPUs: %s" % ("servers on %s, load generators on %s" % (
        ",".join(map(str, sorted(SERVER_CPUS))), ",".join(map(str, sorted(CLIENT_CPUS))))
        if SERVER_CPUS else "unpinned"))
    print("redis-benchmark -c 50 -n %d (x8 when pipelined) -r 100000 --csv%s; r/cpu = requests per server CPU-second" % (
        n, " --tls" if args.tls else ""))
    print()

    results = {"requests": n, "redis_version": redis_version, "redust": redust_bin,
               "loadavg_start": os.getloadavg()}
    workdir = tempfile.mkdtemp(prefix="redust-bench-")
    try:
        certs = make_certs(workdir) if args.tls else None
        results["tls"] = args.tls
        if not args.aof_only and want("throughput"):
            print_header()
            picked = args.workloads and [w for w in workloads(args.tls) if w[0] in args.workloads.lower().split(",")]
            results["throughput"] = throughput(redis_bin, redust_bin, n, certs, loads=picked or None)
            print()
        if not args.tls and want("aof"):
            print("With %s on both servers:" % " ".join(AOF_EVERYSEC))
            print_header()
            results["aof_everysec"] = throughput(redis_bin, redust_bin, n, extra=AOF_EVERYSEC,
                                                 loads=[("set", 3, 1), ("set", 3, 16)])
            print()
        if not args.skip_memory and not args.tls and not args.aof_only and want("memory"):
            print("Memory: %d keys key:%%07d with %d-byte values, loaded with redis-cli --pipe" % (
                nkeys, VALUE_SIZE))
            results["memory"] = memory(redis_bin, redust_bin, nkeys, workdir)
            print_memory(results["memory"])
        if not args.aof_only:
            run_more_parts(results, want, redis_bin, redust_bin, n, args, workdir)
        if want("replication") and not args.aof_only:
            print("Replication: one replica per primary, lag in bytes of stream:")
            results["replication"] = replication(redis_bin, redust_bin, n)
        results["loadavg_end"] = os.getloadavg()
        print("\nload average at the end: %s" % " ".join("%.2f" % x for x in results["loadavg_end"]))
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        return 130
    except BenchError as e:
        print("\nratio.py: %s" % e, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print("\nwrote %s" % args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
