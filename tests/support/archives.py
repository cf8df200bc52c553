"""Zip archives the tests build: a program folder zipped as a file manager zips it, a zip bomb,
and archives whose headers lie or whose paths leave the archive."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path

GB = 1 << 30


def zipped(files: dict[str, bytes]) -> bytes:
    """An archive of `files` (path inside -> content), deflated as usual."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def zipped_folder(folder: Path, top: str = "") -> bytes:
    """The files of `folder`, at the archive's top or in the folder `top/`."""
    prefix = f"{top}/" if top else ""
    return zipped({prefix + path.name: path.read_bytes() for path in sorted(folder.iterdir())})


def zip_bomb(
    path: Path, member: str, size: int = GB, others: dict[str, bytes] | None = None
) -> Path:
    """An archive of a few MB at `path` whose `member` inflates to `size` bytes of zeros, written
    as a stream: neither the zeros nor the archive are ever held whole in memory."""
    zero = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in (others or {}).items():
            archive.writestr(name, data)
        with archive.open(member, "w", force_zip64=True) as stream:
            for _ in range(size // len(zero)):
                stream.write(zero)
    return path


def with_symlink(files: dict[str, bytes], link: str, target: str) -> bytes:
    """`files` and a symbolic link `link` -> `target`, as `zip --symlinks` stores one."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        info = zipfile.ZipInfo(link)
        info.create_system = 3  # Unix: the mode below is read from the high bits
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, target)
    return out.getvalue()


def understated(data: bytes, member: str, size: int) -> bytes:
    """`data` with `member`'s uncompressed size written as `size` in both of its headers: an
    archive whose headers lie about how much it inflates."""
    patched = bytearray(data)
    name = member.encode()
    # (signature, offset of the uncompressed size, of the name's length, of the name)
    headers = ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46))
    for signature, size_at, length_at, name_at in headers:
        start = patched.find(signature)
        while start >= 0:
            (length,) = struct.unpack_from("<H", patched, start + length_at)
            if patched[start + name_at : start + name_at + length] == name:
                struct.pack_into("<I", patched, start + size_at, size)
            start = patched.find(signature, start + 4)
    return bytes(patched)
