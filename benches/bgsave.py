#!/usr/bin/env python3
"""BGSAVE under write load: Redust's forkless snapshot vs. real Redis's fork.

For real `redis-server` and Redust in one run (one server at a time, each on
a free 127.0.0.1 port with persistence rules off and a private temp dir):

1. load K keys (default 1,000,000) with 1 KiB values, named as
   redis-benchmark's `-r K` keys (`key:%012d`, by EVAL in batches) so that
   the writes below overwrite them instead of growing the dataset (new
   keys would count as extra memory), and measure the idle BGSAVE time (calibration) and the SET
   throughput without a save;
2. start `redis-benchmark -t set -r K -d 1024 -c 50 --csv` overwriting random
   keys, sized to last about as long as the idle save, issue BGSAVE 100 ms
   into it, and while the save runs sample every 10 ms:
   - the save time (BGSAVE issued to `rdb_bgsave_in_progress:0`, ms), plus
     Redis's own `rdb_last_bgsave_time_sec`;
   - the extra memory: the server's VmRSS (/proc/<pid>/status) above its
     value just before BGSAVE, plus, for Redis, the fork child's private
     dirty memory (/proc/<child>/smaps_rollup Private_Dirty), which is what
     the copy-on-write really costs; the peak is reported, and as a
     percentage of the dataset (INFO used_memory_dataset before the save);
   - p99 (and p50, max) latency of the writes, from redis-benchmark's CSV,
     with how much of the benchmark overlapped the save.

Targets (issue 5): peak extra memory < 10% of the dataset, p99 no worse than
Redis's, save time within 1.5x of Redis's.

    python3 benches/bgsave.py [--keys K] [--redust PATH] [--runs N] [--json out.json]

Standard library only; servers are stopped on exit.
"""

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

sys.path.insert(0, HERE)
from ratio import BenchError, free_port, resp_command  # noqa: E402


def cmd(port, *args, timeout=600.0):
    """One command, with room for a slow one (EVAL populating keys)."""
    return resp_command(port, *args, timeout=timeout)


def info(port, section="persistence"):
    out = {}
    for line in (cmd(port, "INFO", section) or "").splitlines():
        if ":" in line:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def kb_field(path, name):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def children(pid):
    kids = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


class Server:
    def __init__(self, name, binary):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="bgsave-%s-" % name)
        self.port = free_port()
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.dir,
                "--enable-debug-command", "yes",
                "--logfile", os.path.join(self.dir, "log")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if cmd(self.port, "PING") == "PONG":
                    return
            except (OSError, BenchError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not start" % name)

    def rss(self):
        return kb_field("/proc/%d/status" % self.proc.pid, "VmRSS")

    def child_dirty(self):
        return sum(kb_field("/proc/%d/smaps_rollup" % c, "Private_Dirty") for c in children(self.proc.pid))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def bench(port, n, keys):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(n), "-r", str(keys),
         "-d", "1024", "-c", "50", "--csv"],
        capture_output=True, text=True, check=True).stdout
    rows = [r for r in csv.reader(io.StringIO(out)) if r and r[0] != "test"]
    r = rows[0]
    return {"rps": float(r[1]), "p50_ms": float(r[4]), "p99_ms": float(r[6]), "max_ms": float(r[7])}


POPULATE = """
local v = string.rep('x', tonumber(ARGV[3]))
for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do
  redis.call('SET', string.format('key:%012d', i), v)
end
return 1
"""


def populate(port, keys, size=1024, batch=50000):
    for start in range(0, keys, batch):
        cmd(port, "EVAL", POPULATE, 0, start, min(keys, start + batch) - 1, size)
    got = int(cmd(port, "DBSIZE"))
    if got != keys:
        raise RuntimeError("populated %d keys, not %d" % (got, keys))


def wait_save(port, started):
    while info(port).get("rdb_bgsave_in_progress") == "1":
        time.sleep(0.01)
    return (time.time() - started) * 1000


def run_one(name, binary, keys):
    s = Server(name, binary)
    try:
        t = time.time()
        populate(s.port, keys)
        load_s = time.time() - t
        dataset = int(info(s.port, "memory").get("used_memory_dataset", "0"))
        # Calibration: the idle save, and write throughput without a save.
        t = time.time()
        cmd(s.port, "BGSAVE")
        idle_ms = wait_save(s.port, t)
        calib = bench(s.port, 100000, keys)
        n = max(20000, int(calib["rps"] * idle_ms / 1000 * 0.8))
        base_rss = s.rss()
        result = {}
        done = threading.Event()

        def load():
            result["bench"] = bench(s.port, n, keys)
            result["bench_end"] = time.time()
            done.set()

        th = threading.Thread(target=load)
        bench_start = time.time()
        th.start()
        time.sleep(0.1)
        base_rss = s.rss()
        started = time.time()
        reply = cmd(s.port, "BGSAVE")
        peak, peak_parent, peak_child, samples, with_child = 0, 0, 0, 0, 0
        while info(s.port).get("rdb_bgsave_in_progress") == "1":
            parent = max(0, s.rss() - base_rss)
            child = s.child_dirty()
            samples += 1
            with_child += bool(children(s.proc.pid))
            peak = max(peak, parent + child)
            peak_parent = max(peak_parent, parent)
            peak_child = max(peak_child, child)
            time.sleep(0.01)
        save_ms = (time.time() - started) * 1000
        ended = time.time()
        th.join()
        bench_end = result["bench_end"]
        overlap = max(0.0, min(bench_end, ended) - max(bench_start, started)) / max(1e-9, bench_end - bench_start)
        st = info(s.port)
        return {
            "server": name, "keys": keys, "load_s": round(load_s, 2), "dataset_bytes": dataset,
            "bgsave_reply": reply, "status": st.get("rdb_last_bgsave_status"),
            "idle_save_ms": round(idle_ms), "save_ms": round(save_ms),
            "rdb_last_bgsave_time_sec": st.get("rdb_last_bgsave_time_sec"),
            "rdb_last_cow_size": st.get("rdb_last_cow_size"),
            "peak_extra_bytes": peak, "peak_parent_bytes": peak_parent, "peak_child_dirty_bytes": peak_child,
            "peak_extra_pct": round(100.0 * peak / max(1, dataset), 2),
            "writes_during_save": result["bench"], "writes_without_save": calib,
            "bench_overlap_with_save": round(overlap, 2),
            "samples": samples, "samples_with_child": with_child,
        }
    finally:
        s.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--redust", default=os.path.join(ROOT, "target", "release", "redust-server"))
    ap.add_argument("--redis", default=shutil.which("redis-server") or "redis-server")
    ap.add_argument("--json")
    ap.add_argument("--only", choices=["redis", "redust"])
    a = ap.parse_args()
    results = []
    for i in range(a.runs):
        order = [("redis", a.redis), ("redust", a.redust)]
        if i % 2:
            order.reverse()
        for name, binary in order:
            if a.only and name != a.only:
                continue
            r = run_one(name, binary, a.keys)
            results.append(r)
            print(json.dumps(r), flush=True)
    print()
    print("%-7s %9s %9s %12s %8s %9s %9s %9s" % ("server", "save ms", "idle ms", "peak extra", "% data",
                                                 "p99 ms", "p50 ms", "krps"))
    for r in results:
        w = r["writes_during_save"]
        print("%-7s %9d %9d %10.1fMB %7.2f%% %9.3f %9.3f %9.1f" % (
            r["server"], r["save_ms"], r["idle_save_ms"], r["peak_extra_bytes"] / 1e6,
            r["peak_extra_pct"], w["p99_ms"], w["p50_ms"], w["rps"] / 1000))
    by = {}
    for r in results:
        by.setdefault(r["server"], []).append(r)
    if "redis" in by and "redust" in by:
        med = lambda xs: sorted(xs)[len(xs) // 2]
        rs, ds = by["redis"], by["redust"]
        print("save time ratio redust/redis: %.2f (target <= 1.5)" % (
            med([r["save_ms"] for r in ds]) / med([r["save_ms"] for r in rs])))
        print("p99 ratio redust/redis: %.2f (target <= 1.0)" % (
            med([r["writes_during_save"]["p99_ms"] for r in ds]) / med([r["writes_during_save"]["p99_ms"] for r in rs])))
        print("peak extra memory, %% of dataset: redust %.2f%%, redis %.2f%% (target < 10%%)" % (
            med([r["peak_extra_pct"] for r in ds]), med([r["peak_extra_pct"] for r in rs])))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
