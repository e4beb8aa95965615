"""Background work: procrastinate tasks, a front-end of the domain driven by a queue.

Like gql/ and bot/, a task builds commands and hands them to the runner; it never opens a
transaction. Our own `jobs` row is the job as people see it (written in the command's
transaction, domain/jobs.py); procrastinate's job only carries its id, is deferred after
that commit, and is deferred again by a periodic sweep when a crash lost it (procrastinate's
psycopg connection cannot join the command's asyncpg transaction).

    queue.py     the procrastinate App, deferring, the worker and its schedule
    work.py      one job's attempt: start, do the kind's work, finish (or requeue and retry)
    imports.py   manifest import in idempotent batches; exports.py  session reports
    periodic.py  housekeeping (key purge, proof sweep, retention, backups, lost workers)
"""
