"""An organiser runs the event from the workspace: finds sessions and people, moves and cancels
meetings, resends an invite, retries failed mail, erases someone; every change reaches exactly
the people it concerns and lands in the audit log. A follow-up reader sees the same pages with
nothing to press, and a form posted without its token changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from support.mailsink import MailSink
from support.service import Api, ManualClock, small_program

from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.db.mail import MailMessage
from orchestrator.signin import create_link

SLUG = "meet-the-buyers"
BASE = "http://rdv.test"


@pytest.fixture
async def api(make_api: Callable[..., Any], sink: MailSink) -> Api:
    # Plain http, as the test client talks: a Secure cookie would not come back.
    api: Api = await make_api(mail_url=sink.url, public_url=BASE)
    await api.import_ok(small_program())
    await deliver(api)
    sink.clear()
    return api


async def deliver(api: Api) -> None:
    app = api.client.app
    assert app is not None
    await app[appkeys.OUTBOX].deliver_due()


async def sign_in(
    client: TestClient[Any, Any], db: Any, clock: ManualClock, role: str = "organiser"
) -> None:
    async with db() as session, session.begin():
        url = await create_link(
            session, slug=SLUG, role=role, now=clock.now(), base_url=BASE, subject="Claire"
        )
    response = await client.post(url.removeprefix(BASE), allow_redirects=False)
    assert response.status == 303


async def page(client: TestClient[Any, Any], path: str) -> str:
    response = await client.get(path)
    assert response.status == 200, path
    return await response.text()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def post(client: TestClient[Any, Any], path: str, **form: str) -> Any:
    return await client.post(path, data=form, allow_redirects=False)


async def test_moving_a_meeting_sends_the_update_to_its_two_attendees_only(
    api: Api, db: Any, clock: ManualClock, sink: MailSink
) -> None:
    await sign_in(api.client, db, clock)
    html = await page(api.client, f"/admin/{SLUG}/sessions?q=m3")
    assert 'id="session-m3"' in html
    assert 'id="session-m1"' not in html

    moved = await post(
        api.client,
        f"/admin/{SLUG}/sessions/m3/move",
        csrf=csrf_of(html),
        day="2021-04-08",
        start="11:30",
        end="12:00",
    )
    assert moved.status == 303
    assert moved.headers["Location"] == f"/admin/{SLUG}/sessions?done=moved"  # no back given
    await api.plan_mail()
    await deliver(api)

    assert sorted(message.recipient for message in sink.received) == [
        "ben@roads.example",
        "dan@acme.example",
    ]
    for message in sink.received:
        assert int(message.event["SEQUENCE"]) == 1
        assert message.event.decoded("DTSTART").isoformat() == "2021-04-08T09:30:00+00:00"
    shown = await page(api.client, f"/admin/{SLUG}/sessions?q=m3&done=moved")
    assert "its attendees get the updated invite" in shown


async def test_a_move_into_a_clash_is_refused_on_the_page_and_changes_nothing(
    api: Api, db: Any, clock: ManualClock, sink: MailSink
) -> None:
    await sign_in(api.client, db, clock)
    html = await page(api.client, f"/admin/{SLUG}/sessions")
    before = await api.get_event(SLUG)

    refused = await post(
        api.client,
        f"/admin/{SLUG}/sessions/m3/move",
        csrf=csrf_of(html),
        day="2021-04-08",
        start="09:15",  # Dan is in the plenary then
        end="09:45",
    )

    assert refused.status == 422
    text = await refused.text()
    assert "Nothing was changed" in text
    assert "Dan Weber (dan) would be in &#34;plenary&#34; and &#34;m3&#34; at the same time" in text
    assert await api.get_event(SLUG) == before
    await api.plan_mail()
    await deliver(api)
    assert sink.received == []
    # Corrected on the page that said no, the move lands back on the sessions page.
    backs = set(re.findall(r'name="back" value="([^"]*)"', text))
    assert backs == {f"/admin/{SLUG}/sessions"}
    corrected = await post(
        api.client,
        f"/admin/{SLUG}/sessions/m3/move",
        csrf=csrf_of(text),
        back=backs.pop(),
        day="2021-04-08",
        start="11:30",
        end="12:00",
    )
    assert corrected.headers["Location"] == f"/admin/{SLUG}/sessions?done=moved"


async def test_cancelling_sends_the_cancellation_and_resending_sends_the_invite_again(
    api: Api, db: Any, clock: ManualClock, sink: MailSink
) -> None:
    await sign_in(api.client, db, clock)
    token = csrf_of(await page(api.client, f"/admin/{SLUG}/sessions"))

    resent = await post(api.client, f"/admin/{SLUG}/sessions/m1/resend", csrf=token, person="chloe")
    assert resent.status == 303
    await deliver(api)
    assert [message.recipient for message in sink.received] == ["chloe@acme.example"]
    again = sink.received[0]
    assert again.method == "REQUEST"
    assert int(again.event["SEQUENCE"]) == 0
    sink.clear()

    assert (await post(api.client, f"/admin/{SLUG}/sessions/m2/cancel", csrf=token)).status == 303
    await api.plan_mail()
    await deliver(api)
    assert sorted(message.recipient for message in sink.received) == [
        "ben@roads.example",
        "eve@globex.example",
    ]
    assert {message.method for message in sink.received} == {"CANCEL"}


async def test_failed_mail_is_listed_with_its_reason_and_retried(
    api: Api, db: Any, clock: ManualClock, sink: MailSink
) -> None:
    async with db() as session, session.begin():
        first = await session.scalar(select(MailMessage.id).order_by(MailMessage.id).limit(1))
        await session.execute(
            update(MailMessage)
            .where(MailMessage.id == first)
            .values(status="failed", last_error="550 mailbox unavailable")
        )
    await sign_in(api.client, db, clock)
    html = await page(api.client, f"/admin/{SLUG}/mail?state=failed")
    assert "550 mailbox unavailable" in html
    assert f'id="message-{first}"' in html

    retried = await post(
        api.client,
        f"/admin/{SLUG}/mail/retry",
        csrf=csrf_of(html),
        message=str(first),
        back=f"/admin/{SLUG}/mail?state=failed",
    )

    assert retried.status == 303
    assert retried.headers["Location"] == f"/admin/{SLUG}/mail?state=failed&done=retried"
    await deliver(api)
    assert len(sink.received) == 1
    assert "No message in this state." in await page(api.client, f"/admin/{SLUG}/mail")


async def test_erasing_someone_from_the_people_page(api: Api, db: Any, clock: ManualClock) -> None:
    await sign_in(api.client, db, clock)
    html = await page(api.client, f"/admin/{SLUG}/people?q=chlo")
    assert 'id="person-chloe"' in html
    assert 'id="person-ana"' not in html

    erased = await post(api.client, f"/admin/{SLUG}/people/chloe/erase", csrf=csrf_of(html))

    assert erased.status == 303
    async with db() as session:
        person = await session.scalar(select(m.Person).where(m.Person.erased_at.is_not(None)))
    assert person is not None
    assert person.name == "(erased)"
    assert "Chlo" not in await page(api.client, f"/admin/{SLUG}/people")


async def test_each_change_is_in_the_audit_log_with_who_made_it(
    api: Api, db: Any, clock: ManualClock
) -> None:
    await sign_in(api.client, db, clock)
    token = csrf_of(await page(api.client, f"/admin/{SLUG}/sessions"))
    await post(
        api.client,
        f"/admin/{SLUG}/sessions/m3/move",
        csrf=token,
        day="2021-04-08",
        start="11:30",
        end="12:00",
    )
    await post(api.client, f"/admin/{SLUG}/sessions/m2/cancel", csrf=token)
    await post(api.client, f"/admin/{SLUG}/sessions/m1/resend", csrf=token, person="ana")
    await post(api.client, f"/admin/{SLUG}/people/eve/erase", csrf=token)

    entries = (
        await (
            await api.client.get(f"/api/v1/events/{SLUG}/audit", headers=api.headers(SLUG))
        ).json()
    )["entries"]
    assert [(e["action"], e["subject"], e["actor"], e["source"]) for e in entries[:4]] == [
        ("person.erase", entries[0]["subject"], "Claire", "workspace"),
        ("invite.resend", "ana", "Claire", "workspace"),
        ("session.cancel", "m2", "Claire", "workspace"),
        ("session.move", "m3", "Claire", "workspace"),
    ]
    html = await page(api.client, f"/admin/{SLUG}/audit")
    assert "Claire" in html
    assert "session.move" in html or "Session moved" in html


async def test_a_follow_up_reader_sees_no_control_and_a_forged_post_changes_nothing(
    api: Api, db: Any, clock: ManualClock
) -> None:
    await sign_in(api.client, db, clock, role="followup")
    for section in ("sessions", "people", "mail", "audit"):
        html = await page(api.client, f"/admin/{SLUG}/{section}")
        actions = re.findall(r'method="post" action="([^"]+)"', html)
        assert actions == [f"/admin/{SLUG}/signout"], section  # signing out, nothing else
    before = await api.get_event(SLUG)

    assert (await post(api.client, f"/admin/{SLUG}/sessions/m2/cancel")).status == 403
    await sign_in(api.client, db, clock)  # an organiser now, but the form has no token
    assert (await post(api.client, f"/admin/{SLUG}/sessions/m2/cancel")).status == 403
    forged = await post(api.client, f"/admin/{SLUG}/sessions/m2/cancel", csrf="0" * 64)
    assert forged.status == 403
    assert await api.get_event(SLUG) == before


async def test_the_pages_ask_to_sign_in_first(api: Api) -> None:
    for section in ("sessions", "people", "mail", "audit"):
        assert (await api.client.get(f"/admin/{SLUG}/{section}")).status == 401
    assert (await post(api.client, f"/admin/{SLUG}/sessions/m2/cancel")).status == 401


@pytest.mark.parametrize(
    ("wanted", "lands"),
    [
        (f"/admin/{SLUG}/people", f"/admin/{SLUG}/people"),
        ("//elsewhere.example/admin", f"/dashboard/{SLUG}"),
        ("/admin/another-event/sessions", f"/dashboard/{SLUG}"),
        ("https://elsewhere.example/", f"/dashboard/{SLUG}"),
    ],
)
async def test_a_sign_in_link_made_for_the_workspace_leads_there_and_nowhere_else(
    api: Api, db: Any, clock: ManualClock, wanted: str, lands: str
) -> None:
    async with db() as session, session.begin():
        url = await create_link(
            session, slug=SLUG, role="organiser", now=clock.now(), base_url=BASE
        )
    response = await api.client.post(
        url.removeprefix(BASE), params={"next": wanted}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == lands


async def test_erasing_someone_whose_key_was_renamed_erases_them_not_their_old_row(
    api: Api, db: Any, clock: ManualClock
) -> None:
    program = small_program()
    for person in program["people"]:
        if person["key"] == "chloe":
            person["key"] = "chloe-martin"  # the same person, the same email, a new key
    for session in program["sessions"]:
        if isinstance(session["attendees"], list):
            session["attendees"] = [
                "chloe-martin" if key == "chloe" else key for key in session["attendees"]
            ]
    await api.import_ok(program)
    await sign_in(api.client, db, clock)
    html = await page(api.client, f"/admin/{SLUG}/people?q=chlo")

    erased = await post(api.client, f"/admin/{SLUG}/people/chloe-martin/erase", csrf=csrf_of(html))

    assert erased.status == 303
    async with db() as session:
        named = (
            await session.scalars(select(m.Person.key).where(m.Person.name == "Chloé Martin"))
        ).all()
    assert named == []  # nor the row of her old key, which an import removed
    assert "Chloé" not in await page(api.client, f"/admin/{SLUG}/people")


async def test_retried_mail_goes_to_the_fixed_address_as_things_stand_and_never_empty(
    api: Api, db: Any, clock: ManualClock, sink: MailSink
) -> None:
    # Chloé's server refused her invites (they were composed and tried); ben's and eve's too.
    async with db() as session, session.begin():
        await session.execute(
            update(MailMessage)
            .where(
                MailMessage.recipient.in_(
                    ["chloe@acme.example", "ben@roads.example", "eve@globex.example"]
                )
            )
            .values(status="failed", last_error="550 mailbox unavailable")
        )
    program = small_program()
    next(p for p in program["people"] if p["key"] == "chloe")["email"] = (
        "chloe@acme-sensors.example"
    )
    await api.import_ok(program)  # the organiser fixes her address
    await api.plan_mail()
    await deliver(api)
    sink.clear()
    await sign_in(api.client, db, clock)
    html = await page(api.client, f"/admin/{SLUG}/people?q=eve")
    await post(api.client, f"/admin/{SLUG}/people/eve/erase", csrf=csrf_of(html))

    retried = await post(api.client, f"/admin/{SLUG}/mail/retry", csrf=csrf_of(html))
    assert retried.status == 303
    await deliver(api)

    recipients = sorted(message.recipient for message in sink.received)
    assert "chloe@acme.example" not in recipients
    assert recipients.count("chloe@acme-sensors.example") == 2  # the plenary and m1
    assert recipients.count("ben@roads.example") == 3  # the plenary, m2 (without Eve), m3
    for message in sink.received:
        assert message.event is not None, "an empty message went out"
        assert "Eve" not in message.text
