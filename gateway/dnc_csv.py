"""Phone numbers out of a CSV file read as it arrives, never whole.

The file is one number per line, or a header row naming a `phone` column (any case; other
columns ignored); the first record that is not blank tells which. How the file is read (delimiter,
line ends, encoding, blank lines, line numbers, quotes, records cut by the network) is the
streamed imports' rule: gateway.csv_records."""

from __future__ import annotations

from gateway.csv_records import MAX_RECORD_CHARS, CsvRecords

HEADER = "phone"


class CsvNumbers:
    """Feed the body's bytes in order, then close(); each call answers (cells, line numbers):
    the phone cell of every data record completed, and the line it starts on."""

    def __init__(self, max_record_chars: int = MAX_RECORD_CHARS):
        self._reader = CsvRecords(self._add, max_record_chars)
        self._column: int | None = None  # the phone column, decided on the first record
        self._cells: list[str] = []
        self._numbers: list[int] = []

    def feed(self, data: bytes) -> tuple[list[str], list[int]]:
        self._reader.feed(data)
        return self._take()

    def close(self) -> tuple[list[str], list[int]]:
        """The last record, even without a line end (an unclosed quote runs to the end of the file)."""
        self._reader.close()
        return self._take()

    def _take(self) -> tuple[list[str], list[int]]:
        taken = self._cells, self._numbers
        self._cells, self._numbers = [], []
        return taken

    def _add(self, record: list[str], line: int) -> None:
        if self._column is None:  # the first record
            self._column = self._header_column(record)
            if self._column is not None:
                return  # the header
            self._column = 0
        column = self._column
        self._cells.append(record[column] if column < len(record) else "")
        self._numbers.append(line)

    @staticmethod
    def _header_column(record: list[str]) -> int | None:
        """The `phone` column when the first record is a header naming one, else None."""
        names = [cell.strip().lower() for cell in record]
        return names.index(HEADER) if HEADER in names else None
