"""The words of a calendar mail, in the recipient's language: description, subject and bodies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from jinja2 import Environment, PackageLoader, select_autoescape

from .i18n import Catalogues, Language
from .model import Entry, Party


class Notice(StrEnum):
    """What the mail tells the recipient."""

    INVITATION = "invitation"
    UPDATE = "update"
    CANCELLED = "cancelled"
    UNINVITED = "uninvited"


@dataclass(frozen=True, slots=True)
class MailText:
    subject: str
    text: str
    html: str


def _who(party: Party) -> str:
    return f"{party.name}, {party.organisation}" if party.organisation else party.name


class Writer:
    """Writes descriptions and mail bodies; the app factory builds one and shares it."""

    def __init__(self, catalogues: Catalogues) -> None:
        self.catalogues = catalogues
        self.templates = Environment(
            loader=PackageLoader("calendars", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def language(self, locale: str | None) -> Language:
        return self.catalogues.get(locale)

    def describe(
        self,
        locale: str | None,
        *,
        title: str,
        kind: str,
        starts_at: datetime,
        ends_at: datetime,
        zone: str,
        others: tuple[Party, ...],
        join_url: str,
        organiser: Party,
        event_title: str,
        speaker: bool,
        feed_url: str,
        replay_url: str | None = None,
        agenda_url: str | None = None,
        answer_url: str | None = None,
    ) -> str:
        """The plain-text description: the calendar entry's DESCRIPTION and the text mail.
        `answer_url` is where the person says whether they will come (a page with buttons: a
        mail scanner following the link answers nothing)."""
        _ = self.language(locale).gettext
        when = self.language(locale).when(starts_at, ends_at, zone)
        lines = [title, when, ""]
        if kind == "plenary":
            lines.append(_("Plenary of {event}").format(event=event_title))
            if speaker:
                lines.append(_("You are one of the speakers."))
        else:
            lines.append(_("You meet:"))
            lines.extend(f"  {_who(party)}" for party in others)
        if replay_url:
            lines += ["", _("Replay: {url}").format(url=replay_url)]
        lines += [
            "",
            _("Join: {url}").format(url=join_url),
            _("This link is yours: it opens your own seat, from a few minutes before the start."),
            "",
        ]
        if answer_url:
            lines += [
                _(
                    "Can you come, or will a colleague come instead? Say so on your agenda: {url}"
                ).format(url=answer_url),
                "",
            ]
        if agenda_url:
            lines.append(
                _("Your agenda, with every session and its join button: {url}").format(
                    url=agenda_url
                )
            )
        lines += [
            _("All your sessions, as a calendar you can subscribe to: {url}").format(url=feed_url),
            _("Organised by {name} ({email}) for {event}").format(
                name=organiser.name, email=organiser.email, event=event_title
            ),
        ]
        return "\n".join(lines)

    def reminder(
        self,
        locale: str | None,
        *,
        title: str,
        starts_at: datetime,
        zone: str,
        others: tuple[Party, ...],
        join_url: str,
        agenda_url: str,
        organiser: Party,
        event_title: str,
    ) -> MailText:
        """A short mail shortly before a session: when, with whom, the link, the agenda."""
        language = self.language(locale)
        _ = language.gettext
        time = language.time(starts_at, zone)
        who = ", ".join(_who(party) for party in others)
        subject = (_("At {time}: {title} with {who}") if who else _("At {time}: {title}")).format(
            time=time, title=title, who=who
        )
        lines = [
            _("{title} starts at {time} ({zone}).").format(title=title, time=time, zone=zone),
            "",
            _("Join: {url}").format(url=join_url),
            _("Your agenda: {url}").format(url=agenda_url),
            "",
            _("Organised by {name} ({email}) for {event}").format(
                name=organiser.name, email=organiser.email, event=event_title
            ),
        ]
        if who:
            lines.insert(1, _("You meet: {who}").format(who=who))
        html = self.templates.get_template("reminder.html").render(
            _=_, lang=language.locale, subject=subject, lines=lines, join_url=join_url
        )
        return MailText(subject=subject, text="\n".join(lines) + "\n", html=html)

    def declined(
        self,
        locale: str | None,
        *,
        who: tuple[Party, ...],
        reasons: tuple[str, ...],
        title: str,
        starts_at: datetime,
        zone: str,
        agenda_url: str,
        organiser: Party,
        event_title: str,
        to_organisers: bool = False,
    ) -> MailText:
        """Tells the other side of a meeting (or its organisers, with the dashboard for the
        link) that someone cannot come, and why if they said; `who` may be empty when the
        decline was taken back meanwhile."""
        language = self.language(locale)
        _ = language.gettext
        when = " ".join((language.date(starts_at, zone), language.time(starts_at, zone)))
        names = ", ".join(_who(party) for party in who) or _("A participant")
        subject = _("{who} cannot come: {title}, {when}").format(who=names, title=title, when=when)
        lines = [
            _("{who} cannot come to {title} on {when} ({zone}).").format(
                who=names, title=title, when=when, zone=zone
            ),
            *(
                _("{name} says: “{reason}”").format(name=party.name, reason=reason)
                for party, reason in zip(who, reasons, strict=True)
                if reason
            ),
            _("The other side knows; the freed slot can be offered to another meeting.")
            if to_organisers
            else _("The organisers know and may offer you another meeting."),
            "",
            (_("The dashboard: {url}") if to_organisers else _("Your agenda: {url}")).format(
                url=agenda_url
            ),
            _("Organised by {name} ({email}) for {event}").format(
                name=organiser.name, email=organiser.email, event=event_title
            ),
        ]
        html = self.templates.get_template("notice.html").render(
            _=_,
            lang=language.locale,
            subject=subject,
            lines=lines,
            link=agenda_url,
            label=_("Open the dashboard") if to_organisers else _("Open my agenda"),
        )
        return MailText(subject=subject, text="\n".join(lines) + "\n", html=html)

    def replay(
        self,
        locale: str | None,
        *,
        title: str,
        event_title: str,
        url: str,
        attended: bool,
        organiser: Party,
    ) -> MailText:
        """The mail that brings a plenary's replay, worded for those who came and those who
        missed it."""
        _ = self.language(locale).gettext
        subject = _("Replay: {title}").format(title=title)
        opening = (
            _(
                "Thank you for attending {title}. The replay is online, to watch again or share "
                "with colleagues:"
            )
            if attended
            else _(
                "You could not attend {title}. The replay is online, to watch when it suits you:"
            )
        ).format(title=title)
        text = (
            "\n\n".join(
                [
                    opening,
                    url,
                    _("Organised by {name} ({email}) for {event}").format(
                        name=organiser.name, email=organiser.email, event=event_title
                    ),
                ]
            )
            + "\n"
        )
        html = self.templates.get_template("replay.html").render(
            _=_,
            lang=self.language(locale).locale,
            subject=subject,
            opening=opening,
            url=url,
            organiser=organiser,
            event_title=event_title,
        )
        return MailText(subject=subject, text=text, html=html)

    def mail(self, entry: Entry, notice: Notice, locale: str | None) -> MailText:
        """Subject, text and HTML for one recipient; every value is escaped in the HTML."""
        language = self.language(locale)
        _ = language.gettext
        prefix = {
            Notice.INVITATION: _("Invitation"),
            Notice.UPDATE: _("Updated"),
            Notice.CANCELLED: _("Cancelled"),
            Notice.UNINVITED: _("Cancelled"),
        }[notice]
        start = " ".join(
            (language.date(entry.starts_at, entry.zone), language.time(entry.starts_at, entry.zone))
        )
        subject = _("{notice}: {title} — {start}").format(
            notice=prefix, title=entry.title, start=start
        )
        headline = {
            Notice.INVITATION: _("You are invited."),
            Notice.UPDATE: _("This session has changed; your calendar entry is updated."),
            Notice.CANCELLED: _("This session is cancelled."),
            Notice.UNINVITED: _("You are no longer expected at this session."),
        }[notice]
        text = f"{headline}\n\n{entry.description}\n"
        html = self.templates.get_template("invite.html").render(
            _=_,
            lang=language.locale,
            headline=headline,
            entry=entry,
            notice=notice.value,
            when=language.when(entry.starts_at, entry.ends_at, entry.zone),
            paragraphs=entry.description.split("\n\n"),
            subject=subject,
        )
        return MailText(subject=subject, text=text, html=html)
