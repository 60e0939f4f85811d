"""Where a service's processes leave their Prometheus counts.

The door (`web serve --workers N`) and the worker (Celery's prefork children) are several
processes each; prometheus-client adds their counts up from files in one folder per service (its
multiprocess mode, `PROMETHEUS_MULTIPROC_DIR`). The client reads that setting when it is first
imported, so the command that starts a service prepares the folder before anything imports it.
This module therefore imports nothing of the client.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare(service: str) -> Path:
    """The folder of `service`'s counts, emptied: the operator's (`PROMETHEUS_MULTIPROC_DIR`,
    one per service), else a new temporary one. Counts an earlier run left there would add up
    with this run's, so they go (prometheus-client's advice: wipe the folder at each start)."""
    if "prometheus_client" in sys.modules and ENV not in os.environ:
        raise RuntimeError("prometheus_client was imported before its folder was prepared")
    chosen = os.environ.get(ENV)
    folder = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix=f"accompagnement-{service}-mesures-"))
    folder.mkdir(parents=True, exist_ok=True)
    for earlier in folder.glob("*.db"):
        earlier.unlink()
    os.environ[ENV] = str(folder)
    return folder


def shared() -> bool:
    """True when this process writes its counts to a service's folder (several processes)."""
    return bool(os.environ.get(ENV))
