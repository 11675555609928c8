// Propose a change: edit a copy of the rule files in the browser. As you type, the server checks
// the copy as `policy-engine check` does, runs the policy's tests on it and compares it with the
// loaded version exactly (`policy-engine diff`); nothing is written to disk. The change is handed
// over as the changed files (a zip) or as a patch.
import { api, clear, code, copyText, diagnosticLine, download, errorBox, h, plural, post, words } from "../common.js";
import { Editor, Words } from "../editor.js";

const HEADINGS = { widened: "Widened (deny → allow)", narrowed: "Narrowed (allow → deny)", obligations: "Obligations changed" };
const client = Math.random().toString(36).slice(2);
// How long typing pauses before the copy is checked: a check per keystroke would queue up.
const PAUSE = 150;

function storageKey(version) {
  return `policy-engine-proposal-${version}`;
}

function changedFiles(files, editors) {
  const out = {};
  for (const f of files) if (editors.get(f.name).value !== f.text) out[f.name] = editors.get(f.name).value;
  return out;
}

function side(effect, rules, citations, obligations) {
  const cited = rules.map((r, i) => [i ? ", " : "", code(r), citations[i] ? ` (${citations[i]})` : ""]);
  const by = rules.length ? [" by ", cited] : effect === "deny" ? " (no rule grants it)" : "";
  return [h("strong", {}, effect), by, obligations.length ? [" with ", obligations.map((o, i) => [i ? ", " : "", code(o)])] : ""];
}

function terms(list, exact) {
  return list.map((t, i) => [i ? ", " : "", code(t), exact.includes(t) ? " itself" : ""]);
}

function group(g) {
  return h(
    "li",
    { class: `diff-group kind-${g.kind}`, dataset: { kind: g.kind } },
    h("p", {}, h("span", { class: "kind-mark" }, g.kind), " ", terms(g.parties, g.exact), " using ", terms(g.data, g.exact), " for ", terms(g.purposes, g.exact), " ", words(g.when)),
    h("p", {}, "before: ", side(g.before, g.old_rules, g.old_citations, g.old_obligations), "; after: ", side(g.after, g.new_rules, g.new_citations, g.new_obligations)),
    h("p", { class: "muted" }, `${plural(g.requests, "request")}; for example `, code(JSON.stringify(g.example))),
  );
}

function diffView(result) {
  if (!result.loads) return h("p", {}, "The proposed files do not load: fix the errors first.");
  if (result.diff_error) return h("p", { class: "error-box" }, result.diff_error);
  const diff = result.diff;
  if (!diff) return h("p", { class: "muted", id: "no-change" }, "No change yet: edit a rule file.");
  const out = [];
  for (const [what, found] of [["added", diff.terms_added], ["removed", diff.terms_removed]]) {
    for (const [kind, names] of Object.entries(found)) if (names.length) out.push(h("p", {}, `${kind} terms ${what}: `, names.map((n, i) => [i ? ", " : "", code(n)])));
  }
  for (const line of diff.context_changes) out.push(h("p", {}, words(line)));
  if (!diff.groups.length) out.push(h("p", { id: "no-decision-change" }, "No decision changes."));
  for (const kind of ["widened", "narrowed", "obligations"]) {
    const groups = diff.groups.filter((g) => g.kind === kind);
    if (groups.length) out.push(h("h3", {}, `${HEADINGS[kind]}: ${plural(groups.length, "group")}`), h("ul", { class: "diff-groups" }, groups.map(group)));
  }
  out.push(h("p", { class: "muted" }, `${diff.requests_changed} of ${diff.requests_compared} requests change (each request stands for a class of contexts)`));
  return out;
}

function testsView(tests) {
  if (!tests) return h("p", { class: "muted" }, "The tests run once the proposed files load.");
  const failed = tests.cases.filter((c) => !c.passed);
  return [
    h("p", { id: "tests-summary" }, `${tests.passed} passed, ${tests.failed} failed`),
    tests.problems.length ? h("ul", {}, tests.problems.map((d) => h("li", {}, diagnosticLine(d)))) : null,
    failed.length ? h("ul", { class: "failures" }, failed.map((c) => h("li", {}, h("strong", {}, c.name), " ", code(c.location), h("ul", {}, [...c.failures, ...(c.error ? [c.error] : [])].map((f) => h("li", {}, f)))))) : null,
  ];
}

export async function render(app) {
  const loaded = await api("api/files");
  const words = new Words(loaded.keywords, loaded.terms, loaded.context);
  const saved = JSON.parse(sessionStorage.getItem(storageKey(loaded.version)) || "{}");
  const editors = new Map();
  const status = h("p", { class: "status-line", role: "status", id: "status" });
  const problems = h("div", { id: "problems" });
  const tests = h("div", { id: "tests" });
  const changes = h("div", { id: "changes" });
  const patch = h("pre", { class: "patch", id: "patch", tabindex: "0" });
  const tabs = h("div", { role: "tablist", "aria-label": "rule files" });
  const panel = h("div", { role: "tabpanel", id: "editor-panel" });
  let current = null;
  let inflight = null;
  let result = null;

  const select = (name, focus) => {
    current = name;
    for (const tab of tabs.children) {
      const on = tab.dataset.file === name;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      if (on) panel.setAttribute("aria-labelledby", tab.id);
    }
    for (const editor of editors.values()) editor.element.hidden = editor.name !== name;
    if (focus) editors.get(name).area.focus();
  };
  const marks = () => {
    const changed = changedFiles(loaded.files, editors);
    for (const tab of tabs.children) tab.querySelector(".dot").textContent = tab.dataset.file in changed ? " ●" : "";
    sessionStorage.setItem(storageKey(loaded.version), JSON.stringify(changed));
    return changed;
  };
  const show = (found) => {
    result = found;
    for (const editor of editors.values()) editor.setDiagnostics(found.diagnostics.filter((d) => d.file === editor.name));
    const shown = found.diagnostics.filter((d) => d.severity !== "info");
    const notes = found.diagnostics.filter((d) => d.severity === "info");
    const item = (d) => h("li", {}, h("button", { type: "button", onclick: () => { if (editors.has(d.file)) { select(d.file); editors.get(d.file).goTo(d.line, d.column); } } }, diagnosticLine(d)));
    const counts = found.summary ? `${plural(found.summary.errors, "error")}, ${plural(found.summary.warnings, "warning")}, ${plural(found.summary.notes, "note")}; ${found.summary.proven} of ${plural(found.summary.invariants, "invariant")} proven` : `${plural(shown.length, "error")}: the files do not load`;
    clear(problems, h("p", { id: "problems-summary" }, counts), h("ul", { class: "diagnostics" }, shown.map(item)), notes.length ? h("details", {}, h("summary", {}, plural(notes.length, "note")), h("ul", { class: "diagnostics" }, notes.map(item))) : null);
    clear(tests, testsView(found.tests));
    clear(changes, diffView(found));
    patch.textContent = found.patch || "(no change)";
  };
  const check = async () => {
    const changed = marks();
    if (inflight) inflight.abort();
    inflight = new AbortController();
    const started = performance.now();
    status.textContent = "Checking…";
    try {
      const found = await post("api/propose", { files: changed, client }, { signal: inflight.signal });
      if (found.superseded) return;
      show(found);
      status.textContent = `Checked in ${((performance.now() - started) / 1000).toFixed(2)} s` + (found.changed.length ? ` · changed: ${found.changed.join(", ")}` : " · no change");
      document.body.dataset.checked = String(Number(document.body.dataset.checked || 0) + 1);
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error.status === 429) {
        status.textContent = "The server is busy with other proposals: trying again…";
        timer = setTimeout(check, 1000);
        return;
      }
      status.textContent = "";
      clear(problems, errorBox(error, "The proposal could not be checked"));
    }
  };
  let timer = null;
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(check, PAUSE);
  };
  for (const [i, file] of loaded.files.entries()) {
    const editor = new Editor({ name: file.name, text: saved[file.name] ?? file.text, words, onChange: later });
    editors.set(file.name, editor);
    panel.append(editor.element);
    const tab = h("button", { type: "button", role: "tab", id: `tab-${i}`, "aria-controls": panel.id, dataset: { file: file.name }, onclick: () => select(file.name, true) }, file.name.split("/").pop(), h("span", { class: "dot", "aria-label": "changed" }));
    tab.title = file.name;
    tabs.append(tab);
  }
  tabs.addEventListener("keydown", (e) => {
    const list = [...tabs.children];
    const at = list.findIndex((t) => t.dataset.file === current);
    const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    if (step === undefined) return;
    e.preventDefault();
    const next = list[(at + step + list.length) % list.length];
    select(next.dataset.file);
    next.focus();
  });
  const downloadButton = h("button", { type: "button", id: "download", onclick: async () => {
    const response = await post("api/propose/download", { files: changedFiles(loaded.files, editors) }, { raw: true });
    download("proposed-rule-files.zip", await response.blob());
  } }, "Download the changed files");
  const copyPatch = h("button", { type: "button", id: "copy-patch", onclick: (e) => copyText(result ? result.patch : "", e.currentTarget) }, "Copy as a patch");
  const discard = h("button", { type: "button", onclick: () => {
    for (const f of loaded.files) editors.get(f.name).value = f.text;
    check();
  } }, "Discard every change");
  clear(
    app,
    h("p", { class: "note" }, "Edit a copy of the rule files: nothing is written to disk. As you type, the copy is checked, tested and compared with the loaded version (", code(loaded.version.slice(0, 12)), ")."),
    h("p", { class: "muted", id: "editor-keys" }, "Ctrl+Space completes a keyword, term or context key; Tab leaves the editor unless a completion is open."),
    h(
      "div",
      { class: "propose" },
      h("div", {}, tabs, panel, status),
      h(
        "div",
        {},
        h("section", { class: "panel", "aria-labelledby": "h-problems" }, h("h2", { id: "h-problems" }, "Problems"), problems),
        h("section", { class: "panel", "aria-labelledby": "h-tests" }, h("h2", { id: "h-tests" }, "Tests"), tests),
        h("section", { class: "panel", "aria-labelledby": "h-changes" }, h("h2", { id: "h-changes" }, "Changes to decisions"), changes),
        h("section", { class: "panel", "aria-labelledby": "h-hand" }, h("h2", { id: "h-hand" }, "Hand the change over"), h("div", { class: "toolbar" }, downloadButton, copyPatch, discard), h("details", {}, h("summary", {}, "the patch"), patch)),
      ),
    ),
  );
  select(loaded.files[0].name, false);
  await check();
}
