"""After the day, the organiser plans a follow-up meeting for a pair from the workspace: the
session of kind follow-up is added with the meeting's people, both get the invite, the audit
log says who planned it; a time that clashes is refused on the page and changes nothing."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from support.mailsink import MailSink
from support.service import Api, ManualClock, small_program
from test_workspace import BASE, SLUG, csrf_of, page, sign_in


@pytest.fixture
async def api(make_api: Callable[..., Any], sink: MailSink, clock: ManualClock) -> Api:
    api: Api = await make_api(mail_url=sink.url, public_url=BASE)
    await api.import_ok(small_program())
    clock.set(datetime(2021, 4, 9, 8, 0, tzinfo=UTC))  # the day after
    await api.deliver_mail()
    sink.clear()
    return api


async def test_the_organiser_plans_a_follow_up_for_a_pair(
    api: Api, db: Any, sink: MailSink, clock: ManualClock
) -> None:
    await sign_in(api.client, db, clock)
    token = csrf_of(await page(api.client, f"/admin/{SLUG}/sessions"))
    planned = await api.client.post(
        f"/admin/{SLUG}/sessions/m1/follow-up",
        data={"csrf": token, "day": "2021-06-10", "start": "10:00", "end": "10:45"},
        allow_redirects=False,
    )
    assert planned.status == 303
    assert "done=follow-up" in planned.headers["Location"]
    event = await api.get_event(SLUG)
    (follow_up,) = [s for s in event["sessions"] if s["kind"] == "follow-up"]
    assert follow_up["key"] == "m1.follow-up-1"
    assert {a["key"] for a in follow_up["attendees"]} == {"chloe", "ana"}
    await api.deliver_mail()
    assert {m.recipient for m in sink.received if m.method == "REQUEST"} == {
        "chloe@acme.example",
        "ana@water.example",
    }
    audit = await page(api.client, f"/admin/{SLUG}/audit")
    assert "Follow-up meeting planned" in audit

    clash = await api.client.post(
        f"/admin/{SLUG}/sessions/m1/follow-up",
        data={"csrf": token, "day": "2021-06-10", "start": "10:15", "end": "10:30"},
        allow_redirects=False,
    )
    assert clash.status == 422
    said = html.unescape(await clash.text())
    assert "Nothing was changed:" in said
    assert (
        'Ana Lopez (ana) would be in "m1.follow-up-1" and "m1.follow-up-2" at the same time' in said
    )
    event = await api.get_event(SLUG)
    assert [s["key"] for s in event["sessions"] if s["kind"] == "follow-up"] == ["m1.follow-up-1"]
