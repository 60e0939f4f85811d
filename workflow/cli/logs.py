"""Application logs: plain lines, or one JSON object per line for a log collector.

Chosen with `--log-format json` or ACCOMPAGNEMENT_LOG_FORMAT=json, for every process the command
starts (ingestion, worker, scheduler). Log messages name cases, events and emails by id, never a
person: rejection reasons (which may quote a France Travail identifier) stay in the database, and
the engines hide SQL parameters from error messages (`models.db.make_engine`).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

FORMAT_ENV = "ACCOMPAGNEMENT_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
EXTRA_FIELDS = ("case", "event_id", "task_id")  # ids a caller may attach with `extra=`


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        data.update({key: getattr(record, key) for key in EXTRA_FIELDS if hasattr(record, key)})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def configure(verbose: bool, fmt: str | None) -> None:
    chosen = fmt or os.environ.get(FORMAT_ENV, "text")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if chosen == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
