"""Labelled tweet data sets: reading CSV files, merging in feedback, checking they can train."""

import csv
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass

REQUIRED_COLUMNS = ("keyword", "location", "text", "target")


class DatasetError(ValueError):
    """A data set that cannot be used; str(e) is a one-line reason fit for a command-line error."""


@dataclass(frozen=True)
class Dataset:
    """Parallel columns of labelled tweets; a missing keyword or location is ``""``."""

    text: tuple[str, ...]
    keyword: tuple[str, ...]
    location: tuple[str, ...]
    target: tuple[int, ...]

    def __post_init__(self) -> None:
        lengths = {len(self.text), len(self.keyword), len(self.location), len(self.target)}
        if len(lengths) != 1:
            raise DatasetError(f"columns have different lengths: {sorted(lengths)}")
        if not set(self.target) <= {0, 1}:
            raise DatasetError(f"targets must be 0 or 1, found {sorted(set(self.target) - {0, 1})}")

    def __len__(self) -> int:
        return len(self.text)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str, int]]) -> "Dataset":
        """Build a data set from ``(text, keyword, location, target)`` rows."""
        rows = list(rows)
        return cls(
            text=tuple(row[0] for row in rows),
            keyword=tuple(row[1] or "" for row in rows),
            location=tuple(row[2] or "" for row in rows),
            target=tuple(int(row[3]) for row in rows),
        )

    def rows(self) -> list[tuple[str, str, str, int]]:
        """The data set as ``(text, keyword, location, target)`` rows."""
        return list(zip(self.text, self.keyword, self.location, self.target, strict=True))

    def subset(self, rows: Iterable[int]) -> "Dataset":
        """The rows at the given indices, in that order."""
        every = self.rows()  # once: per index, it made a subset quadratic in the data's size
        return Dataset.from_rows(every[i] for i in rows)

    def digest(self) -> str:
        """A SHA-256 of the rows' content, whatever their order: equal sets, equal digests."""
        digest = hashlib.sha256()
        for row in sorted(self.rows()):
            digest.update("\x1f".join(map(str, row)).encode("utf-8", "surrogatepass") + b"\x1e")
        return digest.hexdigest()

    def merged_with(self, feedback: "Dataset") -> "Dataset":
        """Base rows plus feedback rows; feedback wins over base rows with the same stripped text.

        Base rows keep their order (duplicates among them are kept); the feedback rows follow,
        one per text, in order of first appearance, with the values of the last occurrence.
        """
        latest: dict[str, tuple[str, str, str, int]] = {}
        for row in feedback.rows():
            latest[row[0].strip()] = row
        kept = [row for row in self.rows() if row[0].strip() not in latest]
        return Dataset.from_rows(kept + list(latest.values()))

    def require_trainable(self) -> None:
        """Raise DatasetError unless both classes are present, each at least twice."""
        if not self.target:
            raise DatasetError("data set is empty")
        counts = {label: self.target.count(label) for label in (0, 1)}
        present = [label for label, count in counts.items() if count]
        if len(present) == 1:
            raise DatasetError(f"needs both classes: found only target={present[0]}")
        for label, count in counts.items():
            if count < 2:
                raise DatasetError(
                    f"needs at least 2 rows of each class: found {count} with target={label}"
                )


@dataclass(frozen=True)
class CsvRecords:
    """A CSV file's data set with where each row came from: ``lines[i]`` is the physical line
    row ``i`` starts on (the header is line 1; a quoted field may span several lines, so this is
    not ``i + 2``), ``ids[i]`` its ``id`` column (``""`` when the file has none)."""

    data: Dataset
    lines: tuple[int, ...]
    ids: tuple[str, ...]


def read_csv(path: str | os.PathLike) -> Dataset:
    """Read columns keyword, location, text and target from a UTF-8 CSV file; others are ignored."""
    return read_csv_records(path).data


def read_csv_records(path: str | os.PathLike) -> CsvRecords:
    """`read_csv`, keeping each row's starting line and ``id`` column."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, strict=True)
            try:
                return _read_rows(reader, path)
            except csv.Error as error:
                raise DatasetError(
                    f"{os.fspath(path)} is not valid CSV: {error} (line {reader.line_num})"
                ) from None
    except FileNotFoundError:
        raise DatasetError(f"no such file: {os.fspath(path)}") from None
    except IsADirectoryError:
        raise DatasetError(f"not a file: {os.fspath(path)}") from None
    except UnicodeDecodeError:
        raise DatasetError(f"{os.fspath(path)} is not UTF-8 text") from None
    except OSError as error:
        raise DatasetError(f"cannot read {os.fspath(path)}: {error.strerror or error}") from None


def _read_rows(reader: csv.DictReader, path: str | os.PathLike) -> CsvRecords:
    if reader.fieldnames is None:
        raise DatasetError(f"{os.fspath(path)} is empty")
    header = [name.strip() for name in reader.fieldnames]
    if any("\0" in name for name in header):
        raise DatasetError(f"{os.fspath(path)} is not UTF-8 text (it contains NUL bytes)")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise DatasetError(f"{os.fspath(path)} is missing column(s): {', '.join(missing)}")
    reader.fieldnames = header

    rows, lines, ids = [], [], []
    line = reader.line_num
    for record in reader:
        # A quoted field may span several lines; report the line the record starts on.
        start, line = line + 1, reader.line_num
        text = (record["text"] or "").strip()
        if not text:
            raise DatasetError(f"{os.fspath(path)}, line {start}: empty text")
        target = (record["target"] or "").strip()
        if target not in ("0", "1"):
            raise DatasetError(
                f"{os.fspath(path)}, line {start}: target must be 0 or 1, got {target!r}"
            )
        keyword, location = (record["keyword"] or "").strip(), (record["location"] or "").strip()
        rows.append((text, keyword, location, int(target)))
        lines.append(start)
        ids.append((record.get("id") or "").strip())
    if not rows:
        raise DatasetError(f"{os.fspath(path)} has no data rows")
    return CsvRecords(Dataset.from_rows(rows), tuple(lines), tuple(ids))
