"""The Lyon day built by its participants, in a browser and in French (the event's language): its
one-to-one meetings removed and
requests opened, Hélène Martin (Eau et Déchets) publishes a need; Camille Girard (Aquasentis)
describes her offer, finds the need among her suggestions and asks for a meeting; Hélène
accepts; the organiser previews the placement and applies it in the workspace; both get their
invite in the SMTP sink and both agenda pages show the meeting."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from support.accessibility import blocking_violations
from support.browser import screenshot_path
from support.mailsink import MailSink
from support.service import Api, ManualClock
from support.signin import login_path

from orchestrator.db import models as m

LYON = Path(__file__).parents[2] / "examples" / "lyon-2021" / "program.json"
SLUG = "rdv-commande-publique-2021"


def lyon_with_requests_open() -> dict[str, Any]:
    program = json.loads(LYON.read_text(encoding="utf-8"))
    program["sessions"] = [s for s in program["sessions"] if s["kind"] != "meeting"]
    program["schedule"] = {
        "windows": [
            ["2021-04-08T10:30", "2021-04-08T12:30"],
            ["2021-04-08T14:00", "2021-04-08T17:00"],
        ],
        "slot_minutes": 30,
        "requests_open": "2021-03-15T09:00",
        "requests_close": "2021-04-01T18:00",
        "max_requests_per_person": 1,
    }
    return program


async def feed_of(db: Any, person: str) -> str:
    async with db() as session:
        token = await session.scalar(select(m.Person.feed_token).where(m.Person.key == person))
    return str(token)


async def test_the_day_builds_itself_from_a_need_a_request_and_an_acceptance(
    make_api: Callable[..., Any],
    db: Any,
    sink: MailSink,
    clock: ManualClock,
    browser: Any,
) -> None:
    api: Api = await make_api(mail_url=sink.url, public_url="http://rdv.test")
    await api.import_ok(lyon_with_requests_open())
    clock.set(datetime(2021, 3, 20, 9, 0, tzinfo=UTC))
    await api.deliver_mail()
    sink.clear()
    base = str(api.client.make_url("/")).rstrip("/")
    phone = await browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)

    helene = await phone.new_page()
    await helene.goto(f"{base}/me/{await feed_of(db, 'hmartin')}/requests")
    publish = helene.locator("form", has=helene.get_by_role("group", name="Publier un besoin"))
    await publish.get_by_label("Titre").fill("Surveiller la qualité de l'eau potable")
    await publish.get_by_label("Description").fill(
        "Des capteurs sur le réseau pour mesurer le chlore et alerter en cas de pollution."
    )
    await publish.get_by_label("Thèmes, séparés par des virgules").fill("eau, capteurs")
    await publish.get_by_role("button", name="Publier").click()
    await helene.get_by_role("status").wait_for()
    assert "Votre besoin est publié." in await helene.get_by_role("status").inner_text()
    assert await blocking_violations(helene) == []

    camille = await phone.new_page()
    await camille.goto(f"{base}/me/{await feed_of(db, 'cgirard')}/requests")
    offer = camille.locator("form", has=camille.get_by_role("group", name="Aquasentis"))
    await offer.get_by_label("Description").fill(
        "Nos capteurs mesurent en continu la qualité de l'eau : chlore, turbidité, pollution."
    )
    await offer.get_by_label("Thèmes, séparés par des virgules").fill("eau; capteurs")
    await offer.get_by_role("button", name="Enregistrer le profil").click()
    await camille.get_by_role("status").wait_for()
    fits = camille.locator(
        "section",
        has=camille.get_by_role("heading", name="Besoins qui correspondent à votre offre"),
    )
    suggestion = fits.get_by_role("link", name="Surveiller la qualité de l'eau potable")
    assert "En commun :" in await fits.inner_text()
    await suggestion.click()  # to the need, further down
    need = camille.locator(".need", has_text="Surveiller la qualité de l'eau potable")
    await need.get_by_text("Demander un rendez-vous sur ce besoin").click()
    await need.get_by_label("Votre message").fill("Nos sondes répondent à votre besoin de mesure.")
    await need.get_by_role("button", name="Envoyer la demande").click()
    await camille.get_by_role("status").wait_for()
    assert "Votre demande est envoyée" in await camille.get_by_role("status").inner_text()
    assert await blocking_violations(camille) == []

    # one request going at most: asking a second directorate is refused, and says why
    roads = f"{base}/me/{await feed_of(db, 'ochabert')}/requests"
    await api.client.post(
        roads.removeprefix(base) + "/needs", data={"title": "Éclairage public économe"}
    )
    await camille.reload()
    other = camille.locator(".need", has_text="Éclairage public économe")
    await other.get_by_text("Demander un rendez-vous sur ce besoin").click()
    await other.get_by_label("Votre message").fill("Nos capteurs de luminosité")
    await other.get_by_role("button", name="Envoyer la demande").click()
    alert = camille.get_by_role("alert")
    await alert.wait_for()
    assert "autant de demandes en cours que l'événement le permet" in await alert.inner_text()

    await helene.reload()
    request = helene.locator(".request", has_text="Camille Girard")
    await request.get_by_role("button", name="Accepter").click()
    await helene.get_by_role("status").wait_for()
    await helene.screenshot(path=str(screenshot_path("requests-lyon-buyer.png")), full_page=True)

    desk = await browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    organiser = await desk.new_page()
    await organiser.goto(base + await login_path(db, clock, SLUG, base_url=base))
    await organiser.get_by_role("button", name="Se connecter").click()
    await organiser.wait_for_url(f"{base}/dashboard/{SLUG}")
    await organiser.goto(f"{base}/admin/{SLUG}/requests")
    assert "acceptée" in await organiser.locator("table.matrix").inner_text()
    await organiser.get_by_role("button", name="Prévisualiser le placement").click()
    preview = organiser.get_by_label("Où les rendez-vous seraient placés")
    await preview.wait_for(timeout=30000)  # the page shows how the run goes, then the placement
    assert "placed 1 of 1 meeting requests" in await preview.inner_text()
    assert await blocking_violations(organiser) == []
    await organiser.get_by_role("button", name="Appliquer").click()
    written = organiser.get_by_role("status").filter(has_text="Les rendez-vous sont écrits")
    await written.wait_for(timeout=30000)
    await desk.close()

    await api.deliver_mail()
    invited = {m.recipient for m in sink.received if m.method == "REQUEST"}
    assert invited == {"camille.girard@aquasentis.example", "helene.martin@grandlyon.example"}
    for person in ("cgirard", "hmartin"):
        agenda = await phone.new_page()
        await agenda.goto(f"{base}/me/{await feed_of(db, person)}")
        meeting = agenda.locator(".session", has_text="Aquasentis × Eau et Déchets")
        assert await meeting.count() == 1
        assert "jeudi 8 avril 2021" in await meeting.inner_text()
    clock.set(datetime(2021, 4, 2, 9, 0, tzinfo=UTC))  # requests closed
    await camille.reload()
    assert "Les demandes de rendez-vous ont fermé le" in await camille.locator("main").inner_text()
    assert await camille.get_by_text("Demander un rendez-vous sur ce besoin").count() == 0
    await phone.close()
