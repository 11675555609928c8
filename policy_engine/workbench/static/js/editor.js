// The rule-file editor: a plain <textarea> (so that typing, selection, undo and screen readers
// work as everywhere) over a highlighted copy of its text, with line numbers, the problems of
// `check` marked at their lines and underlined at their columns, and completion of the
// language's keywords, the policy's terms and context keys (Ctrl+Space, or as you type).
import { h } from "./common.js";
// The tokens and the keywords' classes, generated from the grammar like the VS Code extension's
// TextMate grammar (scripts/build_syntax.py).
import { CLASSES, TOKEN, WORDS } from "./syntax.js";

const LINE = 19;
const PAD_TOP = 6;
const PAD_LEFT = 8;
const SHOWN = 12;
let editors = 0;

function escapeHtml(text) {
  return text.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]);
}

export class Words {
  constructor(keywords, terms, context) {
    this.keywords = new Set(keywords);
    this.kinds = new Map();
    for (const [kind, names] of Object.entries(terms)) for (const n of names) this.kinds.set(n, kind);
    for (const k of context) this.kinds.set(k, "context");
  }

  classOf(word) {
    if (Object.hasOwn(WORDS, word)) return WORDS[word];
    const kind = this.kinds.get(word);
    return kind ? "tok-" + kind : "";
  }

  // Names declared in the text being edited count as terms too.
  learn(text) {
    const declared = /^[ \t]*(party|data|purpose|obligation)[ \t]+([A-Za-z_][A-Za-z0-9_ ,\t]*)/gm;
    for (const m of text.matchAll(declared)) {
      for (const name of m[2].split(/\s*,\s*|\s+under\s+|\s+/)) if (name && !this.keywords.has(name) && !this.kinds.has(name)) this.kinds.set(name, m[1]);
    }
  }

  candidates(prefix) {
    const all = [...this.keywords].map((w) => [w, "keyword"]).concat([...this.kinds].map(([w, k]) => [w, k]));
    const starts = all.filter(([w]) => w.startsWith(prefix) && w !== prefix);
    const inside = prefix ? all.filter(([w]) => !w.startsWith(prefix) && w.includes(prefix)) : [];
    return starts.sort((a, b) => a[0].localeCompare(b[0])).concat(inside.sort((a, b) => a[0].localeCompare(b[0])));
  }
}

function tokens(text, words) {
  const out = [];
  TOKEN.lastIndex = 0;
  let m;
  while (TOKEN.lastIndex < text.length && (m = TOKEN.exec(text))) {
    const group = m.findIndex((g, i) => i > 0 && g !== undefined);
    const cls = CLASSES[group - 1] === null ? words.classOf(m[0]) : CLASSES[group - 1];
    out.push([m.index, m.index + m[0].length, cls]);
  }
  if (TOKEN.lastIndex < text.length) out.push([TOKEN.lastIndex, text.length, ""]);
  return out;
}

function lineStarts(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  return starts;
}

// [start, end, severity] offsets of the diagnostics' ranges (at least one character each).
function ranges(text, diagnostics) {
  const starts = lineStarts(text);
  const at = (line, column) => Math.min(text.length, (starts[line - 1] ?? text.length) + Math.max(0, column - 1));
  return diagnostics.filter((d) => d.line).map((d) => {
    let start = at(d.line, d.column || 1);
    let end = d.end_line ? at(d.end_line, d.end_column || d.column || 1) : start;
    if (end <= start) end = start + 1;
    if (start >= text.length) start = Math.max(0, text.length - 1);
    return [start, Math.min(end, text.length), d.severity === "error" ? "error" : "warning"];
  }).filter((r) => r[2] === "error" || r[2] === "warning");
}

export function highlight(text, words, diagnostics = []) {
  const marks = ranges(text, diagnostics.filter((d) => d.severity !== "info"));
  const cuts = new Set([0, text.length]);
  const toks = tokens(text, words);
  for (const [a, b] of toks) cuts.add(a).add(b);
  for (const [a, b] of marks) cuts.add(a).add(b);
  const points = [...cuts].sort((a, b) => a - b);
  let t = 0;
  const html = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const [a, b] = [points[i], points[i + 1]];
    while (t < toks.length && toks[t][1] <= a) t++;
    const classes = [];
    if (t < toks.length && toks[t][0] <= a && toks[t][2]) classes.push(toks[t][2]);
    const mark = marks.find(([s, e]) => s <= a && a < e);
    if (mark) classes.push("squiggle-" + mark[2]);
    const piece = escapeHtml(text.slice(a, b));
    html.push(classes.length ? `<span class="${classes.join(" ")}">${piece}</span>` : piece);
  }
  return html.join("") + "\n";
}

export class Editor {
  constructor({ name, text, words, onChange }) {
    this.name = name;
    this.words = words;
    this.diagnostics = [];
    this.onChange = onChange;
    const id = `editor-${++editors}`;
    this.list = h("ul", { class: "completions", role: "listbox", id: `${id}-completions`, "aria-label": "completions", hidden: true });
    this.area = h("textarea", { id, spellcheck: "false", autocapitalize: "off", autocomplete: "off", wrap: "off", "aria-label": `rule file ${name}`, "aria-autocomplete": "list", "aria-controls": this.list.id, "aria-describedby": "editor-keys" });
    this.area.value = text;
    this.code = h("code", {});
    this.pre = h("pre", { class: "highlight", "aria-hidden": "true" }, this.code);
    this.gutter = h("div", { class: "gutter", "aria-hidden": "true" });
    this.element = h("div", { class: "editor", dataset: { file: name } }, this.gutter, h("div", { class: "area" }, this.pre, this.area, this.list));
    this.choices = [];
    this.active = 0;
    this.area.addEventListener("input", (e) => this.changed(e));
    this.area.addEventListener("scroll", () => this.sync());
    this.area.addEventListener("keydown", (e) => this.key(e));
    this.area.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    this.draw();
  }

  get value() {
    return this.area.value;
  }

  set value(text) {
    this.area.value = text;
    this.draw();
  }

  changed(event) {
    this.draw();
    if (event && event.inputType && event.inputType.startsWith("insert") && /[A-Za-z0-9_]$/.test(event.data || "")) this.complete(false);
    else this.close();
    this.onChange(this);
  }

  draw() {
    this.words.learn(this.area.value);
    this.code.innerHTML = highlight(this.area.value, this.words, this.diagnostics);
    const count = lineStarts(this.area.value).length;
    const marks = new Map();
    for (const d of this.diagnostics) {
      if (!d.line || d.severity === "info") continue;
      const now = marks.get(d.line);
      if (!now || d.severity === "error") marks.set(d.line, d);
    }
    const rows = [];
    for (let i = 1; i <= count; i++) {
      const d = marks.get(i);
      rows.push(d ? `<div class="mark-${d.severity === "error" ? "error" : "warning"}" title="${escapeHtml(d.message).replace(/"/g, "&quot;")}">${i}</div>` : `<div>${i}</div>`);
    }
    this.gutter.innerHTML = rows.join("");
    this.sync();
  }

  sync() {
    this.pre.scrollTop = this.area.scrollTop;
    this.pre.scrollLeft = this.area.scrollLeft;
    this.gutter.scrollTop = this.area.scrollTop;
  }

  setDiagnostics(diagnostics) {
    this.diagnostics = diagnostics;
    this.draw();
  }

  goTo(line, column) {
    const starts = lineStarts(this.area.value);
    const offset = Math.min(this.area.value.length, (starts[line - 1] ?? 0) + Math.max(0, (column || 1) - 1));
    this.area.focus();
    this.area.setSelectionRange(offset, offset);
    this.area.scrollTop = Math.max(0, (line - 5) * LINE);
    this.sync();
  }

  // ---- completion ----

  prefix() {
    const before = this.area.value.slice(0, this.area.selectionStart);
    return (before.match(/[A-Za-z_][A-Za-z0-9_]*$/) || [""])[0];
  }

  complete(asked) {
    const prefix = this.prefix();
    if (!prefix && !asked) return this.close();
    this.choices = this.words.candidates(prefix).slice(0, SHOWN);
    if (!this.choices.length) return this.close();
    this.active = 0;
    this.list.replaceChildren(...this.choices.map(([word, kind], i) => h("li", { role: "option", id: `${this.list.id}-${i}`, "aria-selected": i === 0 ? "true" : "false", onmousedown: (e) => { e.preventDefault(); this.accept(i); } }, h("span", {}, word), h("span", { class: "kind" }, kind))));
    this.list.hidden = false;
    this.area.setAttribute("aria-activedescendant", `${this.list.id}-0`);
    this.place();
  }

  place() {
    const before = this.area.value.slice(0, this.area.selectionStart);
    const lines = before.split("\n");
    const width = this.charWidth();
    const top = PAD_TOP + lines.length * LINE - this.area.scrollTop;
    const left = PAD_LEFT + lines[lines.length - 1].length * width - this.area.scrollLeft;
    this.list.style.top = `${Math.max(0, top)}px`;
    this.list.style.left = `${Math.max(0, left)}px`;
  }

  charWidth() {
    if (!this.width) {
      const canvas = document.createElement("canvas").getContext("2d");
      canvas.font = getComputedStyle(this.area).font;
      this.width = canvas.measureText("0000000000").width / 10 || 7.8;
    }
    return this.width;
  }

  close() {
    this.list.hidden = true;
    this.choices = [];
    this.area.removeAttribute("aria-activedescendant");
  }

  move(step) {
    const items = this.list.children;
    items[this.active].setAttribute("aria-selected", "false");
    this.active = (this.active + step + items.length) % items.length;
    items[this.active].setAttribute("aria-selected", "true");
    items[this.active].scrollIntoView({ block: "nearest" });
    this.area.setAttribute("aria-activedescendant", items[this.active].id);
  }

  accept(index) {
    const [word] = this.choices[index];
    const prefix = this.prefix();
    const at = this.area.selectionStart;
    this.area.setRangeText(word, at - prefix.length, at, "end");
    this.close();
    this.draw();
    this.onChange(this);
  }

  key(event) {
    if (event.key === " " && event.ctrlKey) {
      event.preventDefault();
      this.complete(true);
      return;
    }
    if (this.list.hidden) return;
    const moves = { ArrowDown: 1, ArrowUp: -1 };
    if (event.key in moves) {
      event.preventDefault();
      this.move(moves[event.key]);
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      this.accept(this.active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      this.close();
    }
  }
}
