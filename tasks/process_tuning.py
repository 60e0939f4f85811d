"""Process-wide settings for the long ingestion runs (a worker child, `events ingest`, `demo`).

Applying a batch allocates tens of thousands of short-lived objects (ORM rows, events, dicts).
With the default threshold (700 allocations) the cyclic garbage collector runs hundreds of times
per batch and rescans every long-lived object each time. Freezing what exists at start-up
(imports, the app) and collecting less often measured +16 to 26 % events/s on the direct batch
path and took Celery batches from 22 % to 28 % of the raw-SQL floor (docs/benchmarks.md), with
the workers' memory still flat.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (50_000, 20, 20)


def tune_garbage_collector() -> None:
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
