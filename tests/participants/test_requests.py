"""Before the day, the buyers say what they need and the companies ask to meet them. Ana (Water
and Waste) publishes a need; Chloé (Acme Sensors) reads it on her page and asks for a meeting
about it; Ana hears of it by mail, accepts, and Chloé hears of that. The rules hold with a
clear sentence each: a second request to the same directorate, one over the limit, one to
oneself, one after the close. What people type is shown as text, whatever it holds."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from support.accessibility import blocking_violations
from support.browser import screenshot_path
from support.mailsink import MailSink
from support.matchmaking import OPEN_DAY, post, requests_open, text_of
from support.service import Api, ManualClock

from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.db.matchmaking import Need
from orchestrator.mail.request_notices import RequestReminders

SLUG = "meet-the-buyers"


@pytest.fixture
async def api(make_api: Callable[..., Any], sink: MailSink, clock: ManualClock) -> Api:
    api: Api = await make_api(mail_url=sink.url, public_url="http://rdv.test")
    await api.import_ok(requests_open())
    clock.set(OPEN_DAY)
    return api


async def page_of(db: Any, person: str) -> str:
    async with db() as session:
        token = await session.scalar(select(m.Person.feed_token).where(m.Person.key == person))
    return f"/me/{token}/requests"


async def test_a_need_a_request_an_acceptance_and_the_mail_of_each_step(
    api: Api, db: Any, sink: MailSink
) -> None:
    ana, chloe = await page_of(db, "ana"), await page_of(db, "chloe")
    said = await post(
        api,
        f"{ana}/needs",
        title="Mesurer la qualité de l'eau potable",
        description="Capteurs en continu sur le réseau, alertes en cas de pollution.",
        themes="eau; capteurs, qualité",
    )
    assert "Your need is published." in said
    assert "Meeting requests are open until Thursday, April 1, 2021 6:00 PM." in said

    page = await text_of(api, chloe)
    assert "The buyers' needs" in page
    assert "Mesurer la qualité de l'eau potable" in page
    assert "Themes: eau, capteurs, qualité" in page
    need = re.search(r'name="need" value="(\d+)"', await (await api.client.get(chloe)).text())
    assert need is not None

    said = await post(
        api,
        f"{chloe}/ask",
        to="water",
        need=need.group(1),
        message="Nos capteurs mesurent le chlore et la turbidité en continu.",
    )
    assert "Your request is sent" in said
    assert "To Water and Waste" in said
    assert "Waiting for an answer" in said
    await api.deliver_mail()
    (received,) = [msg for msg in sink.received if msg.recipient == "ana@water.example"]
    assert received.subject == "Meeting request from Chloé Martin (Acme Sensors)"
    assert "Nos capteurs mesurent le chlore" in received.text
    assert f"http://rdv.test{ana}" in received.text
    sink.clear()

    page = await text_of(api, ana)
    assert "Requests to your directorate" in page
    assert "Chloé Martin, Acme Sensors" in page
    request = re.search(r"/requests/(\d+)/answer", await (await api.client.get(ana)).text())
    assert request is not None
    said = await post(api, f"{ana}/{request.group(1)}/answer", answer="accepted")
    assert "Accepted: the meeting will be placed" in said
    await api.deliver_mail()
    (accepted,) = sink.received
    assert accepted.recipient == "chloe@acme.example"
    assert accepted.subject == "Water and Waste accepted your meeting request"
    assert "Accepted" in await text_of(api, chloe)
    again = await post(api, f"{ana}/{request.group(1)}/answer", answer="declined")
    assert "This request is accepted already." in again


@pytest.mark.parametrize(
    ("who", "form", "says"),
    [
        ("chloe", {"to": "chloe", "message": "Hello"}, "You cannot ask yourself"),
        ("chloe", {"to": "acme", "message": "Hello"}, "no such buyer or directorate"),
        ("chloe", {"to": "water", "message": "   "}, "Say in a few words"),
        ("ana", {"to": "roads", "message": "Hello"}, "sent by companies"),
    ],
)
async def test_a_request_that_cannot_be_sent_says_why(
    api: Api, db: Any, who: str, form: dict[str, str], says: str
) -> None:
    said = await post(api, f"{await page_of(db, who)}/ask", **form)
    assert says in said
    assert "No request sent yet." in said or who == "ana"


async def test_twice_the_same_directorate_over_the_limit_and_after_the_close_are_refused(
    api: Api, db: Any, clock: ManualClock
) -> None:
    chloe, dan = await page_of(db, "chloe"), await page_of(db, "dan")
    assert "Your request is sent" in await post(api, f"{chloe}/ask", to="ana", message="Hi")
    twice = await post(api, f"{chloe}/ask", to="water", message="Again")
    assert "You have already asked this directorate." in twice
    over = await post(api, f"{chloe}/ask", to="roads", message="Hi")
    assert "You have as many requests going as this event allows." in over  # the limit is 1
    clock.set(datetime(2021, 4, 2, 9, 0, tzinfo=UTC))
    late = await post(api, f"{dan}/ask", to="roads", message="Hi")
    assert "Meeting requests are closed." in late
    assert "Expired" in await text_of(api, chloe)  # never answered before the close


async def test_what_people_type_is_shown_as_text_and_kept_within_its_size(
    api: Api, db: Any
) -> None:
    chloe, ana = await page_of(db, "chloe"), await page_of(db, "ana")
    hostile = "<script>alert('x')</script>\x07\x1b[31m" + "très long " * 600
    await post(api, f"{chloe}/ask", to="water", message=hostile)
    raw = await (await api.client.get(ana)).text()
    assert "<script>alert" not in raw
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in raw
    assert "\x07" not in raw
    assert "\x1b" not in raw
    async with db() as session:
        stored = await session.scalar(select(m.Organisation).where(m.Organisation.key == "acme"))
    assert stored is not None
    said = await post(
        api, f"{chloe}/profile", description="<b>Sensors</b>", themes="eau", website="javascript:x"
    )
    assert "The website must be an http or https address." in said
    said = await post(
        api, f"{chloe}/profile", description="<b>Sensors</b>", themes="eau", website="acme.example"
    )
    assert "Your profile is saved." in said
    assert 'value="https://acme.example"' in await (await api.client.get(chloe)).text()


async def test_eve_reads_her_page_in_french(api: Api, db: Any) -> None:
    page = await text_of(api, await page_of(db, "eve"))  # Globex; her locale is fr
    assert "Les besoins des acheteurs" in page
    assert "Les demandes de rendez-vous sont ouvertes jusqu'au jeudi 1 avril 2021 18:00." in page


async def test_in_a_browser_a_company_asks_and_the_buyer_accepts_on_a_phone(
    browser: Any, api: Api, db: Any
) -> None:
    base = str(api.client.make_url("/")).rstrip("/")
    ana_page = await page_of(db, "ana")
    await post(api, f"{ana_page}/needs", title="Capteurs pour le réseau d'eau", themes="eau")
    context = await browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    chloe = await context.new_page()
    await chloe.goto(base + (await page_of(db, "chloe")).removesuffix("/requests"))
    await chloe.get_by_role("link", name="Meetings before the day").click()
    assert await blocking_violations(chloe) == []
    need = chloe.locator(".need", has_text="Capteurs pour le réseau d'eau")
    await need.get_by_text("Ask for a meeting about this need").click()
    await need.get_by_label("Your message").fill("Nos sondes mesurent le chlore en continu.")
    await need.get_by_role("button", name="Send the request").click()
    await chloe.get_by_role("status").wait_for()
    assert "Your request is sent" in await chloe.get_by_role("status").inner_text()
    assert await blocking_violations(chloe) == []
    await chloe.screenshot(path=str(screenshot_path("requests-company.png")), full_page=True)

    ana = await context.new_page()
    await ana.goto(base + ana_page)
    request = ana.locator(".request", has_text="Chloé Martin")
    assert "Nos sondes mesurent le chlore" in await request.inner_text()
    assert await blocking_violations(ana) == []
    await request.get_by_role("button", name="Accept").click()
    await ana.get_by_role("status").wait_for()
    assert "Accepted" in await ana.locator(".request", has_text="Chloé Martin").inner_text()
    await ana.screenshot(path=str(screenshot_path("requests-buyer.png")), full_page=True)
    await context.close()


async def test_an_accepted_request_is_scheduled_invited_and_kept_by_a_reimport(
    api: Api, db: Any, sink: MailSink
) -> None:
    chloe, ana = await page_of(db, "chloe"), await page_of(db, "ana")
    await post(api, f"{chloe}/ask", to="water", message="Nos capteurs")
    request = re.search(r"/requests/(\d+)/answer", await (await api.client.get(ana)).text())
    assert request is not None
    await post(api, f"{ana}/{request.group(1)}/answer", answer="accepted")
    await api.deliver_mail()
    sink.clear()

    placed = await api.client.post(
        f"/api/v1/events/{SLUG}/schedule", json={"time_limit": 5}, headers=api.headers(SLUG)
    )
    assert placed.status == 200, await placed.text()
    key = f"request-{request.group(1)}"
    assert [meeting["key"] for meeting in (await placed.json())["meetings"]] == [key]
    event = await api.get_event(SLUG)
    (meeting,) = [s for s in event["sessions"] if s["key"] == key]
    assert {a["key"] for a in meeting["attendees"]} == {"chloe", "ana"}  # Ana accepted: she comes
    await api.deliver_mail()
    assert {m.recipient for m in sink.received if m.method == "REQUEST"} == {
        "chloe@acme.example",
        "ana@water.example",
    }
    assert "Placed: see the meeting on your agenda" in await text_of(api, chloe)
    report = await (
        await api.client.get(f"/api/v1/events/{SLUG}/report", headers=api.headers(SLUG))
    ).json()
    assert (report["requests_accepted"], report["requests_placed"]) == (1, 1)

    changes = await api.import_ok(requests_open())  # the organiser's file knows nothing of it
    assert key not in changes["sessions"]["cancelled"]
    assert key in {
        s["key"] for s in (await api.get_event(SLUG))["sessions"] if s["status"] == "scheduled"
    }


async def test_an_unanswered_request_gets_one_reminder_and_none_after_the_close(
    api: Api, db: Any, sink: MailSink, clock: ManualClock
) -> None:
    app = api.client.app
    assert app is not None
    reminders = RequestReminders(
        app[appkeys.DB], clock.now, app[appkeys.SETTINGS], app[appkeys.WRITER]
    )
    await post(api, f"{await page_of(db, 'chloe')}/ask", to="water", message="Nos capteurs")
    await post(api, f"{await page_of(db, 'dan')}/ask", to="roads", message="Nos routes")
    await api.deliver_mail()
    sink.clear()
    assert await reminders.queue_due() == 0  # not yet
    clock.set(OPEN_DAY + timedelta(days=2, minutes=1))
    assert await reminders.queue_due() == 2  # Ana (Water), Ben (Roads)
    assert await reminders.queue_due() == 0  # once
    await api.deliver_mail()
    subjects = {(m.recipient, m.subject) for m in sink.received}
    assert (
        "ana@water.example",
        "Waiting for your answer: meeting request from Chloé Martin (Acme Sensors)",
    ) in subjects
    await post(api, f"{await page_of(db, 'eve')}/ask", to="water", message="Globex")
    clock.set(datetime(2021, 4, 5, 9, 0, tzinfo=UTC))  # closed: Eve's request has expired
    assert await reminders.queue_due() == 0


async def test_each_side_sees_what_fits_with_the_words_in_common_until_it_is_asked(
    api: Api, db: Any
) -> None:
    ana, roads = await page_of(db, "ana"), await page_of(db, "ben")
    chloe, eve = await page_of(db, "chloe"), await page_of(db, "eve")
    await post(
        api,
        f"{ana}/needs",
        title="Mesurer la qualité de l'eau potable",
        description="Capteurs sur le réseau, alertes de pollution.",
        themes="eau",
    )
    await post(api, f"{roads}/needs", title="Entretien des chaussées", themes="voirie")
    page = await text_of(api, chloe)
    assert "Describe your offer below" in page  # nothing to rank an empty offer with
    await post(
        api,
        f"{chloe}/profile",
        description="Nos capteurs mesurent la qualité de l'eau en continu.",
        themes="eau; capteurs",
        website="acme.example",
    )
    await post(api, f"{eve}/profile", description="Marquage des chaussées", themes="voirie")

    page = await text_of(api, chloe)
    fits = page.split("Needs that fit your offer")[1].split("Your requests")[0]
    assert "Mesurer la qualité de l'eau potable — Water and Waste" in fits
    assert "Entretien des chaussées" not in fits  # nothing in common
    assert "In common: eau," in fits
    buyer = await text_of(api, ana)
    assert "Acme Sensors — for “Mesurer la qualité de l'eau potable”" in buyer
    link = '<a href="https://acme.example" rel="nofollow noopener noreferrer">website</a>'
    assert link in await (await api.client.get(ana)).text()
    assert "Globex" not in buyer.split("Companies that fit your needs")[1].split("Requests to")[0]

    await post(api, f"{chloe}/ask", to="water", message="Parlons capteurs")
    assert "Nothing fits yet." in await text_of(api, chloe)  # asked already: not suggested
    assert "Acme Sensors — for" not in await text_of(api, ana)


async def test_the_report_counts_the_requests_and_each_directorates_acceptance(
    api: Api, db: Any, clock: ManualClock
) -> None:
    await post(api, f"{await page_of(db, 'chloe')}/ask", to="water", message="Capteurs")
    await post(api, f"{await page_of(db, 'eve')}/ask", to="water", message="Globex")
    await post(api, f"{await page_of(db, 'dan')}/ask", to="roads", message="Routes")
    ana = await page_of(db, "ana")
    ids = re.findall(r"/requests/(\d+)/answer", await (await api.client.get(ana)).text())
    await post(api, f"{ana}/{ids[0]}/answer", answer="accepted")
    await post(api, f"{ana}/{ids[1]}/answer", answer="declined", reason="Pas ce trimestre")
    clock.set(datetime(2021, 4, 2, 9, 0, tzinfo=UTC))  # closed: Roads never answered

    report = await (
        await api.client.get(f"/api/v1/events/{SLUG}/report", headers=api.headers(SLUG))
    ).json()
    assert (report["requests_sent"], report["requests_accepted"]) == (3, 1)
    assert (report["requests_declined"], report["requests_expired"]) == (1, 1)
    assert report["requests_placed"] == 0
    assert report["requests_per_directorate"] == [
        {"name": "Roads", "received": 1, "accepted": 0, "declined": 0, "acceptance_rate": 0.0},
        {
            "name": "Water and Waste",
            "received": 2,
            "accepted": 1,
            "declined": 1,
            "acceptance_rate": 0.5,
        },
    ]


def prefilled() -> dict[str, Any]:
    """The organisers pre-fill a profile and a need from the program."""
    program = requests_open()
    for organisation in program["organisations"]:
        if organisation["key"] == "acme":
            organisation.update(
                description="Capteurs connectés\npour les réseaux d'eau.",
                themes=["eau", "capteurs"],
                website="https://acme.example",
            )
    program["needs"] = [
        {"key": "eau-1", "organisation": "water", "title": "Détecter les fuites", "themes": "eau"}
    ]
    return program


async def test_the_program_pre_fills_profiles_and_needs_and_a_reimport_keeps_what_people_wrote(
    make_api: Callable[..., Any], db: Any, clock: ManualClock
) -> None:
    api: Api = await make_api(public_url="http://rdv.test")
    await api.import_ok(prefilled())
    clock.set(OPEN_DAY)
    chloe = await page_of(db, "chloe")
    page = await text_of(api, chloe)
    assert "Détecter les fuites" in page  # the need the program gave Water and Waste
    raw = await (await api.client.get(chloe)).text()
    assert "Capteurs connectés\npour les réseaux d&#39;eau." in raw
    assert 'value="eau, capteurs"' in raw

    await post(api, f"{chloe}/profile", description="Nos sondes", themes="eau", website="")
    await post(api, f"{await page_of(db, 'ana')}/needs", title="Compter l'eau", themes="eau")
    await api.import_ok(prefilled())  # the same file again
    raw = await (await api.client.get(chloe)).text()
    assert ">Nos sondes<" in raw  # what Chloé wrote stays
    async with db() as session:
        titles = list(await session.scalars(select(Need.title).order_by(Need.id)))
    assert titles == ["Détecter les fuites", "Compter l'eau"]  # not added twice


@pytest.mark.parametrize(
    ("change", "place", "says"),
    [
        (
            {"needs": [{"key": "n", "organisation": "acme", "title": "T"}]},
            "needs[0].organisation",
            "not a buyer",
        ),
        (
            {"needs": [{"key": "n", "organisation": "nope", "title": "T"}]},
            "needs[0].organisation",
            "unknown organisation",
        ),
        ({"needs": [{"key": "n", "organisation": "water"}]}, "needs[0].title", "missing title"),
        (
            {"needs": [{"key": "n", "organisation": "water", "title": "T", "colour": 1}]},
            "needs[0].colour",
            "unknown field",
        ),
        ({"needs": "water"}, "needs", "must be a list"),
        ({"website": "javascript:alert(1)"}, "organisations[2].website", "https"),
        ({"description": "a\x07b"}, "organisations[2].description", "control character"),
        ({"themes": [1, 2]}, "organisations[2].themes", "short texts"),
    ],
)
async def test_a_pre_fill_with_problems_is_refused_at_its_place(
    api: Api, change: dict[str, Any], place: str, says: str
) -> None:
    program = requests_open()
    if "needs" in change:
        program.update(change)
    else:
        program["organisations"][2].update(change)  # Acme Sensors
    response = await api.put_program(program)
    assert response.status == 422
    problems = (await response.json())["error"]["details"]
    assert any(p["place"] == place and says in p["message"] for p in problems), problems
