// Policy: the source document's text, section by section, with the rules (and overrides) that
// cite each section beside it, its "not a decision" reasons or an "uncovered" mark, and the
// coverage summary; a policy without a source document lists its rules, then its overrides.
import { api, clear, debounce, h, here, labelled, plural, query, ruleCard, setQuery, slug, statusBadge } from "../common.js";

function citerLine(kind, citer) {
  const via = citer.via ? ` (cites ${citer.via})` : "";
  return h("li", {}, `${kind} `, h("strong", {}, citer.id), citer.description ? ` — ${citer.description}` : "", via, " ", h("code", {}, citer.location));
}

function sectionSearchText(section) {
  const parts = [section.label, section.title, section.text];
  for (const rule of section.rules) {
    parts.push(rule.id, rule.sentence, rule.citation, rule.cited_as, rule.description || "", ...rule.conditions, ...rule.obligations.map((o) => o.names.join(" ")), ...(rule.lifts || []));
  }
  for (const list of [section.invariants, section.tests, section.terms, section.reasons]) {
    for (const c of list) parts.push(c.id, c.citation || "");
  }
  return parts.join("\n").toLowerCase();
}

// The section's text without its heading line, which the heading shows.
function ownText(section) {
  const lines = section.text.split("\n");
  if (lines.length && section.title && lines[0].trim().endsWith(section.title.trim())) lines.shift();
  return lines.join("\n").trim();
}

function sectionView(section) {
  const id = "s-" + slug(section.key);
  const heading = h("h3", { class: "section-label" }, section.label ? h("span", { class: "label" }, section.label, " ") : null, section.title || "");
  const beside = h("div", { class: "section-rules" }, statusBadge(section.status));
  if (section.rules.length) beside.append(h("div", { class: "cards" }, section.rules.map((rule) => ruleCard(rule, rule.via ? h("p", { class: "muted" }, `cites ${rule.via}, the section above`) : null))));
  if (section.reasons.length) beside.append(h("ul", { class: "reasons" }, section.reasons.map((r) => h("li", {}, "not a decision: ", r.id, " ", h("code", {}, r.location)))));
  const others = [...section.invariants.map((c) => citerLine("invariant", c)), ...section.terms.map((c) => citerLine(c.kind, c)), ...section.tests.map((c) => citerLine("test", c))];
  if (others.length) beside.append(h("details", { class: "others" }, h("summary", {}, `${plural(others.length, "other citation")} (invariants, declarations, tests)`), h("ul", {}, others)));
  if (section.status === "uncovered") beside.append(h("p", { class: "uncovered-note" }, "No rule, invariant, declaration or test cites this section, and no `not a decision` reason is given for it."));
  return h(
    "article",
    { class: `section depth-${Math.min(section.depth, 4)} sec-${section.status.replace(/ /g, "-")}`, id, "aria-labelledby": id + "-h" },
    h("div", { class: "section-text" }, Object.assign(heading, { id: id + "-h" }), ownText(section) ? h("p", { class: "text" }, ownText(section)) : null, h("a", { class: "permalink", href: here(id), "aria-label": `link to section ${section.label || section.title}` }, "#")),
    beside,
  );
}

function summaryView(coverage, page) {
  const counts = {};
  for (const document of coverage.documents) for (const s of document.sections) counts[s.status] = (counts[s.status] || 0) + 1;
  return h(
    "section",
    { class: "summary", "aria-label": "coverage summary" },
    h("p", { class: "big", id: "coverage-summary" }, coverage.summary),
    h("p", {}, ["covered", "not a decision", "uncovered"].map((s) => [statusBadge(s), ` ${counts[s] || 0}  `]), ` · ${plural(page.rules_total, "rule")}`, page.overrides_total ? ` · ${plural(page.overrides_total, "override")}` : ""),
  );
}

export async function render(app) {
  const page = await api("api/policy");
  const search = h("input", { type: "search", id: "policy-search", value: query().get("q") || "", placeholder: "a term, a rule id, §5.1…", autocomplete: "off" });
  const count = h("p", { class: "muted", id: "search-count", "aria-live": "polite" });
  const body = h("div", { class: "documents" });
  const parts = [];
  if (page.coverage) {
    clear(app, summaryView(page.coverage, page), labelled("Search by term, rule id or citation", search), count, body);
    for (const document of page.coverage.documents) {
      const sections = document.sections.map((s) => {
        const el = sectionView(s);
        parts.push({ el, text: sectionSearchText(s) });
        return el;
      });
      body.append(h("section", { class: "document", "aria-label": document.file }, h("h2", {}, document.file), sections));
    }
  } else {
    clear(app, h("p", { class: "note" }, page.note || "This policy names no source document."), labelled("Search by term, rule id or citation", search), count, body);
    body.append(h("h2", {}, "Rules"));
    for (const rule of page.rules) {
      const el = ruleCard(rule);
      parts.push({ el, text: [rule.id, rule.sentence, rule.citation, ...rule.conditions].join("\n").toLowerCase() });
      body.append(el);
    }
    // Overrides: each lifts the deny rules it names (or those citing a section) where its
    // condition holds, with obligations of its own.
    if (page.overrides.length) body.append(h("h2", { id: "overrides" }, "Overrides"));
    for (const override of page.overrides) {
      const el = ruleCard(override, h("p", { class: "muted" }, "lifts ", override.lifts.map((r, i) => [i ? ", " : "", h("code", {}, r)])));
      parts.push({ el, text: [override.id, override.sentence, override.citation, ...override.conditions, ...override.lifts].join("\n").toLowerCase() });
      body.append(el);
    }
  }
  if (page.uncited.length) {
    body.append(h("section", { class: "uncited" }, h("h2", {}, "Rules and overrides that cite no section"), page.uncited.map((r) => ruleCard(r))));
  }
  const apply = () => {
    const q = search.value.trim().toLowerCase();
    let shown = 0;
    for (const part of parts) {
      const match = !q || part.text.includes(q);
      part.el.hidden = !match;
      shown += match;
    }
    count.textContent = q ? `${plural(shown, "section")} match “${search.value.trim()}”` : "";
    setQuery({ q: search.value.trim() });
  };
  search.addEventListener("input", debounce(apply, 120));
  apply();
  if (location.hash) document.getElementById(decodeURIComponent(location.hash.slice(1)))?.scrollIntoView();
}

