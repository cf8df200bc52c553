"""Every subject reads back exactly as it was written, whatever the mail reader's parser, even
where a long French subject folds between two encoded words."""

from __future__ import annotations

import email
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default
from typing import Any

from sqlalchemy import select
from support.service import example_program

from orchestrator import appkeys
from orchestrator.db.mail import MailMessage


async def test_every_subject_of_the_seed_event_reads_back_word_for_word(
    make_api: Callable[..., Any], db: Any
) -> None:
    api = await make_api()
    await api.import_ok(example_program())
    assert (await api.client.app[appkeys.OUTBOX].deliver_due()).sent == 116 + 2 * 41

    async with db() as session:
        queued = (await session.execute(select(MailMessage.subject, MailMessage.body))).all()

    assert len(queued) == 116 + 2 * 41
    misread, too_long = [], []
    for subject, body in queued:
        parsed = email.message_from_bytes(body, policy=default)
        assert isinstance(parsed, EmailMessage)
        if str(parsed["Subject"]) != subject:
            misread.append((subject, str(parsed["Subject"])))
        too_long += [line for line in subject_lines(body) if len(line) > 76]
    assert misread == []
    assert too_long == []  # RFC 2047's limit for a line holding encoded words


def subject_lines(body: bytes) -> list[bytes]:
    """The raw lines of the Subject header, its first line and continuations."""
    lines = body.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    start = next(n for n, line in enumerate(lines) if line.startswith(b"Subject: "))
    end = next(
        (n for n in range(start + 1, len(lines)) if not lines[n].startswith(b" ")), len(lines)
    )
    return lines[start:end]
