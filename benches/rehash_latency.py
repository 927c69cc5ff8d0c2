#!/usr/bin/env python3
"""Latency while the keyspace grows: the worst PING a client sees while
another client inserts millions of new keys (every doubling of the main
hash table happens during the run).

For each server (real Redis, Redust, and optionally a second Redust binary
given with --baseline, e.g. a build from before a change), on a fresh
server with persistence off:

- a probe thread sends PING on its own connection every millisecond and
  records each round trip;
- meanwhile `redis-benchmark -t set -r 100000000 -n KEYS -P 16 -c 50`
  inserts (mostly) new keys.

Reports the worst, 99.9th and 99th percentile PING round trip, how many
exceeded 10 ms and 50 ms, the keys in the end and the load time, and the
load average (wall-clock figures on a shared machine mean little without
it). Reuses benches/ratio.py's server handling.

    python3 benches/rehash_latency.py [--keys 4000000] [--redust PATH] [--baseline PATH]
"""

import argparse
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ratio  # noqa: E402


def probe(port, stop, rtts):
    """PINGs every millisecond until `stop` is set; appends round trips (s)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while not stop.is_set():
            t = time.perf_counter()
            s.sendall(b"PING\r\n")
            got = b""
            while not got.endswith(b"\r\n"):
                chunk = s.recv(64)
                if not chunk:
                    return
                got += chunk
            rtts.append(time.perf_counter() - t)
            time.sleep(0.001)


def run(name, binary, keys):
    srv = ratio.Server(name, binary).start()
    try:
        stop = threading.Event()
        rtts = []
        th = threading.Thread(target=probe, args=(srv.port, stop, rtts), daemon=True)
        th.start()
        time.sleep(0.2)
        t = time.time()
        subprocess.run(
            ["redis-benchmark", "-p", str(srv.port), "-t", "set", "-r", "100000000",
             "-n", str(keys), "-P", "16", "-c", "50", "-q"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        took = time.time() - t
        stop.set()
        th.join(timeout=10)
        dbsize = int(ratio.resp_command(srv.port, "DBSIZE"))
        rtts.sort()
        pct = lambda p: rtts[min(len(rtts) - 1, int(len(rtts) * p))] * 1000
        return {
            "server": name,
            "pings": len(rtts),
            "max_ms": rtts[-1] * 1000,
            "p999_ms": pct(0.999),
            "p99_ms": pct(0.99),
            "over10": sum(r > 0.010 for r in rtts),
            "over50": sum(r > 0.050 for r in rtts),
            "keys": dbsize,
            "load_s": took,
        }
    finally:
        srv.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keys", type=int, default=4_000_000, help="SETs to send (default 4M)")
    ap.add_argument("--redust", default=os.path.join(ratio.ROOT, "target", "release", "redust-server"))
    ap.add_argument("--baseline", help="another redust-server binary to compare")
    ap.add_argument("--skip-redis", action="store_true")
    args = ap.parse_args()
    servers = []
    if not args.skip_redis:
        servers.append(("redis", subprocess.check_output(["which", "redis-server"], text=True).strip()))
    if args.baseline:
        servers.append(("baseline", args.baseline))
    servers.append(("redust", args.redust))
    rows = [run(n, b, args.keys) for n, b in servers]
    print("load average: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    print("%-9s %7s %9s %9s %8s %7s %7s %9s %7s" % (
        "server", "pings", "max ms", "p99.9 ms", "p99 ms", ">10ms", ">50ms", "keys", "load s"))
    for r in rows:
        print("%-9s %7d %9.1f %9.1f %8.1f %7d %7d %9d %7.1f" % (
            r["server"], r["pings"], r["max_ms"], r["p999_ms"], r["p99_ms"], r["over10"],
            r["over50"], r["keys"], r["load_s"]))


if __name__ == "__main__":
    main()
