"""Structured JSON logging to stderr, one line per record, with the current trace id.

The trace id comes from the lookup kernel.tracing hands in when it is loaded (every process
that makes spans loads it), so this module imports nothing of tracing.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable

from kernel import settings as settings_module

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime"}
# Keys whose values are never written, whatever logs them.
_SECRET_KEYS = {"api_key", "apikey", "x-api-key", "password", "secret", "token", "authorization"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in _RESERVED or key.startswith("_"):
                continue
            payload[key] = "[redacted]" if key.lower() in _SECRET_KEYS else value
        trace_id = _trace_id()
        if trace_id:
            payload["trace_id"] = trace_id
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def _no_trace() -> str | None:
    return None


_trace_id: Callable[[], str | None] = _no_trace


def trace_ids(lookup: Callable[[], str | None]) -> None:
    """Where log lines find the trace id of the current span (kernel.tracing calls this)."""
    global _trace_id
    _trace_id = lookup


def configure(service: str, level: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or settings_module.get().log_level).upper())
    for noisy in ("nats", "sqlalchemy.engine", "alembic", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get(name: str) -> logging.Logger:
    return logging.getLogger(name)
