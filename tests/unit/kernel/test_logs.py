"""Log lines are JSON and carry the trace id of the current span."""

import json
import logging

from kernel import logs, tracing


def _line(message: str) -> dict:
    record = logging.LogRecord("test", logging.INFO, __file__, 1, message, (), None)
    record.api_key = "ob_secret"
    return json.loads(logs.JsonFormatter("unit").format(record))


def test_a_line_inside_a_span_carries_its_trace_id():
    tracing.setup("unit")
    with tracing.tracer().start_as_current_span("work"):
        inside = _line("inside")
        trace_id = tracing.current_trace_id()
    outside = _line("outside")
    assert trace_id and inside["trace_id"] == trace_id
    assert "trace_id" not in outside
    assert inside["service"] == "unit" and inside["msg"] == "inside" and inside["api_key"] == "[redacted]"
