"""Contacts out of a CSV file read as it arrives, never whole: the header, then every data row.

How the file is read (delimiter, line ends, encoding, blank lines, line numbers, quotes, records
cut by the network) is the streamed imports' rule: gateway.csv_records. The first record that is
not blank is the header.

Bytes are fed as they arrive; each feed hands back the rows completed so far, flat (the cells of
every row in order, each row's cell count and line), the form the import stream sends."""

from __future__ import annotations

from gateway.csv_records import MAX_RECORD_CHARS, CsvRecords


class Rows:
    """Rows completed by one feed: row i is cells[sum(counts[:i]):][:counts[i]], on line lines[i]."""

    __slots__ = ("cells", "counts", "lines")

    def __init__(self) -> None:
        self.cells: list[str] = []
        self.counts: list[int] = []
        self.lines: list[int] = []

    def add(self, record: list[str], line: int) -> None:
        self.cells += record
        self.counts.append(len(record))
        self.lines.append(line)


class CsvContacts:
    """Feed the body's bytes in order, then close(). `header` is the first record once read."""

    def __init__(self, max_record_chars: int = MAX_RECORD_CHARS):
        self._reader = CsvRecords(self._add, max_record_chars)
        self._rows = Rows()
        self.header: list[str] | None = None

    def feed(self, data: bytes) -> Rows:
        self._reader.feed(data)
        return self._take()

    def close(self) -> Rows:
        """The last record, even without a line end."""
        self._reader.close()
        return self._take()

    def _take(self) -> Rows:
        taken, self._rows = self._rows, Rows()
        return taken

    def _add(self, record: list[str], line: int) -> None:
        if self.header is None:
            self.header = record
        else:
            self._rows.add(record, line)
