"""The mail of participants' meeting requests, in the recipient's language: a request received,
accepted, declined, or still waiting for its answer. Pure: words in, a `MailText` out; the
notice template escapes every value in the HTML."""

from __future__ import annotations

from typing import Literal

from .model import Party
from .text import MailText, Writer

Step = Literal["received", "accepted", "declined", "reminder"]


def request_mail(
    writer: Writer,
    locale: str | None,
    *,
    step: Step,
    sender: str,
    sender_organisation: str,
    directorate: str,
    need: str | None,
    message: str,
    reason: str | None,
    page_url: str,
    organiser: Party,
    event_title: str,
) -> MailText:
    """`sender` asked `directorate` for a meeting; what this step tells the recipient."""
    language = writer.language(locale)
    _ = language.gettext
    who = f"{sender} ({sender_organisation})" if sender_organisation else sender
    subject = {
        "received": _("Meeting request from {who}"),
        "reminder": _("Waiting for your answer: meeting request from {who}"),
        "accepted": _("{directorate} accepted your meeting request"),
        "declined": _("{directorate} declined your meeting request"),
    }[step].format(who=who, directorate=directorate)
    lines = [
        {
            "received": _("{who} would like to meet {directorate} at {event}."),
            "reminder": _("{who} is still waiting for an answer from {directorate} for {event}."),
            "accepted": _("{directorate} accepted to meet you at {event}."),
            "declined": _("{directorate} will not meet you at {event}."),
        }[step].format(who=who, directorate=directorate, event=event_title)
    ]
    if need:
        lines.append(_("About the need: “{need}”").format(need=need))
    if step in ("received", "reminder"):
        lines.append(_("Their message: “{message}”").format(message=message))
        lines.append(_("Accept or decline it on your page."))
    elif step == "accepted":
        lines.append(_("The meeting will be placed in the day's schedule; its invite follows."))
    elif reason:
        lines.append(_("Their reason: “{reason}”").format(reason=reason))
    lines += [
        "",
        _("Your page: {url}").format(url=page_url),
        _("Organised by {name} ({email}) for {event}").format(
            name=organiser.name, email=organiser.email, event=event_title
        ),
    ]
    return _notice(writer, language.locale, subject, lines, page_url, _("Open my page"))


def agenda_ready_mail(
    writer: Writer,
    locale: str | None,
    *,
    meetings: tuple[str, ...],
    agenda_url: str,
    organiser: Party,
    event_title: str,
) -> MailText:
    """The meetings asked before the day are placed: where to see them (their invites follow
    separately, one per meeting)."""
    language = writer.language(locale)
    _ = language.gettext
    subject = _("Your agenda for {event} is ready").format(event=event_title)
    lines = [
        _("The meetings you asked for or accepted are placed:"),
        *(f"- {title}" for title in meetings),
        _("Each one's invite comes in its own mail, with your personal link."),
        "",
        _("Your agenda: {url}").format(url=agenda_url),
        _("Organised by {name} ({email}) for {event}").format(
            name=organiser.name, email=organiser.email, event=event_title
        ),
    ]
    return _notice(writer, language.locale, subject, lines, agenda_url, _("Open my agenda"))


def _notice(
    writer: Writer, locale: str, subject: str, lines: list[str], link: str, label: str
) -> MailText:
    """The text, and the HTML of the notice template (the first line bold, a button)."""
    language = writer.language(locale)
    html = writer.templates.get_template("notice.html").render(
        _=language.gettext, lang=locale, subject=subject, lines=lines, link=link, label=label
    )
    return MailText(subject=subject, text="\n".join(lines) + "\n", html=html)
