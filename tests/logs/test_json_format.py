"""The JSON formatter alone: one line per record whatever the message holds, the
context fields from `log_context`, the traceback as a field."""

from __future__ import annotations

import io
import json
import logging

from syncd.log_json import JsonFormatter
from syncd.logs import ContextFilter, log_context, note_graph_request_id


def _logger(stream: io.StringIO) -> logging.Logger:
    log = logging.getLogger("syncd.tests.json")
    log.handlers.clear()
    log.propagate = False
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    return log


def test_each_record_is_one_json_line_with_its_context() -> None:
    stream = io.StringIO()
    log = _logger(stream)
    forged = 'x"}\n{"level": "ERROR'
    with log_context(tenant_name="acme", correlation=forged, salesforce_id="00U000000000001"):
        log.warning("two\nlines")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    log.info("outside")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    first, second, third = (json.loads(line) for line in lines)
    assert first["message"] == "two\nlines" and first["level"] == "WARNING"
    assert first["tenant"] == "acme" and first["correlation_id"] == forged
    assert first["salesforce_id"] == "00U000000000001" and first["graph_request_id"] is None
    assert "ValueError: boom" in second["exception"]
    assert third["tenant"] is None and third["salesforce_id"] is None


def test_a_graph_request_id_stays_within_its_piece_of_work() -> None:
    stream = io.StringIO()
    log = _logger(stream)

    class Answer:
        headers = {"request-id": "11111111-2222-3333-4444-555555555555"}

    with log_context(tenant_name="acme", salesforce_id="00U000000000001"):
        note_graph_request_id(Answer())
        log.warning("after the call")
    with log_context(tenant_name="acme", salesforce_id="00U000000000002"):
        log.warning("the next record")
    after, following = (json.loads(line) for line in stream.getvalue().splitlines())
    assert after["graph_request_id"] == "11111111-2222-3333-4444-555555555555"
    assert following["graph_request_id"] is None
