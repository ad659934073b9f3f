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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.http import HttpResponse
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


def csv_bytes(headings: Sequence[str], rows: Iterable[Sequence[Any]], *, encoding: str = "utf-8") -> bytes:
    """The CSV file as bytes; raises UnencodableCharacters for CP932 misses."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}")
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_cell_text(h) for h in headings])
    problems: list[Unencodable] = []
    for row_number, row in enumerate(rows, start=2):
        texts = [_cell_text(v) for v in row]
        if encoding == "cp932":
            for column, text in zip(headings, texts, strict=False):
                for character in text:
                    try:
                        character.encode("cp932")
                    except UnicodeEncodeError:
                        problems.append(Unencodable(row_number, column, character))
        writer.writerow(texts)
    if problems:
        raise UnencodableCharacters(problems)
    return buffer.getvalue().encode(ENCODINGS[encoding])


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
) -> HttpResponse:
    """An attachment response in the requested format (raises UnencodableCharacters)."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    if fmt == "xlsx":
        body = xlsx_bytes(headings, rows, title=filename_stem)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        filename = f"{filename_stem}-{stamp}.xlsx"
    elif fmt == "csv":
        body = csv_bytes(headings, rows, encoding=encoding)
        charset = "shift_jis" if encoding == "cp932" else "utf-8"
        content_type = f"text/csv; charset={charset}"
        filename = f"{filename_stem}-{stamp}{'-sjis' if encoding == 'cp932' else ''}.csv"
    else:
        raise ValueError(f"unknown format {fmt!r}")
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
