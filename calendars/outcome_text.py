"""The mail that asks each side of a held meeting what came of it: the answers as links, one
click each, in the recipient's language. Pure; the notice template escapes every value."""

from __future__ import annotations

from collections.abc import Sequence

from .model import Party
from .text import MailText, Writer


def N_(message: str) -> str:
    """Marks a message for the catalogues; it is translated where it is shown."""
    return message


# The words people read for each stored label.
LABEL_TEXT = {
    "did-not-take-place": N_("It did not take place"),
    "insufficient-interest": N_("Not enough common interest"),
    "informative-no-cooperation": N_("Informative, no cooperation in view"),
    "cooperation-possible": N_("A cooperation is possible"),
    "no-further-contact": N_("No further contact"),
    "knowledge-gained": N_("We learnt from it"),
    "valuable-contact": N_("A valuable contact"),
    "negotiation-started": N_("A negotiation has started"),
    "agreement-reached": N_("An agreement was reached"),
}


def outcome_question_mail(
    writer: Writer,
    locale: str | None,
    *,
    later: bool,
    title: str,
    partner: str,
    answers: Sequence[tuple[str, str]],
    organiser: Party,
    event_title: str,
) -> MailText:
    """`answers` are (label, the link that records it)."""
    language = writer.language(locale)
    _ = language.gettext
    subject = (
        _("Some months on: what came of your meeting with {partner}?")
        if later
        else _("What came of your meeting with {partner}?")
    ).format(partner=partner)
    lines = [
        _("Your meeting “{title}” with {partner}: one click tells the organisers.").format(
            title=title, partner=partner
        ),
        *(f"{_(LABEL_TEXT[label])}: {url}" for label, url in answers),
        _("You may add a comment on the page that opens; only the organisers read it."),
        "",
        _("Organised by {name} ({email}) for {event}").format(
            name=organiser.name, email=organiser.email, event=event_title
        ),
    ]
    html = writer.templates.get_template("outcome.html").render(
        _=_,
        lang=language.locale,
        subject=subject,
        first=lines[0],
        answers=[(_(LABEL_TEXT[label]), url) for label, url in answers],
        rest=lines[len(answers) + 1 :],
    )
    return MailText(subject=subject, text="\n".join(lines) + "\n", html=html)


def follow_up_mail(
    writer: Writer,
    locale: str | None,
    *,
    proposed: bool,
    who: str,
    title: str,
    when: str,
    agenda_url: str,
    organiser: Party,
    event_title: str,
) -> MailText:
    """`who` proposes to meet again (`proposed`), or declined the time proposed."""
    language = writer.language(locale)
    _ = language.gettext
    subject = (
        _("{who} proposes to meet again: {when}") if proposed else _("{who} cannot meet again then")
    ).format(who=who, when=when)
    lines = [
        (
            _("{who} proposes a follow-up of “{title}” on {when}.")
            if proposed
            else _("{who} declined the follow-up of “{title}” on {when}; propose another time.")
        ).format(who=who, title=title, when=when),
        _("Confirm or decline it on your agenda.") if proposed else "",
        "",
        _("Your agenda: {url}").format(url=agenda_url),
        _("Organised by {name} ({email}) for {event}").format(
            name=organiser.name, email=organiser.email, event=event_title
        ),
    ]
    html = writer.templates.get_template("notice.html").render(
        _=_,
        lang=language.locale,
        subject=subject,
        lines=lines,
        link=agenda_url,
        label=_("Open my agenda"),
    )
    return MailText(subject=subject, text="\n".join(lines) + "\n", html=html)
