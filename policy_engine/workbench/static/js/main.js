// The workbench's entry point: loads the script of the page the document is, lets it draw, then
// marks the document ready (data-ready) for people waiting on it and for tests.
import { api, clear, errorBox, h } from "./common.js";

const PAGES = {
  policy: () => import("./pages/policy.js"),
  matrix: () => import("./pages/matrix.js"),
  playground: () => import("./pages/playground.js"),
  vocabulary: () => import("./pages/vocabulary.js"),
  propose: () => import("./pages/propose.js"),
  register: () => import("./pages/register.js"),
  log: () => import("./pages/log.js"),
  subjects: () => import("./pages/subjects.js"),
};

function skipLink() {
  const link = document.querySelector(".skip");
  if (!link) return;
  link.addEventListener("click", (event) => {
    event.preventDefault();
    document.getElementById("main").focus();
  });
}

async function banner() {
  try {
    const summary = await api("api/summary");
    const name = document.getElementById("policy-name");
    name.textContent = `${summary.policy} · ${summary.version.slice(0, 12)} · ${summary.rules} rules`;
    if (summary.problems.length) {
      const box = document.getElementById("banner");
      clear(box, h("div", { class: "error-box" }, h("p", { class: "error-title" }, "The rule files on disk changed and do not load; the last version that loaded is shown:"), h("ul", {}, summary.problems.map((d) => h("li", {}, `${d.file ? `${d.file}:${d.line}:${d.column}: ` : ""}${d.message}`)))));
    }
  } catch (_) {
    // The page itself says what went wrong.
  }
}

async function start() {
  skipLink();
  const page = document.body.dataset.page;
  const app = document.getElementById("app");
  banner();
  try {
    const module = await PAGES[page]();
    await module.render(app);
  } catch (error) {
    clear(app, errorBox(error, "This page could not be shown"));
  }
  document.body.dataset.ready = "1";
}

start();
