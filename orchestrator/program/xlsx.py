"""What the cell reader (calamine) does not tell about an .xlsx workbook, read from its XML here:
which part holds which sheet, which cells hold formulas, and how far a sheet's cells reach.

The reader gives a formula's last computed value, which a program must not take for what was
typed; and it lays a sheet out as one dense block from its first to its last cell, so a few bytes
naming cell XFD1048576 would take gigabytes. Both are found before it runs. The sheets are read by
pattern, not parsed: a parse takes seconds on 10,000 rows, the patterns a tenth of that; a sheet
the patterns cannot account for entirely is refused, never guessed at.
"""

from __future__ import annotations

import html
import posixpath
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

WORKBOOK_PART = "xl/workbook.xml"
_RELATIONS_PART = "xl/_rels/workbook.xml.rels"
_PREFIX = rb"(?:[A-Za-z_][\w.\-]*:)?"
_ATTRIBUTE = rb"""\s+[^\s=/<>"']+\s*=\s*(?:"[^"]*"|'[^']*')"""
_OTHER_ATTRIBUTE = rb"""\s+(?!r\s*=)[^\s=/<>"']+\s*=\s*(?:"[^"]*"|'[^']*')"""
# Every cell and formula tag, however written, with the cell's position (`r="C4"`) when it comes
# first, as spreadsheets write it: one pass over the sheet, at the speed of the regex engine.
_TAG = re.compile(rb"<" + _PREFIX + rb'(c|f)(?=[\s/>])(?: r="([A-Z]{1,3})([0-9]{1,7})")?')
# A cell tag with its position anywhere among its attributes: the slower way, when one is not first.
_CELL = re.compile(
    rb"<" + _PREFIX + rb"c(?:" + _OTHER_ATTRIBUTE + rb')*\s+r\s*=\s*"([A-Za-z]+)([0-9]+)"'
    rb"(?:" + _ATTRIBUTE + rb")*\s*(/?)>"
)
_FORMULA = re.compile(rb"<" + _PREFIX + rb"f(?:" + _ATTRIBUTE + rb")*\s*(/?)>")
_FORMULA_END = re.compile(rb"</" + _PREFIX + rb"f\s*>")
_SHEET_DATA = re.compile(rb"<" + _PREFIX + rb"sheetData(?=[\s/>])")
_SHEET_DATA_END = re.compile(rb"</" + _PREFIX + rb"sheetData\s*>")
_FORMULA_SHOWN = 60


class Damaged(ValueError):
    """A part of the workbook is missing, or written in a way no spreadsheet writes it."""


@dataclass(frozen=True, slots=True)
class Formula:
    cell: str
    text: str
    """As typed, from its `=`; empty for a copy of a shared formula, which holds no text."""

    def shown(self) -> str:
        if len(self.text) <= _FORMULA_SHOWN:
            return self.text
        return self.text[: _FORMULA_SHOWN - 3] + "..."


@dataclass(frozen=True, slots=True)
class Scan:
    """One sheet's formulas, and the last row and column its cells reach (0 when it has none)."""

    formulas: tuple[Formula, ...]
    rows: int
    columns: int


def sheet_parts(members: dict[str, bytes]) -> dict[str, str]:
    """The part holding each sheet, by sheet name, in the workbook's order."""
    workbook = _parsed(members, WORKBOOK_PART)
    relations = _parsed(members, _RELATIONS_PART)
    targets = {
        element.get("Id"): element.get("Target")
        for element in relations.iter()
        if _local(element.tag) == "Relationship"
    }
    parts: dict[str, str] = {}
    for element in workbook.iter():
        if _local(element.tag) != "sheet":
            continue
        name = element.get("name")
        relation = next((v for k, v in element.attrib.items() if _local(k) == "id"), None)
        target = targets.get(relation)
        if name is None or target is None:
            raise Damaged(f"{WORKBOOK_PART} names a sheet without its part")
        if target.startswith("/"):
            part = target.lstrip("/")
        else:
            part = posixpath.normpath(posixpath.join(posixpath.dirname(WORKBOOK_PART), target))
        parts[name] = part
    return parts


def scan_sheet(xml: bytes) -> Scan:
    """The formulas of a sheet's cells and how far its cells reach; raises Damaged when a cell
    carries no position (`r`), which Excel, LibreOffice and the usual libraries always write."""
    start = _SHEET_DATA.search(xml)
    if start is None:
        return Scan((), 0, 0)
    begin, end = start.end(), len(xml)
    for found in _SHEET_DATA_END.finditer(xml, begin):
        end = found.start()
    tags = _TAG.findall(xml, begin, end)
    if not tags:
        return Scan((), 0, 0)
    kinds, letters, digits = zip(*tags, strict=True)
    formulas = kinds.count(b"f")
    if letters.count(b"") > formulas:
        rows, columns = _reach(xml, begin, end, len(tags) - formulas)
    else:
        rows = max(map(int, filter(None, digits)), default=0)
        width = max(map(len, letters))
        columns = column_number(max(name for name in letters if len(name) == width))
    found_formulas = _formulas(xml, begin, end) if formulas else ()
    if len(found_formulas) != formulas:
        raise Damaged("a formula written in a way no spreadsheet writes it")
    return Scan(found_formulas, rows, columns)


def _reach(xml: bytes, begin: int, end: int, count: int) -> tuple[int, int]:
    """The last row and column of the `count` cells, when some position is not written first."""
    cells = _CELL.findall(xml, begin, end)
    if len(cells) != count:
        raise Damaged("a cell without its position; save the workbook again from a spreadsheet")
    opened = [(letters, digits) for letters, digits, closed in cells if not closed]
    if not opened:
        return 0, 0
    rows = max(int(digits) for _, digits in opened)
    columns = max(column_number(letters) for letters, _ in opened)
    return rows, columns


def column_number(letters: bytes) -> int:
    """`A` is 1, `Z` 26, `AA` 27."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - ord("A") + 1
    return number


def _formulas(xml: bytes, start: int, end: int) -> tuple[Formula, ...]:
    found: list[Formula] = []
    cell = b"?"
    position = start
    for formula in _FORMULA.finditer(xml, start, end):
        for tag in _CELL.finditer(xml, position, formula.start()):
            cell = tag.group(1).upper() + tag.group(2)
        position = formula.start()
        text = b""
        if not formula.group(1):
            closing = _FORMULA_END.search(xml, formula.end(), end)
            if closing is None:
                raise Damaged("a formula without its end")
            text = xml[formula.end() : closing.start()]
        shown = html.unescape(text.decode("utf-8", "replace")).strip()
        found.append(Formula(cell.decode("ascii"), f"={shown}" if shown else ""))
    return tuple(found)


def _parsed(members: dict[str, bytes], part: str) -> ElementTree.Element:
    """A small part of the workbook, parsed. A part with a DTD is refused: no spreadsheet writes
    one, and without one there is no entity to expand (billion laughs) or to fetch."""
    if part not in members:
        raise Damaged(f"{part} is missing")
    data = members[part]
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise Damaged(f"{part} declares a document type, which no spreadsheet writes")
    try:
        return ElementTree.fromstring(data)  # noqa: S314 - no DTD: checked just above
    except ElementTree.ParseError as error:
        raise Damaged(f"{part} is not well-formed XML ({error})") from None


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
