#!/usr/bin/env python3
"""RQ (python-rq) end to end against one server: enqueue jobs, run a real
forking worker in burst mode, and check statuses, results, retries, the
failed registry, a dependent job and a scheduled job.

    rq_e2e.py redis://127.0.0.1:PORT/0

Exits 0 and prints "rq e2e: N checks passed" when everything holds, or
exits 1 naming the first check that did not. Run by tests/job_queue.rs."""

import os
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jobs  # noqa: E402
from redis import Redis  # noqa: E402
from rq import Queue, Retry, Worker  # noqa: E402
from rq.job import Job, JobStatus  # noqa: E402
from rq.results import Result  # noqa: E402

checks = 0


def check(cond, what):
    global checks
    if not cond:
        print("rq e2e: FAILED: %s" % what, flush=True)
        sys.exit(1)
    checks += 1


def main():
    url = sys.argv[1]
    conn = Redis.from_url(url)
    check(conn.ping(), "PING")
    q = Queue("e2e", connection=conn)
    low = Queue("e2e-low", connection=conn)

    # Plain jobs, with positional and keyword arguments and a custom id.
    adds = [q.enqueue(jobs.add, i, i * 10) for i in range(20)]
    named = q.enqueue(jobs.describe, "widget", job_id="named-job", colour="blue", size=3)
    check(named.id == "named-job", "custom job id")
    check(q.count == 21, "21 jobs queued, got %d" % q.count)
    check(adds[0].get_status() == JobStatus.QUEUED, "status queued before the worker runs")
    check(Job.fetch(adds[5].id, connection=conn).args == (5, 50), "job arguments round-trip")

    # A job that always fails, with two retries: three runs in all, then the
    # failed registry.
    doomed = q.enqueue(jobs.always_fails, "no luck", "e2e:doomed-attempts", retry=Retry(max=2))
    check(doomed.retries_left == 2, "retries_left set at enqueue")
    # A job that fails once and then succeeds on its retry.
    flaky = q.enqueue(jobs.fails_once, "e2e:flaky-attempts", retry=Retry(max=2))

    # A dependent job: deferred until its dependencies finish.
    dep = low.enqueue(jobs.sum_of_results, adds[1].id, adds[2].id, depends_on=[adds[1], adds[2]])
    check(dep.get_status() == JobStatus.DEFERRED, "dependent job deferred, got %s" % dep.get_status())
    check(dep.id in low.deferred_job_registry, "dependent job in the deferred registry")

    # A scheduled job, due in one second: the worker's scheduler moves it to
    # the queue once it is due.
    sched = q.enqueue_in(timedelta(seconds=1), jobs.add, 100, 1)
    check(sched.get_status() == JobStatus.SCHEDULED, "scheduled job status")
    check(sched.id in q.scheduled_job_registry, "job in the scheduled registry")
    time.sleep(1.5)

    # A real worker (forks a work horse per job) in burst mode: runs until
    # both queues are empty, including the retries it enqueues.
    w = Worker([q, low], connection=conn, name="redust-e2e-worker")
    w.work(burst=True, with_scheduler=True, logging_level="WARNING")

    for i, job in enumerate(adds):
        job.refresh()
        check(job.get_status() == JobStatus.FINISHED, "add job %d finished, got %s" % (i, job.get_status()))
        check(job.return_value() == i + i * 10, "add job %d result %r" % (i, job.return_value()))
    check(named.return_value(refresh=True) == {"name": "widget", "fields": [("colour", "blue"), ("size", 3)]},
          "structured result %r" % named.return_value())
    latest = named.latest_result()
    check(latest is not None and latest.type == Result.Type.SUCCESSFUL, "latest result is SUCCESSFUL")

    doomed.refresh()
    check(doomed.get_status() == JobStatus.FAILED, "failing job ends FAILED, got %s" % doomed.get_status())
    check(doomed.retries_left == 0, "retries used up, retries_left=%r" % doomed.retries_left)
    check(doomed.id in q.failed_job_registry, "failing job in the failed registry")
    check(q.failed_job_registry.count == 1, "exactly one failed job, got %d" % q.failed_job_registry.count)
    check("job failed on purpose: no luck" in (doomed.exc_info or ""), "traceback kept: %r" % doomed.exc_info)
    check(int(conn.get("e2e:doomed-attempts")) == 3, "failing job ran three times")
    results = doomed.results()
    check(len(results) >= 1 and results[0].type in (Result.Type.FAILED, Result.Type.MAX_RETRIES_EXCEEDED),
          "last run recorded as failed: %r" % [r.type for r in results])

    flaky.refresh()
    check(flaky.get_status() == JobStatus.FINISHED, "flaky job finished after a retry, got %s" % flaky.get_status())
    check(flaky.return_value() == "succeeded on attempt 2", "flaky result %r" % flaky.return_value())
    check(flaky.retries_left == 1, "one retry used, retries_left=%r" % flaky.retries_left)
    check(int(conn.get("e2e:flaky-attempts")) == 2, "two attempts counted in the server")

    dep.refresh()
    check(dep.get_status() == JobStatus.FINISHED, "dependent job finished, got %s" % dep.get_status())
    check(dep.return_value() == (1 + 10) + (2 + 20), "dependent result %r" % dep.return_value())

    sched.refresh()
    check(sched.get_status() == JobStatus.FINISHED, "scheduled job finished, got %s" % sched.get_status())
    check(sched.return_value() == 101, "scheduled job result %r" % sched.return_value())

    check(q.count == 0 and low.count == 0, "queues drained (%d, %d)" % (q.count, low.count))
    finished = q.finished_job_registry.count
    check(finished == 20 + 1 + 1 + 1, "finished registry holds 23 jobs, got %d" % finished)
    check(Worker.all(connection=conn) == [], "burst worker deregistered itself")

    # Requeue the failed job from the registry and run it again: it fails
    # again and lands back in the registry.
    q.failed_job_registry.requeue(doomed.id)
    check(doomed.get_status() == JobStatus.QUEUED, "requeued job queued")
    Worker([q], connection=conn, name="redust-e2e-worker-2").work(burst=True, logging_level="WARNING")
    check(doomed.get_status() == JobStatus.FAILED and doomed.id in q.failed_job_registry,
          "requeued job failed again into the registry")

    # Deleting a job removes its hash and its results.
    named.delete()
    check(not conn.exists(named.key), "deleted job's hash is gone")

    print("rq e2e: %d checks passed" % checks, flush=True)


if __name__ == "__main__":
    main()
