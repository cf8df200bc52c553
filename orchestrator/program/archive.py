"""Unpacks an uploaded zip into memory: a zipped program folder, or an .xlsx workbook (a zip too).

An upload comes from anyone who can sign in, so the archive is checked before a byte is inflated
(member count, declared sizes, compression ratio, paths, links, encryption) and the size cap is
enforced again while reading, on the bytes actually inflated. Each refusal is one problem; nothing
is unpacked to disk.
"""

from __future__ import annotations

import io
import stat
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from .problems import ProgramError

MB = 1_000_000
MAX_UPLOAD_BYTES = 20 * MB
"""The most a program upload may weigh as sent; the web upload refuses more before reading it."""
MAX_UNPACKED_BYTES = 50 * MB
"""The most all members of an archive may inflate to, together."""
MAX_MEMBERS = 1000
MAX_RATIO = 100
"""How many times a member may inflate its packed size (zip bombs inflate a thousand times)."""
RATIO_FLOOR = 1 * MB
"""A member smaller than this may inflate as much as it likes: the total cap bounds it anyway."""
_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a first member, or an empty archive
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_CHUNK = 256 * 1024


def is_zip(data: bytes) -> bool:
    return data[:4] in _MAGIC


def megabytes(size: int) -> str:
    return f"{size / MB:.1f} MB"


def unpack(data: bytes, name: str) -> dict[str, bytes]:
    """Every file of the archive by its path inside, or a ProgramError naming the one reason it
    is refused: too many members, too big, a zip bomb, a path that leaves the archive, a link,
    encryption, an unusual compression, or damage."""
    with _opened(data, name) as archive:
        members = archive.infolist()
        _check(members, name)
        budget = MAX_UNPACKED_BYTES
        contents: dict[str, bytes] = {}
        for info in members:
            if info.is_dir():
                continue
            contents[info.filename] = _read(archive, info, name, budget)
            budget -= len(contents[info.filename])
        return contents


@contextmanager
def _opened(data: bytes, name: str) -> Iterator[zipfile.ZipFile]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        raise ProgramError.single(name, f"not a readable zip archive ({error})") from None
    with archive:
        yield archive


def _check(members: list[zipfile.ZipInfo], name: str) -> None:
    if len(members) > MAX_MEMBERS:
        raise ProgramError.single(
            name, f"holds {len(members)} files; a program archive may hold at most {MAX_MEMBERS}"
        )
    seen: set[str] = set()
    total = 0
    for info in members:
        member = info.filename
        reason = _path_problem(member)
        if reason is None and member in seen:
            reason = "appears twice in the archive"
        if reason is None and stat.S_ISLNK(info.external_attr >> 16):
            reason = "is a symbolic link; links are not read"
        if reason is None and info.flag_bits & 0x1:
            reason = "is encrypted; save the file again without a password"
        if reason is None and info.compress_type not in _METHODS:
            reason = (
                f"uses compression method {info.compress_type}; save it again with the usual "
                "(deflate) compression"
            )
        if (
            reason is None
            and info.file_size > RATIO_FLOOR
            and info.file_size > MAX_RATIO * max(info.compress_size, 1)
        ):
            reason = (
                f"would inflate from {megabytes(info.compress_size)} to "
                f"{megabytes(info.file_size)} (more than {MAX_RATIO} times): refused as a zip bomb"
            )
        if reason is not None:
            raise ProgramError.single(name, f'"{_shown(member)}" {reason}')
        seen.add(member)
        total += info.file_size
        if total > MAX_UNPACKED_BYTES:
            raise ProgramError.single(
                name,
                f"would unpack to more than {megabytes(MAX_UNPACKED_BYTES)}; a program archive "
                f"may unpack to at most {megabytes(MAX_UNPACKED_BYTES)}",
            )


def _path_problem(member: str) -> str | None:
    """Why a member's path is refused, or None: it must stay inside the archive's folder."""
    parts = member.replace("\\", "/").split("/")
    if "\x00" in member:
        return "has a NUL character in its path"
    if member.startswith(("/", "\\")) or (len(parts[0]) == 2 and parts[0][1] == ":"):
        return "has an absolute path; an archive member must stay inside the archive"
    if ".." in parts:
        return 'has ".." in its path; an archive member must stay inside the archive'
    return None


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, budget: int) -> bytes:
    """The member's bytes, inflating no more than `budget` whatever its header claims."""
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > budget:
                    raise ProgramError.single(
                        name,
                        f'"{_shown(info.filename)}" inflates to more than its header says; the '
                        f"archive would unpack to more than {megabytes(MAX_UNPACKED_BYTES)}",
                    )
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as error:
        raise ProgramError.single(
            name, f'"{_shown(info.filename)}" is damaged ({error}); nothing was read'
        ) from None
    return b"".join(chunks)


def _shown(member: str) -> str:
    """A member's path as a problem shows it: control characters escaped, long paths cut."""
    shown = member.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= 120 else shown[:117] + "..."
