"""CSV exports: every page's rows, in order, written as RFC 4180 CSV; one chunk per page."""

from __future__ import annotations

import asyncio
import csv
import io

from gateway.csv_stream import csv_lines
from gateway.routes.exports import CALL_COLUMNS, call_row
from outbound.dialer.v1 import dialer_pb2


def collect(pages: dict[str, tuple[list[list], str]]) -> list[bytes]:
    async def read(cursor: str):
        return pages[cursor]

    async def run() -> list[bytes]:
        return [chunk async for chunk in csv_lines(["a", "b"], read)]

    return asyncio.run(run())


def test_every_page_is_written_in_order_one_chunk_per_page():
    chunks = collect({"": ([[1, "x"], [2, None]], "p2"), "p2": ([[3, ["n1", "n2"]]], "p3"), "p3": ([], "")})
    assert len(chunks) == 3
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert rows == [["a", "b"], ["1", "x"], ["2", ""], ["3", "n1|n2"]]


def test_commas_quotes_and_line_breaks_survive_the_round_trip():
    tricky = 'Doe, "Jo"\nsecond line'
    rows = list(csv.reader(io.StringIO(b"".join(collect({"": ([[tricky, "é"]], "")})).decode("utf-8"))))
    assert rows[1] == [tricky, "é"]


def test_a_call_row_flattens_amd_and_keeps_unknowns_empty():
    record = dialer_pb2.CallRecord(id="c1", contact_id="k1", phone="+212600000001", attempt=2, outcome="answered",
                                   node_ids=["welcome", "bye"], sip_code=200,
                                   amd=dialer_pb2.AmdDecision(result="human", decision_ms=1800))
    row = dict(zip(CALL_COLUMNS, call_row(record), strict=True))
    assert (row["amdResult"], row["amdDecisionMs"], row["sipCode"], row["q850Cause"]) == ("human", 1800, 200, None)
    assert row["nodeIds"] == ["welcome", "bye"] and row["didNumber"] is None
    bare = dict(zip(CALL_COLUMNS, call_row(dialer_pb2.CallRecord(id="c2")), strict=True))
    assert (bare["amdResult"], bare["amdDecisionMs"]) == (None, None)
