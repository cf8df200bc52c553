"""The key figures as text, for `rdv report` and the demo's last words."""

from __future__ import annotations

from typing import Any


def report_lines(title: str, figures: dict[str, Any]) -> list[str]:
    """The key figures as people quote them, then the table per directorate."""
    lines = [
        title,
        f"  plenary participants     {figures['plenary_participants']} "
        f"(peak {figures['plenary_peak']} at once)",
        f"  meetings held            {figures['meetings_held']} of "
        f"{figures['meetings_scheduled']} ({figures['meetings_not_held']} not held)",
        f"  companies met            {figures['companies_met']}",
        f"  buyer representatives    {figures['buyer_representatives']}",
        f"  directorates             {figures['directorates']}",
    ]
    if figures["no_show_rate"] is not None:
        lines.append(f"  no-show rate             {figures['no_show_rate']:.0%}")
    lines.append(
        f"  answers ahead            {figures['seats_confirmed']} confirmed, "
        f"{figures['seats_declined_ahead']} declined; "
        f"{figures['no_shows_without_notice']} no-shows without notice"
    )
    if figures.get("requests_sent"):
        lines.append(
            f"  meeting requests         {figures['requests_sent']} sent, "
            f"{figures['requests_accepted']} accepted, {figures['requests_declined']} declined, "
            f"{figures['requests_expired']} expired; {figures['requests_placed']} placed"
        )
    if figures.get("follow_ups_planned"):
        lines.append(
            f"  follow-up meetings       {figures['follow_ups_planned']} planned, "
            f"{figures['follow_ups_held']} held"
        )
    if figures.get("outcomes_asked"):
        said = ", ".join(f"{count} {label}" for label, count in figures["outcomes"].items())
        lines.append(
            f"  what came of them        {figures['outcomes_answered']} of "
            f"{figures['outcomes_asked']} answered: {said}"
        )
    if figures["median_meeting_minutes"] is not None:
        lines.append(f"  median meeting minutes   {figures['median_meeting_minutes']:.0f}")
    if figures.get("plenary_replay"):
        lines.append(
            f"  plenary replay           {figures['plenary_replay']} "
            f"(mailed to {figures['replay_mail_sent']})"
        )
    if figures["per_directorate"]:
        lines += ["", f"  {'directorate':<46} meetings held reps companies median"]
        for row in figures["per_directorate"]:
            median = "-" if row["median_minutes"] is None else f"{row['median_minutes']:.0f}"
            lines.append(
                f"  {row['name'][:46]:<46} {row['meetings']:>8} {row['held']:>4} "
                f"{row['representatives_present']:>4} {row['companies_met']:>9} {median:>6}"
            )
    return lines
