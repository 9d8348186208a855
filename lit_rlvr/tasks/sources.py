"""Reading data files record by record, naming the file, line or record, and what was expected.

JSON Lines, JSON and CSV are parsed here with Python's `json` and `csv`: that first pass already
holds every record, knows its line number, sees a key given twice (which a parser silently
resolves) and keeps values as written (pandas, behind `datasets`' CSV builder, reads an empty cell
as NaN and `007` as 7). Parquet files are checked for their magic bytes and footer, then loaded
with `datasets`, as are hub ids.

`read_records` yields, in file order, a `Record` for each good record and a `Problem` for each bad
one that the next records can be read past (a line that is not JSON, a ragged CSV row). A file
that cannot be read at all, or has no records, raises `DataFileError`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import datasets

FORMATS = {".jsonl": "JSON Lines", ".json": "JSON", ".parquet": "Parquet", ".csv": "CSV"}
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+(?::(?P<config>[\w.-]+))?(?:@(?P<split>[\w.\[\]:%-]+))?$")
_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}


class DataFileError(ValueError):
    """A data file that cannot be read, reported with where and what was expected."""


class Record(NamedTuple):
    """A record's fields and where it is (`line 3`, `record 2 (line 5)`, `row 4 (line 5)`)."""

    where: str
    fields: dict[str, Any]


class Problem(NamedTuple):
    """A bad record that the reader could step over: where it is and what is wrong."""

    where: str
    what: str


def read_records(source: str) -> Iterator[Record | Problem]:
    """Reads a local .jsonl, .json, .csv or .parquet file, or a hub id `owner/name[:config][@split]`."""
    extension = os.path.splitext(source)[1].lower()
    if os.path.exists(source):
        if extension not in FORMATS:
            raise DataFileError(
                f"{source}: unsupported file type {extension!r}; expected one of {sorted(FORMATS)}"
            )
        if os.path.isdir(source):
            raise DataFileError(f"{source}: is a folder; expected a {FORMATS[extension]} file")
        reader = {".jsonl": _json_lines, ".json": _json, ".csv": _csv, ".parquet": _parquet}[extension]
        return reader(source)
    match = _HUB_ID.match(source)
    if extension in FORMATS or match is None:
        raise FileNotFoundError(
            f"{source}: no such file (and not a hub id of the form owner/name[:config][@split])"
        )
    return _hub(source, match)


def _json_lines(source: str) -> Iterator[Record | Problem]:
    data = _read_bytes(source)
    lines = data.split(b"\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    if last < 0:
        raise DataFileError(f"{source}: {_empty(data)}; expected one JSON object per line")
    for number, raw in enumerate(lines[: last + 1], start=1):
        if not raw.strip():
            continue
        where = f"line {number}"
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            yield Problem(where, f"{_bad_utf8(raw[error.start], error.start + 1)}; expected UTF-8 text")
            continue
        try:
            value, duplicates = _parse(text)
        except json.JSONDecodeError as error:
            cut = number == last + 1 and not data.rstrip(b" \t\r").endswith(b"\n")
            truncated = " (the file ends inside this line: truncated?)" if cut else ""
            what = f"not valid JSON ({error.msg}: column {error.colno}){truncated}"
            yield Problem(where, f"{what}; expected one JSON object per line")
            continue
        yield _record(where, value, duplicates)


def _json(source: str) -> Iterator[Record | Problem]:
    text = _decode(source, _read_bytes(source))
    start = _skip_space(text, 0)
    if start == len(text):
        raise DataFileError(f"{source}: {_empty(text)}; expected a JSON list of objects")
    if text[start] == "{":
        try:
            value, _ = _parse(text)
        except json.JSONDecodeError:
            value = None  # not one document: read as JSON Lines, which `datasets` also accepts in .json
        if isinstance(value, dict) and "\n" in text.strip():
            keys = ", ".join(repr(key) for key in list(value)[:5])
            raise DataFileError(
                f"{source}: one JSON object spanning several lines (keys {keys}); expected a list "
                "of objects [{...}, ...] or one object per line"
            )
        yield from _json_lines(source)
        return
    if text[start] != "[":
        try:
            kind = _kind(json.loads(text))
        except json.JSONDecodeError:
            kind = f"text starting {text[start : start + 20]!r}"
        raise DataFileError(f"{source}: expected a JSON list of objects [{{...}}, ...], got {kind}")
    yield from _json_list(source, text, start)


def _json_list(source: str, text: str, start: int) -> Iterator[Record | Problem]:
    """The elements of the list at `text[start]`, each parsed on its own to know its number and line."""
    position, number = _skip_space(text, start + 1), 0
    if text.startswith("]", position):
        raise DataFileError(f"{source}: the JSON list is empty; expected at least one record")
    while True:
        number += 1
        line = text.count("\n", 0, position) + 1
        where = f"record {number} (line {line})"
        if position == len(text):
            raise DataFileError(f"{source}: {where}: the file ends inside the list (truncated?); expected ]")
        try:
            value, duplicates, position = _parse_at(text, position)
        except json.JSONDecodeError as error:
            ends = "" if text.rstrip().endswith("]") else " (the file ends inside the list: truncated?)"
            raise DataFileError(
                f"{source}: {where}: not valid JSON ({error.msg}: line {error.lineno} column "
                f"{error.colno}){ends}; expected a JSON list of objects"
            ) from None
        yield _record(where, value, duplicates)
        position = _skip_space(text, position)
        if text.startswith(",", position):
            position = _skip_space(text, position + 1)
        elif text.startswith("]", position):
            if _skip_space(text, position + 1) != len(text):
                raise DataFileError(f"{source}: text after the closing ']' of the list; expected nothing")
            return
        elif position == len(text):
            raise DataFileError(f"{source}: the file ends after {where} (truncated?); expected ',' or ']'")
        else:
            raise DataFileError(f"{source}: after {where}: expected ',' or ']', got {text[position]!r}")


def _csv(source: str) -> Iterator[Record | Problem]:
    data = _read_bytes(source)
    text = _decode(source, data)
    if not text.strip():
        raise DataFileError(f"{source}: {_empty(text)}; expected a header line and data rows")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    number, started = 0, 1
    try:
        for row in reader:
            line, started = started, reader.line_num + 1
            if not row:  # a blank line, skipped as `datasets` (pandas) does
                continue
            if header is None:
                header = row
                _check_header(source, header, line)
                continue
            number += 1
            where = f"row {number} (line {line})"
            if len(row) != len(header):
                what = f"has {len(row)} fields, the header has {len(header)}; expected one value per column"
                yield Problem(where, what)
            else:
                yield Record(where, dict(zip(header, row, strict=True)))
    except csv.Error as error:
        where = f"row {number + 1} (line {started})"
        if "unexpected end of data" in str(error):
            column = _unclosed_quote_column(text, started)
            named = f" ({header[column - 1]!r})" if header and column <= len(header) else ""
            raise DataFileError(
                f"{source}: {where}, column {column}{named}: a quoted field opens there and is never "
                "closed; expected a closing '\"'"
            ) from None
        raise DataFileError(
            f"{source}: {where}: malformed CSV ({error}); expected quotes around whole fields only"
        ) from None
    if number == 0:
        raise DataFileError(f"{source}: has a header but no data rows; expected at least one row")


def _unclosed_quote_column(text: str, line: int) -> int:
    """The 1-based column whose quoted field opens on or after `line` (1-based) and never closes."""
    position = sum(len(part) for part in text.splitlines(keepends=True)[: line - 1])
    column, opened, quoted, at_start = 1, 1, False, True
    while position < len(text):
        char = text[position]
        if quoted:
            if char == '"' and text.startswith('""', position):
                position += 1  # an escaped quote inside the field
            elif char == '"':
                quoted = False
        elif char == '"' and at_start:
            quoted, opened = True, column
        elif char == ",":
            column += 1
        elif char == "\n":
            column = 1
        at_start = not quoted and char in ",\n"
        position += 1
    return opened


def _check_header(source: str, header: list[str], line: int) -> None:
    seen: dict[str, int] = {}
    for column, name in enumerate(header, start=1):
        if name in seen:
            raise DataFileError(
                f"{source}: header (line {line}): column {name!r} appears twice (columns {seen[name]} "
                f"and {column}); expected unique column names"
            )
        seen[name] = column


def _parquet(source: str) -> Iterator[Record | Problem]:
    import pyarrow.parquet as pq

    size = os.path.getsize(source)
    with open(source, "rb") as file:
        head = file.read(4)
        file.seek(max(size - 4, 0))
        tail = file.read(4)
    if size == 0:
        raise DataFileError(f"{source}: the file is empty; expected a Parquet file")
    if head != b"PAR1":
        raise DataFileError(f"{source}: not a Parquet file (it does not start with the magic bytes PAR1)")
    if tail != b"PAR1" or size < 12:
        raise DataFileError(f"{source}: truncated Parquet file (it does not end with its footer and PAR1)")
    try:
        rows = pq.read_metadata(source).num_rows
    except Exception as error:  # noqa: BLE001 - pyarrow reports a corrupt footer with several types
        raise DataFileError(f"{source}: corrupt Parquet footer ({error})") from error
    if rows == 0:
        raise DataFileError(f"{source}: the Parquet file has no rows; expected at least one")
    try:
        records = datasets.load_dataset("parquet", data_files=source, split="train")
    except Exception as error:  # noqa: BLE001 - as above, for the data pages
        raise DataFileError(f"{source}: corrupt Parquet data ({error})") from error
    for number, fields in enumerate(records, start=1):
        yield Record(f"row {number}", fields)


def _hub(source: str, match: re.Match[str]) -> Iterator[Record | Problem]:
    name = source.split(":")[0].split("@")[0]
    try:
        records = datasets.load_dataset(name, match.group("config"), split=match.group("split") or "train")
    except Exception as error:  # noqa: BLE001 - datasets raises many types for network trouble
        offline = datasets.config.HF_HUB_OFFLINE or "offline" in str(error).lower()
        hint = "the machine is offline; " if offline else ""
        raise DataFileError(
            f"{source}: cannot load this hub dataset ({hint}{type(error).__name__}: {error}). "
            "Download it where there is network access and pass the local file instead."
        ) from error
    if len(records) == 0:
        raise DataFileError(f"{source}: the hub dataset has no rows")
    for number, fields in enumerate(records, start=1):
        yield Record(f"row {number}", fields)


def _read_bytes(source: str) -> bytes:
    with open(source, "rb") as file:
        return file.read()


def _decode(source: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - data.rfind(b"\n", 0, error.start)
        what = _bad_utf8(data[error.start], column)
        raise DataFileError(f"{source}: line {line}: {what}; expected UTF-8 text") from None


def _bad_utf8(byte: int, column: int) -> str:
    return f"not valid UTF-8 (byte 0x{byte:02x} at byte {column} of the line)"


def _empty(data: bytes | str) -> str:
    return "the file is empty" if not data else "the file holds only whitespace"


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _parse(text: str) -> tuple[Any, list[str]]:
    value, duplicates, end = _parse_at(text, _skip_space(text, 0))
    if _skip_space(text, end) != len(text):
        raise json.JSONDecodeError("Extra data", text, _skip_space(text, end))
    return value, duplicates


def _parse_at(text: str, position: int) -> tuple[Any, list[str], int]:
    """Parses one JSON value at `position`; returns it, the keys given twice in an object, its end."""
    duplicates: list[str] = []

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen and key not in duplicates:
                duplicates.append(key)
            seen[key] = value
        return seen

    value, end = json.JSONDecoder(object_pairs_hook=unique).raw_decode(text, position)
    return value, duplicates, end


def _record(where: str, value: Any, duplicates: list[str]) -> Record | Problem:
    if not isinstance(value, dict):
        return Problem(where, f"expected a JSON object {{...}}, got {_kind(value)}")
    if duplicates:
        return Problem(where, f"key {duplicates[0]!r} is given twice in one object; expected each key once")
    return Record(where, value)


def _kind(value: Any) -> str:
    kind = _JSON_TYPES.get(type(value), "a number")
    return f"{kind} ({json.dumps(value)[:40]})" if kind != "an object" else kind
