"""Every word the workspace shows has its French: the templates' messages, the stored words it
labels (states, actions, kinds) and what it says after a change."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

import orchestrator
from orchestrator.api import follow_up, requests_page
from orchestrator.api.agenda import HANDOVER_REFUSALS
from orchestrator.api.workspace import DONE, LABELS
from orchestrator.api.workspace_program import REFUSALS
from orchestrator.api.workspace_requests import REFUSED
from orchestrator.api.workspace_webhooks import REFUSED as WEBHOOK_REFUSED
from orchestrator.api.workspace_webhooks import TYPES

TEMPLATES = Path(orchestrator.__file__).parent / "templates"
CATALOGUE = Path(__file__).parents[2] / "calendars/locale/fr/LC_MESSAGES/rdv.po"
MESSAGE = re.compile(r"""_\((?:"([^"]+)"|'([^']+)')\)""")


def test_every_message_of_the_workspace_has_a_french_translation() -> None:
    with CATALOGUE.open("rb") as source:
        french = {m.id: m.string for m in read_po(source, locale="fr") if m.id}
    shown = {
        double or single
        for path in TEMPLATES.glob("*.html")  # the workspace's, and every other page
        for double, single in MESSAGE.findall(path.read_text(encoding="utf-8"))
    }
    shown |= set(LABELS.values()) | set(DONE.values()) | set(REFUSALS)
    shown |= set(HANDOVER_REFUSALS.values()) | set(REFUSED.values())
    shown |= set(requests_page.DONE.values()) | set(requests_page.WHY.values())
    shown |= set(follow_up.PLANNED.values()) | set(follow_up.NOT_PLANNED.values())
    shown |= set(WEBHOOK_REFUSED.values()) | set(TYPES.values())
    mail = (CATALOGUE.parents[3] / "request_text.py").read_text(encoding="utf-8")
    shown |= set(re.findall(r'_\(\s*"([^"]+)"\s*\)', mail))

    missing = sorted(message for message in shown if not french.get(message))

    assert len(shown) > 80
    assert missing == []
