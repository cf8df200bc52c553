"""The example day, end to end (issue 22). On the "Rendez-vous de la commande publique" the
companies meet Grand Lyon's directorates in 41 one-to-one meetings; some happen, some do not:
nobody came, one side waited alone, the two missed each other, or shared the room two minutes.
Once the rooms have closed, each person of a held meeting, and nobody else, finds in the mail
the question of what came of it. A few click an answer in that mail; the follow-up team reads
the counts through the API, on the report page and in the CSV. One pair that saw a cooperation
plans a follow-up on their agendas: one proposes, the other confirms, both get the invite and
the room opens on the day. Six months after the day, those who saw a cooperation are asked
again, once, also when the service restarts."""

from __future__ import annotations

import csv
import html
import io
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from support.attendance_day import (
    MINUTE,
    ROOM_LEAD,
    Credentials,
    Day,
    Delivery,
    Line,
    Person,
    Session,
    Wiring,
    perfect_attendance,
    render,
    sightings,
)
from support.mailsink import MailSink, Received
from support.service import EXAMPLE_SLUG, Api, ManualClock, example_program
from support.signin import sign_in

from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.db.outcomes import AFTER, LATER, OutcomeCheck
from orchestrator.db.states import RoomState
from orchestrator.mail.outcome_questions import OutcomeQuestions

SLUG = EXAMPLE_SLUG
SEED = 22
BASE = "http://rdv.test"
CREDENTIALS = Credentials()

# How a meeting went. Held: the company and the buyer in the room together 5 minutes or more.
HELD = ("both-there", "buyer-late")
NOT_HELD = ("nobody", "one-side-alone", "missed-each-other", "two-minutes")
STORIES = HELD * 3 + NOT_HELD  # about three meetings in five are held
SIDES = ("company", "buyer")


def went(meeting: Session, story: str, rng: random.Random) -> Session:
    """The meeting as `story` tells it (everyone on time and to the end is "both-there")."""
    company, buyer = (next(line for line in meeting.lines if line.kind == side) for side in SIDES)
    start, end = meeting.starts_at, meeting.ends_at
    there = ((start - MINUTE, end + MINUTE),)
    company_tabs, buyer_tabs = {
        "both-there": (company.tabs, buyer.tabs),
        "buyer-late": (there, ((start + 12 * MINUTE, end + MINUTE),)),  # 18 minutes together
        "nobody": ((), ()),
        "one-side-alone": rng.choice([(there, ()), ((), there)]),
        "missed-each-other": (((start, start + 10 * MINUTE),), ((start + 12 * MINUTE, end),)),
        "two-minutes": (there, ((start + 20 * MINUTE, start + 22 * MINUTE),)),
    }[story]
    lines: tuple[Line, ...] = (replace(company, tabs=company_tabs), replace(buyer, tabs=buyer_tabs))
    return replace(meeting, lines=lines)


@dataclass(frozen=True)
class Played:
    """The day as it happened (the truth: meetings only), and the service that lived it."""

    api: Api
    day: Day

    @property
    def held(self) -> list[Session]:
        return [meeting for meeting in self.day.meetings if meeting.held]

    @property
    def not_held(self) -> list[Session]:
        return [meeting for meeting in self.day.meetings if not meeting.held]

    @property
    def last_end(self) -> datetime:
        """The end of the day's last session (a meeting, after the morning's plenary)."""
        return max(meeting.ends_at for meeting in self.day.meetings)


def questions(api: Api, clock: ManualClock) -> OutcomeQuestions:
    app = api.client.app
    assert app is not None
    return OutcomeQuestions(app[appkeys.DB], clock.now, app[appkeys.SETTINGS], app[appkeys.WRITER])


async def service(make_api: Callable[..., Any], sink: MailSink) -> Api:
    """The service as it runs; built again, it is a restart on the same database."""
    api: Api = await make_api(
        mail_url=sink.url, jitsi_webhook_secret=CREDENTIALS.jitsi_secret, public_url=BASE
    )
    return api


async def wiring_of(db: Any) -> Wiring:
    """Each session's Jitsi room name and each expected person's seat, as the import made them."""
    async with db() as s:
        rooms = (await s.execute(select(m.Session.key, m.Room.room_key).join(m.Room))).all()
        seats = (
            await s.execute(
                select(m.Attendee.id, m.Session.key, m.Person.key)
                .join(m.Session, m.Session.id == m.Attendee.session_id)
                .join(m.Person, m.Person.id == m.Attendee.person_id)
            )
        ).all()
    return Wiring(
        rooms={key: room_key.lower() for key, room_key in rooms},
        seats={(session, person): attendee for attendee, session, person in seats},
    )


@pytest.fixture
async def played(
    make_api: Callable[..., Any], sink: MailSink, clock: ManualClock, db: Any
) -> Played:
    """The example event imported and its invitations sent, then its meetings lived through
    Jitsi's event_sync webhooks while the clock moves through the day: the room lifecycle opens
    and closes the rooms and the outcome pass runs, as the service's periodic jobs do."""
    program = example_program()
    program["event"]["provider"] = "jitsi"
    api = await service(make_api, sink)
    await api.import_ok(program)
    await api.deliver_mail()
    sink.clear()

    rng = random.Random(SEED)
    everyone = perfect_attendance(program)
    stories = {meeting.key: rng.choice(STORIES) for meeting in everyone.meetings}
    assert set(stories.values()) == set(HELD + NOT_HELD)  # every story is told
    day = replace(everyone, sessions=tuple(went(s, stories[s.key], rng) for s in everyone.meetings))
    for meeting in day.meetings:  # the README's rules (written again in support) agree
        assert meeting.held == (stories[meeting.key] in HELD), meeting.key

    deliveries = render(day, "jitsi", sightings(day, "jitsi"), await wiring_of(db), rng)
    app = api.client.app
    assert app is not None
    lifecycle, asker = app[appkeys.LIFECYCLE], questions(api, clock)
    passes = {s.starts_at - ROOM_LEAD for s in day.sessions} | {s.closes_at for s in day.sessions}
    timeline: list[tuple[datetime, int, Delivery | None]] = [(t, 0, None) for t in passes]
    timeline += [(delivery.sent, 1, delivery) for delivery in deliveries]
    for moment, _, delivery in sorted(timeline, key=lambda step: (step[0], step[1])):
        clock.set(moment)
        if delivery is None:
            assert (await lifecycle.reconcile()).failed == 0
            await asker.queue_due()
            continue
        sent = await api.client.post(delivery.path, data=delivery.body, headers=delivery.headers)
        assert sent.status == 200, await sent.text()
    clock.set(max(s.closes_at for s in day.sessions) + 5 * MINUTE)
    await api.deliver_mail()
    return Played(api, day)


def asked_in(sink: MailSink, stage: tuple[str, ...] = AFTER) -> list[Received]:
    """The mails that ask what came of a meeting (at a stage): those with its answer links."""
    return [
        mail
        for mail in sink.received
        if any(word.endswith(f"/{stage[0]}") for word in mail.text.split())
    ]


def question_to(sink: MailSink, person: Person, meeting: Session) -> Received:
    """The one mail that asks `person` about `meeting`."""
    (mail,) = [
        mail
        for mail in asked_in(sink)
        if mail.recipient == person.email and meeting.title in mail.text
    ]
    return mail


def link_in(mail: Received, label: str) -> str:
    (link,) = [word for word in mail.text.split() if word.endswith(f"/{label}")]
    return link


async def click(api: Api, link: str) -> str:
    """What a browser does with an answer link: it opens the page, whose script sends the page's
    form as it loads (static/outcome.js); the page the form lands on."""
    opened = await api.client.get(link.removeprefix(BASE))
    assert opened.status == 200
    form = re.search(
        r'<form method="post" action="([^"]+)" data-submit-on-load>(.*?)</form>',
        await opened.text(),
        re.S,
    )
    assert form is not None, "the page would send nothing"
    chosen = re.search(r'name="answer" value="([^"]+)" checked', form.group(2))
    comment = re.search(r'<textarea[^>]*name="comment"[^>]*>([^<]*)</textarea>', form.group(2))
    assert chosen is not None
    assert comment is not None
    sent = await api.client.post(
        form.group(1),
        data={"answer": chosen.group(1), "comment": html.unescape(comment.group(1))},
        allow_redirects=False,
    )
    assert sent.status == 303
    landed = await api.client.get(sent.headers["Location"])
    return await landed.text()


async def click_answers(
    played: Played, sink: MailSink, answers: list[tuple[Session, Person, str]]
) -> None:
    for meeting, person, label in answers:
        page = await click(played.api, link_in(question_to(sink, person, meeting), label))
        assert 'class="notice" role="status"' in page  # "your answer is recorded"


def sides(meeting: Session) -> tuple[Person, Person]:
    company, buyer = (next(p for p in meeting.attendees if p.kind == side) for side in SIDES)
    return company, buyer


def outcome_table(page: str) -> tuple[list[int], dict[str, list[int]]]:
    """The report page's table of answers: its total row, and each organisation's row (the
    counts in the order of the labels)."""
    start = page.index('<table class="outcomes">')
    table = page[start : page.index("</table>", start)]
    cells = r"<th scope=\"row\">([^<]*)</th>((?:<td>\d+</td>)+)</tr>"
    rows = {
        html.unescape(name): [int(n) for n in re.findall(r"\d+", counts)]
        for name, counts in re.findall(rf"<tr>{cells}", table)
    }
    (total,) = re.findall(rf'<tr class="total">{cells}', table)
    return [int(n) for n in re.findall(r"\d+", total[1])], rows


def words(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


async def test_the_held_meetings_people_and_only_they_are_asked_once_the_rooms_have_closed(
    played: Played, sink: MailSink, db: Any, clock: ManualClock
) -> None:
    assert len(played.held) >= 20  # a day with both
    assert len(played.not_held) >= 10
    mails = asked_in(sink)
    wanted = Counter(person.email for meeting in played.held for person in meeting.attendees)
    assert Counter(mail.recipient for mail in mails) == wanted  # one mail per held meeting
    alone = {p.email for meeting in played.not_held for p in meeting.attendees} - set(wanted)
    assert alone  # people whose only meetings were not held...
    assert not alone & {mail.recipient for mail in mails}  # ...are asked nothing
    for meeting in played.held:  # each side's mail names the other side
        company, buyer = sides(meeting)
        for person, other in ((company, buyer), (buyer, company)):
            assert other.organisation is not None
            assert other.organisation.name in question_to(sink, person, meeting).subject

    async with db() as session:
        checked = (
            await session.execute(select(m.Session.key, OutcomeCheck.held).join(OutcomeCheck))
        ).all()
    assert dict(checked) == {meeting.key: meeting.held for meeting in played.day.meetings}
    assert await questions(played.api, clock).queue_due() == 0  # asked once


async def test_answers_clicked_in_the_mails_show_in_the_api_the_report_page_and_the_csv(
    played: Played, sink: MailSink, db: Any, clock: ManualClock
) -> None:
    first, second, third = played.held[:3]
    answers = [
        (first, sides(first)[0], "cooperation-possible"),
        (first, sides(first)[1], "cooperation-possible"),
        (second, sides(second)[0], "insufficient-interest"),
        (second, sides(second)[0], "informative-no-cooperation"),  # thought better of it
        (third, sides(third)[1], "insufficient-interest"),
    ]
    await click_answers(played, sink, answers)
    last = {(meeting.key, person): label for meeting, person, label in answers}
    final = {(key, person.key): label for (key, person), label in last.items()}
    counts = Counter(final.values())
    asked = 2 * len(played.held)
    by_organisation: dict[str, Counter[str]] = {}
    for (_, person), label in last.items():
        assert person.organisation is not None
        by_organisation.setdefault(person.organisation.name, Counter())[label] += 1

    api = played.api
    found = await api.client.get(f"/api/v1/events/{SLUG}/outcomes", headers=api.headers(SLUG))
    body = await found.json()
    assert (body["after"]["asked"], body["after"]["answered"]) == (asked, len(final))
    assert body["after"]["labels"] == {label: counts[label] for label in AFTER}
    given = {(row["session"], row["person"]): row["answer"] for row in body["answers"]}
    assert {key: answer for key, answer in given.items() if answer} == final
    report = await (
        await api.client.get(f"/api/v1/events/{SLUG}/report", headers=api.headers(SLUG))
    ).json()
    assert (report["outcomes_asked"], report["outcomes_answered"]) == (asked, len(final))

    signed = await sign_in(api.client, db, clock, SLUG, role="followup")
    page = await (await api.client.get(f"/events/{SLUG}/report", cookies=signed.cookies)).text()
    said = words(page)
    assert f"{len(final)} des {asked} personnes interrogées après un rendez-vous tenu" in said
    total, rows = outcome_table(page)
    assert total == [counts[label] for label in AFTER]
    assert rows == {
        name: [told[label] for label in AFTER] for name, told in by_organisation.items()
    }

    exported = await api.client.get(f"/events/{SLUG}/report/outcomes.csv", cookies=signed.cookies)
    assert exported.status == 200
    lines = list(csv.DictReader(io.StringIO((await exported.read()).decode("utf-8-sig"))))
    assert len(lines) == asked
    assert Counter(line["answer"] for line in lines if line["answer"]) == counts
    assert {
        (line["session"], line["person"]): line["answer"] for line in lines if line["answer"]
    } == final


FOLLOW_UP = datetime(2021, 6, 10, 8, 0, tzinfo=UTC)  # June 10, 10:00 in Lyon


async def plan_follow_up(played: Played, db: Any, meeting: Session) -> dict[str, Any]:
    """The company proposes, on its agenda, to meet again on June 10 from 10:00 to 10:45; the
    buyer confirms on theirs. The follow-up session, as the API shows it."""
    api, (company, buyer) = played.api, sides(meeting)
    proposer, confirmer = await agenda_of(db, company), await agenda_of(db, buyer)
    plan = f"{proposer}/{meeting.key}/follow-up"
    assert f'action="{plan}"' in await (await api.client.get(proposer)).text()
    proposed = await api.client.post(
        plan, data={"day": "2021-06-10", "start": "10:00", "end": "10:45"}, allow_redirects=False
    )
    assert proposed.headers["Location"] == f"{proposer}?planned=proposed"
    page = await (await api.client.get(confirmer)).text()
    answer = re.search(r'action="(/me/[^"]+/follow-ups/\d+/answer)"', page)
    assert answer is not None
    confirmed = await api.client.post(
        answer.group(1), data={"answer": "confirmed"}, allow_redirects=False
    )
    assert confirmed.headers["Location"] == f"{confirmer}?planned=confirmed"
    event = await api.get_event(SLUG)
    (follow_up,) = [s for s in event["sessions"] if s["kind"] == "follow-up"]
    return dict(follow_up)


async def agenda_of(db: Any, person: Person) -> str:
    """The person's agenda page, as every invite links it."""
    async with db() as session:
        token = await session.scalar(select(m.Person.feed_token).where(m.Person.key == person.key))
    return f"/me/{token}"


async def test_a_pair_that_saw_a_cooperation_plans_its_follow_up_which_is_invited_and_opens(
    played: Played, sink: MailSink, db: Any, clock: ManualClock
) -> None:
    meeting = played.held[0]
    company, buyer = sides(meeting)
    await click_answers(played, sink, [(meeting, company, "cooperation-possible")])
    api = played.api
    await api.deliver_mail()
    sink.clear()

    follow_up = await plan_follow_up(played, db, meeting)
    assert {a["key"] for a in follow_up["attendees"]} == {company.key, buyer.key}
    assert (follow_up["start"], follow_up["end"]) == (
        "2021-06-10T08:00:00Z",
        "2021-06-10T08:45:00Z",
    )
    await api.deliver_mail()
    (proposal,) = [mail for mail in sink.received if not mail.method]
    assert proposal.recipient == buyer.email  # the other side was told of the proposal
    assert company.name in proposal.subject
    invites = [mail for mail in sink.received if mail.method]
    assert {mail.recipient: mail.method for mail in invites} == {
        company.email: "REQUEST",
        buyer.email: "REQUEST",
    }
    assert {str(mail.event["SUMMARY"]) for mail in invites} == {follow_up["title"]}
    report = await (
        await api.client.get(f"/api/v1/events/{SLUG}/report", headers=api.headers(SLUG))
    ).json()
    assert (report["follow_ups_planned"], report["meetings_scheduled"]) == (1, 41)

    # On June 10 its room is provisioned ahead, and the link in the invite opens it.
    clock.set(FOLLOW_UP - ROOM_LEAD)
    app = api.client.app
    assert app is not None
    assert (await app[appkeys.LIFECYCLE].reconcile()).provisioned == 1
    async with db() as session:
        room = await session.scalar(
            select(m.Room).join(m.Session).where(m.Session.key == follow_up["key"])
        )
    assert room is not None
    assert (room.state, room.provisioned_with) == (RoomState.READY, "jitsi")
    clock.set(FOLLOW_UP)
    join = next(str(mail.event["LOCATION"]) for mail in invites if mail.recipient == buyer.email)
    opened = await api.client.get(join.removeprefix(BASE), allow_redirects=False)
    assert opened.status == 302
    assert opened.headers["Location"].startswith(f"https://meet.jit.si/{room.external_id}")


async def test_six_months_after_the_day_who_saw_a_cooperation_is_asked_again_once_across_a_restart(
    played: Played, sink: MailSink, db: Any, clock: ManualClock, make_api: Callable[..., Any]
) -> None:
    first, second, third = played.held[:3]
    await click_answers(
        played,
        sink,
        [
            (first, sides(first)[0], "cooperation-possible"),
            (first, sides(first)[1], "cooperation-possible"),
            (second, sides(second)[0], "cooperation-possible"),
            (second, sides(second)[1], "insufficient-interest"),
            (third, sides(third)[0], "informative-no-cooperation"),
        ],
    )
    await plan_follow_up(played, db, first)  # the first pair meets again in June
    api = played.api
    await api.deliver_mail()
    sink.clear()
    seen_a_cooperation = {
        sides(first)[0].email: first,
        sides(first)[1].email: first,
        sides(second)[0].email: second,
    }

    app = api.client.app
    assert app is not None
    after = app[appkeys.SETTINGS].followup_after  # 180 days
    clock.set(played.last_end + after - timedelta(hours=1))
    assert await questions(api, clock).queue_due() == 0  # not yet
    clock.set(played.last_end + after + MINUTE)
    assert await questions(api, clock).queue_due() == len(seen_a_cooperation), (
        "RDV_FOLLOWUP_AFTER counts from the event's day, not from a follow-up planned since"
    )
    restarted = await service(make_api, sink)
    assert await questions(restarted, clock).queue_due() == 0  # once, also after a restart
    clock.advance(timedelta(days=1))
    assert await questions(restarted, clock).queue_due() == 0
    await restarted.deliver_mail()
    later = asked_in(sink, LATER)
    assert len(later) == len(sink.received) == len(seen_a_cooperation)
    assert {mail.recipient: mail for mail in later}.keys() == seen_a_cooperation.keys()
    for mail in later:
        assert seen_a_cooperation[mail.recipient].title in mail.text
        links = [word.rsplit("/", 1)[1] for word in mail.text.split() if "/o/" in word]
        assert links == list(LATER)
