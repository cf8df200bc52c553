"""A program as read from any of its forms, before validation: the JSON-shaped document and where
each part of it came from, so that every problem names the file, line or cell to fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .problems import Place


@dataclass
class RawProgram:
    """The document as read, before validation, and where each list item came from."""

    data: Any
    places: dict[str, list[Place]] = field(default_factory=dict)
    event_place: Place = field(default_factory=lambda: Place("event"))
    in_folder: bool = False
    sections: dict[str, Place] = field(default_factory=dict)
    """Where top-level sections sit when the form places them better than by name (a workbook)."""

    def section_place(self, name: str) -> Place:
        """Where a top-level section sits: `schedule`, or `event.json: schedule`."""
        if name in self.sections:
            return self.sections[name]
        return Place(f"event.json: {name}") if self.in_folder else Place(name)

    def place(self, section: str, index: int) -> Place:
        known = self.places.get(section)
        if known is not None and index < len(known):
            return known[index]
        return Place(section) / index
