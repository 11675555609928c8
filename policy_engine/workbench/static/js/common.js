// What every page shares: building elements, calling the workbench's JSON endpoints, the
// address bar as the page's state, and the pieces every page shows (rule cards, badges).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `the server answered ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function answer(response) {
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function api(path, params) {
  const url = new URL(path, document.baseURI);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  return answer(await fetch(url));
}

export async function post(path, body, options = {}) {
  const response = await fetch(new URL(path, document.baseURI), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal: options.signal,
  });
  if (options.raw) {
    if (!response.ok) await answer(response);
    return response;
  }
  return answer(response);
}

// ---- the address bar holds the page's state --------------------------------------------------

export function query() {
  return new URLSearchParams(location.search);
}

export function setQuery(values, push = false) {
  const params = query();
  for (const [key, value] of Object.entries(values)) {
    if (value === null || value === undefined || value === "" || value === false) params.delete(key);
    else params.set(key, value);
  }
  const search = params.toString();
  const url = location.pathname + (search ? "?" + search : "") + location.hash;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

// An anchor on this page: a bare "#x" would resolve against <base href>, another document.
export function here(id) {
  return location.pathname + location.search + "#" + encodeURIComponent(id);
}

export function slug(text) {
  return String(text).replace(/[^A-Za-z0-9_.§-]+/g, "-");
}

// ---- pieces ------------------------------------------------------------------------------------

export function errorBox(error, title = "Something went wrong") {
  const box = h("div", { class: "error-box", role: "alert" }, h("p", { class: "error-title" }, title + ": " + error.message));
  const diagnostics = (error.body && error.body.diagnostics) || [];
  if (diagnostics.length) {
    box.append(h("ul", {}, diagnostics.map((d) => h("li", {}, diagnosticLine(d)))));
  }
  return box;
}

export function place(d) {
  if (!d.file) return "";
  return `${d.file}:${d.line}:${d.column}`;
}

export function diagnosticLine(d) {
  const where = place(d);
  return [
    where ? h("code", { class: "where" }, where) : null,
    where ? " " : null,
    h("span", { class: `severity sev-${d.severity || "error"}` }, d.severity === "info" ? "note" : d.severity || "error"),
    " ",
    words(d.message),
    d.help ? h("span", { class: "help" }, " — ", words(d.help)) : null,
  ];
}

const EFFECT_WORDS = { allow: "allow", deny: "deny", override: "override" };

export function effectBadge(effect) {
  return h("span", { class: `badge effect-${effect}` }, EFFECT_WORDS[effect] || effect);
}

export const STATUS_WORDS = {
  always: "always allowed",
  conditional: "allowed under conditions",
  never: "never allowed",
  covered: "covered",
  "not a decision": "not a decision",
  uncovered: "uncovered",
  heading: "heading",
};

export const STATUS_MARKS = { always: "✓", conditional: "~", never: "✗" };

export function statusBadge(status) {
  return h("span", { class: `badge status-${status.replace(/ /g, "-")}` }, STATUS_WORDS[status] || status);
}

export function code(text) {
  return h("code", {}, text);
}

// Words with `backticks` shown as code.
export function words(text) {
  const parts = String(text).split(/`([^`]*)`/);
  return parts.map((part, i) => (i % 2 ? code(part) : part));
}

export function ruleCard(rule, extra = []) {
  const obligations = rule.obligations || [];
  const what = rule.effect === "override" ? "override" : "rule";
  return h(
    "article",
    { class: `rule-card effect-border-${rule.effect}`, "aria-label": `${what} ${rule.id}`, dataset: { rule: rule.id } },
    h("p", { class: "rule-head" }, effectBadge(rule.effect), " ", h("strong", { class: "rule-id" }, rule.id), rule.citation ? h("span", { class: "citation" }, " ", rule.citation) : null),
    rule.description ? h("p", { class: "rule-description" }, rule.description) : null,
    h("p", { class: "rule-sentence" }, code(rule.sentence)),
    rule.conditions && rule.conditions.length ? h("ul", { class: "rule-conditions" }, rule.conditions.map((c) => h("li", {}, words(c)))) : h("p", { class: "muted" }, "no condition: applies to every request in its scope"),
    obligations.length
      ? h("p", { class: "rule-obligations" }, "obligations: ", obligations.map((o, i) => [i ? "; " : "", code(o.names.join(", ")), o.when ? [" ", words(o.when)] : ""]))
      : null,
    rule.ground ? h("p", { class: "rule-ground" }, "legal ground: ", rule.ground) : null,
    h("p", { class: "rule-place" }, h("code", {}, rule.location)),
    extra,
  );
}

export function labelled(labelText, control, hint) {
  const id = control.id || "f-" + Math.random().toString(36).slice(2);
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, labelText), control, hint ? h("p", { class: "hint" }, hint) : null);
}

export async function copyText(text, button) {
  let done = false;
  try {
    await navigator.clipboard.writeText(text);
    done = true;
  } catch (_) {
    done = false;
  }
  if (button) {
    const before = button.dataset.label || button.textContent;
    button.dataset.label = before;
    button.textContent = done ? "Copied" : "Select the text and copy it";
    setTimeout(() => (button.textContent = before), 1500);
  }
  return done;
}

export function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name, class: "hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function plural(n, one, many = one + "s") {
  return `${n.toLocaleString("en")} ${n === 1 ? one : many}`;
}
