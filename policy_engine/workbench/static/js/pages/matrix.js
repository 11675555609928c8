// Matrix: parties (rows) × data categories (columns), each axis opened term by term along its
// hierarchy, for one purpose and those below it (or all). A cell opens to its purposes, each with
// its condition in words, its obligations and the rules that decide it with their citations.
import { api, append, clear, code, effectBadge, h, labelled, plural, query, setQuery, STATUS_MARKS, STATUS_WORDS, statusBadge, words } from "../common.js";

const state = { purpose: "", openParty: new Set(), openData: new Set(), cell: null };

function list(set) {
  return [...set].sort().join(",");
}

function readState() {
  const q = query();
  state.purpose = q.get("purpose") || "";
  state.openParty = new Set((q.get("open_party") || "").split(",").filter(Boolean));
  state.openData = new Set((q.get("open_data") || "").split(",").filter(Boolean));
  const cell = (q.get("cell") || "").split("|");
  state.cell = cell.length === 4 ? { party: cell[0], partyWhole: cell[1] === "1", data: cell[2], dataWhole: cell[3] === "1" } : null;
}

function writeState(push) {
  const c = state.cell;
  setQuery({ purpose: state.purpose, open_party: list(state.openParty), open_data: list(state.openData), cell: c ? [c.party, c.partyWhole ? 1 : 0, c.data, c.dataWhole ? 1 : 0].join("|") : "" }, push);
}

function lineName(line) {
  return line.whole ? `${line.term} (and below)` : line.term;
}

function toggle(line, opened, redraw) {
  if (!line.expandable) return null;
  const open = opened.has(line.term);
  return h("button", {
    class: "toggle",
    type: "button",
    "aria-expanded": open ? "true" : "false",
    "aria-label": `${open ? "close" : "open"} ${line.term}`,
    onclick: () => {
      if (open) opened.delete(line.term);
      else opened.add(line.term);
      redraw();
    },
  }, open ? "▾" : "▸");
}

function gridKeys(event) {
  const keys = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
  const move = keys[event.key];
  const cell = event.target.closest("button.cell");
  if (!move || !cell) return;
  const r = Number(cell.dataset.r) + move[0];
  const c = Number(cell.dataset.c) + move[1];
  const next = event.currentTarget.querySelector(`button.cell[data-r="${r}"][data-c="${c}"]`);
  if (next) {
    event.preventDefault();
    next.focus();
  }
}

function table(view, redraw, openCell) {
  const purposeWords = state.purpose ? `for ${state.purpose} and the purposes below it` : "for any purpose";
  const head = h("tr", {}, h("th", { class: "corner", scope: "col" }, "party \\ data"), view.columns.map((col) => h("th", { scope: "col", title: lineName(col) }, toggle(col, state.openData, redraw), h("span", { class: "col-name" }, "·".repeat(col.depth), lineName(col)))));
  const rows = view.rows.map((row, r) => {
    const header = h("th", { scope: "row" }, toggle(row, state.openParty, redraw), lineName(row));
    header.style.paddingLeft = `${0.4 + row.depth * 1.1}em`;
    return h("tr", {}, header, view.cells[r].map((status, c) => {
      const col = view.columns[c];
      const chosen = state.cell && state.cell.party === row.term && state.cell.data === col.term && state.cell.partyWhole === row.whole && state.cell.dataWhole === col.whole;
      return h("td", {}, h("button", {
        type: "button",
        class: `cell status-${status}`,
        dataset: { r, c, party: row.term, data: col.term, status },
        "aria-pressed": chosen ? "true" : "false",
        "aria-label": `${lineName(row)} using ${lineName(col)}: ${STATUS_WORDS[status]}`,
        title: `${lineName(row)} × ${lineName(col)}: ${STATUS_WORDS[status]}`,
        onclick: () => openCell({ party: row.term, partyWhole: row.whole, data: col.term, dataWhole: col.whole }),
      }, STATUS_MARKS[status]));
    }));
  });
  return h("div", { class: "matrix-wrap" }, h("table", { class: "matrix", onkeydown: gridKeys }, h("caption", { class: "muted" }, `Parties (rows) × data categories (columns), ${purposeWords}`), h("thead", {}, head), h("tbody", {}, rows)));
}

function ruleList(rules) {
  return h("ul", { class: "rules" }, rules.map((r) => h("li", {}, effectBadge(r.effect), " ", h("strong", { class: "rule-id" }, r.id), r.citation ? ` ${r.citation}` : "", " ", h("code", { class: "muted" }, r.location))));
}

// The members of a mixed entry, those alike together: "always: a · x, b · y".
function memberGroups(entry) {
  const groups = new Map();
  for (const m of entry.members) {
    const said = m.status === "conditional" ? `when ${m.condition}` : m.status;
    const withs = m.obligations.length ? ` with ${m.obligations.map((o) => o.obligation + (o.condition ? ` when ${o.condition}` : "")).join("; ")}` : "";
    const key = said + withs;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(`${m.party} · ${m.data}`);
  }
  const items = [...groups].map(([said, names]) => h("li", {}, words(said), ": ", names.map((n, i) => [i ? ", " : "", code(n)])));
  const rest = entry.members_left_out ? h("li", { class: "muted" }, `and ${plural(entry.members_left_out, "more member")}`) : null;
  return h("ul", { class: "members" }, items, rest, h("li", { class: "muted" }, "every other member: never allowed"));
}

function purposeEntry(entry) {
  const parts = [h("h3", {}, entry.purpose, " ", statusBadge(entry.status))];
  if (entry.condition && !entry.mixed) parts.push(h("p", {}, "allowed ", words(entry.condition)));
  if (entry.expression) parts.push(h("p", { class: "muted" }, "as a condition: ", code(entry.expression)));
  if (entry.obligations.length) parts.push(h("p", {}, "obligations: ", entry.obligations.map((o, i) => [i ? "; " : "", words(o)])));
  if (entry.rules.length) parts.push(h("p", { class: "muted" }, "rules:"), ruleList(entry.rules));
  if (entry.mixed) parts.push(h("p", {}, "The requests this cell stands for are not all alike:"), memberGroups(entry));
  return h("section", { class: "purpose", dataset: { purpose: entry.purpose, status: entry.status } }, parts);
}

async function detail(box) {
  const c = state.cell;
  if (!c) return clear(box);
  clear(box, h("p", { class: "loading" }, "Loading…"));
  const found = await api("api/matrix/cell", { party: c.party, party_whole: c.partyWhole ? 1 : 0, data: c.data, data_whole: c.dataWhole ? 1 : 0, purpose: state.purpose });
  const title = `${c.party}${c.partyWhole ? " (and below)" : ""} using ${c.data}${c.dataWhole ? " (and below)" : ""}`;
  clear(
    box,
    h("h2", { id: "detail-title", tabindex: "-1" }, title),
    found.purposes.length ? found.purposes.map(purposeEntry) : h("p", {}, "Never allowed, for any purpose of the filter."),
    found.never.length ? h("p", { class: "never-list" }, "Never allowed for: ", found.never.map((p, i) => [i ? ", " : "", code(p)])) : null,
  );
  return box.querySelector("#detail-title");
}

export async function render(app) {
  readState();
  const purposeSelect = h("select", { id: "purpose-filter" });
  const grid = h("div", {});
  const counts = h("p", { class: "muted", "aria-live": "polite" });
  const csv = h("a", { class: "button", href: "api/matrix.csv", download: "" }, "Export CSV");
  const box = h("section", { class: "detail", "aria-live": "polite", "aria-label": "the cell opened" });
  let view = null;
  const openCell = async (cell) => {
    state.cell = cell;
    writeState(true);
    draw();
    (await detail(box))?.focus();
  };
  const draw = () => {
    clear(grid, table(view, redraw, openCell));
    counts.textContent = `${plural(view.rows.length, "row")} × ${plural(view.columns.length, "column")}: ${view.counts.always} always allowed, ${view.counts.conditional} under conditions, ${view.counts.never} never allowed`;
  };
  const redraw = async () => {
    writeState(false);
    view = await api("api/matrix", { purpose: state.purpose, open_party: list(state.openParty), open_data: list(state.openData) });
    csv.href = "api/matrix.csv" + (state.purpose ? `?purpose=${encodeURIComponent(state.purpose)}` : "");
    draw();
  };
  view = await api("api/matrix", { purpose: state.purpose, open_party: list(state.openParty), open_data: list(state.openData) });
  append(purposeSelect, [h("option", { value: "" }, "all purposes"), view.purposes.map((p) => h("option", { value: p.term, selected: p.term === state.purpose }, "\u00a0\u00a0".repeat(p.depth) + p.term))]);
  purposeSelect.addEventListener("change", () => {
    state.purpose = purposeSelect.value;
    redraw().then(() => detail(box));
  });
  const openAll = h("button", { type: "button", onclick: async () => {
    const vocab = await api("api/vocabulary");
    state.openParty = new Set(vocab.kinds.party.filter((t) => t.children.length).map((t) => t.name));
    state.openData = new Set(vocab.kinds.data.filter((t) => t.children.length).map((t) => t.name));
    redraw();
  } }, "Open every line");
  const closeAll = h("button", { type: "button", onclick: () => {
    state.openParty.clear();
    state.openData.clear();
    redraw();
  } }, "Close every line");
  clear(
    app,
    h("div", { class: "toolbar" }, labelled("Purpose", purposeSelect), openAll, closeAll, csv),
    h("p", { class: "legend" }, ["always", "conditional", "never"].map((s) => h("span", {}, h("span", { class: `badge status-${s}` }, STATUS_MARKS[s]), " ", STATUS_WORDS[s]))),
    counts,
    grid,
    box,
  );
  csv.href = "api/matrix.csv" + (state.purpose ? `?purpose=${encodeURIComponent(state.purpose)}` : "");
  draw();
  await detail(box);
  window.addEventListener("popstate", () => {
    readState();
    redraw().then(() => detail(box));
  });
}
