"""`rdv`: the command line. Bad input exits 2, other failures 1, one line per problem on stderr."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from calendars.i18n import Catalogues
from calendars.text import Writer

from . import demo
from .attendance.export import attendance_csv
from .attendance.figures import key_figures
from .attendance.log import as_dict
from .clock import SystemClock
from .commands import (
    add_replay_link,
    extra_counts,
    forget_person,
    import_file,
    login_link,
    migrated_engine,
    outcomes,
    readd_person,
    upgrade_database,
)
from .db.engine import session_factory
from .mail.invites import InviteComposer
from .mail.request_notices import AgendaReady
from .program.audit import Author, hooks, recorder
from .program.problems import ProgramError
from .program.refill import RefillOutcome, refill_event
from .program.schedule import DEFAULT_TIME_LIMIT, Changed, schedule_event
from .program.schedule_outcome import Outcome
from .program.service import NotFound
from .progress import Progress, for_stream
from .replays.links import ReplayRefused
from .report.text import report_lines
from .serve import serve
from .settings import Settings, SettingsError, load_settings, parse_duration
from .tokens import ROLES, mint_api_token

BAD_INPUT, FAILURE = 2, 1


class CommandError(Exception):
    """A command cannot go on; `status` is the exit status."""

    def __init__(self, message: str, status: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.status = status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rdv", description="Runs online B2B meeting days.")
    parser.add_argument("--config", help="a TOML settings file (default: $RDV_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("serve", help="run the service")
    imp = commands.add_parser("import", help="load or update an event from a program file")
    imp.add_argument(
        "file",
        help="a JSON program, an .xlsx workbook, a folder with event.json, people.csv, "
        "sessions.csv, or a .zip of that folder",
    )
    token = commands.add_parser("token", help="print an API bearer token")
    token.add_argument("--role", choices=ROLES, required=True)
    token.add_argument("--event", required=True, metavar="SLUG")
    token.add_argument("--ttl", default="8h", help="lifetime, e.g. 8h or 30m (default 8h)")
    token.add_argument(
        "--as",
        dest="subject",
        metavar="NAME",
        help="who will use it, as the audit log names them (default: the role)",
    )
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply migrations")
    link = commands.add_parser("login-link", help="print a one-time sign-in URL")
    link.add_argument("--event", required=True, metavar="SLUG")
    link.add_argument("--role", choices=ROLES, default="organiser")
    link.add_argument(
        "--as",
        dest="subject",
        default="",
        metavar="NAME",
        help="who will use it, as the audit log names them",
    )
    replay = commands.add_parser("replay", help="the replay archive")
    replay_commands = replay.add_subparsers(dest="replay_command", required=True, metavar="ACTION")
    add = replay_commands.add_parser("add", help="archive a replay link")
    add.add_argument("slug", metavar="SLUG")
    add.add_argument("session", metavar="SESSION")
    add.add_argument("url", metavar="URL")
    add.add_argument("--title")
    add.add_argument("--kind", choices=("stream", "recording"), default="stream")
    log = commands.add_parser("attendance", help="print the attendance log")
    log.add_argument("slug", metavar="SLUG")
    log.add_argument("--format", choices=("csv", "json"), default="csv")
    report = commands.add_parser("report", help="print the event's key figures")
    report.add_argument("slug", metavar="SLUG")
    forget = commands.add_parser("forget", help="erase one person's personal data")
    forget.add_argument("email", metavar="EMAIL")
    forget.add_argument("--event", required=True, metavar="SLUG")
    back = commands.add_parser(
        "readd", help="let an import invite an erased person again (they asked to come back)"
    )
    back.add_argument("email", metavar="EMAIL")
    back.add_argument("--event", required=True, metavar="SLUG")
    plan = commands.add_parser("schedule", help="turn meeting requests into scheduled meetings")
    plan.add_argument("slug", metavar="SLUG")
    plan.add_argument(
        "--move", action="store_true", help="may move meetings whose invites have not gone out"
    )
    plan.add_argument("--dry-run", action="store_true", help="show the schedule, write nothing")
    plan.add_argument(
        "--refill",
        action="store_true",
        help="offer meetings declined ahead to the open requests that fit, moving no one else",
    )
    plan.add_argument(
        "--time-limit",
        type=float,
        default=DEFAULT_TIME_LIMIT,
        metavar="SECONDS",
        help=f"how long the solver may search (default {DEFAULT_TIME_LIMIT:.0f})",
    )
    play = commands.add_parser("demo", help="the end-to-end demo on embedded defaults")
    play.add_argument("--once", action="store_true", help="exit when the day is over")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per run of every task
    try:
        if args.command == "demo":
            return demo.run(os.environ, args.config, once=args.once)
        settings = load_settings(os.environ, args.config)
        return _dispatch(args, settings)
    except SettingsError as error:
        print(f"rdv {args.command}: {error}", file=sys.stderr)
        return BAD_INPUT
    except ProgramError as error:
        for line in error.lines():
            print(line, file=sys.stderr)
        print(f"rdv {args.command}: {error}; nothing was imported", file=sys.stderr)
        return BAD_INPUT
    except CommandError as error:
        print(f"rdv {args.command}: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        return FAILURE
    except OSError as error:
        print(f"rdv {args.command}: {error}", file=sys.stderr)
        return FAILURE


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        serve(settings)
        return 0
    if args.command == "token":
        ttl = parse_duration(args.ttl, "--ttl")
        secret = settings.require_secret_key()
        try:
            token = mint_api_token(
                secret,
                role=args.role,
                event=args.event,
                ttl=ttl,
                now=SystemClock().now(),
                subject=args.subject,
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        print(token)
        return 0
    if args.command == "import":
        progress = for_stream(sys.stderr)  # how it goes, on stderr: stdout says what changed
        try:
            changes = asyncio.run(import_file(settings, args.file, progress))
        finally:
            progress.close()
        for line in changes.summary():
            print(line)
        return 0
    if args.command == "db":
        before, after = asyncio.run(upgrade_database(settings))
        print(f"database at revision {after}" + ("" if before != after else " (already)"))
        return 0
    if args.command == "login-link":
        settings.require_secret_key()
        try:
            print(asyncio.run(login_link(settings, args.event, args.role, args.subject)))
        except LookupError as error:
            raise CommandError(str(error)) from None
        return 0
    if args.command == "replay":
        try:
            replay, mailed = asyncio.run(
                add_replay_link(
                    settings, args.slug, args.session, args.url, title=args.title, kind=args.kind
                )
            )
        except (LookupError, ReplayRefused) as error:
            raise CommandError(str(error)) from None
        print(
            f"archived {replay['url']} for {args.session}"
            + (f"; replay mail queued for {mailed} attendees" if mailed else "")
        )
        return 0
    if args.command == "forget":
        done = asyncio.run(forget_person(settings, args.event, args.email))
        if done is None:
            raise CommandError(f"nobody with the email {args.email} in {args.event}")
        print(
            f"erased {done.person}: {done.events} provider events, {done.deliveries} raw "
            f"deliveries and {done.messages} mail messages no longer name them; their links no "
            "longer work, and an import that names them is refused (rdv readd lifts that)"
        )
        return 0
    if args.command == "readd":
        if not asyncio.run(readd_person(settings, args.event, args.email)):
            raise CommandError(f"nobody with the email {args.email} was erased from {args.event}")
        print(
            f"{args.email} may be invited again: the next import that names them adds them as a "
            "new participant"
        )
        return 0
    if args.command == "schedule":
        if args.time_limit <= 0:
            raise CommandError("--time-limit must be a positive number of seconds")
        if args.refill and args.move:
            raise CommandError("--refill moves no one: it cannot go with --move")
        try:
            outcome: Outcome | RefillOutcome = (
                asyncio.run(_refill(settings, args))
                if args.refill
                else asyncio.run(_schedule(settings, args))
            )
        except NotFound as error:
            raise CommandError(str(error)) from None
        except Changed as error:
            raise CommandError(str(error), FAILURE) from None
        print("\n".join(outcome.lines()))
        return 0
    if args.command in ("attendance", "report"):
        try:
            event, found = asyncio.run(outcomes(settings, args.slug))
        except LookupError as error:
            raise CommandError(str(error)) from None
        if args.command == "report":
            figures = {**key_figures(found), **asyncio.run(extra_counts(settings, event.id))}
            print("\n".join(report_lines(event.title, figures)))
            return 0
        rows = [row for outcome in found for row in as_dict(outcome, ZoneInfo(event.timezone))]
        if args.format == "json":
            print(json.dumps(rows, ensure_ascii=False, indent=2))
        else:
            sys.stdout.buffer.write(attendance_csv(rows))
            sys.stdout.flush()
        return 0
    raise CommandError(f"unknown command {args.command}")


async def _refill(settings: Settings, args: argparse.Namespace) -> RefillOutcome:
    """Re-fills the meetings declined ahead and queues the invites; `rdv serve` sends them."""
    composer = InviteComposer(settings, Writer(Catalogues()))
    async with migrated_engine(settings) as engine:
        return await refill_event(
            session_factory(engine),
            settings,
            args.slug,
            now=SystemClock().now(),
            dry_run=args.dry_run,
            on_change=hooks(composer.queue, recorder(Author.command("scheduler"), "refill")),
        )


async def _schedule(settings: Settings, args: argparse.Namespace) -> Outcome:
    """Schedules and queues the invites; a running `rdv serve` sends them. How the work goes
    is shown on stderr: live on a terminal, a line per phase elsewhere."""
    composer = InviteComposer(settings, Writer(Catalogues()))
    progress = for_stream(sys.stderr)
    try:
        return await _scheduled(settings, args, composer, progress)
    finally:
        progress.close()


async def _scheduled(
    settings: Settings, args: argparse.Namespace, composer: InviteComposer, progress: Progress
) -> Outcome:
    async with migrated_engine(settings) as engine:
        return await schedule_event(
            session_factory(engine),
            settings,
            args.slug,
            now=SystemClock().now(),
            move=args.move,
            dry_run=args.dry_run,
            time_limit=args.time_limit,
            on_change=hooks(
                composer.queue,
                AgendaReady(settings, composer.writer),
                recorder(Author.command("scheduler"), "schedule"),
            ),
            progress=progress,
        )
