"""An uploaded archive comes from anyone who can sign in: one that would harm the service (a zip
bomb, paths that leave the archive, links, an upload too big) is refused with one clear problem,
quickly, and nothing is imported."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support.archives import understated, with_symlink, zip_bomb, zipped
from support.service import EXAMPLE_DIR

from orchestrator.commands import import_file
from orchestrator.db import models as m
from orchestrator.program import archive
from orchestrator.program.folder import FILES
from orchestrator.program.load import load_upload
from orchestrator.program.problems import ProgramError
from orchestrator.settings import Settings


def example_files(top: str = "") -> dict[str, bytes]:
    return {top + name: (EXAMPLE_DIR / name).read_bytes() for name in FILES}


def refusal(data: bytes, name: str = "lyon.zip") -> str:
    """The one problem an upload of `data` is refused with."""
    with pytest.raises(ProgramError) as caught:
        load_upload(data, name)
    [problem] = caught.value.problems
    return str(problem)


@pytest.fixture(scope="session")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zipped program folder of about 5 MB whose people.csv inflates to 1 GB of zeros."""
    folder = tmp_path_factory.mktemp("bomb")
    others = {name: data for name, data in example_files().items() if name != "people.csv"}
    return zip_bomb(folder / "lyon.zip", "people.csv", others=others)


async def events(db: async_sessionmaker[AsyncSession]) -> list[str]:
    async with db() as session:
        return list((await session.scalars(select(m.Event.slug))).all())


async def test_a_zip_bomb_is_refused_before_it_inflates_and_nothing_is_imported(
    bomb: Path, settings: Settings, db: async_sessionmaker[AsyncSession]
) -> None:
    started = time.perf_counter()
    with pytest.raises(ProgramError) as caught:
        await import_file(settings, bomb)
    elapsed = time.perf_counter() - started

    [problem] = caught.value.problems
    assert str(problem) == (
        'lyon.zip: "people.csv" would inflate from 4.7 MB to 1073.7 MB (more than 100 times): '
        "refused as a zip bomb"
    )
    assert elapsed < 2.0
    assert await events(db) == []


def test_a_zip_bomb_uploaded_as_a_workbook_is_refused_the_same_way(bomb: Path) -> None:
    assert "refused as a zip bomb" in refusal(bomb.read_bytes(), "lyon.xlsx")


def test_an_archive_that_would_unpack_past_the_cap_is_refused() -> None:
    # Six files of 9 MB of random 0s and 1s: each deflates about 4.5 times, no bomb, only too much.
    bits = format(int.from_bytes(random.Random(1).randbytes(9 * archive.MB // 8)), "b").encode()
    data = zipped(example_files() | {f"scan-{page}.txt": bits for page in range(6)})

    assert refusal(data) == (
        "lyon.zip: would unpack to more than 50.0 MB; a program archive may unpack to at most "
        "50.0 MB"
    )


def test_an_archive_whose_headers_understate_its_size_is_refused_as_damaged() -> None:
    files = example_files()
    files["people.csv"] += b"\n" * 5_000_000
    data = understated(zipped(files), "people.csv", 1000)

    assert refusal(data).startswith('lyon.zip: "people.csv" is damaged (Bad CRC-32')


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ("../people.csv", 'has ".." in its path; an archive member must stay inside the archive'),
        ("lyon/../../etc/cron.d/x", 'has ".." in its path'),
        ("..\\..\\people.csv", 'has ".." in its path'),
        ("/etc/passwd", "has an absolute path; an archive member must stay inside the archive"),
        ("C:/Windows/win.ini", "has an absolute path"),
    ],
)
def test_a_member_whose_path_leaves_the_archive_is_refused(member: str, reason: str) -> None:
    data = zipped(example_files() | {member: b"x"})

    assert refusal(data).startswith(f'lyon.zip: "{member.replace(chr(92), chr(92) * 2)}" {reason}')


def test_a_symbolic_link_is_refused() -> None:
    data = with_symlink(example_files(), "people.csv.link", "/etc/passwd")

    assert refusal(data) == ('lyon.zip: "people.csv.link" is a symbolic link; links are not read')


def test_an_archive_with_thousands_of_members_is_refused() -> None:
    data = zipped(example_files() | {f"junk/{index}.txt": b"" for index in range(1001)})

    assert refusal(data) == "lyon.zip: holds 1004 files; a program archive may hold at most 1000"


def test_an_encrypted_member_asks_for_the_file_without_a_password() -> None:
    data = bytearray(zipped(example_files()))
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 0x1  # the general purpose flag: encrypted

    assert refusal(bytes(data)) == (
        'lyon.zip: "event.json" is encrypted; save the file again without a password'
    )


def test_an_upload_of_50_mb_is_refused_before_it_is_read() -> None:
    started = time.perf_counter()
    problem = refusal(b"{" + bytes(50 * archive.MB), "program.json")

    assert problem == (
        "program.json: the file weighs 50.0 MB; a program upload may weigh at most 20.0 MB"
    )
    assert time.perf_counter() - started < 1.0


def test_a_truncated_archive_is_refused_as_unreadable() -> None:
    data = zipped(example_files())[:-30]

    assert refusal(data).startswith("lyon.zip: not a readable zip archive (")
