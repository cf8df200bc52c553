"""Words to index terms, for French and English alike: a profile may mix both, and nobody tells us
which language a need is written in.

Each word is lower-cased, its accents dropped for matching (`qualite` meets `qualité`), and
stemmed with the Snowball stemmer of its sentence's language, told by the sentence's stop words
and accents. A sentence that says nothing of its language (a title, a theme) is stemmed both
ways. Stemming every word both ways costs precision (0.81 against 0.85 on the texts alone of
`bench/suggest.py`): the stem of the wrong language is a second term that matches nothing and
dilutes the ones that do.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import snowballstemmer

MAX_TEXT = 5000  # characters of a text read; the rest is ignored, so hostile input stays bounded
MAX_THEMES = 20  # themes read per text
MAX_THEME = 80  # characters of a theme label read
MAX_WORD = 40  # longer "words" are not words (a URL, a hash, a keyboard held down)

WORD = re.compile(r"[^\W_]+")
SENTENCE = re.compile(r"[.!?;:\n]+")
FOLD = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})

# Accents dropped, as words are compared. Short on purpose: the weighting takes care of words
# that are merely common; these are the ones that say nothing at all.
FRENCH_STOP_TEXT = """
    a afin ai aie ainsi alors apres au aucun aussi autre autres aux avant avec avez avoir avons
    bien c ca car ce ceci cela celle celles celui ces cet cette ceux chaque chez comme comment d
    dans de des deja depuis dont donc du elle elles en encore entre est et etaient etait ete etre
    eux fait faire il ils j je l la le les leur leurs lors lui m ma mais me meme memes mes moi
    moins mon n ne ni nos notre nous on ont ou par parmi pas pendant peu peut plus pour pourquoi
    qu quand que quel quelle quelles quels qui s sa sans se selon sera seront ses si soit son
    sont sous sur t ta te tes toi ton tous tout toute toutes tres tu un une vers vos votre vous y
"""
ENGLISH_STOP_TEXT = """
    a about after again all also am an and any are as at be because been before being between both
    but by can could did do does doing down during each few for from further had has have having
    he her here hers him his how i if in into is it its just may me more most my no nor not of
    off on once only or other our ours out over own same she should so some such than that the
    their theirs them then there these they this those through to too under until up upon us
    very was we were what when where which while who whom why will with within would you your
    yours
"""
FRENCH_STOP = frozenset(FRENCH_STOP_TEXT.split())
ENGLISH_STOP = frozenset(ENGLISH_STOP_TEXT.split())
STOP = FRENCH_STOP | ENGLISH_STOP
FRENCH_ONLY = FRENCH_STOP - ENGLISH_STOP
ENGLISH_ONLY = ENGLISH_STOP - FRENCH_STOP
FRENCH_LETTERS = frozenset("àâæçéèêëîïôœùûüÿ")


def fold(word: str) -> str:
    """Lower case without accents: how words are compared."""
    decomposed = unicodedata.normalize("NFKD", word.casefold().translate(FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def label(theme: str) -> str:
    """A theme label fit to show: bounded, control characters gone, spaces collapsed."""
    kept = (" " if unicodedata.category(c).startswith("C") else c for c in theme[:MAX_THEME])
    return " ".join("".join(kept).split())


@dataclass(frozen=True, slots=True)
class Word:
    surface: str  # as written, lower-cased
    terms: tuple[str, ...]  # its stems: one, or two when its language is unknown


# A word seen: its vote on the language (+1 French, -1 English, 0 neither), and its stems in
# French and English, or None for a word not worth indexing (stop word, number, too long).
Seen = tuple[int, tuple[str, str] | None]


class Analyser:
    """Splits texts into stemmed words. Holds its own stemmers (they are not thread-safe) and a
    cache: stemming is the slow part, and an event's vocabulary is small."""

    def __init__(self) -> None:
        self._french = snowballstemmer.stemmer("french")
        self._english = snowballstemmer.stemmer("english")
        self._cache: dict[str, Seen] = {}

    def words(self, text: str) -> list[Word]:
        """The text's meaningful words, in order, repeats kept (they count). Each sentence is
        stemmed in the language its stop words and accents point to, else in the text's, else
        in both."""
        sentences = [
            [(surface, self._see(surface)) for surface in WORD.findall(sentence.lower())]
            for sentence in SENTENCE.split(unicodedata.normalize("NFC", text[:MAX_TEXT]))
        ]
        whole = sum(vote for sentence in sentences for _, (vote, _) in sentence)
        found = []
        for sentence in sentences:
            language = sum(vote for _, (vote, _) in sentence) or whole
            for surface, (_, stems) in sentence:
                if stems is None:
                    continue
                french, english = stems
                if language > 0 or french == english:
                    found.append(Word(surface, (french,)))
                elif language < 0:
                    found.append(Word(surface, (english,)))
                else:
                    found.append(Word(surface, stems))
        return found

    def theme(self, label: str) -> str:
        """A theme label's key: `Qualité de l'eau` and `qualite eau` are the same theme."""
        return " ".join(w.terms[0] for w in self.words(label[:MAX_THEME]))

    def _see(self, surface: str) -> Seen:
        seen = self._cache.get(surface)
        if seen is None:
            folded = fold(surface)
            vote = (
                1
                if folded in FRENCH_ONLY or not FRENCH_LETTERS.isdisjoint(surface)
                else -1
                if folded in ENGLISH_ONLY
                else 0
            )
            stems = None
            if 1 < len(folded) <= MAX_WORD and folded not in STOP and not folded.isdigit():
                # The French stemmer reads accents, so it stems the word as written.
                stems = (fold(self._french.stemWord(surface)), self._english.stemWord(folded))
            seen = self._cache[surface] = (vote, stems)
        return seen
