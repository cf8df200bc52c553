"""Charts drawn on the server as SVG: readable without JavaScript, crisp when printed, and told
apart by shade and pattern rather than hue, so they survive a greyscale printer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

INK, GRID, FILL = "#111111", "#b3b3b3", "#8c8c8c"


def _text(
    x: float, y: float, text: str, *, anchor: str = "middle", size: int = 12, weight: str = "normal"
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'font-weight="{weight}" fill="{INK}">{escape(text)}</text>'
    )


def presence_chart(
    curve: Sequence[tuple[datetime, int]],
    zone: ZoneInfo,
    *,
    title: str,
    peak_label: str,
    width: int = 720,
    height: int = 260,
) -> str:
    """People present minute by minute, the area shaded, the peak marked and labelled."""
    if not curve:
        return ""
    left, right, top, bottom = 44, 28, 28, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max(count for _, count in curve) or 1
    scale = max(1, _nice(highest))
    span = max(len(curve) - 1, 1)

    def point(index: int, count: int) -> tuple[float, float]:
        return left + plot_w * index / span, top + plot_h * (1 - count / scale)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in range(0, scale + 1, max(1, scale // 4)):
        _, y = point(0, tick)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="0.5"/>'
        )
        parts.append(_text(left - 6, y + 4, str(tick), anchor="end", size=11))
    every = max(1, len(curve) // 8)
    for index in range(0, len(curve), every):
        x, _ = point(index, 0)
        label = curve[index][0].astimezone(zone).strftime("%H:%M")
        parts.append(_text(x, height - 12, label, size=11))
    line = " ".join(
        f"{x:.1f},{y:.1f}"
        for x, y in (point(index, count) for index, (_, count) in enumerate(curve))
    )
    base_right, base_left = point(len(curve) - 1, 0), point(0, 0)
    parts.append(
        f'<polygon points="{base_left[0]:.1f},{base_left[1]:.1f} {line} '
        f'{base_right[0]:.1f},{base_right[1]:.1f}" fill="{FILL}" fill-opacity="0.35"/>'
    )
    parts.append(f'<polyline points="{line}" fill="none" stroke="{INK}" stroke-width="2"/>')
    best = max(range(len(curve)), key=lambda index: (curve[index][1], -index))
    x, y = point(best, curve[best][1])
    parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{INK}"/>')
    anchor = "end" if x > left + plot_w * 0.7 else "start"
    parts.append(
        _text(
            x + (-8 if anchor == "end" else 8),
            max(y - 8, 14),
            peak_label,
            anchor=anchor,
            weight="bold",
        )
    )
    parts.append("</svg>")
    return "".join(parts)


def held_chart(
    rows: Sequence[tuple[str, int, int]],
    *,
    title: str,
    held_label: str,
    not_held_label: str,
    width: int = 720,
) -> str:
    """Meetings held (solid) and not held (hatched) per directorate, one bar each."""
    if not rows:
        return ""
    bar, gap, left, top = 22, 10, 320, 30
    height = top + len(rows) * (bar + gap) + 10
    most = max(held + missed for _, held, missed in rows) or 1
    unit = (width - left - 40) / most
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" '
        f'stroke="{INK}" stroke-width="2"/></pattern></defs>',
        f'<rect x="{left}" y="6" width="12" height="12" fill="{INK}"/>',
        _text(left + 18, 16, held_label, anchor="start", size=11),
        f'<rect x="{left + 130}" y="6" width="12" height="12" fill="url(#hatch)" stroke="{INK}"/>',
        _text(left + 148, 16, not_held_label, anchor="start", size=11),
    ]
    for index, (name, held, missed) in enumerate(rows):
        y = top + index * (bar + gap)
        label = name if len(name) <= 44 else name[:43] + "…"
        parts.append(_text(left - 8, y + bar * 0.7, label, anchor="end", size=12))
        parts.append(
            f'<rect x="{left}" y="{y}" width="{held * unit:.1f}" height="{bar}" fill="{INK}"/>'
        )
        if missed:
            parts.append(
                f'<rect x="{left + held * unit:.1f}" y="{y}" '
                f'width="{missed * unit:.1f}" height="{bar}" fill="url(#hatch)" '
                f'stroke="{INK}"/>'
            )
        parts.append(
            _text(
                left + (held + missed) * unit + 6,
                y + bar * 0.7,
                f"{held}/{held + missed}",
                anchor="start",
                size=11,
            )
        )
    parts.append("</svg>")
    return "".join(parts)


def _nice(value: int) -> int:
    """A round axis maximum at or above `value`."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if value <= step * 4:
            return ((value + step - 1) // step) * step
    return value


def counts_chart(rows: Sequence[tuple[str, int]], *, title: str, width: int = 720) -> str:
    """One solid bar per row with its count: the answers per label, for instance."""
    if not rows or not any(count for _, count in rows):
        return ""
    bar, gap, left, top = 22, 10, 320, 10
    height = top + len(rows) * (bar + gap) + 10
    unit = (width - left - 40) / (max(count for _, count in rows) or 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (name, count) in enumerate(rows):
        y = top + index * (bar + gap)
        label = name if len(name) <= 44 else name[:43] + "…"
        parts.append(_text(left - 8, y + bar * 0.7, label, anchor="end", size=12))
        parts.append(
            f'<rect x="{left}" y="{y}" width="{count * unit:.1f}" height="{bar}" fill="{INK}"/>'
        )
        parts.append(
            _text(left + count * unit + 6, y + bar * 0.7, str(count), anchor="start", size=11)
        )
    parts.append("</svg>")
    return "".join(parts)
