"""The engines under test: policy-engine, three peers and two hand-written baselines.

Each engine has

- ``sources(synthetic)``: the policy encoded in the engine's own idiom, as named texts (what is
  "in memory" before loading: policy text, entity/data JSON, model text);
- ``load(sources)``: texts → an object ready to decide (timed by ``run.py``);
- ``native(request)``: the request in the engine's own call form, prepared before timing;
- ``call(handle)``: the function timed for one decision, called as ``call(*native)``;
- ``effect(result)``: ``"allow"`` or ``"deny"`` from what ``call`` returned;
- ``batch(handle, requests, natives)``: decide a list at once (the engine's batch API if it has
  one, else a loop over ``call``).

All of them encode the same semantics: hierarchies where a term covers its descendants, default
deny, deny overrides allow; an allow applies when the purpose or one of its ancestors is in
``consented_purposes``, a deny when ``channel`` is in ``opted_out_channels``.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from generate import KINDS, Synthetic

Sources = dict[str, str]
ANY = "*"  # the "any party" / "any data" scope, as a term above every root in the peers


def _request_fields(request: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    return request["party"], request["data"], request["purpose"], request["context"]


class Engine(ABC):
    """One engine under test: how it encodes the synthetic policy, loads it and decides."""

    name = ""
    label = ""
    distributions: tuple[str, ...] = ()
    kind = "peer"  # "ours", "peer" or "baseline"
    idiom = ""

    def probe(self) -> None:  # noqa: B027 - an optional hook; most engines need nothing
        """Import what the engine needs; raises if it is not installed or cannot load."""

    @abstractmethod
    def sources(self, synthetic: Synthetic) -> Sources:
        """Each engine defines it."""

    @abstractmethod
    def load(self, sources: Sources) -> Any:
        """Each engine defines it."""

    @abstractmethod
    def native(self, handle: Any, request: dict[str, Any]) -> tuple[Any, ...]:
        """Each engine defines it."""

    @abstractmethod
    def call(self, handle: Any) -> Callable[..., Any]:
        """Each engine defines it."""

    @abstractmethod
    def effect(self, result: Any) -> str:
        """Each engine defines it."""

    def batch(
        self, handle: Any, requests: Sequence[dict[str, Any]], natives: Sequence[tuple[Any, ...]]
    ) -> list[Any]:
        call = self.call(handle)
        return [call(*n) for n in natives]


# ---- policy-engine ----------------------------------------------------------------------------


class PolicyEngine(Engine):
    name = "policy-engine"
    label = "policy-engine"
    distributions = ("policy-engine", "lark", "pydantic", "networkx")
    kind = "ours"
    idiom = "the rule language itself; `Policy.decide` returns the full Decision object"

    def probe(self) -> None:
        import policy_engine

        # Like the peers' probes: the parser is built (a one-off process cost) before any timing.
        policy_engine.load_policy_text("party p\ndata d\npurpose u\nrule r allow p to use d for u")

    def sources(self, synthetic: Synthetic) -> Sources:
        return {"synthetic.policy": synthetic.policy_text()}

    def load(self, sources: Sources) -> Any:
        import policy_engine

        return policy_engine.load_policy_text(sources["synthetic.policy"], "synthetic.policy")

    def native(self, handle: Any, request: dict[str, Any]) -> tuple[Any, ...]:
        return _request_fields(request)

    def call(self, handle: Any) -> Callable[..., Any]:
        return handle.decide

    def effect(self, result: Any) -> str:
        return result.effect

    def batch(
        self, handle: Any, requests: Sequence[dict[str, Any]], natives: Sequence[tuple[Any, ...]]
    ) -> list[Any]:
        if hasattr(handle, "decide_many"):
            return list(handle.decide_many(requests))
        return super().batch(handle, requests, natives)


# ---- Cedar (cedarpy) --------------------------------------------------------------------------

CEDAR_TYPES = {"party": "Party", "data": "Data", "purpose": "Action"}


def _cedar_ref(kind: str, term: str) -> str:
    return f'{CEDAR_TYPES[kind]}::"{term}"'


def _cedar_scope(kind: str, var: str, terms: Sequence[str] | None) -> tuple[str, str | None]:
    """The scope constraint for one variable, and a `when` test when it names several terms."""
    if terms is None:
        return var, None
    if len(terms) == 1:
        return f"{var} in {_cedar_ref(kind, terms[0])}", None
    listed = ", ".join(_cedar_ref(kind, t) for t in terms)
    return var, f"{var} in [{listed}]"


def cedar_sources(synthetic: Synthetic) -> Sources:
    entities = []
    for kind in KINDS:
        for term, parents in synthetic.hierarchies[kind].parents.items():
            entities.append(
                {
                    "uid": {"type": CEDAR_TYPES[kind], "id": term},
                    "attrs": {},
                    "parents": [{"type": CEDAR_TYPES[kind], "id": p} for p in parents],
                }
            )
    policies = []
    for rule in synthetic.rules:
        principal, p_test = _cedar_scope("party", "principal", rule.parties)
        resource, r_test = _cedar_scope("data", "resource", rule.data)
        actions = ", ".join(_cedar_ref("purpose", u) for u in rule.purposes)
        if rule.effect == "allow":
            condition = "action in context.consented_purposes"
            head = "permit"
        else:
            condition = "context.opted_out_channels.contains(context.channel)"
            head = "forbid"
        tests = " && ".join(t for t in (p_test, r_test, condition) if t)
        policies.append(
            f'@id("{rule.id}")\n{head} (\n  {principal},\n  action in [{actions}],\n'
            f"  {resource}\n) when {{ {tests} }};\n"
        )
    return {"policies.cedar": "\n".join(policies), "entities.json": json.dumps(entities)}


class Cedar(Engine):
    name = "cedar"
    label = "Cedar (cedarpy)"
    distributions = ("cedarpy",)
    idiom = (
        "one `permit`/`forbid` per rule (`@id`), parties/data/purposes as entities with parents "
        "(purposes are actions and action groups), conditions in `when` over the context; a "
        "parsed `PolicySet` and `Entities` handle reused across calls"
    )

    def probe(self) -> None:
        import cedarpy

        cedarpy.PolicySet.from_str("permit(principal, action, resource);")

    def sources(self, synthetic: Synthetic) -> Sources:
        return cedar_sources(synthetic)

    def load(self, sources: Sources) -> Any:
        import cedarpy

        policies = cedarpy.PolicySet.from_str(sources["policies.cedar"])
        entities = cedarpy.Entities.from_json_str(sources["entities.json"])
        return policies, entities

    def native(self, handle: Any, request: dict[str, Any]) -> tuple[Any, ...]:
        party, data, purpose, context = _request_fields(request)
        cedar_request = {
            "principal": {"type": "Party", "id": party},
            "action": {"type": "Action", "id": purpose},
            "resource": {"type": "Data", "id": data},
            "context": {
                "consented_purposes": [
                    {"__entity": {"type": "Action", "id": c}} for c in context["consented_purposes"]
                ],
                "channel": context["channel"],
                "opted_out_channels": list(context["opted_out_channels"]),
            },
        }
        return (cedar_request, handle[0], handle[1])

    def call(self, handle: Any) -> Callable[..., Any]:
        import cedarpy

        return cedarpy.is_authorized

    def effect(self, result: Any) -> str:
        return "allow" if result.allowed else "deny"

    def batch(
        self, handle: Any, requests: Sequence[dict[str, Any]], natives: Sequence[tuple[Any, ...]]
    ) -> list[Any]:
        import cedarpy

        return list(cedarpy.is_authorized_batch([n[0] for n in natives], handle[0], handle[1]))


# ---- Casbin (PyCasbin) ------------------------------------------------------------------------

CASBIN_MODEL = """\
[request_definition]
r = sub, obj, act, ctx

[policy_definition]
p = sub, obj, act, eft

[role_definition]
g = _, _
g2 = _, _
g3 = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = g(r.sub, p.sub) && g2(r.obj, p.obj) && g3(r.act, p.act) && \
(p.eft == "deny" && r.ctx.channel in r.ctx.opted_out || \
p.eft == "allow" && consented(r.act, r.ctx.consented))
"""

CASBIN_ROLE_TYPES = {"party": "g", "data": "g2", "purpose": "g3"}


def casbin_sources(synthetic: Synthetic) -> Sources:
    lines = []
    for rule in synthetic.rules:
        for party in rule.parties or (ANY,):
            for data in rule.data or (ANY,):
                for purpose in rule.purposes:
                    lines.append(f"p, {party}, {data}, {purpose}, {rule.effect}")
    for kind in KINDS:
        gtype = CASBIN_ROLE_TYPES[kind]
        for term, parents in synthetic.hierarchies[kind].parents.items():
            for parent in parents or ((ANY,) if kind != "purpose" else ()):
                lines.append(f"{gtype}, {term}, {parent}")
    return {"model.conf": CASBIN_MODEL, "policy.csv": "\n".join(lines) + "\n"}


class CasbinContext:
    """The request's context as an ABAC object (the matcher reads ``r.ctx.channel`` etc.)."""

    __slots__ = ("channel", "consented", "opted_out")

    def __init__(self, consented: list[str], channel: str, opted_out: list[str]) -> None:
        self.consented = consented
        self.channel = channel
        self.opted_out = opted_out

    def __str__(self) -> str:  # casbin logs every request with str()
        return "ctx"


class Casbin(Engine):
    name = "casbin"
    label = "Casbin (pycasbin)"
    distributions = ("casbin",)
    idiom = (
        "RBAC with three role hierarchies (g: parties, g2: data, g3: purposes), one `p` line per "
        "(party, data, purpose) of a rule's scope with its effect, deny-override policy effect, "
        "ABAC context object; consent through a custom matcher function over g3"
    )

    def probe(self) -> None:
        import casbin  # noqa: F401
        from casbin.persist.adapters.string_adapter import StringAdapter  # noqa: F401

    def sources(self, synthetic: Synthetic) -> Sources:
        return casbin_sources(synthetic)

    def load(self, sources: Sources) -> Any:
        import casbin
        from casbin.persist.adapters.string_adapter import StringAdapter

        model = casbin.Enforcer.new_model(text=sources["model.conf"])
        enforcer = casbin.Enforcer(model, StringAdapter(sources["policy.csv"]))
        purposes = enforcer.get_named_role_manager("g3")

        def consented(purpose: str, given: list[str]) -> bool:
            return any(purposes.has_link(purpose, c) for c in given)

        enforcer.add_function("consented", consented)
        return enforcer

    def native(self, handle: Any, request: dict[str, Any]) -> tuple[Any, ...]:
        party, data, purpose, context = _request_fields(request)
        ctx = CasbinContext(
            list(context["consented_purposes"]),
            context["channel"],
            list(context["opted_out_channels"]),
        )
        return (party, data, purpose, ctx)

    def call(self, handle: Any) -> Callable[..., Any]:
        return handle.enforce

    def effect(self, result: Any) -> str:
        return "allow" if result else "deny"

    def batch(
        self, handle: Any, requests: Sequence[dict[str, Any]], natives: Sequence[tuple[Any, ...]]
    ) -> list[Any]:
        return list(handle.batch_enforce(list(natives)))


# ---- OPA (opa-golib-python-bindings) ----------------------------------------------------------

REGO_POLICY = """\
package pe

# Hierarchies: data.synthetic.above[kind][term] lists the term and everything above it (the
# closure of the parent links, computed when the data is built); "*" stands for any party / data.
party_anc := {t | some t in data.synthetic.above.party[input.party]} | {"*"}

data_anc := {t | some t in data.synthetic.above.data[input.data]} | {"*"}

purpose_anc := data.synthetic.above.purpose[input.purpose]

consented if {
	some c in input.context.consented_purposes
	c in purpose_anc
}

opted_out if input.context.channel in input.context.opted_out_channels

# Grants are data indexed by the party and purpose terms of their scope (OPA's RBAC idiom:
# look the request's roles up, never scan every rule).
denied contains grant.id if {
	opted_out
	some p in party_anc
	some u in purpose_anc
	some grant in data.synthetic.deny[p][u]
	some d in grant.data
	data_anc[d]
}

granted contains grant.id if {
	consented
	some p in party_anc
	some u in purpose_anc
	some grant in data.synthetic.allow[p][u]
	some d in grant.data
	data_anc[d]
}

default decision := "deny"

decision := "allow" if {
	count(denied) == 0
	count(granted) > 0
}
"""


def rego_sources(synthetic: Synthetic) -> Sources:
    grants: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {"allow": {}, "deny": {}}
    for rule in synthetic.rules:
        grant = {"id": rule.id, "data": list(rule.data) if rule.data is not None else [ANY]}
        for party in rule.parties or (ANY,):
            for purpose in rule.purposes:
                by_purpose = grants[rule.effect].setdefault(party, {})
                by_purpose.setdefault(purpose, []).append(grant)
    document = {
        "above": {
            kind: {t: sorted(a) for t, a in synthetic.hierarchies[kind].ancestors.items()}
            for kind in KINDS
        },
        **grants,
    }
    return {"policy.rego": REGO_POLICY, "data.json": json.dumps(document)}


class Opa(Engine):
    name = "opa"
    label = "OPA (opa-golib-python-bindings)"
    distributions = ("opa-golib-python-bindings",)
    idiom = (
        "one generic Rego module over data: each term's ancestors (the closure of the "
        "hierarchy) and the rules indexed by party and purpose term (OPA's RBAC idiom); "
        "`eval_document('pe.decision')`"
    )

    def probe(self) -> None:
        from opa_bindings import OpaEngine

        engine = OpaEngine()  # loads the Go library and starts its runtime
        engine.add_policy("probe.rego", "package probe\n\nok := true\n")
        if engine.eval_document("probe.ok") is not True:
            raise RuntimeError("OPA probe did not evaluate")
        engine.close()

    def sources(self, synthetic: Synthetic) -> Sources:
        return rego_sources(synthetic)

    def load(self, sources: Sources) -> Any:
        from opa_bindings import OpaEngine

        engine = OpaEngine()
        engine.add_data(json.loads(sources["data.json"]), path="synthetic")
        engine.add_policy("pe.rego", sources["policy.rego"])
        return engine

    def native(self, handle: Any, request: dict[str, Any]) -> tuple[Any, ...]:
        party, data, purpose, context = _request_fields(request)
        document = {"party": party, "data": data, "purpose": purpose, "context": context}
        return ("pe.decision", document)

    def call(self, handle: Any) -> Callable[..., Any]:
        return handle.eval_document

    def effect(self, result: Any) -> str:
        return str(result)


# ---- baselines --------------------------------------------------------------------------------


class HandIndex:
    """A dict-based evaluator written directly for the synthetic shape: ancestor closures, rules
    indexed by party term, a memo of each (party, data, purpose) cell's candidate effects."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.ancestors: dict[str, dict[str, frozenset[str]]] = {}
        for kind in KINDS:
            closure: dict[str, frozenset[str]] = {}
            for term, parents in spec["parents"][kind].items():  # parents come first
                above = {term}
                for parent in parents:
                    above |= closure[parent]
                closure[term] = frozenset(above)
            self.ancestors[kind] = closure
        self.by_party: dict[str, list[tuple[bool, frozenset[str] | None, frozenset[str]]]] = {}
        for rule in spec["rules"]:
            entry = (
                rule["effect"] == "deny",
                None if rule["data"] is None else frozenset(rule["data"]),
                frozenset(rule["purposes"]),
            )
            for party in rule["parties"] or (ANY,):
                self.by_party.setdefault(party, []).append(entry)
        self.cells: dict[tuple[str, str, str], tuple[bool, bool]] = {}

    def _cell(self, key: tuple[str, str, str]) -> tuple[bool, bool]:
        party, data, purpose = key
        data_above = self.ancestors["data"][data]
        purpose_above = self.ancestors["purpose"][purpose]
        deny = allow = False
        for term in self.ancestors["party"][party] | {ANY}:
            for is_deny, data_scope, purposes in self.by_party.get(term, ()):
                if (
                    data_scope is None or not data_above.isdisjoint(data_scope)
                ) and not purpose_above.isdisjoint(purposes):
                    if is_deny:
                        deny = True
                    else:
                        allow = True
        self.cells[key] = (deny, allow)
        return deny, allow

    def decide(self, party: str, data: str, purpose: str, context: dict[str, Any]) -> str:
        key = (party, data, purpose)
        cell = self.cells.get(key)
        deny, allow = self._cell(key) if cell is None else cell
        if deny and context["channel"] in context["opted_out_channels"]:
            return "deny"
        if allow and not self.ancestors["purpose"][purpose].isdisjoint(
            context["consented_purposes"]
        ):
            return "allow"
        return "deny"


class HandWritten(Engine):
    name = "hand-indexed"
    label = "hand-written indexed Python"
    kind = "baseline"
    idiom = "baseline: a dict-based evaluator for exactly this policy shape, returns the effect"

    def sources(self, synthetic: Synthetic) -> Sources:
        return {"spec.json": json.dumps(synthetic.spec())}

    def load(self, sources: Sources) -> Any:
        return HandIndex(json.loads(sources["spec.json"]))

    def native(self, handle: Any, request: dict[str, Any]) -> tuple[Any, ...]:
        return _request_fields(request)

    def call(self, handle: Any) -> Callable[..., Any]:
        return handle.decide

    def effect(self, result: Any) -> str:
        return str(result)


def precomputed_key(request: dict[str, Any]) -> tuple[Any, ...]:
    context = request["context"]
    return (
        request["party"],
        request["data"],
        request["purpose"],
        context["channel"],
        tuple(context["consented_purposes"]),
        tuple(context["opted_out_channels"]),
    )


class Precomputed(Engine):
    name = "precomputed"
    label = "precomputed dict lookup"
    kind = "baseline"
    idiom = (
        "baseline: every answer of the request pool computed in advance; a decision is one "
        "`dict.__getitem__` on a prepared key (the floor of a Python call); its load time is the "
        "precomputation and is not comparable"
    )

    def sources(self, synthetic: Synthetic) -> Sources:
        return {
            "spec.json": json.dumps(synthetic.spec()),
            "requests.json": json.dumps(synthetic.requests),
        }

    def load(self, sources: Sources) -> Any:
        index = HandIndex(json.loads(sources["spec.json"]))
        table: dict[tuple[Any, ...], str] = {}
        for request in json.loads(sources["requests.json"]):
            table[precomputed_key(request)] = index.decide(*_request_fields(request))
        return table

    def native(self, handle: Any, request: dict[str, Any]) -> tuple[Any, ...]:
        return (precomputed_key(request),)

    def call(self, handle: Any) -> Callable[..., Any]:
        return handle.__getitem__

    def effect(self, result: Any) -> str:
        return str(result)


ENGINES: dict[str, Engine] = {
    e.name: e for e in (PolicyEngine(), Cedar(), Casbin(), Opa(), HandWritten(), Precomputed())
}
