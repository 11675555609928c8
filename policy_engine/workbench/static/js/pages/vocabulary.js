// Vocabulary: the party, data and purpose hierarchies drawn as graphs (a term with several
// parents has an edge from each), and every term with its description, its attribute values (and
// where each comes from), citations, place and the rules that name it; the attributes each kind
// declares; the obligations and the context schema.
import { api, clear, code, debounce, h, labelled, plural, query, setQuery } from "../common.js";

const SVG = "http://www.w3.org/2000/svg";
const KINDS = { party: "Parties", data: "Data categories", purpose: "Purposes", obligation: "Obligations", context: "Context keys" };
const ROW = 28;
const NODE_HEIGHT = 22;
const CHAR = 7.3;
const GAP = 70;

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) el.append(child);
  return el;
}

// Layers by the longest path from a root; within a layer, declaration order, then each term
// moved towards the mean place of its parents (two sweeps), so that edges cross less.
export function layout(terms) {
  const byName = new Map(terms.map((t, i) => [t.name, { term: t, order: i }]));
  const depth = new Map();
  const depthOf = (name, seen = new Set()) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name)) return 0;
    seen.add(name);
    const parents = byName.get(name).term.parents.filter((p) => byName.has(p));
    const d = parents.length ? Math.max(...parents.map((p) => depthOf(p, seen))) + 1 : 0;
    depth.set(name, d);
    return d;
  };
  const layers = [];
  for (const t of terms) (layers[depthOf(t.name)] ||= []).push(t);
  const place = new Map();
  for (let sweep = 0; sweep < 2; sweep++) {
    layers.forEach((layer, d) => {
      if (d > 0) {
        const mean = (t) => {
          const ps = t.parents.filter((p) => place.has(p));
          return ps.length ? ps.reduce((s, p) => s + place.get(p), 0) / ps.length : byName.get(t.name).order;
        };
        layer.sort((a, b) => mean(a) - mean(b) || byName.get(a.name).order - byName.get(b.name).order);
      }
      layer.forEach((t, i) => place.set(t.name, i));
    });
  }
  const nodes = new Map();
  let x = 10;
  for (const layer of layers) {
    const width = Math.max(...layer.map((t) => t.name.length)) * CHAR + 16;
    layer.forEach((t, i) => nodes.set(t.name, { x, y: 10 + i * ROW, width, term: t }));
    x += width + GAP;
  }
  const height = Math.max(...layers.map((l) => l.length)) * ROW + 20;
  return { nodes, width: x - GAP + 20, height };
}

function graph(kind, terms, choose) {
  const { nodes, width, height } = layout(terms);
  const edges = svg("g", { class: "edges" });
  const boxes = svg("g", { class: "nodes" });
  for (const [name, node] of nodes) {
    for (const parent of node.term.parents) {
      const from = nodes.get(parent);
      if (!from) continue;
      const x1 = from.x + from.width;
      const y1 = from.y + NODE_HEIGHT / 2;
      const x2 = node.x;
      const y2 = node.y + NODE_HEIGHT / 2;
      const mid = (x1 + x2) / 2;
      edges.append(svg("path", { class: "edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, "data-from": parent, "data-to": name }));
    }
    const link = svg("a", { href: `vocabulary?kind=${kind}&term=${encodeURIComponent(name)}`, class: "node", "data-term": name, "aria-label": `${name}${node.term.parents.length ? `, under ${node.term.parents.join(" and ")}` : ""}` },
      svg("rect", { x: node.x, y: node.y, width: node.width, height: NODE_HEIGHT, rx: 4 }),
      svg("text", { x: node.x + 8, y: node.y + 15 }, document.createTextNode(name)));
    link.addEventListener("click", (event) => {
      event.preventDefault();
      choose(name, true);
    });
    boxes.append(link);
  }
  const drawing = svg("svg", { class: "graph", width, height, viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": `the ${KINDS[kind].toLowerCase()} as a graph, parents to the left of their children` }, edges, boxes);
  return h("div", { class: "graph-wrap" }, drawing);
}

function rulesCell(rules) {
  if (!rules.length) return h("span", { class: "muted" }, "none");
  return rules.map((r, i) => [i ? ", " : "", code(r)]);
}

// A term's value of each attribute of its kind and where it comes from: its own declaration, a
// term above it, the attribute's default, or none (then `party.location` is unknown for it).
function attributeValues(values) {
  return h("ul", { class: "attribute-values" }, values.map((a) => {
    if (a.source === "none") return h("li", { dataset: { attribute: a.name, source: a.source } }, code(a.name), h("span", { class: "source" }, ": no value (unknown)"));
    const source = { own: "its own", default: "the default", inherited: null }[a.source];
    return h("li", { dataset: { attribute: a.name, source: a.source } }, code(`${a.name} = ${a.value}`), " ", h("span", { class: "source" }, "(", source ?? ["from ", code(a.origin)], ")"));
  }));
}

function termTable(kind, terms, withAttributes) {
  const rows = terms.map((t) => h("tr", { id: `term-${t.name}`, dataset: { term: t.name } },
    h("td", {}, t.name),
    h("td", {}, t.parents.length ? t.parents.map((p, i) => [i ? ", " : "", code(p)]) : h("span", { class: "muted" }, "a root")),
    h("td", {}, t.description || ""),
    withAttributes ? h("td", { class: "attributes" }, attributeValues(t.attributes || [])) : null,
    h("td", {}, t.citations.join(", ")),
    h("td", {}, t.location ? code(t.location) : ""),
    h("td", {}, rulesCell(t.rules))));
  const heads = ["term", "under", "description", withAttributes ? "attributes" : null, "citations", "declared at", "rules naming it"].filter(Boolean);
  return h("table", { class: "terms" }, h("caption", { class: "muted" }, `${plural(terms.length, "term")}: ${KINDS[kind].toLowerCase()}`), h("thead", {}, h("tr", {}, heads.map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows));
}

// The attributes the kind declares (a package's under its namespace: `law25.location`).
function attributeTable(kind, attributes) {
  const rows = attributes.map((a) => h("tr", { dataset: { attribute: a.name } },
    h("td", {}, code(a.text)),
    h("td", {}, a.type, a.default_text !== null ? `, default ${a.default_text}` : ""),
    h("td", {}, a.description || ""),
    h("td", {}, a.citations.join(", ")),
    h("td", {}, a.location ? code(a.location) : ""),
    h("td", {}, rulesCell(a.rules))));
  return h("table", { class: "terms", id: `attributes-${kind}` }, h("caption", { class: "muted" }, `${plural(attributes.length, "attribute")} of ${KINDS[kind].toLowerCase()}`), h("thead", {}, h("tr", {}, ["attribute", "type", "description", "citations", "declared at", "rules reading it"].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows));
}

function contextTable(keys) {
  const rows = keys.map((k) => h("tr", { id: `term-${k.name}`, dataset: { term: k.name } },
    h("td", {}, k.name),
    h("td", {}, k.type, k.default_text !== null ? `, default ${k.default_text}` : "", k.ledger ? ", from the consent ledger" : ""),
    h("td", {}, k.description || ""),
    h("td", {}, k.citations.join(", ")),
    h("td", {}, k.location ? code(k.location) : ""),
    h("td", {}, rulesCell(k.rules))));
  return h("table", { class: "terms" }, h("caption", { class: "muted" }, `${plural(keys.length, "context key")}`), h("thead", {}, h("tr", {}, ["key", "type", "description", "citations", "declared at", "rules reading it"].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows));
}

export async function render(app) {
  const vocab = await api("api/vocabulary");
  let kind = KINDS[query().get("kind")] ? query().get("kind") : "party";
  const body = h("div", {});
  const filter = h("input", { type: "search", id: "term-filter", autocomplete: "off" });
  const tabs = Object.entries(KINDS).map(([key, label]) => h("button", { type: "button", "aria-pressed": key === kind ? "true" : "false", dataset: { kind: key }, onclick: () => show(key, null) }, label));
  const choose = (term, scroll) => {
    setQuery({ term });
    body.querySelectorAll(".chosen").forEach((el) => el.classList.remove("chosen"));
    body.querySelectorAll(`[data-term="${CSS.escape(term)}"], .edge[data-to="${CSS.escape(term)}"]`).forEach((el) => el.classList.add("chosen"));
    const row = body.querySelector(`tr[data-term="${CSS.escape(term)}"]`);
    if (row && scroll) row.scrollIntoView({ block: "center" });
  };
  const show = (key, term) => {
    kind = key;
    setQuery({ kind: key, term });
    tabs.forEach((t) => t.setAttribute("aria-pressed", t.dataset.kind === key ? "true" : "false"));
    const attributes = (vocab.attributes || {})[key] || [];
    if (key === "context") clear(body, h("h2", {}, KINDS[key]), contextTable(vocab.context));
    else if (key === "obligation") clear(body, h("h2", {}, KINDS[key]), termTable(key, vocab.kinds[key], false));
    else clear(body, h("h2", {}, KINDS[key]), graph(key, vocab.kinds[key], choose), termTable(key, vocab.kinds[key], attributes.length > 0), attributes.length ? [h("h3", {}, `Attributes of ${KINDS[key].toLowerCase()}`), attributeTable(key, attributes)] : null);
    filter.value = "";
    if (term) choose(term, true);
  };
  filter.addEventListener("input", debounce(() => {
    const text = filter.value.trim().toLowerCase();
    body.querySelectorAll("tbody tr").forEach((tr) => (tr.hidden = Boolean(text) && !tr.textContent.toLowerCase().includes(text)));
  }, 100));
  clear(app, h("div", { class: "toolbar", role: "group", "aria-label": "which vocabulary" }, tabs), labelled("Filter the table", filter), body);
  show(kind, query().get("term"));
}
