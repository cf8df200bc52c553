"""Example program for docs, demo and tests: the seed event rebuilt in JSON and folder form, and
its JSON copied into the package, where the workbook template is made from (an installed service
has no examples/ folder)."""

import csv
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

OUT = Path(__file__).resolve().parent / "lyon-2021"
PACKAGED = Path(__file__).resolve().parents[1] / "orchestrator" / "program" / "example_program.json"
DAY = "2021-04-08"
SLOTS = ["10:30", "11:00", "11:30", "12:00", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30"]
PLENARY = "Plénière : la commande publique responsable (SPAR)"
STREAM_URL = "https://www.youtube.com/watch?v=q3Vd8KxLr2M"

# key | name | people ("[en]": English-speaking) | directorates met (companies only)
BUYERS = """
eau-dechets | Eau et Déchets | Hélène Martin, François Garnier, Pascale Rey
voirie | Voirie Mobilité Urbaine | Olivier Chabert, Isabelle Fournel, Mathieu Cartier
erasme | Laboratoire Erasme | Patrice Vial, Léa Monnet, Cédric Bonnaz
numerique | Innovation Numérique & Systèmes d'Information | Stéphanie Roux, Karim Benali,
  Émilie Jacquet, Bruno Chapuis
batiments | Projets et Énergie des Bâtiments | Céline Faure, Grégoire Lambert, Nadia Haddad
patrimoine | Patrimoine et Moyens Généraux | Jérôme Blanc, Valérie Morel
"""
# The Métropole's first two people are its vice-president and its purchasing director.
ORGANISERS = """
metropole-lyon | Métropole de Lyon | Claire Dumontet, Nathalie Brossard, Julien Perret
minalogic | Minalogic | Sandrine Ollier, Thomas Berthet, Aurélie Guichard
"""
# A company's first person takes its meetings.
COMPANIES = """
aquasentis | Aquasentis | Camille Girard, Antoine Mercier, Inès Bouvier, Romain Gauthier
  | eau-dechets
trivalo | Trivalo Systèmes | Sébastien Roche, Marion Perrin | eau-dechets
humaneo | Humanéo Lab | Franck Tissot, Agnès Collomb, Yann Le Gall, Chloé Arnaud
  | erasme numerique patrimoine
vigiflux | Vigiflux | Maxime Ferrand, Laure Besson, Hugo Barbier | voirie numerique
thermolia | Thermolia | Frédéric Joly, Anaïs Veyret, Damien Rousset | batiments patrimoine
optiroute | Optiroute Analytics | Nicolas Charpin, Élodie Brun | voirie eau-dechets
datalpes | Datalpes | Guillaume Favre, Sarah Benhamou, Alexis Dufour, Manon Pichon
  | numerique erasme
lumio | Lumio Robotics | Emily Clarke [en], James Whitfield [en], Baptiste Roussel
  | eau-dechets voirie
methalys | Méthalys | Vincent Boyer, Margaux Laurent, Rémi Chevalier | eau-dechets
cyclopolis | Cyclopolis | Lucie Vidal, Thibault Marchand | voirie
paveo | Pavéo Matériaux | Christophe Durand, Sylvie Giraud, Alain Delorme | voirie
kairnet | Kairnet | Mehdi Saïdi | numerique
sylvecode | Sylvecode | Julie Lefèvre, Arnaud Guillot, Benoît Mathieu | numerique
ergonum | Ergonum | Mélanie Carrel, Quentin Masson | erasme
parlons-quartier | Parlons Quartier | Sophie Nguyen, Adrien Baudin | erasme
solarhone | Solarhône | Pierre Ducret, Amandine Favier, Loïc Teyssier, Justine Clément
  | batiments
isoterra | Isoterra | Marc Aubert, Gaëlle Rivoire, Tristan Paquet | batiments
kilowatteo | Kilowattéo | Fabien Moulin, Audrey Poncet, Kevin Lacroix | batiments
geobati | GéoBâti Conseil | Dominique Savoye, Hervé Chambon | batiments
netteo | Nettéo Services | Fatima Belkacem, Laurent Guérin, Sandra Pons | patrimoine
reboot | Reboot Informatique | Samuel Drevet, Florence Cottin, Alexandre Mollard | patrimoine
remobil | Remobil | Pauline Gros, Jean-Baptiste Ravel | patrimoine
electroflotte | Électroflotte | Éric Bernard, Caroline Thévenet, Mickaël Fayolle | patrimoine
lumisol | Lumisol | Virginie Chardon, Sylvain Berger, Morgane Tardy | voirie
parkeo | Parkéo | Cyril Petit, Estelle Blondel, Jonathan Hubert, Mathilde Reynaud | voirie
hydrocap | Hydrocap | Philippe Jourdan, Agathe Bouchet, Rachid Mansouri | eau-dechets
aqualogic | Aqualogic Alpes | Gilles Pélissier, Coralie Sauvage, Xavier Ribes | eau-dechets
imageo | Imagéo Vision | Matthieu Poncin, Laetitia Gimenez, Bastien Crozet, Océane Janin
  | numerique
tessela | Tesséla 3D | Florian Grange, Elsa Mazet, Benjamin Riou | erasme
nuage-local | Nuage Local | David Cohen, Marine Lopez | numerique
dronalp | Dronalp | Jérémy Bois, Aline Gaillard, Paul Michaud | batiments
sonomap | Sonomap | Clémence Vernay | voirie
recyclab | Recyclab Plastiques | Stéphane Bonnet | eau-dechets
aireo | Airéo Capteurs | Noémie Desroches | erasme
"""


def table(text: str) -> list[list[str]]:
    """Rows of a table above; an indented line continues the row before it."""
    joined = re.sub(r"\n +", " ", text.strip())
    return [[cell.strip() for cell in line.split("|")] for line in joined.splitlines()]


def session(key: str, kind: str, title: str, start: str, end: str, attendees: object) -> dict:
    return {
        "key": key,
        "kind": kind,
        "title": title,
        "start": f"{DAY}T{start}",
        "end": f"{DAY}T{end}",
        "attendees": attendees,
    }


def plus30(hhmm: str) -> str:
    h, m = map(int, hhmm.split(":"))
    return f"{h + (m + 30) // 60:02d}:{(m + 30) % 60:02d}"


def ascii_slug(text: str, sep: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", sep, plain).strip(sep)


def make_people(org_key: str, names: str, domain: str) -> list[dict[str, str]]:
    people = []
    for raw in names.split(","):
        name, english = raw.replace("[en]", "").strip(), "[en]" in raw
        first, last = name.split(" ", 1)
        person = {
            "key": ascii_slug(first, "")[0] + ascii_slug(last, ""),
            "name": name,
            "email": f"{ascii_slug(first, '-')}.{ascii_slug(last, '-')}@{domain}",
            "organisation": org_key,
        }
        if english:
            person["locale"] = "en"
        people.append(person)
    return people


def build() -> dict:
    orgs, people, by_org = [], [], {}
    groups = [(row, "buyer", "grandlyon.example") for row in table(BUYERS)]
    groups += [(row, "company", f"{row[0]}.example") for row in table(COMPANIES)]
    metropole, minalogic = table(ORGANISERS)
    groups += [(metropole, "organiser", "grandlyon.example")]
    groups += [(minalogic, "organiser", "minalogic.example")]
    for (key, name, names, *_), kind, domain in groups:
        orgs.append({"key": key, "name": name, "kind": kind})
        by_org[key] = make_people(key, names, domain)
        people += by_org[key]
    org_name = {o["key"]: o["name"] for o in orgs}
    speakers = [p["key"] for p in by_org["metropole-lyon"][:2]]
    sessions = [session("pleniere", "plenary", PLENARY, "09:00", "10:00", "*")]
    sessions[0] |= {"speakers": speakers, "stream_url": STREAM_URL}
    # Each meeting goes to the least-busy representative of the directorate, then to the
    # least-used slot where both attendees are free (ties: earliest): deterministic and spread.
    load = {p["key"]: 0 for p in people}
    busy: dict[str, set[int]] = {p["key"]: set() for p in people}
    per_slot = [0] * len(SLOTS)
    meetings = []
    for company, _, _, directorates in table(COMPANIES):
        for directorate in directorates.split():
            contact = by_org[company][0]["key"]
            rep = min(by_org[directorate], key=lambda p: load[p["key"]])["key"]
            free = [i for i in range(len(SLOTS)) if i not in busy[contact] | busy[rep]]
            slot = min(free, key=lambda i: (per_slot[i], i))
            load[rep] += 1
            per_slot[slot] += 1
            busy[contact].add(slot)
            busy[rep].add(slot)
            title = f"{org_name[company]} × {org_name[directorate]}"
            meetings.append((slot, len(meetings), title, [contact, rep]))
    for n, (slot, _, title, attendees) in enumerate(sorted(meetings), 1):
        start = SLOTS[slot]
        sessions.append(session(f"b2b-{n:02d}", "meeting", title, start, plus30(start), attendees))
    event = {
        "slug": "rdv-commande-publique-2021",
        "title": "Rendez-vous de la commande publique",
        "timezone": "Europe/Paris",
        "locale": "fr",
        "organiser": {"name": "Minalogic", "email": "rdv@minalogic.example"},
    }
    return {"event": event, "organisations": orgs, "people": people, "sessions": sessions}


PEOPLE_COLS = "key,name,email,organisation,locale"
SESSION_COLS = "key,kind,title,start,end,attendees,provider,speakers,stream_url"


def write_csv(path: Path, cols: str, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=cols.split(","), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            cells = {c: row.get(c, "") for c in cols.split(",")}
            for c in ("attendees", "speakers"):
                if isinstance(cells.get(c), list):
                    cells[c] = ";".join(cells[c])
            writer.writerow(cells)


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_folder(folder: Path) -> dict:
    data = json.loads((folder / "event.json").read_text(encoding="utf-8"))
    with (folder / "people.csv").open(encoding="utf-8", newline="") as f:
        data["people"] = [{k: v for k, v in r.items() if v} for r in csv.DictReader(f)]
    with (folder / "sessions.csv").open(encoding="utf-8", newline="") as f:
        data["sessions"] = [{k: v for k, v in r.items() if v} for r in csv.DictReader(f)]
    for s in data["sessions"]:
        for c in ("attendees", "speakers"):
            if c in s and s[c] != "*":
                s[c] = s[c].split(";")
    return data


def self_check(program: dict) -> list[str]:
    bad: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            bad.append(what)

    from_json = json.loads((OUT / "program.json").read_text(encoding="utf-8"))
    check(from_json == program, "program.json differs from the generated program")
    check(read_folder(OUT) == from_json, "folder form differs from program.json")
    for file, cols in (("people.csv", PEOPLE_COLS), ("sessions.csv", SESSION_COLS)):
        raw = (OUT / file).read_bytes()
        check(raw.startswith(cols.encode() + b"\n"), f"{file}: header or BOM")
        check(b"\r" not in raw, f"{file}: line endings")
    orgs, people, sessions = program["organisations"], program["people"], program["sessions"]
    kind = {o["key"]: o["kind"] for o in orgs}
    check("provider" not in program["event"], "event provider set")
    check(Counter(kind.values()) == {"buyer": 6, "company": 34, "organiser": 2}, "org kinds")
    check(
        sorted(o["name"] for o in orgs if o["kind"] == "organiser")
        == ["Minalogic", "Métropole de Lyon"],
        "organisers",
    )
    check(len(people) == 116, f"116 people, not {len(people)}")
    for what, items in (("org", orgs), ("person", people), ("session", sessions)):
        check(len({i["key"] for i in items}) == len(items), f"duplicate {what} keys")
    check(len({p["email"].casefold() for p in people}) == len(people), "duplicate emails")
    key_re = re.compile(r"[a-z0-9][a-z0-9_.-]*")
    check(all(key_re.fullmatch(i["key"]) for i in orgs + people), "bad keys")
    check(all(p["organisation"] in kind for p in people), "unknown organisation")
    check(
        sum(p.get("locale") == "en" for p in people) == 2
        and all(p.get("locale", "en") == "en" for p in people),
        "exactly 2 people with locale en",
    )
    members = {o["key"]: [p["key"] for p in people if p["organisation"] == o["key"]] for o in orgs}
    org_of = {p["key"]: p["organisation"] for p in people}
    reps = [p for o in orgs if o["kind"] == "buyer" for p in members[o["key"]]]
    check(len(reps) == 18, "18 buyer representatives")
    check(all(len(members[k]) >= (2 if kind[k] == "buyer" else 1) for k in kind), "org sizes")
    plenary = [s for s in sessions if s["kind"] == "plenary"]
    check(len(plenary) == 1 and plenary[0]["attendees"] == "*", "one plenary for everyone")
    speakers = plenary[0].get("speakers", []) if plenary else []
    check(
        len(speakers) == 2 and {org_of.get(k) for k in speakers} == {"metropole-lyon"}, "speakers"
    )
    meetings = [s for s in sessions if s["kind"] == "meeting"]
    check([s["key"] for s in meetings] == [f"b2b-{n:02d}" for n in range(1, 42)], "41 meetings")
    check(all("provider" not in s for s in sessions), "session provider set")
    pairs, seen_reps, both = [], set(), ["buyer", "company"]
    name = {o["key"]: o["name"] for o in orgs}
    for s in meetings:
        a = s["attendees"]
        if len(a) != 2 or sorted(kind.get(org_of.get(k, ""), "") for k in a) != both:
            bad.append(f"{s['key']}: attendees must be one company and one buyer")
            continue
        company, buyer = sorted((org_of[k] for k in a), key=lambda o: kind[o] != "company")
        pairs.append((company, buyer))
        seen_reps.update(k for k in a if kind[org_of[k]] == "buyer")
        check(s["title"] == f"{name[company]} × {name[buyer]}", f"{s['key']}: title")
        start, end = s["start"][11:], s["end"][11:]
        check(s["start"][:10] == DAY and start in SLOTS and end == plus30(start), s["key"])
    check(len(set(pairs)) == len(pairs), "a company meets the same directorate twice")
    per_company = sorted(sum(c == k for c, _ in pairs) for k in kind if kind[k] == "company")
    check(per_company == [1] * 28 + [2] * 5 + [3], f"meetings per company {per_company}")
    check(len(seen_reps) == 18, "every buyer representative has a meeting")
    every = [p["key"] for p in people]
    for i, s in enumerate(sessions):
        for t in sessions[i + 1 :]:
            if s["start"] < t["end"] and t["start"] < s["end"]:
                a = every if s["attendees"] == "*" else s["attendees"]
                b = every if t["attendees"] == "*" else t["attendees"]
                check(not set(a) & set(b), f"{s['key']} and {t['key']} overlap for a person")
    return bad


def main() -> int:
    program = build()
    OUT.mkdir(parents=True, exist_ok=True)
    write_json(OUT / "program.json", program)
    write_json(PACKAGED, program)
    write_json(OUT / "event.json", {k: program[k] for k in ("event", "organisations")})
    write_csv(OUT / "people.csv", PEOPLE_COLS, program["people"])
    write_csv(OUT / "sessions.csv", SESSION_COLS, program["sessions"])
    problems = self_check(program)
    for p in problems:
        print(f"self-check: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
