"""Which needs fit an offer, and which offers fit a need, ranked by their texts and themes.

Weighting is TF-IDF with cosine similarity rather than BM25: the score of a pair is the same
whichever side asks (the company and the buyer see one figure), it is bounded, so scores compare
across queries, and the cosine's length normalisation keeps a long catalogue from outranking a
precise offer. BM25 ranked no better in `bench/suggest.py` (precision 0.855 against 0.852 on
descriptions, 0.39 against 0.43 on short texts). Term frequency is sublinear, ln(1 + tf), so a
word said five times is not five times the evidence; IDF is ln(1 + N/df) over needs and offers
together, so a word everyone uses ("services", "solutions") weighs little but still counts in an
event of two profiles. A theme both sides name adds THEME_WEIGHT times the cosine of their theme
sets, about what a good text match scores: themes are chosen, not written in passing.

Scoring walks inverted indexes (term to the texts holding it), so a query costs the postings of
its own terms, not a pass over every text of the other side.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from .text import MAX_THEMES, Analyser, label

# The bench's generated themes would take less (0.125: precision 0.896, 0.25: 0.873, 0.5: 0.824),
# but 15 % of its texts carry another theme's label; people choosing themes err less.
THEME_WEIGHT = 0.25
MAX_WORDS = 8


@dataclass(frozen=True, slots=True)
class Text:
    key: str  # a need's key, or an offer's (organisation) key
    text: str  # title + description, plain text
    themes: tuple[str, ...]  # short theme labels, e.g. ("eau", "capteurs")


@dataclass(frozen=True, slots=True)
class Match:
    need: str
    offer: str
    score: float  # higher is better; comparable within one query
    words: tuple[str, ...]  # what matched, as the need writes it, most telling first, at most 8


@dataclass(frozen=True, slots=True)
class _Entry:
    """A text made ready for scoring."""

    key: str
    weights: dict[str, float]  # term -> TF-IDF weight, of unit norm
    surfaces: dict[str, str]  # term -> the first word of the text that gave it
    themes: dict[str, str]  # theme key -> the label as written


Postings = dict[str, list[tuple[int, float]]]


class Index:
    """Needs and offers of one event, indexed once, then asked from either side."""

    def __init__(self, needs: Sequence[Text], offers: Sequence[Text]) -> None:
        analyser = Analyser()
        counted = [_counts(analyser, t) for t in (*needs, *offers)]
        frequency: dict[str, int] = {}
        for counts, _, _ in counted:
            for term in counts:
                frequency[term] = frequency.get(term, 0) + 1
        total = len(counted)
        idf = {term: math.log(1 + total / df) for term, df in frequency.items()}
        entries = [
            _Entry(t.key, _weights(counts, idf), surfaces, themes)
            for t, (counts, surfaces, themes) in zip((*needs, *offers), counted, strict=True)
        ]
        self._needs = _Side(entries[: len(needs)])
        self._offers = _Side(entries[len(needs) :])

    def for_offer(
        self, offer: str, *, limit: int = 10, exclude: Collection[tuple[str, str]] = ()
    ) -> list[Match]:
        """The needs that fit this offer, best first; `exclude` holds (need, offer) pairs.
        An offer the index does not hold (no profile yet) fits nothing."""
        entry = self._offers.get(offer)
        if entry is None or limit <= 0:
            return []
        skip = {need for need, other in exclude if other == offer}
        found = self._needs.best(entry, limit, skip)
        return [Match(n.key, offer, score, _words(n, entry)) for n, score in found]

    def for_need(
        self, need: str, *, limit: int = 10, exclude: Collection[tuple[str, str]] = ()
    ) -> list[Match]:
        """The offers that fit this need, best first; `exclude` holds (need, offer) pairs."""
        entry = self._needs.get(need)
        if entry is None or limit <= 0:
            return []
        skip = {offer for other, offer in exclude if other == need}
        found = self._offers.best(entry, limit, skip)
        return [Match(need, o.key, score, _words(entry, o)) for o, score in found]


class _Side:
    """One side's entries with their inverted indexes, for terms and for themes."""

    def __init__(self, entries: list[_Entry]) -> None:
        self.entries = entries
        self.position: dict[str, int] = {}
        self.terms: Postings = {}
        self.themes: Postings = {}
        for number, entry in enumerate(entries):
            if self.position.setdefault(entry.key, number) != number:
                raise ValueError(f"the key {entry.key!r} is given twice")
            for term, weight in entry.weights.items():
                self.terms.setdefault(term, []).append((number, weight))
            for theme in entry.themes:
                self.themes.setdefault(theme, []).append((number, 1 / math.sqrt(len(entry.themes))))

    def get(self, key: str) -> _Entry | None:
        number = self.position.get(key)
        return None if number is None else self.entries[number]

    def best(self, query: _Entry, limit: int, skip: set[str]) -> list[tuple[_Entry, float]]:
        """The `limit` entries scoring highest against the query from the other side, ties by
        key, so the order never depends on the order texts were given in."""
        scores: dict[int, float] = {}
        for term, weight in query.weights.items():
            for number, other in self.terms.get(term, ()):
                scores[number] = scores.get(number, 0.0) + weight * other
        if query.themes:
            boost = THEME_WEIGHT / math.sqrt(len(query.themes))
            for theme in query.themes:
                for number, other in self.themes.get(theme, ()):
                    scores[number] = scores.get(number, 0.0) + boost * other
        candidates = (
            (score, self.entries[number])
            for number, score in scores.items()
            if score > 0 and self.entries[number].key not in skip
        )
        top = heapq.nsmallest(limit, candidates, key=lambda pair: (-pair[0], pair[1].key))
        return [(entry, score) for score, entry in top]


def _counts(
    analyser: Analyser, text: Text
) -> tuple[dict[str, float], dict[str, str], dict[str, str]]:
    """Term counts (a word stemmed two ways counts half under each), first surfaces, themes."""
    themes: dict[str, str] = {}
    for written in text.themes[:MAX_THEMES]:
        key = analyser.theme(written)
        if key:
            themes.setdefault(key, label(written))
    counts: dict[str, float] = {}
    surfaces: dict[str, str] = {}
    words = analyser.words(text.text)
    for written in themes.values():
        words.extend(analyser.words(written))
    for word in words:
        for term in word.terms:
            counts[term] = counts.get(term, 0.0) + 1 / len(word.terms)
            surfaces.setdefault(term, word.surface)
    return counts, surfaces, themes


def _weights(counts: dict[str, float], idf: dict[str, float]) -> dict[str, float]:
    """Sublinear TF times IDF, scaled to unit length (so a dot product is a cosine)."""
    raw = {term: math.log1p(count) * idf[term] for term, count in counts.items()}
    norm = math.sqrt(sum(w * w for w in raw.values()))
    return {term: w / norm for term, w in raw.items()} if norm else {}


def _words(need: _Entry, offer: _Entry) -> tuple[str, ...]:
    """What the pair shares, as the need writes it: shared themes first, then the terms that
    added most to the score."""
    found = [need.themes[key] for key in need.themes if key in offer.themes]
    shared = sorted(
        (-need.weights[term] * weight, need.surfaces[term])
        for term, weight in offer.weights.items()
        if term in need.weights
    )
    for _, surface in shared:
        if surface not in found:
            found.append(surface)
    return tuple(found[:MAX_WORDS])
