"""CSV tables for the command line, with the csv module only (pandas is not needed).

Every problem with a file's content is a ValueError whose message names the file, the column and
the line, so that the command line can print it as one line.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from typing import IO, Sequence

import numpy as np


@dataclass
class Table:
    """A CSV file: its header and its rows, as text.

    Attributes
    ----------
    path : str
        Where it was read from (for messages).
    header : list of str
    rows : list of list of str
        One list per data line, each as long as the header.
    lines : list of int
        The line of the file each row came from (for messages).
    """

    path: str
    header: list[str]
    rows: list[list[str]]
    lines: list[int]

    def index(self, name: str) -> int:
        """The position of column ``name``; a ValueError listing the columns if there is none."""
        try:
            return self.header.index(name)
        except ValueError:
            shown = ", ".join(map(repr, self.header[:20])) + (", ..." if len(self.header) > 20 else "")
            raise ValueError(f"{self.path} has no column {name!r}; its columns are {shown}") from None

    def column(self, name: str) -> list[str]:
        """The text of column ``name``, one entry per row."""
        j = self.index(name)
        return [row[j] for row in self.rows]

    def numbers(self, names: Sequence[str]) -> np.ndarray:
        """Columns ``names`` as a float64 array of shape (n_rows, len(names)).

        Raises
        ------
        ValueError
            Naming the column and line of the first cell that is empty or not a finite number.
        """
        out = np.empty((len(self.rows), len(names)))
        for k, name in enumerate(names):
            j = self.index(name)
            for i, row in enumerate(self.rows):
                out[i, k] = self._number(row[j], name, self.lines[i])
        return out

    def _number(self, text: str, name: str, line: int) -> float:
        where = f"{self.path}, column {name!r}, line {line}"
        if not text.strip():
            raise ValueError(f"{where}: empty value (fill in or drop missing values first)")
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{where}: {text!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{where}: {text!r} is not a finite number")
        return value


def read_table(path: str) -> Table:
    """Read a CSV file with a header line.

    Raises
    ------
    OSError
        When the file cannot be opened.
    ValueError
        When it has no header, a column name twice, no data lines, or a line with a different
        number of fields.
    """
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise ValueError(f"{path} is empty: a header line with column names is needed")
        header = [h.strip() for h in header]
        seen: dict[str, int] = {}
        for j, name in enumerate(header):
            if name in seen:
                raise ValueError(f"{path}: column {name!r} appears twice in the header (columns "
                                 f"{seen[name] + 1} and {j + 1}); give every column its own name")
            seen[name] = j
        rows, lines = [], []
        for row in reader:
            if not row:          # a blank line
                continue
            if len(row) != len(header):
                raise ValueError(f"{path}, line {reader.line_num}: {len(row)} fields, but the "
                                 f"header has {len(header)}")
            rows.append(row)
            lines.append(reader.line_num)
    if not rows:
        raise ValueError(f"{path} has a header but no data lines")
    return Table(path=path, header=header, rows=rows, lines=lines)


def write_table(out: IO[str], header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Write a header and rows as CSV to an open text file."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
