"""Policies for ``analysis.py``: shapes that are hard for an analysis that enumerates every
combination of classes, a generated policy of 1,000 rules, and one shaped like a real regulation.
Every generator is deterministic."""

from __future__ import annotations

import random

HEAD = "party staff\ndata email\npurpose support\n"


def booleans(k: int) -> str:
    """One allow rule reading k booleans, and an invariant over it that holds."""
    keys = "".join(f"context b{i}: boolean\n" for i in range(k))
    condition = " and ".join(f"b{i}" for i in range(k))
    return (
        HEAD
        + keys
        + f"rule r §1\n  allow staff to use email for support\n  when {condition}\n"
        + "invariant inv §1\n  never staff use email for support\n  when not b0\n"
    )


def purposes_set(n: int) -> str:
    """A set-of-purposes key tested against n purposes in one rule, with an invariant."""
    purposes = "".join(f"purpose p{i}\n" for i in range(n))
    condition = " or ".join(f"p{i} in consented" for i in range(n))
    return (
        "party staff\ndata email\n"
        + purposes
        + "context consented: set of purpose\n"
        + f"rule r §1\n  allow staff to use email for any purpose\n  when {condition}\n"
        + "invariant inv §1\n  never staff use email for p0\n  when consented is missing\n"
    )


def authorization(per_kind: int) -> str:
    """HIPAA's authorization pattern: three `set of` keys read by one rule, over a vocabulary of
    3 x per_kind terms in two-level hierarchies."""
    lines = []
    for kind, prefix in (("party", "pa"), ("data", "da"), ("purpose", "pu")):
        groups = max(per_kind // 5, 1)
        for g in range(groups):
            lines.append(f"{kind} {prefix}g{g}")
            members = [f"{prefix}{g}_{i}" for i in range(per_kind // groups - 1)]
            lines.append(f"{kind} {', '.join(members)} under {prefix}g{g}")
    lines += [
        "context recipients: set of party",
        "context authorized_data: set of data",
        "context authorized_purposes: set of purpose",
        "context revoked: boolean",
        "rule authorization §164.508",
        "  allow any party to use any data for any purpose",
        "  when party in recipients and data in authorized_data and purpose in "
        "authorized_purposes and not revoked",
        "invariant revoked_means_no §164.508",
        "  never any party use any data",
        "  when revoked",
    ]
    return "\n".join(lines) + "\n"


def diff_in_one_cell(k: int) -> tuple[str, str]:
    """OLD: one rule over two booleans; NEW: k allow rules, each over its own boolean, all in
    the same cell."""
    keys = "".join(f"context b{i}: boolean\n" for i in range(k))
    old = HEAD + keys + "rule base §1\n  allow staff to use email for support\n  when b0 and b1\n"
    new = HEAD + keys
    new += "".join(
        f"rule r{i} §1\n  allow staff to use email for support\n  when b{i}\n" for i in range(k)
    )
    return old, new


# ---- 1,000 rules --------------------------------------------------------------------------


def _large_vocabulary() -> tuple[str, list[str], list[str], list[str]]:
    """50 parties (2 organisations, 8 teams, 40 agents), 200 data categories (5 domains, 20
    categories, 175 items) and 40 purposes (5 groups of 7 uses)."""
    lines = []
    parties, data, purposes = [], [], []
    for o in range(2):
        lines.append(f"party org{o}")
        parties.append(f"org{o}")
        for t in range(4):
            team = f"org{o}_team{t}"
            lines.append(f"party {team} under org{o}")
            parties.append(team)
            agents = [f"{team}_agent{a}" for a in range(5)]
            lines.append(f"party {', '.join(agents)} under {team}")
            parties += agents
    for d in range(5):
        lines.append(f"data dom{d}")
        data.append(f"dom{d}")
        for c in range(4):
            cat = f"dom{d}_cat{c}"
            lines.append(f"data {cat} under dom{d}")
            data.append(cat)
            items = [f"{cat}_item{i}" for i in range(9 if d * 4 + c < 15 else 8)]
            lines.append(f"data {', '.join(items)} under {cat}")
            data += items
    for g in range(5):
        lines.append(f"purpose pgroup{g}")
        purposes.append(f"pgroup{g}")
        uses = [f"pgroup{g}_use{u}" for u in range(7)]
        lines.append(f"purpose {', '.join(uses)} under pgroup{g}")
        purposes += uses
    lines += [
        "context consented_purposes: set of purpose",
        'context channel: one of "email", "sms", "phone"',
        'context opted_out_channels: list of "email", "sms", "phone"',
        "context subject_age: integer",
    ]
    return "\n".join(lines), parties, data, purposes


def _large_rules(n: int, rng: random.Random, parties: list[str], data: list[str],
                 purposes: list[str]) -> str:  # fmt: skip
    out = []
    for i in range(n):
        p = ", ".join(rng.sample(parties, rng.choice((1, 1, 2))))
        d = ", ".join(rng.sample(data, rng.choice((1, 2, 3))))
        u = ", ".join(rng.sample(purposes, rng.choice((1, 1, 2))))
        if i % 10 == 0:
            out.append(
                f"rule r{i} §1.{i % 9 + 1}\n  deny {p} from using {d} for {u}\n"
                "  when channel in opted_out_channels"
            )
        else:
            extra = f" and subject_age >= {rng.choice((14, 16, 18))}" if i % 7 == 0 else ""
            out.append(
                f"rule r{i} §2.{i % 9 + 1}\n  allow {p} to use {d} for {u}\n"
                f"  when purpose in consented_purposes{extra}"
            )
    return "\n\n".join(out)


def _large_invariants(rng: random.Random, parties: list[str]) -> str:
    """Ten invariants that hold (every allow needs consent), each over its whole scope."""
    out = [
        "invariant consent_everywhere §1.1\n  never any party use any data\n"
        "  unless purpose in consented_purposes"
    ]
    for i in range(9):
        out.append(
            f"invariant consent_{i} §1.{i + 2}\n  never {rng.choice(parties)} use any data\n"
            "  unless purpose in consented_purposes"
        )
    return "\n\n".join(out)


def large() -> tuple[str, str]:
    """1,000 rules over 50 parties, 200 data categories and 40 purposes, ten invariants; and a
    version where one rule loses its age condition."""
    vocab, parties, data, purposes = _large_vocabulary()
    body = _large_rules(1000, random.Random(1), parties, data, purposes)
    old = f"{vocab}\n\n{body}\n\n{_large_invariants(random.Random(7), parties)}\n"
    new = old.replace("rule r5 ", "rule r5_changed ").replace(
        "when purpose in consented_purposes and subject_age >= 14",
        "when purpose in consented_purposes",
    )
    return old, new


# ---- a regulation's shape -------------------------------------------------------------------

_KEYS = [
    "context emergency: boolean",
    "context court_order: boolean",
    "context de_identified: boolean",
    "context minor_consent_ok: boolean default false",
    "context patient_age: integer",
    "context retention_days: integer",
    "context requested_days: integer",
    "context country: string",
    "context requester_country: string",
    'context channel: one of "portal", "email", "fax", "phone"',
    'context sensitivity: one of "low", "medium", "high"',
    'context opted_out_channels: list of "portal", "email", "fax", "phone"',
    'context restricted_fields: list of "diagnosis", "address", "ssn", "notes"',
    "context allowed_countries: list of string",
    "context authorized_recipients: set of party",
    "context authorized_data: set of data",
    "context consented_purposes: set of purpose",
]


def _atom(rng: random.Random) -> str:
    return rng.choice([
        "emergency", "not emergency", "court_order", "de_identified", "minor_consent_ok",
        "patient_age >= 18", "patient_age < 14", "patient_age is known",
        "requested_days <= retention_days", "retention_days > 30",
        'country = "CA"', 'country != requester_country', "requester_country in allowed_countries",
        'channel = "portal"', "channel not in opted_out_channels", 'sensitivity != "high"',
        '"ssn" not in restricted_fields', "party in authorized_recipients",
        "data in authorized_data", "purpose in consented_purposes", "consented_purposes is known",
    ])  # fmt: skip


def _condition(rng: random.Random) -> str:
    atoms = [_atom(rng) for _ in range(rng.choice((1, 2, 2, 3)))]
    if len(atoms) == 3 and rng.random() < 0.4:
        return f"{atoms[0]} and ({atoms[1]} or {atoms[2]})"
    return " and ".join(atoms)


def regulation(rules: int = 80, seed: int = 3) -> tuple[str, str]:
    """A regulation's shape: 12 parties, 30 data categories and 15 purposes in hierarchies (some
    terms with two parents), 17 context keys of every type (three `set of` keys), 80 rules with
    conditions, exceptions and conditional obligations, and 8 invariants; and a changed copy
    (one rule loosened, one narrowed, one added)."""
    rng = random.Random(seed)
    parties = ["covered_entity", "provider", "health_plan", "clearinghouse", "business_associate",
               "researcher", "public_health", "law_enforcement", "family", "employer",
               "hospital", "pharmacy"]  # fmt: skip
    data = ["phi"] + [f"phi_{i}" for i in range(29)]
    purposes = ["tpo", "treatment", "payment", "operations", "research", "public_interest",
                "law", "marketing", "sale", "fundraising", "oversight", "emergency_care",
                "disclosure_to_family", "employment", "audit"]  # fmt: skip
    lines = [
        "party covered_entity, business_associate, researcher, public_health, law_enforcement,"
        " family, employer",
        "party provider, health_plan, clearinghouse under covered_entity",
        "party hospital under provider",
        "party pharmacy under provider, business_associate",
        "data phi",
        *(f"data phi_{i} under phi" for i in range(10)),
        *(f"data phi_{i} under phi_{i % 10}" for i in range(10, 29)),
        "purpose tpo, research, public_interest, marketing, sale, fundraising, employment",
        "purpose treatment, payment, operations under tpo",
        "purpose emergency_care under treatment, public_interest",
        "purpose law, oversight, audit under public_interest",
        "purpose disclosure_to_family under treatment",
        "obligation minimum_necessary, accounting, notice",
        *_KEYS,
    ]
    body = []
    for i in range(rules):
        effect = "deny" if i % 6 == 0 else "allow"
        who = ", ".join(rng.sample(parties, rng.choice((1, 1, 2))))
        what = ", ".join(rng.sample(data, rng.choice((1, 2))))
        why = ", ".join(rng.sample(purposes, rng.choice((1, 1, 2))))
        verb = "from using" if effect == "deny" else "to use"
        text = f"rule r{i} §164.5{i % 20:02d}\n  {effect} {who} {verb} {what} for {why}"
        text += f"\n  when {_condition(rng)}"
        if rng.random() < 0.3:
            text += f"\n  unless {_atom(rng)}"
        if effect == "allow" and rng.random() < 0.4:
            text += f"\n  with obligation minimum_necessary when {_atom(rng)}"
        body.append(text)
    invariants = [
        "invariant no_sale §164.502\n  never any party use any data for sale\n"
        "  unless purpose in consented_purposes",
        "invariant no_marketing §164.508\n  never any party use any data for marketing\n"
        "  when consented_purposes is missing",
        "invariant employer §164.504\n  never employer use any data\n  unless court_order",
        "invariant minors §164.502\n  never any party use any data\n"
        "  when patient_age < 14 and not minor_consent_ok",
        "invariant fundraising §164.514\n  never any party use phi for fundraising\n"
        '  when "ssn" in restricted_fields',
        "invariant family §164.510\n  never family use any data for any purpose except "
        "disclosure_to_family\n  unless emergency",
        "invariant research §164.512\n  never researcher use any data\n  unless de_identified",
        "invariant law §164.512\n  never law_enforcement use any data for any purpose except law"
        "\n  unless court_order",
    ]
    old = "\n".join(lines) + "\n\n" + "\n\n".join(body) + "\n\n" + "\n\n".join(invariants) + "\n"
    new = old.replace("rule r7 ", "rule r7_loosened ", 1)
    new = new.replace("when " + _first_condition(old, "r7"), "when emergency", 1)
    new = new.replace("rule r11 ", "rule r11_narrowed ", 1)
    new = new.replace(
        "when " + _first_condition(old, "r11"),
        "when " + _first_condition(old, "r11") + " and patient_age >= 18",
        1,
    )
    new += "\nrule added §164.506\n  allow hospital to use phi_3 for treatment\n  when emergency\n"
    return old, new


def _first_condition(text: str, rule: str) -> str:
    after = text.split(f"rule {rule} ", 1)[1]
    return after.split("\n  when ", 1)[1].split("\n", 1)[0]
