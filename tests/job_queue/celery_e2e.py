#!/usr/bin/env python3
"""Celery end to end against one server, used both as broker and as result
backend: start a real `celery worker` process, send tasks, and check
results, a chain, a group, a task retried until it fails, and one that
succeeds on its retry.

    celery_e2e.py redis://127.0.0.1:PORT/0

Exits 0 and prints "celery e2e: N checks passed", or exits 1 naming the
first check that did not hold. Run by tests/job_queue.rs."""

import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ["JOB_QUEUE_URL"] = sys.argv[1]

from celery import chain, group  # noqa: E402
from celery.exceptions import TimeoutError as CeleryTimeout  # noqa: E402

import celery_tasks as t  # noqa: E402

checks = 0
worker = None


def check(cond, what):
    global checks
    if not cond:
        print("celery e2e: FAILED: %s" % what, flush=True)
        stop_worker()
        sys.exit(1)
    checks += 1


def stop_worker():
    global worker
    if worker is not None and worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    w, worker = worker, None
    return w


def get(result, what, timeout=60):
    try:
        return result.get(timeout=timeout, propagate=False)
    except CeleryTimeout:
        check(False, "%s: no result within %ds (worker alive: %s)" % (
            what, timeout, worker is not None and worker.poll() is None))


def main():
    global worker
    client = t.app.backend.client
    check(client.ping(), "PING")

    # Tasks sent before the worker starts wait in the broker's list.
    early = [t.add.delay(i, i) for i in range(10)]
    check(client.llen("celery") == 10, "10 messages queued in the broker, got %d" % client.llen("celery"))

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "celery_tasks", "worker", "--pool=solo",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-n", "redust-e2e@%h"],
        cwd=HERE, stdin=subprocess.DEVNULL)

    for i, r in enumerate(early):
        check(get(r, "add %d" % i) == 2 * i, "add %d result %r" % (i, r.result))
        check(r.status == "SUCCESS", "add %d status %s" % (i, r.status))

    # Canvas: a chain passes each result on; a group runs in parallel and
    # its results are collected.
    c = chain(t.add.s(1, 2), t.mul.s(10), t.add.s(5)).apply_async()
    check(get(c, "chain") == 35, "chain result %r" % c.result)
    g = group(t.mul.s(i, i) for i in range(8)).apply_async()
    try:
        squares = g.get(timeout=60)
    except CeleryTimeout:
        squares = None
    check(squares == [i * i for i in range(8)], "group results %r" % squares)

    # Retries: one task fails every time (1 run + 2 retries, then FAILURE),
    # one fails once and succeeds on its retry.
    doomed = t.always_fails.delay("celery:doomed-runs")
    get(doomed, "always_fails")
    check(doomed.status == "FAILURE", "failing task status %s" % doomed.status)
    check(isinstance(doomed.result, ValueError) and "on purpose" in str(doomed.result),
          "failing task's exception %r" % doomed.result)
    check(int(client.get("celery:doomed-runs")) == 3, "failing task ran 3 times")
    flaky = t.fails_once.delay("celery:flaky-runs")
    check(get(flaky, "fails_once") == "ok on attempt 2", "flaky result %r" % flaky.result)
    check(flaky.status == "SUCCESS", "flaky status %s" % flaky.status)

    # Results are fetched again by id from the backend.
    again = t.app.AsyncResult(early[3].id)
    check(again.status == "SUCCESS" and again.result == 6, "result by id: %s %r" % (again.status, again.result))

    # A task with an ETA a second away is held by the worker, then run.
    t0 = time.time()
    later = t.add.apply_async((40, 2), countdown=1)
    check(get(later, "countdown task") == 42, "countdown task result %r" % later.result)
    check(time.time() - t0 >= 0.9, "countdown respected")

    w = stop_worker()
    check(w.returncode == 0, "worker exited cleanly after SIGTERM (rc %s)" % w.returncode)
    check(client.llen("celery") == 0, "broker queue drained")

    print("celery e2e: %d checks passed" % checks, flush=True)


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_worker()
