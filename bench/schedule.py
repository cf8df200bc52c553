"""Automatic scheduling at the sizes of real events: the greedy earliest-common-slot baseline and
our solver on the same seeded instances, with placed requests, idle slots, time, memory, bound.

Instances are generated as the published B2B instance generators do: participants in companies
and buyer organisations, requests skewed toward popular buyers, priorities, windows cut into
slots, parallel places, a per-person cap, and availability gaps (people who come only in the
morning, leave early or skip a day), plus a plenary and a few fixed workshops.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import random
import resource
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import output

from orchestrator.program.model import (
    OrganisationSpec,
    PersonSpec,
    Request,
    Requests,
    Rules,
    SessionSpec,
)
from orchestrator.scheduling import measure
from orchestrator.scheduling.greedy import solve_greedy
from orchestrator.scheduling.instance import build
from orchestrator.scheduling.model import Instance
from orchestrator.scheduling.split import solve

TZ = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Size:
    name: str
    people: int
    requests: int
    days: int
    windows: tuple[tuple[str, str], ...]
    slot: int
    gap: int
    max_parallel: int
    max_per_person: int
    time_limit: float


SIZES = (
    Size("42/125", 42, 125, 1, (("10:30", "12:30"), ("14:00", "17:00")), 20, 5, 12, 8, 60),
    Size("78/302", 78, 302, 1, (("10:30", "12:30"), ("14:00", "17:00")), 20, 5, 30, 10, 60),
    Size("700/2,500", 700, 2500, 1, (("09:30", "12:30"), ("14:00", "17:30")), 25, 5, 230, 10, 60),
    Size(
        "9,000/65,000",
        9000,
        65000,
        3,
        (("09:30", "12:30"), ("14:00", "17:30")),
        25,
        5,
        2000,
        16,
        540,
    ),
)


GROUPS = {"small": (1, 2), "medium": (3,), "large": (4,), "all": (1, 2, 3, 4)}


class Pool:
    """Keys still open, drawn uniformly, removed in constant time."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = list(keys)
        self.where = {key: number for number, key in enumerate(self.keys)}

    def __bool__(self) -> bool:
        return bool(self.keys)

    def pick(self, rng: random.Random) -> str:
        return self.keys[rng.randrange(len(self.keys))]

    def discard(self, key: str) -> None:
        number = self.where.pop(key, None)
        if number is None:
            return
        last = self.keys.pop()
        if number < len(self.keys):
            self.keys[number] = last
            self.where[last] = number


def local(day: int, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2021, 4, 7 + day, hour, minute, tzinfo=TZ).astimezone(UTC)


def generate(
    size: Size, seed: int
) -> tuple[Requests, list[PersonSpec], list[OrganisationSpec], list[SessionSpec]]:
    rng = random.Random(seed)
    organisations: list[OrganisationSpec] = []
    people: list[PersonSpec] = []
    buyers: list[str] = []
    companies: list[str] = []
    while len(people) < size.people:
        kind = "buyer" if len(buyers) < 0.45 * (len(people) + 1) else "company"
        org = OrganisationSpec(
            f"o{len(organisations)}", f"{kind.title()} {len(organisations)}", kind
        )
        organisations.append(org)
        for _ in range(min(rng.choice((1, 1, 1, 2, 2, 3)), size.people - len(people))):
            key = f"p{len(people)}"
            people.append(PersonSpec(key, f"Person {len(people)}", f"{key}@x.example", org.key))
            (buyers if kind == "buyer" else companies).append(key)
    windows = tuple(
        (local(day, start), local(day, end))
        for day in range(size.days)
        for start, end in size.windows
    )
    availability: dict[str, tuple[tuple[datetime, datetime], ...]] = {}
    for person in people:
        if rng.random() < 0.2:  # an availability gap: half a day, or a whole day, missing
            kept = [w for w in windows if rng.random() < 0.6] or [windows[0]]
            availability[person.key] = tuple(kept)
    cumulative = list(itertools.accumulate(rng.paretovariate(1.6) for _ in buyers))
    requests: list[Request] = []
    pairs: set[frozenset[str]] = set()
    person_org = {person.key: person.organisation or person.key for person in people}
    members: dict[str, list[str]] = {}
    for person in people:
        members.setdefault(person_org[person.key], []).append(person.key)
    # Requests are the accepted ones, as platforms schedule them: a person accepts a few more
    # than their cap, so popular buyers are over-subscribed but not flooded.
    accepts = size.max_per_person + max(2, size.max_per_person // 4)
    load: dict[str, int] = dict.fromkeys(person_org, 0)
    open_sides = (Pool(companies), Pool(buyers))
    while len(requests) < size.requests:
        if not open_sides[0] or not open_sides[1]:
            raise RuntimeError("the people cannot accept that many requests")
        source = open_sides[0].pick(rng)
        target = rng.choices(buyers, cum_weights=cumulative)[0]
        if load[target] >= accepts:
            target = open_sides[1].pick(rng)
        level = rng.random() < 0.1
        involved = [source, target]
        if level:  # one person of each organisation will take it: the least asked one
            source, target = person_org[source], person_org[target]
            involved = [min(members[key], key=load.__getitem__) for key in (source, target)]
        pair = frozenset((source, target))
        if pair in pairs or any(load[key] >= accepts for key in involved):
            continue
        pairs.add(pair)
        for key in involved:
            load[key] += 1
            if load[key] >= accepts:
                for pool in open_sides:
                    pool.discard(key)
        priority = rng.choices((1, 2, 3), (0.6, 0.3, 0.1))[0]
        requests.append(
            Request(len(requests), source, target, level, priority, f"r{len(requests)}")
        )
    fixed = [
        SessionSpec(
            f"plenary-{day}",
            "plenary",
            "Plenary",
            local(day, "08:30"),
            local(day, "09:15"),
            tuple(p.key for p in people),
        )
        for day in range(size.days)
    ]
    # Workshops of 45 minutes start on the hour, so only those at the same hour could overlap:
    # nobody is drawn twice for one hour, and the program stays one an import would accept.
    taken: dict[datetime, set[str]] = {}
    for number in range(max(1, size.people // 40)):
        day = rng.randrange(size.days)
        start = local(day, rng.choice(("10:00", "11:00", "15:00", "16:00")))
        busy = taken.setdefault(start, set())
        attendees = tuple(
            rng.sample([p.key for p in people if p.key not in busy], min(4, len(people)))
        )
        busy.update(attendees)
        fixed.append(
            SessionSpec(
                f"workshop-{number}",
                "plenary",
                "Workshop",
                start,
                start + timedelta(minutes=45),
                attendees,
            )
        )
    rules = Rules(windows, size.slot, size.gap, size.max_parallel, size.max_per_person)
    return Requests(rules, availability, tuple(requests)), people, organisations, fixed


def instance_of(size: Size, seed: int) -> Instance:
    requests, people, organisations, fixed = generate(size, seed)
    plan = build(
        requests,
        people=people,
        organisations=organisations,
        fixed=fixed,
        existing={},
        tz=TZ,
        move=False,
    )
    return plan.instance


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(size: Size, seed: int, workers: int, time_limit: float | None) -> dict[str, Any]:
    instance = instance_of(size, seed)
    total = measure.total_weight(instance)
    rows: dict[str, Any] = {"size": size.name, "requests": len(instance.demands), "total": total}
    for label in ("greedy", "solver"):
        reset_peak()
        started = time.perf_counter()
        if label == "greedy":
            solution = solve_greedy(instance)
        else:
            limit = time_limit if time_limit is not None else size.time_limit
            solution = solve(instance, time_limit=limit, workers=workers)
        seconds = time.perf_counter() - started
        problems = measure.violations(instance, solution.meetings)
        met = max(1, measure.people_met(solution.meetings))
        rows[label] = {
            "method": solution.method,
            "count": len(solution.meetings),
            "weighted": measure.weighted(instance, solution.meetings),
            "idle": measure.idle_slots(instance, solution.meetings) / met,
            "seconds": seconds,
            "memory": peak_mb(),
            "bound": solution.bound,
            "optimal": solution.optimal,
            "idle_optimal": solution.idle_optimal,
            "valid": not problems,
        }
    return rows


def child(size: Size, seed: int, workers: int, limit: float | None, queue: Any) -> None:
    queue.put(run(size, seed, workers, limit))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--sizes",
        default="all",
        help="small (42 and 78 people), medium (700), large (9,000), all, or numbers: 1,3",
    )
    parser.add_argument("--time-limit", type=float, help="override every size's time limit")
    args = parser.parse_args()
    chosen = [SIZES[number - 1] for number in chosen_sizes(args.sizes)]
    print(
        "| size | method | placed | weighted (of total) | bound | % of bound | idle/person "
        "| time | peak memory | proven | holds |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    context = multiprocessing.get_context("spawn")
    figures: list[output.Row] = []
    for size in chosen:
        queue = context.Queue()
        process = context.Process(
            target=child, args=(size, args.seed, args.workers, args.time_limit, queue)
        )
        process.start()
        rows = queue.get()
        process.join()
        for label in ("greedy", "solver"):
            row = rows[label]
            bound = rows["solver"]["bound"]
            share = f"{100 * row['weighted'] / bound:.1f} %" if bound else "-"
            proven = (
                "optimal" + (", idle optimal" if row["idle_optimal"] else "")
                if row["optimal"]
                else "-"
            )
            holds = verdict(size, rows) if label == "solver" else ""
            print(
                f"| {size.name} | {row['method']} | {row['count']} of {rows['requests']} "
                f"| {row['weighted']} of {rows['total']} | {bound if bound is not None else '-'} "
                f"| {share} | {row['idle']:.2f} | {row['seconds']:.1f} s | "
                f"{row['memory']:.0f} MB | {proven if label == 'solver' else '-'} | {holds} |",
                flush=True,
            )
        figures.extend(figure_rows(size, rows))
    print()
    output.emit("schedule", figures)
    return 0


def figure_rows(size: Size, rows: dict[str, Any]) -> list[output.Row]:
    """The size's figures for `make bench`: the solver's value, greedy's as the baseline."""
    solver, greedy = rows["solver"], rows["greedy"]
    bound = solver["bound"]
    large, small = rows["requests"] > 2500, rows["requests"] <= 302
    limit = 10 if small else 60 if rows["requests"] <= 2500 else 600
    share = solver["weighted"] / bound if bound else None
    target = 0.97 if large else 0.99
    found: list[output.Row] = [
        (
            f"{size.name}: weighted placed",
            str(solver["weighted"]),
            str(greedy["weighted"]),
            f"{solver['weighted'] / max(1, greedy['weighted']):.3f}",
            ">= greedy" if large else "-",
            output.holds(solver["weighted"] >= greedy["weighted"] if large else None),
        ),
        (
            f"{size.name}: share of the bound",
            "-" if share is None else f"{100 * share:.2f} %",
            "-" if not bound else f"{100 * greedy['weighted'] / bound:.2f} %",
            "-",
            "optimal" if small else f">= {100 * target:.0f} %",
            output.holds(solver["optimal"] if small else share is not None and share >= target),
        ),
        (
            f"{size.name}: time",
            f"{solver['seconds']:.1f} s",
            f"{greedy['seconds']:.1f} s",
            "-",
            f"< {limit} s",
            output.holds(solver["seconds"] < limit),
        ),
        (
            f"{size.name}: idle slots per person",
            f"{solver['idle']:.2f}",
            f"{greedy['idle']:.2f}",
            f"{solver['idle'] / greedy['idle']:.2f}" if greedy["idle"] else "-",
            "-",
            "-",
        ),
    ]
    if large:
        found.append(
            (
                f"{size.name}: peak memory",
                f"{solver['memory']:.0f} MB",
                f"{greedy['memory']:.0f} MB",
                "-",
                "< 4096 MB",
                output.holds(solver["memory"] < 4096),
            )
        )
    if not solver["valid"]:
        found.append((f"{size.name}: valid schedule", "no", "-", "-", "yes", "NO"))
    return found


def chosen_sizes(text: str) -> list[int]:
    numbers: list[int] = []
    for part in text.split(","):
        numbers.extend(GROUPS.get(part.strip(), ()) or [int(part)])
    return numbers


def verdict(size: Size, rows: dict[str, Any]) -> str:
    solver, greedy = rows["solver"], rows["greedy"]
    if not solver["valid"]:
        return "NO (invalid schedule)"
    if rows["requests"] <= 302:
        ok = solver["optimal"] and solver["seconds"] < 10
    elif rows["requests"] <= 2500:
        ok = (
            bool(solver["bound"])
            and solver["weighted"] >= 0.99 * solver["bound"]
            and (solver["seconds"] < 60)
        )
    else:
        ok = (
            solver["weighted"] >= greedy["weighted"]
            and bool(solver["bound"])
            and solver["weighted"] >= 0.97 * solver["bound"]
            and solver["seconds"] < 600
            and solver["memory"] < 4096
        )
    return "yes" if ok else "NO"


if __name__ == "__main__":
    sys.exit(main())
