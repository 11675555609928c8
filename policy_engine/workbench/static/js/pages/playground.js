// Playground: pick a party, data and purpose, state the context through a form made from the
// policy's context schema, and see the decision the library makes, its obligations, missing
// keys, the plain-language trace and the rules that nearly apply. The address holds the request.
import { api, clear, code, copyText, debounce, effectBadge, errorBox, h, plural, post, query, setQuery, words } from "../common.js";
import { termTree } from "../tree.js";

function keyControl(key, vocab, changed) {
  const id = `ctx-${key.name}`;
  let control;
  let read;
  let write;
  if (key.shape === "boolean") {
    const box = h("input", { type: "checkbox", id });
    control = h("label", { for: id, class: "inline" }, box, ` ${key.name} is true`);
    read = () => box.checked;
    write = (v) => (box.checked = v === true);
    box.addEventListener("change", changed);
  } else if (key.shape === "one_of") {
    const select = h("select", { id, "aria-label": key.name }, key.values.map((v) => h("option", { value: v }, v)));
    control = select;
    read = () => select.value;
    write = (v) => (select.value = v);
    select.addEventListener("change", changed);
  } else if (key.shape === "list") {
    const boxes = key.values.map((v) => h("input", { type: "checkbox", value: v, id: `${id}-${v}` }));
    control = h("fieldset", { class: "choices-set" }, h("legend", { class: "muted" }, `${key.name}: the values listed`), h("div", { class: "choices" }, boxes.map((b) => h("label", { for: b.id }, b, ` ${b.value}`))));
    read = () => boxes.filter((b) => b.checked).map((b) => b.value);
    write = (v) => boxes.forEach((b) => (b.checked = Array.isArray(v) && v.includes(b.value)));
    boxes.forEach((b) => b.addEventListener("change", changed));
  } else if (key.shape === "set") {
    const tree = termTree({ legend: `${key.name}: ${key.terms} terms`, terms: vocab.kinds[key.terms], type: "checkbox", name: id, onChange: changed });
    control = tree.element;
    read = () => tree.value();
    write = (v) => tree.set(Array.isArray(v) ? v : []);
  } else if (key.shape === "term") {
    const names = vocab.kinds[key.terms].map((t) => t.name);
    const select = h("select", { id, "aria-label": key.name }, names.map((v) => h("option", { value: v }, v)));
    control = select;
    read = () => select.value;
    write = (v) => (select.value = v);
    select.addEventListener("change", changed);
  } else if (key.shape === "strings") {
    const area = h("textarea", { id, rows: 2, "aria-label": `${key.name}, one value a line` });
    control = area;
    read = () => area.value.split("\n").map((s) => s.trim()).filter(Boolean);
    write = (v) => (area.value = Array.isArray(v) ? v.join("\n") : "");
    area.addEventListener("input", changed);
  } else {
    const numeric = key.shape === "integer" || key.shape === "decimal";
    const input = h("input", { type: numeric ? "number" : "text", step: key.shape === "integer" ? "1" : numeric ? "any" : null, id, "aria-label": key.name });
    control = input;
    read = () => (numeric ? (input.value === "" ? null : Number(input.value)) : input.value);
    write = (v) => (input.value = v === null || v === undefined ? "" : String(v));
    input.addEventListener("input", changed);
  }
  return { control, read, write };
}

function contextForm(vocab, initial, changed) {
  const fields = [];
  const rows = vocab.context.map((key) => {
    // Setting a value states the key; "leave missing" leaves it out of the request again.
    const { control, read, write } = keyControl(key, vocab, () => {
      missing.checked = false;
      changed();
    });
    const missing = h("input", { type: "checkbox", id: `missing-${key.name}`, checked: !(key.name in initial) });
    missing.addEventListener("change", changed);
    if (key.name in initial) write(initial[key.name]);
    else if (key.default !== null && key.default !== undefined) write(key.default);
    fields.push({ key, missing, read });
    const about = [key.type, key.default_text !== null ? `default ${key.default_text}` : null, key.ledger ? "filled from the consent ledger by the service" : null, key.citations.join(", ") || null].filter(Boolean).join(" · ");
    return h(
      "div",
      { class: "context-key", dataset: { key: key.name } },
      h("p", {}, h("span", { class: "key-name" }, key.name), " ", h("span", { class: "muted" }, about), h("label", { class: "missing", for: missing.id }, missing, " leave missing")),
      key.description ? h("p", { class: "hint" }, key.description) : null,
      control,
    );
  });
  const read = () => {
    const context = {};
    for (const f of fields) if (!f.missing.checked) context[f.key.name] = f.read();
    return context;
  };
  return { element: h("fieldset", { class: "context" }, h("legend", {}, "Context"), rows), read };
}

function commandBox(label, text, id) {
  const area = h("textarea", { id, class: "command", rows: 2, readonly: true, "aria-label": label }, text);
  area.value = text;
  return h("div", { class: "field" }, h("button", { type: "button", onclick: (e) => copyText(text, e.currentTarget) }, label), area);
}

function result(payload) {
  const d = payload.decision;
  const t = payload.trace;
  return [
    h("p", {}, h("span", { class: `decision effect-${d.effect}`, id: "decision" }, d.effect.toUpperCase()), " ", h("span", { id: "decision-summary" }, words(t.summary))),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "obligations"), h("dd", { id: "obligations" }, d.obligations.length ? d.obligations.map((o, i) => [i ? ", " : "", code(o)]) : "none"),
      d.undetermined_obligations && d.undetermined_obligations.length
        ? [h("dt", {}, "not attached, condition unknown"), h("dd", { id: "undetermined" }, d.undetermined_obligations.map((o, i) => [i ? "; " : "", code(o.name), ` of ${o.required_by}: `, [...o.missing.map((k) => [code(k), " is missing"]), ...o.unknown_attributes.map((a) => [code(a), " is unknown"])].map((w, j) => [j ? ", " : "", w])]))]
        : null,
      h("dt", {}, "missing keys"), h("dd", { id: "missing" }, d.missing.length ? d.missing.map((o, i) => [i ? ", " : "", code(o)]) : "none"),
      h("dt", {}, "decided by"), h("dd", { id: "reasons" }, d.reasons.length ? d.reasons.map((r, i) => [i ? "; " : "", effectBadge(r.effect), " ", h("strong", {}, r.id), ` ${r.citation} `, h("code", { class: "muted" }, r.location)]) : "no rule grants this request (default deny)"),
      h("dt", {}, "policy"), h("dd", {}, code(d.policy_version.slice(0, 12))),
    ),
    h("h2", {}, "Why"),
    h("pre", { class: "explanation", id: "explanation", tabindex: "0" }, payload.explanation),
    t.near_misses.length
      ? [h("h2", {}, "Rules that nearly apply"), h("ul", { id: "near-misses" }, t.near_misses.map((n) => h("li", {}, effectBadge(n.effect), " ", h("strong", {}, n.id), ` ${n.citation} `, h("code", { class: "muted" }, n.location), ": ", n.mismatch.map((m, i) => [i ? "; " : "", words(m)]))))]
      : null,
    h("h2", {}, "The same request elsewhere"),
    commandBox("Copy as a policy-engine decide command", payload.commands.decide, "command-decide"),
    commandBox("Copy as curl", payload.commands.curl, "command-curl"),
  ];
}

export async function render(app) {
  const vocab = await api("api/vocabulary");
  const q = query();
  let initial = {};
  try {
    initial = JSON.parse(q.get("context") || "{}") || {};
  } catch (_) {
    initial = {};
  }
  const out = h("section", { class: "result", "aria-live": "polite", "aria-label": "the decision" }, h("p", { class: "muted" }, "Pick a party, a data category and a purpose."));
  let counter = 0;
  const decide = async () => {
    // A term the address names but the policy does not declare is still asked about: the
    // answer says what is wrong (and what was perhaps meant).
    const term = (kind) => pickers[kind].value() || q.get(kind) || "";
    const request = { party: term("party"), data: term("data"), purpose: term("purpose"), context: form.read() };
    const context = Object.keys(request.context).length ? JSON.stringify(request.context) : "";
    setQuery({ party: request.party, data: request.data, purpose: request.purpose, context });
    if (!request.party || !request.data || !request.purpose) return;
    const mine = ++counter;
    try {
      const payload = await post("api/explain", request);
      if (mine === counter) clear(out, result(payload));
    } catch (error) {
      if (mine === counter) clear(out, errorBox(error, "No decision"));
    }
  };
  const later = debounce(decide, 150);
  const pickers = {};
  for (const [kind, legend] of [["party", "Party"], ["data", "Data category"], ["purpose", "Purpose"]]) {
    pickers[kind] = termTree({ legend, terms: vocab.kinds[kind], name: kind, chosen: [q.get(kind) || ""], onChange: later });
  }
  const form = contextForm(vocab, initial, later);
  const submit = h("button", { type: "submit", class: "primary" }, "Decide");
  const left = h("form", { class: "request", "aria-label": "the request", onsubmit: (e) => { e.preventDefault(); decide(); } }, pickers.party.element, pickers.data.element, pickers.purpose.element, form.element, submit);
  clear(app, h("div", { class: "playground" }, left, h("div", {}, out)), h("p", { class: "muted" }, `${plural(vocab.context.length, "context key")}; a key left missing is unknown, never false.`));
  if (q.get("party") && q.get("data") && q.get("purpose")) await decide();
}
