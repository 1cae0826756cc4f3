"""Interpreter settings for long-running processes: the worker, `serve`, the e-mail builder.

CPython's cyclic garbage collector runs its youngest generation every 700 net allocations, and
a full collection walks every tracked object alive: after importing SQLAlchemy, Ibis, pyarrow
and Jinja that is a few hundred thousand objects that will live as long as the process. A
worker allocates and drops millions of short-lived rows, dicts and strings a minute (contexts,
result rows, e-mails), nearly all freed by reference counting, so most of those collections
find nothing. Freezing what is alive once the process is set up, and collecting the young
generation every 50,000 allocations, took 2 to 4% of the CPU off each e-mail, measured against
the SMTP sink's (docs/benchmarks.md, session 11). Cycles are still collected, only later;
what uncollected cycles hold meanwhile stays small next to the process's working set.
"""

from __future__ import annotations

import gc

# (youngest, middle, oldest): allocations before a young collection, young collections before
# a middle one, middle collections before a full one (CPython's defaults: 700, 10, 10).
GC_THRESHOLDS = (50_000, 20, 100)


def tune_garbage_collection() -> None:
    """Freeze the objects alive now and collect young objects less often (see the module).

    Call it once a process is set up (its modules imported), in a process of Lifetide's own:
    it changes the whole interpreter.
    """
    gc.collect()  # what is garbage now is freed, not frozen
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
