"""Job functions for rq_e2e.py. They live in their own module because an RQ
worker imports a job's function by its dotted name (here `jobs.add`)."""

from rq import get_current_job


def add(a, b):
    return a + b


def describe(name, **fields):
    # A structured result: RQ pickles it into the job hash and result stream.
    return {"name": name, "fields": sorted(fields.items())}


def always_fails(reason, counter_key):
    get_current_job().connection.incr(counter_key)
    raise ValueError("job failed on purpose: %s" % reason)


def fails_once(counter_key):
    """Fails on its first run and succeeds on the retry; the attempt count
    is kept in the server itself (INCR on the job's own connection)."""
    conn = get_current_job().connection
    attempt = conn.incr(counter_key)
    if attempt < 2:
        raise RuntimeError("transient failure, attempt %d" % attempt)
    return "succeeded on attempt %d" % attempt


def sum_of_results(*job_ids):
    """A dependent job: reads the results of the jobs it depends on."""
    from rq.job import Job

    conn = get_current_job().connection
    return sum(Job.fetch(j, connection=conn).return_value() for j in job_ids)
