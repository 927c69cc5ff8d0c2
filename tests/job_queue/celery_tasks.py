"""Celery app and tasks for celery_e2e.py: the Redis broker and the Redis
result backend both point at the server under test ($JOB_QUEUE_URL)."""

import os

from celery import Celery

URL = os.environ["JOB_QUEUE_URL"]

app = Celery("redust_e2e", broker=URL, backend=URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    # Fail fast instead of retrying for minutes when the server misbehaves.
    broker_connection_max_retries=3,
    result_expires=600,
    worker_prefetch_multiplier=1,
    task_acks_late=True,
)


@app.task
def add(a, b):
    return a + b


@app.task
def mul(a, b):
    return a * b


@app.task(bind=True, max_retries=2, default_retry_delay=0)
def always_fails(self, counter_key):
    """Counts its runs in the server, then retries until max_retries."""
    client = self.backend.client
    client.incr(counter_key)
    try:
        raise ValueError("celery task failed on purpose")
    except ValueError as exc:
        raise self.retry(exc=exc, countdown=0.1)


@app.task(bind=True, max_retries=2)
def fails_once(self, counter_key):
    attempt = self.backend.client.incr(counter_key)
    if attempt < 2:
        raise self.retry(exc=RuntimeError("transient"), countdown=0.1)
    return "ok on attempt %d" % attempt
