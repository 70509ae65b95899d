"""CSV records out of a body read as it arrives, never whole: what the streamed imports (the
do-not-call list, contacts) share.

The delimiter is the first of `,` `;` and tab found on the first line that is not blank (`,`
when none is: a one-column file). Lines end with LF, CRLF or CR; a UTF-8 byte-order mark is
dropped; bytes that are not UTF-8 become U+FFFD (so such a cell is an invalid value, not a failed
upload). Blank records (nothing but blanks and delimiters) are skipped but counted: line numbers
are the file's own, header included, and a record is numbered by the line it starts on. Quoted
fields follow the csv module (RFC 4180: `""` is a quote inside quotes, a quoted field may span
lines).

Bytes are fed as they arrive; every record completed so far is handed to `on_record` with its
line. A record is complete at a line end where the quotes seen since the last complete record
are even, so a quoted field cut by the network waits for its end (at most `max_record_chars`
characters): the same records whatever pieces the body came in.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable

from kernel import errors

MAX_RECORD_CHARS = 64 * 1024
_LINE_END = re.compile(r"\r\n|\n|\r")
_DELIMITERS = (",", ";", "\t")

OnRecord = Callable[[list[str], int], None]


class CsvRecords:
    """Feed the body's bytes in order, then close(); `on_record(cells, line)` gets every record
    that is not blank, in order."""

    def __init__(self, on_record: OnRecord, max_record_chars: int = MAX_RECORD_CHARS):
        self._on_record = on_record
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._pending = ""  # text after the last complete record
        self._lines = 0  # lines of the file consumed so far
        self._delimiter: str | None = None  # decided on the first line that is not blank
        self._max = max_record_chars

    def feed(self, data: bytes) -> None:
        text = self._pending + self._decoder.decode(data)
        cut = self._complete(text)
        self._pending = text[cut:]
        self._records(text[:cut])  # first: the line count then names the record too long
        if len(self._pending) > self._max:
            raise errors.ValidationError(
                f"line {self._lines + 1}: a record longer than {self._max} characters (a quote never closed?)",
                field="body")

    def close(self) -> None:
        """The last record, even without a line end (an unclosed quote runs to the end of the file)."""
        text, self._pending = self._pending + self._decoder.decode(b"", final=True), ""
        self._records(text)

    @staticmethod
    def _complete(text: str) -> int:
        """Where the complete records of `text` end. A CR at the very end is not a line end yet:
        it may be the first half of a CRLF."""
        end = len(text) - 1 if text.endswith("\r") else len(text)
        if '"' not in text:
            return max(text.rfind("\n", 0, end), text.rfind("\r", 0, end)) + 1
        cut, quotes, start = 0, 0, 0
        for match in _LINE_END.finditer(text, 0, end):
            quotes += text.count('"', start, match.end())
            start = match.end()
            if quotes % 2 == 0:
                cut = start
        return cut

    def _records(self, text: str) -> None:
        if not text:
            return
        if self._delimiter is None:
            # Decided on the first line with something on it: records complete so far may be
            # blank lines only (a piece that ends after a lone CR), which decide nothing.
            first = next((line for line in _LINE_END.split(text) if line.strip()), None)
            if first is not None:
                self._delimiter = next((d for d in _DELIMITERS if d in first), ",")
        delimiter = self._delimiter or ","
        if '"' in text:
            self._quoted_records(text, delimiter)
            return
        # No quote: a record is a line and its fields are split on the delimiter, as the csv
        # module would; done here without it, the usual file reads about twice as fast.
        lines = _LINE_END.split(text)
        if lines[-1] == "":
            lines.pop()  # after the last line end
        on_record = self._on_record
        for number, line in enumerate(lines, start=self._lines + 1):
            record = line.split(delimiter)
            if any(cell.strip() for cell in record):
                on_record(record, number)
        self._lines += len(lines)

    def _quoted_records(self, text: str, delimiter: str) -> None:
        """Records split where `_complete` splits them, each parsed alone: also for a quote the
        csv module would read as a plain character (one inside a field)."""
        start, line = 0, self._lines + 1
        ends = [(m.start(), m.end()) for m in _LINE_END.finditer(text)]
        if not ends or ends[-1][1] != len(text):
            ends.append((len(text), len(text)))  # the last record, without a line end (close())
        first_line = line
        for end_start, end_stop in ends:
            chunk = text[start:end_start]
            if chunk.count('"') % 2:
                if end_stop != len(text):
                    line += 1
                    continue  # inside quotes: the record goes on past this line end
                chunk = text[start:]  # a quote never closed runs to the end of the file, as in csv
            if end_start == end_stop == len(text) and not chunk:
                break
            try:
                rows = list(csv.reader(io.StringIO(chunk, newline=""), delimiter=delimiter))
            except csv.Error as exc:
                raise errors.ValidationError(f"line {first_line}: malformed CSV ({exc})", field="body") from None
            record = [cell for row in rows for cell in row]
            if any(cell.strip() for cell in record):
                self._on_record(record, first_line)
            line += 1
            start, first_line = end_stop, line
        self._lines = line - 1
