"""Claire, the organiser, connects the cluster's CRM from the workspace: she pastes the CRM's
address, ticks the changes it wants, and copies the signing secret the page shows her once.
The CRM then gets the day's changes, checked by the Standard Webhooks library. When the CRM was
down for a whole day, its subscription shows as failing with the delivery it missed; once the
CRM is back she resends it from the page, with the keyboard, under its first webhook-id. A
follow-up reader does not see the receivers at all: their addresses may hold credentials."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from support.accessibility import blocking_violations
from support.browser import screenshot_path
from support.receiver import Receiver
from support.service import Api, ManualClock, small_program
from support.signin import login_path
from test_workspace import BASE, SLUG, csrf_of, page, post, sign_in

from orchestrator import appkeys
from orchestrator.outbound.sender import WebhookSender


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def crm(aiohttp_server: Any, receiver: Receiver) -> str:
    server = await aiohttp_server(receiver.app())
    return str(server.make_url("/hooks/rdv"))


@pytest.fixture
async def api(make_api: Callable[..., Any]) -> Api:
    api: Api = await make_api(public_url=BASE, webhook_allow_private=True)
    await api.import_ok(small_program())
    return api


def sender(api: Api) -> WebhookSender:
    app = api.client.app
    assert app is not None
    return app[appkeys.WEBHOOKS_OUT]


async def test_the_organiser_connects_the_crm_sees_it_failing_and_resends_what_it_missed(
    api: Api, db: Any, clock: ManualClock, browser: Any, receiver: Receiver, crm: str
) -> None:
    base = str(api.client.make_url("/")).rstrip("/")
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    claire = await context.new_page()
    await claire.goto(base + await login_path(db, clock, SLUG, base_url=base))
    await claire.get_by_role("button", name="Sign in").click()
    await claire.wait_for_load_state()
    await claire.goto(f"{base}/admin/{SLUG}/program")
    await claire.get_by_role("link", name="Webhooks").click()
    assert "No receiver is subscribed." in await claire.locator("main").inner_text()
    await claire.get_by_label("The receiver's address (https://…)").fill(crm)
    await claire.get_by_label("session.changed").check()
    await claire.get_by_label("session.cancelled").check()
    await claire.get_by_role("button", name="Subscribe", exact=True).click()
    status = claire.get_by_role("status")
    assert "shown this once" in await status.inner_text()
    receiver.secret = (await claire.locator("code.secret").inner_text()).strip()
    assert receiver.secret.startswith("whsec_")
    assert await blocking_violations(claire) == []

    moved = await api.patch(SLUG, "m1", {"start": "2021-04-08T10:45", "end": "2021-04-08T11:15"})
    assert moved.status == 200
    phoned = await api.client.put(
        f"/api/v1/events/{SLUG}/sessions/m2/attendees/eve/answer",
        headers=api.headers(SLUG),
        json={"answer": "accepted"},
    )
    assert phoned.status == 200  # not a change this receiver asked for
    await sender(api).deliver_due()
    assert receiver.types() == ["session.changed"]
    first = receiver.ids()[0]

    # The CRM is down for a day and more: the cancellation of m3 is given up on.
    receiver.failing = 502
    assert (await api.delete(SLUG, "m3")).status == 200
    for _ in range(40):
        if (await sender(api).deliver_due()).failed:
            break
        clock.advance(timedelta(hours=1))
    # The next day, Claire signs in again and looks.
    await claire.goto(base + await login_path(db, clock, SLUG, base_url=base))
    await claire.get_by_role("button", name="Sign in").click()
    await claire.wait_for_load_state()
    await claire.goto(f"{base}/admin/{SLUG}/webhooks")
    assert await claire.locator(".state").inner_text() == "failing"
    main = await claire.locator("main").inner_text()
    assert "gave up after 24 h: the receiver answered 502" in main
    assert first in main
    await claire.screenshot(path=str(screenshot_path("workspace-webhooks.png")), full_page=True)
    assert await blocking_violations(claire) == []

    receiver.failing = None
    resend = claire.get_by_role("button", name="Resend the session.cancelled")
    await resend.focus()
    await claire.keyboard.press("Enter")
    await claire.wait_for_url("**done=webhook-resent")
    assert "due again, with the same webhook-id" in await claire.get_by_role("status").inner_text()
    await sender(api).deliver_due()
    assert receiver.types() == ["session.changed", "session.cancelled"]
    (cancelled,) = receiver.of("session.cancelled")
    assert cancelled["session"]["key"] == "m3"
    await claire.reload()
    assert await claire.locator(".state").inner_text() == "active"

    await claire.set_viewport_size({"width": 390, "height": 844})  # a phone
    width = await claire.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    await claire.screenshot(path=str(screenshot_path("workspace-webhooks-phone.png")))
    await claire.get_by_role("button", name="End this subscription").click()
    await claire.wait_for_url("**done=webhook-ended")
    assert "No receiver is subscribed." in await claire.locator("main").inner_text()
    await context.close()


async def test_a_refused_address_says_why_and_keeps_what_was_typed(
    make_api: Callable[..., Any], db: Any, clock: ManualClock
) -> None:
    api: Api = await make_api(public_url=BASE)  # private receivers not allowed here
    await api.import_ok(small_program())
    await sign_in(api.client, db, clock)
    form = await page(api.client, f"/admin/{SLUG}/webhooks")
    for url, why in (
        ("https://10.0.0.7/hooks", "inside rdv's own network"),
        ("http://crm.example/hooks", "must start with https://"),
        ("https://crm:pw@crm.example/hooks", "must not hold a user name or password"),
    ):
        refused = await post(api.client, f"/admin/{SLUG}/webhooks", csrf=csrf_of(form), url=url)
        assert refused.status == 422
        text = await refused.text()
        assert why in text.replace("&#39;", "'")
        assert f'value="{url}"' in text
    assert "No receiver is subscribed." in await page(api.client, f"/admin/{SLUG}/webhooks")
    forged = await post(api.client, f"/admin/{SLUG}/webhooks", csrf="0" * 64, url="https://x.ex")
    assert forged.status == 403


async def test_a_follow_up_reader_does_not_see_the_receivers(
    api: Api, db: Any, clock: ManualClock
) -> None:
    await sign_in(api.client, db, clock, role="followup")
    shown = await page(api.client, f"/admin/{SLUG}/sessions")
    assert f"/admin/{SLUG}/webhooks" not in shown
    assert (await api.client.get(f"/admin/{SLUG}/webhooks")).status == 403
