"""Suggestions as a company and a buyer see them: which needs fit an offer and which offers fit a
need, in French and English, with the words that matched, never a pair already asked."""

from __future__ import annotations

import time

import pytest

from orchestrator.suggestions.rank import Index, Text


def need(key: str, text: str, *themes: str) -> Text:
    return Text(key, text, themes)


offer = need

CITY_NEEDS = [
    need("water", "Mesurer la qualité de l'eau potable", "eau"),
    need("windows", "Nettoyage des vitres des écoles et des gymnases"),
    need("canteen", "Repas bio et locaux pour les cantines scolaires", "restauration"),
    need("lights", "Street lighting: replace the lamps with LEDs", "lighting"),
    need("retrofit", "Rénover les bâtiments scolaires pour consommer moins d'énergie"),
]


def test_a_company_offering_water_sensors_sees_the_drinking_water_need_first_with_its_words() -> (
    None
):
    sensors = offer("sondes", "Capteurs de qualité de l'eau : mesures en continu des eaux", "Eau")
    index = Index(CITY_NEEDS, [sensors])

    first, *others = index.for_offer("sondes")

    assert first.need == "water"
    assert first.offer == "sondes"
    # As the need writes them: its theme first, then `mesurer` for the offer's `mesures`.
    assert first.words[0] == "eau"
    assert set(first.words) == {"eau", "qualité", "mesurer"}
    assert all(first.score > match.score for match in others)


def test_an_english_need_finds_the_offer_that_says_the_same_in_other_forms() -> None:
    needs = [
        need("lamps", "Replacing the street lamps of the old town"),
        need("water", "Measuring drinking water quality in schools"),
    ]
    offers = [
        offer("aqua", "We measure water quality with connected sensors."),
        offer("lumen", "Street lamp replacement, LED retrofits."),
    ]
    index = Index(needs, offers)

    [match] = index.for_need("water")

    assert match.offer == "aqua"
    assert set(match.words) == {"measuring", "water", "quality"}


def test_plurals_and_verb_forms_meet_their_word() -> None:
    index = Index(
        [need("retrofit", "Rénover les bâtiments scolaires")],
        [offer("iso", "Rénovation énergétique de bâtiment public")],
    )

    [match] = index.for_offer("iso")

    assert set(match.words) == {"bâtiments", "rénover"}


def test_accents_do_not_matter_but_the_need_keeps_its_own_spelling() -> None:
    index = Index([need("n", "Éclairage des écoles")], [offer("o", "eclairage ECOLES")])

    [match] = index.for_offer("o")

    assert set(match.words) == {"éclairage", "écoles"}


def test_a_text_mixing_french_and_english_matches_in_both() -> None:
    bilingual = offer("duo", "Collecte des déchets ménagers. We also recycle electronic waste.")
    index = Index(
        [
            need("fr", "La collecte des déchets du centre-ville"),
            need("en", "Recycling electronic waste from our offices"),
        ],
        [bilingual],
    )

    assert {m.need for m in index.for_offer("duo")} == {"fr", "en"}


def test_a_shared_theme_counts_strongly() -> None:
    index = Index(
        [
            need("plain", "Fourniture de mobilier de bureau"),
            need("themed", "Fourniture de mobilier de bureau", "Mobilier"),
        ],
        [offer("chairs", "Mobilier de bureau ergonomique", "mobilier")],
    )

    first, second = index.for_offer("chairs")

    assert (first.need, second.need) == ("themed", "plain")
    assert first.score > second.score * 1.2
    assert first.words[0] == "Mobilier"


def test_a_theme_alone_is_enough_to_be_suggested() -> None:
    index = Index(
        [need("n", "Un besoin décrit autrement", "Qualité de l'eau")],
        [offer("o", "Notre métier", "qualite de l eau")],
    )

    [match] = index.for_offer("o")

    assert match.words[0] == "Qualité de l'eau"


def test_a_pair_already_requested_or_declined_is_never_suggested() -> None:
    offers = [
        offer("sondes", "Capteurs de qualité de l'eau", "eau"),
        offer("aqua", "Analyses de l'eau potable", "eau"),
    ]
    index = Index(CITY_NEEDS, offers)
    asked = {("water", "sondes"), ("canteen", "aqua")}

    assert "water" not in [m.need for m in index.for_offer("sondes", exclude=asked)]
    assert "water" in [m.need for m in index.for_offer("aqua", exclude=asked)]
    assert [m.offer for m in index.for_need("water", exclude=asked)] == ["aqua"]
    assert index.for_need("water", exclude=[("water", "sondes"), ("water", "aqua")]) == []


def test_a_pair_with_nothing_in_common_is_never_suggested() -> None:
    index = Index(CITY_NEEDS, [offer("zoo", "Dressage de perroquets", "animaux")])

    assert index.for_offer("zoo") == []


def test_stop_words_alone_are_nothing_in_common() -> None:
    index = Index([need("n", "de la, pour les, and the")], [offer("o", "de la et des with the")])

    assert index.for_offer("o") == []


def test_empty_texts_unknown_keys_and_a_zero_limit_give_nothing() -> None:
    index = Index([need("blank", ""), *CITY_NEEDS], [offer("empty", "   "), offer("o", "eau")])

    assert index.for_offer("empty") == []
    assert index.for_need("blank") == []
    assert index.for_offer("nobody") == []
    assert index.for_need("nothing") == []
    assert index.for_offer("o", limit=0) == []
    assert Index([], []).for_offer("o") == []


def test_the_limit_keeps_the_best() -> None:
    needs = [need(f"n{i:02d}", "eau " * (i + 1) + "potable") for i in range(20)]
    index = Index(needs, [offer("o", "eau potable")])

    best = index.for_offer("o", limit=3)

    assert len(best) == 3
    assert best == index.for_offer("o", limit=20)[:3]


def test_ties_come_in_key_order_whatever_the_order_given() -> None:
    same = "Entretien des espaces verts"
    needs = [need(key, same) for key in ("c", "a", "b")]
    ranked = Index(needs, [offer("o", same)]).for_offer("o")
    again = Index(list(reversed(needs)), [offer("o", same)]).for_offer("o")

    assert [m.need for m in ranked] == ["a", "b", "c"]
    assert ranked == again
    assert len({m.score for m in ranked}) == 1


def test_both_sides_see_the_same_score_for_a_pair() -> None:
    index = Index(CITY_NEEDS, [offer("sondes", "Capteurs de qualité de l'eau potable", "eau")])

    [from_offer] = [m for m in index.for_offer("sondes") if m.need == "water"]
    [from_need] = index.for_need("water")

    assert from_offer.score == pytest.approx(from_need.score)
    assert from_offer.words == from_need.words


def test_a_key_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        Index([need("n", "eau"), need("n", "air")], [])


def test_hostile_text_does_not_crash_and_stays_bounded() -> None:
    junk = "\x00\x1b[31m<script>alert(1)</script>\u202e\ufeff\ud800 eau 🚰 " * 50_000
    hostile = [
        need("long", junk + " " + "a" * 200_000, "\x07eau\x00", *(f"t{i}" for i in range(10_000))),
        need("words", " ".join(f"mot{i}" for i in range(100_000))),
    ]
    started = time.perf_counter()
    index = Index(hostile, [offer("o", junk, "eau")])
    matches = index.for_offer("o") + index.for_need("long") + index.for_need("words")
    elapsed = time.perf_counter() - started

    assert elapsed < 2
    assert [m.need for m in matches[:1]] == ["long"]
    for match in matches:
        assert len(match.words) <= 8
        assert all(len(word) <= 80 and word.isprintable() for word in match.words)
    assert "eau" in matches[0].words


def test_only_the_first_5000_characters_of_a_text_are_read() -> None:
    index = Index([need("n", "x" * 5000 + " eau potable")], [offer("o", "eau potable")])

    assert index.for_offer("o") == []


def test_words_are_at_most_eight_the_most_telling_first() -> None:
    words = "capteur sonde mesure analyse réseau qualité potable pression débit fuite compteur"
    everyone = [need(f"other{i}", "capteur") for i in range(6)]
    index = Index([need("n", words), *everyone], [offer("o", words)])

    first = index.for_offer("o")[0]

    assert first.need == "n"
    assert len(first.words) == 8
    # Every need says `capteur`: of the eleven words shared it tells least, so it is left out.
    assert "capteur" not in first.words
