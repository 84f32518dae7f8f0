"""A one-sheet XLSX workbook written row by row, straight into its zip: text, numbers, dates, bold, frozen rows.

The exports need only this much of the format, and writing the sheet's XML directly costs a string per cell
where openpyxl built (and, without lxml, serialised in pure Python) an object per cell: most of an export's
time. Text goes in inline (no shared-string table to hold in memory); a date is a day number with a date
format, as spreadsheet programs store it; a Decimal is a number shown with as many decimals as it carries
(``Decimal("1.50")``: format ``#,##0.00``), so a value rounded for export reads the same in the cell. The
result opens in Excel, LibreOffice and openpyxl (a test reads it back with openpyxl).
"""

from __future__ import annotations

import datetime
import math
import re
import zipfile
from collections.abc import Iterable
from decimal import Decimal
from typing import IO

# Cell styles, indexes into cellXfs of STYLES.
PLAIN, BOLD, DATE, DATETIME = 0, 1, 2, 3
EPOCH = datetime.datetime(1899, 12, 30)  # day 0 of spreadsheet dates (past the 1900 leap-year quirk)
WRITE_BYTES = 256 * 1024  # sheet XML buffered before each write into the zip
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# Characters XML cannot carry (dropped), and those that need escaping; one search finds both.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
XML_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
HEADER = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
CONTENT_TYPES = (
    HEADER + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
PACKAGE_RELS = (
    HEADER + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK_RELS = (
    HEADER + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
# A number shown with d decimals (thousands grouped) has the style NUMBER + d, for d up to MAX_DECIMALS.
NUMBER, MAX_DECIMALS = 4, 9
NUMBER_FORMATS = ["#,##0" + ("." + "0" * places if places else "") for places in range(MAX_DECIMALS + 1)]
STYLES = (
    HEADER + f'<styleSheet xmlns="{MAIN}">'
    f'<numFmts count="{2 + len(NUMBER_FORMATS)}"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/>'
    + "".join(f'<numFmt numFmtId="{166 + i}" formatCode="{code}"/>' for i, code in enumerate(NUMBER_FORMATS))
    + "</numFmts>"
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    f'<cellXfs count="{NUMBER + len(NUMBER_FORMATS)}"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    + "".join(
        f'<xf numFmtId="{166 + i}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        for i in range(len(NUMBER_FORMATS))
    )
    + "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def column_letter(index: int) -> str:
    """1 -> A, 27 -> AA."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _text(value: str) -> str:
    if not XML_SPECIAL.search(value):
        return value
    value = XML_ILLEGAL.sub("", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _cell(ref: str, value, style: int) -> str:
    """One ``<c>`` element; an empty string for an empty cell (a sheet lists only the cells that hold something)."""
    s = f' s="{style}"' if style else ""
    if value is None:
        return ""
    if isinstance(value, str):
        space = ' xml:space="preserve"' if value != value.strip() else ""
        return f'<c r="{ref}" t="inlineStr"{s}><is><t{space}>{_text(value)}</t></is></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"{s}><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return f'<c r="{ref}"{s}><v>{value}</v></c>'
    if isinstance(value, float):
        return f'<c r="{ref}"{s}><v>{value!r}</v></c>' if math.isfinite(value) else ""
    if isinstance(value, Decimal):
        return _decimal_cell(ref, value, style)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            raise TypeError("spreadsheets hold no time zone: convert aware datetimes to local time first")
        days = (value - EPOCH) / datetime.timedelta(days=1)
        return f'<c r="{ref}" s="{style or DATETIME}"><v>{days!r}</v></c>'
    if isinstance(value, datetime.date):
        return f'<c r="{ref}" s="{style or DATE}"><v>{(value - EPOCH.date()).days}</v></c>'
    return _cell(ref, str(value), style)


def _decimal_cell(ref: str, value: Decimal, style: int) -> str:
    """A Decimal as a number cell formatted with its own decimals (beyond MAX_DECIMALS: the most there is)."""
    if not value.is_finite():
        return ""
    places = min(MAX_DECIMALS, max(0, -value.as_tuple().exponent))
    return f'<c r="{ref}" s="{style or NUMBER + places}"><v>{value:f}</v></c>'


def _sheet_name(title: str) -> str:
    name = SHEET_NAME_FORBIDDEN.sub(" ", XML_ILLEGAL.sub("", title)).strip()[:31] or "Sheet1"
    return _text(name).replace('"', "&quot;")


def write(out: IO[bytes], *, title: str, rows: Iterable[list], widths: list[float] = (), frozen_rows: int = 0):
    """Write the workbook to ``out``. A row is a list of values or ``(value, style)`` pairs (style BOLD, say);
    ``widths`` are the first columns' widths in characters; ``frozen_rows`` stay in view while scrolling."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as book:
        book.writestr("[Content_Types].xml", CONTENT_TYPES)
        book.writestr("_rels/.rels", PACKAGE_RELS)
        book.writestr(
            "xl/workbook.xml",
            HEADER + f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
            f'<sheet name="{_sheet_name(title)}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        book.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        book.writestr("xl/styles.xml", STYLES)
        with book.open("xl/worksheets/sheet1.xml", "w") as sheet:
            _write_sheet(sheet, rows, widths, frozen_rows)


def _write_sheet(sheet: IO[bytes], rows: Iterable[list], widths, frozen_rows: int) -> None:
    head = [HEADER, f'<worksheet xmlns="{MAIN}"><sheetViews><sheetView workbookViewId="0">']
    if frozen_rows:
        top = f"A{frozen_rows + 1}"
        head.append(f'<pane ySplit="{frozen_rows}" topLeftCell="{top}" activePane="bottomLeft" state="frozen"/>')
        head.append(f'<selection pane="bottomLeft" activeCell="{top}" sqref="{top}"/>')
    head.append('</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>')
    if widths:
        head.append("<cols>")
        head.extend(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>' for i, w in enumerate(widths, 1))
        head.append("</cols>")
    head.append("<sheetData>")
    sheet.write("".join(head).encode())
    letters: list[str] = []
    buffer: list[str] = []
    size = 0
    for number, row in enumerate(rows, start=1):
        while len(letters) < len(row):
            letters.append(column_letter(len(letters) + 1))
        n = str(number)
        cells = []
        for letter, value in zip(letters, row, strict=False):
            # The common kinds inline (a function call per cell was most of the time); the rest through _cell.
            kind = type(value)
            if value is None:
                continue
            if kind is float and math.isfinite(value):
                cells.append(f'<c r="{letter}{n}"><v>{value!r}</v></c>')
            elif kind is str and value == value.strip():
                cells.append(f'<c r="{letter}{n}" t="inlineStr"><is><t>{_text(value)}</t></is></c>')
            elif kind is Decimal:
                cells.append(_decimal_cell(letter + n, value, PLAIN))
            elif kind is tuple:
                cells.append(_cell(letter + n, value[0], value[1]))
            else:
                cells.append(_cell(letter + n, value, PLAIN))
        line = f'<row r="{n}">{"".join(cells)}</row>'
        buffer.append(line)
        size += len(line)
        if size >= WRITE_BYTES:
            sheet.write("".join(buffer).encode())
            buffer, size = [], 0
    buffer.append("</sheetData></worksheet>")
    sheet.write("".join(buffer).encode())
