"""Spreadsheet export shared by every admin list (logs now; forms and deliveries later).

CSV is UTF-8 with a BOM by default so Excel opens Japanese text correctly;
CP932 (Shift_JIS as Windows writes it) is offered for older tools and reports
the characters it cannot hold instead of silently replacing them. Text cells
that a spreadsheet would run as a formula (starting with = + - @, tab or CR)
are prefixed with an apostrophe. XLSX cells are always written as values.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

ENCODINGS = {"utf-8": "utf-8-sig", "cp932": "cp932"}
FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class Unencodable:
    row: int  # 1-based, counting the heading row
    column: str
    character: str


class UnencodableCharacters(ValueError):
    def __init__(self, problems: list[Unencodable]) -> None:
        self.problems = problems
        shown = "、".join(
            f"{p.row}行目「{p.column}」の「{p.character}」(U+{ord(p.character):04X})" for p in problems[:10]
        )
        more = f" ほか{len(problems) - 10}件" if len(problems) > 10 else ""
        super().__init__(
            f"CP932（Shift_JIS）で表せない文字があります: {shown}{more}。UTF-8 で出力してください。"
        )


def neutralise(value: str) -> str:
    """Make a text cell inert in spreadsheet programs (CSV injection)."""
    if value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, (int, float)):
        return str(value)
    return neutralise(str(value))


class _Echo:
    """A file-like object whose write returns what was written (for streaming)."""

    def write(self, value: str) -> str:
        return value


def iter_csv(headings: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """UTF-8 CSV (with BOM) produced row by row, for streaming large exports."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield b"\xef\xbb\xbf" + writer.writerow([_cell_text(h) for h in headings]).encode("utf-8")
    for row in rows:
        yield writer.writerow([_cell_text(v) for v in row]).encode("utf-8")


def csv_bytes(headings: Sequence[str], rows: Iterable[Sequence[Any]], *, encoding: str = "utf-8") -> bytes:
    """The CSV file as bytes; raises UnencodableCharacters for CP932 misses."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}")
    if encoding == "utf-8":
        return b"".join(iter_csv(headings, rows))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_cell_text(h) for h in headings])
    problems: list[Unencodable] = []
    for row_number, row in enumerate(rows, start=2):
        texts = [_cell_text(v) for v in row]
        for column, text in zip(headings, texts, strict=False):
            for character in text:
                try:
                    character.encode("cp932")
                except UnicodeEncodeError:
                    problems.append(Unencodable(row_number, column, character))
        writer.writerow(texts)
    if problems:
        raise UnencodableCharacters(problems)
    return buffer.getvalue().encode("cp932")


def xlsx_bytes(headings: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str = "export") -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(list(headings))
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, datetime) and timezone.is_aware(value):
                value = timezone.localtime(value).replace(tzinfo=None)
            elif value is not None and not isinstance(value, (int, float, date, datetime, bool)):
                value = str(value)
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def spreadsheet_response(
    *,
    filename_stem: str,
    headings: Sequence[str],
    rows: Iterable[Sequence[Any]],
    fmt: str,
    encoding: str = "utf-8",
) -> HttpResponse | StreamingHttpResponse:
    """An attachment response in the requested format (raises UnencodableCharacters)."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    if fmt == "xlsx":
        body = xlsx_bytes(headings, rows, title=filename_stem)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        filename = f"{filename_stem}-{stamp}.xlsx"
    elif fmt == "csv" and encoding == "utf-8":
        # Streamed: a five-year log must not be built in memory first.
        streaming = StreamingHttpResponse(iter_csv(headings, rows), content_type="text/csv; charset=utf-8")
        streaming["Content-Disposition"] = content_disposition(f"{filename_stem}-{stamp}.csv")
        return streaming
    elif fmt == "csv":
        # CP932 is checked whole first, so a bad character gives a clear error, not half a file.
        body = csv_bytes(headings, rows, encoding=encoding)
        content_type = "text/csv; charset=shift_jis"
        filename = f"{filename_stem}-{stamp}-sjis.csv"
    else:
        raise ValueError(f"unknown format {fmt!r}")
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = content_disposition(filename)
    return response


def content_disposition(filename: str) -> str:
    """An attachment header that carries a Japanese file name (RFC 6266 / 5987)."""
    ascii_name = filename.encode("ascii", "ignore").decode() or "export"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
