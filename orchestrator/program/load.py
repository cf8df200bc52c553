"""Reads a program in any of its forms into one JSON-shaped document (a `RawProgram`) that
remembers where each item came from for error messages: JSON, a folder with `event.json`,
`people.csv` and `sessions.csv`, a zip of such a folder, or an .xlsx workbook."""

from __future__ import annotations

from pathlib import Path

from . import archive
from .decode import parse_json
from .folder import read_folder, read_zipped_folder
from .problems import ProgramError
from .raw import RawProgram
from .workbook import is_workbook, read_workbook

# An OLE2 compound file: what Excel saves as .xls, and what it makes of a password-protected .xlsx.
_COMPOUND_FILE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def load_bytes(data: bytes, name: str = "program") -> RawProgram:
    """A program in JSON."""
    return RawProgram(parse_json(data, name))


def load_path(path: str | Path) -> RawProgram:
    """A program from a folder or a file (JSON, .zip, .xlsx, told apart by their content, so a
    renamed file still reads); a missing or unreadable file is a ProgramError."""
    path = Path(path)
    if path.is_dir():
        return read_folder(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ProgramError.single(str(path), f"cannot read: {error.strerror}") from None
    return load_data(data, path.name)


def load_upload(data: bytes, filename: str) -> RawProgram:
    """A program as uploaded from a browser: at most `archive.MAX_UPLOAD_BYTES`, in any form a
    file can take."""
    if len(data) > archive.MAX_UPLOAD_BYTES:
        raise ProgramError.single(
            filename,
            f"the file weighs {archive.megabytes(len(data))}; a program upload may weigh at most "
            f"{archive.megabytes(archive.MAX_UPLOAD_BYTES)}",
        )
    return load_data(data, filename)


def load_data(data: bytes, name: str) -> RawProgram:
    """A program from a file's bytes: a zip is a workbook when it holds `xl/workbook.xml`, else
    a zipped folder; anything else is read as JSON."""
    if archive.is_zip(data):
        members = archive.unpack(data, name)
        if is_workbook(members):
            return read_workbook(members, name)
        return read_zipped_folder(members, name)
    if data.startswith(_COMPOUND_FILE):
        raise ProgramError.single(
            name,
            "an old .xls workbook, or a password-protected one: save it as an Excel workbook "
            "(.xlsx) without a password",
        )
    return load_bytes(data, name)
