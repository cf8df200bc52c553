"""The programs some tests need beyond Python, found on the PATH, and the skip that names what
is missing and what brings it: the run's summary then lists each missing tool once
(`summary`, printed by conftest's `pytest_terminal_summary`), so that a newcomer knows the suite
was not whole and how to make it whole (`.ci/run` installs them all)."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

import pytest


@dataclass(frozen=True)
class Tool:
    name: str
    brought_by: str  # how to install it


TOOLS = {
    "chromium": Tool("Chromium", "apt-get install chromium"),
    "janus": Tool("Janus", "apt-get install janus"),
    "janus.js": Tool("janus.js", "apt-get install libjs-janus-gateway"),
    "dovecot": Tool("Dovecot", "apt-get install dovecot-imapd"),
    "pdftotext": Tool("pdftotext", "apt-get install poppler-utils"),
    "node": Tool("Node.js", "apt-get install nodejs"),
    "axe-core": Tool("axe-core", "npm ci --prefix tests/js (make test does it)"),
}
PREFIX = "missing tool: "
_REASON = re.compile(re.escape(PREFIX) + r"(?P<name>[^(]+?) \(to install: (?P<how>[^)]+)\)")


def reason(key: str) -> str:
    tool = TOOLS[key]
    return f"{PREFIX}{tool.name} (to install: {tool.brought_by})"


def missing(key: str) -> NoReturn:
    """Skips the test for want of the tool, saying so in a way the summary counts."""
    pytest.skip(reason(key))


def which(command: str) -> str | None:
    """The command's path on the PATH (a tool hidden from the PATH counts as missing)."""
    return shutil.which(command)


def summary(reasons: Iterable[str]) -> list[str]:
    """One line per missing tool: how many tests it kept from running, and how to install it."""
    counted: Counter[tuple[str, str]] = Counter()
    for text in reasons:
        found = _REASON.search(text)
        if found:
            counted[(found["name"], found["how"])] += 1
    return [
        f"{name}: {count} test{'s' if count > 1 else ''} not run; to install: {how}"
        for (name, how), count in sorted(counted.items())
    ]
