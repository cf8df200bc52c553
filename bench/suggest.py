"""Suggestions (issue 21): how often the needs suggested to a company are of its own theme, against
exact word overlap, and how long ranking every company and every need takes.

Needs and offers are generated from a fixed seed out of 25 themes of a city's purchases, each with
concepts written as French and English words, synonyms and inflected forms. A need and an offer of
the same theme draw their words from separate halves of each concept's forms (a need says
`mesurer`, `capteur`, `measuring`; an offer `mesures`, `sondes`, `measured`), so they rarely share
a word as written. Needs are French or English; so are offers, independently, so about half of the
pairs of one theme are across languages. Offers add words of other themes (a catalogue is broad)
and every text carries words any buyer or company uses ("solutions", "ville", "services"). Half
of the texts name themes, drawn from their theme's labels in either language, sometimes with a
label of another theme.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import output

# Run as a script, bench/ comes first on sys.path (and the installed project may be another
# checkout): the project this script belongs to goes first.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrator.suggestions.rank import Index, Text
from orchestrator.suggestions.text import STOP

# Each theme: its labels (French, English), then concepts as "French forms | English forms".
THEMES: dict[str, tuple[str, ...]] = {
    "water": (
        "eau, qualité de l'eau | water, water quality",
        "eau eaux potable potables | water waters drinking drinkable",
        "mesurer mesure mesures mesurant mesuré | measure measuring measured measurements",
        "capteur sonde capteurs sondes | sensor probe sensors probes",
        "analyse analyses analyser analysé | analysis analyses analyse analysed",
        "réseau réseaux canalisation canalisations | network networks pipe pipes",
        "qualité contamination contaminé polluée | quality contamination contaminated polluted",
    ),
    "waste": (
        "déchets, collecte | waste, collection",
        "déchet déchets ordure ordures | waste wastes garbage refuse",
        "collecte collecter collectes collecté | collection collect collecting collected",
        "tri trier triés tris | sorting sort sorted sorts",
        "recyclage recycler recyclés recyclable | recycling recycle recycled recyclable",
        "benne bennes conteneur conteneurs | skip skips container containers",
        "compost composter compostage composté | compost composting composted composts",
    ),
    "catering": (
        "restauration scolaire, cantine | school catering, canteen",
        "repas repas cantine cantines | meal meals canteen canteens",
        "cuisine cuisiner cuisinés cuisines | cooking cook cooked kitchen",
        "élève élèves enfant enfants | pupil pupils child children",
        "bio biologique local locaux | organic organics local locally",
        "menu menus nutrition nutritionnel | menu menus nutrition nutritional",
        "livraison livrer livrés livraisons | delivery deliver delivered deliveries",
    ),
    "lighting": (
        "éclairage public, lumière | street lighting, light",
        "éclairage éclairer éclairé éclairages | lighting light lit lights",
        "lampadaire lampadaires candélabre candélabres | streetlight streetlights pole poles",
        "led diode leds diodes | led diode leds diodes",
        "luminaire luminaires lampe lampes | luminaire luminaires lamp lamps",
        "nuit nocturne nuits nocturnes | night nighttime nights nightly",
        "consommation consommer consommé consommations | consumption consume consumed consuming",
    ),
    "renovation": (
        "rénovation énergétique, bâtiment | energy retrofit, building",
        "rénovation rénover rénové rénovations | renovation renovate renovated retrofit",
        "isolation isoler isolé isolant | insulation insulate insulated insulating",
        "énergie énergétique énergies énergétiques | energy energetic energies efficiency",
        "chauffage chauffer chauffé chaudière | heating heat heated boiler",
        "bâtiment bâtiments immeuble immeubles | building buildings premises facility",
        "thermique thermiques audit audits | thermal thermally audit audits",
    ),
    "cyber": (
        "cybersécurité, sécurité informatique | cybersecurity, it security",
        "cybersécurité sécurité sécuriser sécurisé | cybersecurity security secure secured",
        "attaque attaques intrusion intrusions | attack attacks intrusion intrusions",
        "pare-feu rançongiciel pare-feux rançongiciels | firewall ransomware firewalls malware",
        "vulnérabilité vulnérabilités faille failles | vulnerability vulnerabilities flaw flaws",
        "protéger protection protégé protections | protect protection protected protecting",
        "audit test pentest tests | audit testing pentest tests",
    ),
    "cleaning": (
        "nettoyage, propreté | cleaning, cleanliness",
        "nettoyage nettoyer nettoyé nettoyages | cleaning clean cleaned cleans",
        "entretien entretenir entretenu entretiens | maintenance maintain maintained upkeep",
        "ménage ménages propreté propre | housekeeping janitorial cleanliness tidy",
        "vitre vitres vitrerie surfaces | window windows glazing surfaces",
        "désinfection désinfecter désinfecté hygiène | disinfection disinfect disinfected hygiene",
        "locaux bureaux local bureau | premises offices office rooms",
    ),
    "trees": (
        "espaces verts, arbres | green spaces, trees",
        "arbre arbres arbuste arbustes | tree trees shrub shrubs",
        "élagage élaguer élagué taille | pruning prune pruned trimming",
        "jardin jardins parc parcs | garden gardens park parks",
        "planter plantation plantations planté | plant planting plantings planted",
        "pelouse pelouses gazon tonte | lawn lawns grass mowing",
        "paysage paysager paysagiste paysages | landscape landscaping landscaper landscapes",
    ),
    "cycling": (
        "mobilité, vélo | mobility, cycling",
        "vélo vélos bicyclette bicyclettes | bike bikes bicycle bicycles",
        "piste pistes cyclable cyclables | lane lanes cycleway cycleways",
        "stationnement stationner garage garages | parking park rack racks",
        "location louer loué locations | rental rent rented rentals",
        "mobilité mobilités déplacement déplacements | mobility mobilities commuting commute",
        "trottinette trottinettes partage partagé | scooter scooters sharing shared",
    ),
    "hardware": (
        "matériel informatique, ordinateurs | it hardware, computers",
        "ordinateur ordinateurs portable portables | computer computers laptop laptops",
        "écran écrans moniteur moniteurs | screen screens monitor monitors",
        "serveur serveurs stockage stocker | server servers storage store",
        "imprimante imprimantes copieur copieurs | printer printers copier copiers",
        "poste postes matériel matériels | workstation workstations hardware equipment",
        "tablette tablettes clavier claviers | tablet tablets keyboard keyboards",
    ),
    "furniture": (
        "mobilier, meubles | furniture, furnishings",
        "mobilier mobiliers meuble meubles | furniture furnishings furnish furnished",
        "chaise chaises siège sièges | chair chairs seat seating",
        "table tables bureau bureaux | table tables desk desks",
        "armoire armoires rangement rangements | cabinet cabinets storage shelving",
        "ergonomique ergonomie ergonomiques confort | ergonomic ergonomics ergonomically comfort",
        "aménagement aménager aménagé aménagements | fitting fit fitted layout",
    ),
    "roads": (
        "voirie, travaux | roads, roadworks",
        "voirie voiries chaussée chaussées | road roads roadway roadways",
        "travaux chantier chantiers travail | works worksite worksites roadworks",
        "enrobé enrobés bitume asphalte | asphalt asphalts bitumen tarmac",
        "trottoir trottoirs marquage marquages | sidewalk sidewalks marking markings",
        "réparation réparer réparé réparations | repair repairing repaired repairs",
        "signalisation signalisations panneau panneaux | signage signs sign signposting",
    ),
    "events": (
        "événementiel, scène | events, stage",
        "événement événements manifestation manifestations | event events festival festivals",
        "scène scènes podium podiums | stage stages platform platforms",
        "son sonorisation sonore sonores | sound sounds audio amplification",
        "spectacle spectacles concert concerts | show shows concert concerts",
        "tente tentes chapiteau chapiteaux | tent tents marquee marquees",
        "régie régisseur technicien techniciens | technical technician technicians crew",
    ),
    "translation": (
        "traduction, interprétariat | translation, interpreting",
        "traduction traduire traduit traductions | translation translate translated translating",
        "interprète interprètes interpréter interprété | interpreter interpreters interpret oral",
        "langue langues linguistique linguistiques | language languages linguistic linguistics",
        "document documents rédaction rédiger | document documents writing write",
        "anglais allemand espagnol italien | english german spanish italian",
        "relecture relire relu relectures | proofreading proofread proofreads reviewing",
    ),
    "training": (
        "formation, compétences | training, skills",
        "formation former formé formations | training train trained trainings",
        "compétence compétences savoir savoirs | skill skills knowledge competence",
        "apprentissage apprendre appris apprentissages | learning learn learned learners",
        "stagiaire stagiaires agent agents | trainee trainees staff employee",
        "atelier ateliers cours session | workshop workshops course courses",
        "certification certifier certifié certifiés | certification certify certified certificate",
    ),
    "guarding": (
        "gardiennage, surveillance | guarding, surveillance",
        "gardiennage gardien gardiens garde | guarding guard guards watchman",
        "surveillance surveiller surveillé surveillées | surveillance monitor monitored monitoring",
        "caméra caméras vidéo vidéosurveillance | camera cameras video cctv",
        "alarme alarmes intrusion alerte | alarm alarms burglar alert",
        "ronde rondes patrouille patrouilles | patrol patrols round rounds",
        "accès contrôle badge badges | access control badge badges",
    ),
    "fleet": (
        "véhicules, flotte | vehicles, fleet",
        "véhicule véhicules voiture voitures | vehicle vehicles car cars",
        "flotte flottes parc utilitaire | fleet fleets van vans",
        "électrique électriques batterie batteries | electric electrical battery batteries",
        "recharge recharger borne bornes | charging charge charger chargers",
        "carburant carburants hydrogène gaz | fuel fuels hydrogen gas",
        "location leasing louer loués | lease leasing leased rental",
    ),
    "telecom": (
        "télécoms, téléphonie | telecoms, telephony",
        "téléphonie téléphone téléphones mobile | telephony telephone phones mobile",
        "fibre fibres optique internet | fibre fiber optical broadband",
        "réseau réseaux connexion connexions | network networks connection connectivity",
        "abonnement abonnements forfait forfaits | subscription subscriptions plan plans",
        "standard standards appel appels | switchboard switchboards call calls",
        "antenne antennes couverture wifi | antenna antennas coverage wireless",
    ),
    "accessibility": (
        "accessibilité, handicap | accessibility, disability",
        "accessibilité accessible accessibles handicap | accessible access disabled disability",
        "fauteuil fauteuils rampe rampes | wheelchair wheelchairs ramp ramps",
        "malvoyant malvoyants aveugle braille | blind visually braille sighted",
        "sourd sourds malentendant malentendants | deaf hearing impaired signing",
        "inclusion inclusif inclusive inclusifs | inclusion inclusive include included",
        "adaptation adapter adapté adaptés | adaptation adapt adapted adapting",
    ),
    "childcare": (
        "petite enfance, crèche | early childhood, nursery",
        "crèche crèches garderie garderies | nursery nurseries daycare creche",
        "bébé bébés nourrisson nourrissons | baby babies infant infants",
        "jouet jouets jeu jeux | toy toys game games",
        "puériculture puéricultrice éveil éducatif | childcare caregiver educational early",
        "couche couches change changes | nappy nappies diaper diapers",
        "parent parents famille familles | parent parents family families",
    ),
    "sport": (
        "sport, équipements sportifs | sport, sports equipment",
        "sport sports sportif sportifs | sport sports athletic athletics",
        "gymnase gymnases stade stades | gym gyms stadium stadiums",
        "piscine piscines bassin bassins | pool pools swimming swim",
        "terrain terrains pelouse synthétique | pitch pitches field fields",
        "ballon ballons filet filets | ball balls net nets",
        "club clubs entraînement entraîner | club clubs coaching coach",
    ),
    "heritage": (
        "patrimoine, restauration | heritage, restoration",
        "patrimoine patrimonial monument monuments | heritage historic monument monuments",
        "restauration restaurer restauré restaurations | restoration restore restored restoring",
        "pierre pierres taille façade | stone stones masonry facade",
        "église églises chapelle chapelles | church churches chapel chapels",
        "toiture toitures charpente charpentes | roof roofs roofing timber",
        "vitrail vitraux fresque fresques | stained glass mural murals",
    ),
    "legal": (
        "conseil juridique, droit | legal advice, law",
        "juridique juridiques droit droits | legal legally law laws",
        "avocat avocats conseil conseils | lawyer lawyers counsel advice",
        "contrat contrats clause clauses | contract contracts clause clauses",
        "contentieux litige litiges procédure | litigation dispute disputes proceedings",
        "marchés commande achat achats | procurement tender tenders purchasing",
        "conformité conforme rgpd réglementation | compliance compliant gdpr regulation",
    ),
    "data": (
        "données, logiciel | data, software",
        "donnée données data base | data dataset datasets database",
        "logiciel logiciels application applications | software app application applications",
        "ouverture ouvertes open publication | open opening openly publishing",
        "tableau tableaux bord indicateur | dashboard dashboards indicator indicators",
        "cartographie carte cartes géographique | mapping map maps geographic",
        "développement développer développé développeur | development develop developed developer",
    ),
    "health": (
        "santé, matériel médical | health, medical supplies",
        "santé sanitaire sanitaires médical | health healthcare sanitary medical",
        "masque masques gant gants | mask masks glove gloves",
        "médicament médicaments pharmacie pharmacies | medicine medicines pharmacy drugs",
        "soin soins infirmier infirmière | care nursing nurse nurses",
        "défibrillateur défibrillateurs secours secourir | defibrillator defibrillators aid rescue",
        "vaccin vaccins vaccination dépistage | vaccine vaccines vaccination screening",
    ),
}

# Words any need or offer may use, whatever its theme.
COMMON_TEXT = {
    "fr": "solution solutions service services prestation prestations ville direction projet "
    "projets accompagnement entreprise offre besoin besoins public publique qualité "
    "expérience équipe équipes marché",
    "en": "solution solutions service services provider city department project projects "
    "support company offer need needs public quality experience team teams market",
}
COMMON = {language: words.split() for language, words in COMMON_TEXT.items()}
DESCRIPTION = (4, 6)  # concepts of its theme a text names: a title and a description
TITLE = (2, 3)  # a title alone, or a profile of one line
GLUE_TEXT = {
    "fr": "le la les de des du pour avec et en sur dans nos notre un une aux par",
    "en": "the a an of for with and in on our to by from at",
}
GLUE = {language: words.split() for language, words in GLUE_TEXT.items()}


@dataclass(frozen=True, slots=True)
class Theme:
    name: str
    labels: dict[str, list[str]]  # language -> its labels
    forms: dict[str, list[list[str]]]  # language -> concept -> forms


def themes() -> list[Theme]:
    found = []
    for name, (labels, *concepts) in THEMES.items():
        french, english = (part.split(", ") for part in labels.split(" | "))
        forms: dict[str, list[list[str]]] = {"fr": [], "en": []}
        for concept in concepts:
            fr, en = concept.split(" | ")
            forms["fr"].append(fr.split())
            forms["en"].append(en.split())
        found.append(Theme(name, {"fr": french, "en": english}, forms))
    return found


def write(
    rng: random.Random,
    theme: Theme,
    language: str,
    half: int,
    others: list[Theme],
    noise: int,
    concepts: tuple[int, int],
) -> Text:
    """A text of its theme: concepts in the forms of its half (0: needs, 1: offers), words any
    text has, `noise` words of other themes, glued by stop words."""
    words = [rng.choice(concept[half::2]) for concept in theme.forms[language]]
    words = rng.sample(words, rng.randint(*concepts))
    words += rng.sample(COMMON[language], rng.randint(2, 4))
    for _ in range(noise):
        other = rng.choice(others)
        words.append(rng.choice(rng.choice(other.forms[rng.choice(("fr", "en"))])))
    rng.shuffle(words)
    glued = " ".join(f"{word} {rng.choice(GLUE[language])}" for word in words)
    labels: tuple[str, ...] = ()
    if rng.random() < 0.5:
        labels = (rng.choice(theme.labels[rng.choice(("fr", "en"))]),)
        if rng.random() < 0.3:
            labels += (rng.choice(rng.choice(others).labels[language]),)
    return Text("", glued, labels)


def generate(
    needs: int, offers: int, seed: int, concepts: tuple[int, int]
) -> tuple[list[Text], list[Text], dict[str, str]]:
    """Needs and offers, and the theme of every key."""
    rng = random.Random(seed)
    every = themes()
    truth: dict[str, str] = {}
    made: dict[str, list[Text]] = {"need": [], "offer": []}
    for kind, count, half in (("need", needs, 0), ("offer", offers, 1)):
        for number in range(count):
            theme = every[number % len(every)]
            others = [t for t in every if t is not theme]
            language = "fr" if rng.random() < 0.65 else "en"
            noise = 0 if kind == "need" else rng.randint(2, 5)
            text = write(rng, theme, language, half, others, noise, concepts)
            key = f"{kind}-{number:04d}"
            truth[key] = theme.name
            made[kind].append(Text(key, text.text, text.themes))
    return made["need"], made["offer"], truth


def precision(ranked: dict[str, list[str]], truth: dict[str, str], at: int = 5) -> float:
    """Of each query's first `at` results, the share of its own theme (missing ones count as
    wrong), averaged over queries."""
    shares = [
        sum(truth[found] == truth[query] for found in results[:at]) / at
        for query, results in ranked.items()
    ]
    return sum(shares) / len(shares)


def overlap(needs: list[Text], offers: list[Text], at: int = 5) -> dict[str, list[str]]:
    """The baseline: needs by the count of words (theme labels' too) shared with the offer as
    written, lower-cased, stop words dropped, ties by key; a need sharing nothing is left out."""

    def words(text: Text) -> set[str]:
        found = re.findall(r"[^\W_]+", " ".join((text.text, *text.themes)).lower())
        return {word for word in found if word not in STOP}

    sets = [(need.key, words(need)) for need in needs]
    ranked = {}
    for offer in offers:
        said = words(offer)
        scored = sorted((-len(said & other), key) for key, other in sets)
        ranked[offer.key] = [key for score, key in scored[:at] if score < 0]
    return ranked


def suggested(index: Index, offers: list[Text], at: int = 5) -> dict[str, list[str]]:
    return {o.key: [m.need for m in index.for_offer(o.key, limit=at)] for o in offers}


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True, slots=True)
class Quality:
    ours: float  # precision at 5 of the needs suggested to offers
    baseline: float  # the same, by word overlap
    text_only: float  # ours with every theme taken away
    for_needs: float  # precision at 5 of the offers suggested to needs


def quality(needs: list[Text], offers: list[Text], truth: dict[str, str]) -> Quality:
    index = Index(needs, offers)
    bare = [Text(t.key, t.text, ()) for t in needs], [Text(t.key, t.text, ()) for t in offers]
    return Quality(
        precision(suggested(index, offers), truth),
        precision(overlap(needs, offers), truth),
        precision(suggested(Index(*bare), bare[1]), truth),
        precision({n.key: [m.offer for m in index.for_need(n.key, limit=5)] for n in needs}, truth),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--needs", type=int, default=500)
    parser.add_argument("--offers", type=int, default=2000)
    args = parser.parse_args()
    needs, offers, truth = generate(args.needs, args.offers, args.seed, DESCRIPTION)
    print(f"{len(needs)} needs, {len(offers)} offers, {len(THEMES)} themes, seed {args.seed}")
    print(f"  a need:   {needs[0].text!r} {needs[0].themes}")
    print(f"  an offer: {offers[0].text!r} {offers[0].themes}")
    full = quality(needs, offers, truth)
    short = quality(*generate(args.needs, args.offers, args.seed, TITLE))

    started = time.perf_counter()
    overlap(needs, offers)
    baseline_seconds = time.perf_counter() - started
    reset_peak()
    before = peak_mb()
    started = time.perf_counter()
    index = Index(needs, offers)
    built = time.perf_counter() - started
    answered = sum(len(index.for_offer(o.key)) for o in offers)
    answered += sum(len(index.for_need(n.key)) for n in needs)
    seconds = time.perf_counter() - started
    peak = peak_mb()
    del index
    tracemalloc.start()
    index = Index(needs, offers)
    for o in offers:
        index.for_offer(o.key)
    for n in needs:
        index.for_need(n.key)
    allocated = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(
        f"index built in {built:.2f} s; {len(offers)} + {len(needs)} queries of 10 gave "
        f"{answered} suggestions; peak RSS {peak:.0f} MB ({before:.0f} MB before)"
    )
    print()
    size = f"{len(offers):,} x {len(needs):,}"
    output.emit(
        "suggest",
        [
            (
                "precision at 5, needs suggested to offers",
                f"{full.ours:.3f}",
                f"{full.baseline:.3f}",
                ratio(full.ours, full.baseline),
                ">= 0.8, > baseline",
                output.holds(full.ours >= 0.8 and full.ours > full.baseline),
            ),
            output.widen(
                ("precision at 5, texts alone (no themes)", f"{full.text_only:.3f}", "-", "-")
            ),
            output.widen(
                ("precision at 5, offers suggested to needs", f"{full.for_needs:.3f}", "-", "-")
            ),
            (
                "precision at 5, short texts (2-3 words of the theme)",
                f"{short.ours:.3f}",
                f"{short.baseline:.3f}",
                ratio(short.ours, short.baseline),
                "-",
                "-",
            ),
            output.widen(
                ("short texts, texts alone (no themes)", f"{short.text_only:.3f}", "-", "-")
            ),
            (
                f"index and top 10 for every offer and need, {size}",
                f"{seconds:.2f} s",
                f"{baseline_seconds:.2f} s",
                "-",
                "< 5 s",
                output.holds(seconds < 5),
            ),
            (
                "peak RSS during it",
                f"{peak:.0f} MB",
                "-",
                "-",
                "< 500 MB",
                output.holds(peak < 500),
            ),
            output.widen(
                (
                    "of which the index and queries (tracemalloc peak)",
                    f"{allocated:.1f} MB",
                    "-",
                    "-",
                )
            ),
        ],
    )
    return 0


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}" if baseline else "-"


if __name__ == "__main__":
    sys.exit(main())
