// Register: the register of processing activities, one per purpose, generated from the rules
// through the disclosure matrix (`policy-engine register`), with its downloads.
import { api, clear, code, h, plural, words } from "../common.js";

function field(label, items) {
  return [h("dt", {}, label), h("dd", {}, items.length > 1 ? h("ul", {}, items.map((i) => h("li", {}, words(i)))) : items.length ? words(items[0]) : h("span", { class: "muted" }, "none"))];
}

function activity(a) {
  const id = `activity-${a.purpose}`;
  return h(
    "section",
    { class: "activity", "aria-labelledby": id, dataset: { purpose: a.purpose } },
    h("h2", { id }, a.purpose, a.description ? h("span", { class: "muted" }, ` — ${a.description}`) : null),
    a.path.length > 1 ? h("p", { class: "muted" }, "under ", a.path.slice(0, -1).join(" › ")) : null,
    h(
      "dl",
      { class: "facts" },
      field("Parties", a.words.parties),
      field("Categories", [a.words.categories]),
      field("Legal grounds", a.words.grounds),
      field("Recipients outside the organisation", a.recipients_outside),
      field("Obligations", a.words.obligations),
      field("Rules", [a.rules.map((r) => `\`${r}\``).join(", ")]),
      field("Citations", [a.citations.join(", ")]),
    ),
  );
}

export async function render(app) {
  const register = await api("api/register");
  const downloads = [["markdown", "Markdown"], ["csv", "CSV"], ["json", "JSON"], ["html", "HTML"]].map(([kind, label]) => h("a", { class: "button", href: `api/register.${kind}`, download: "" }, `Download as ${label}`));
  clear(
    app,
    h("div", { class: "toolbar" }, downloads),
    h("p", {}, "Organisation: ", code(register.organisation), `. ${plural(register.activities.length, "activity", "activities")}, generated from the rules through the same analysis as the matrix: each is a purpose some party may use personal information for, always or under the conditions shown.`),
    register.activities.map(activity),
    register.never_allowed.length ? h("p", { id: "never-allowed" }, "Never allowed for any party: ", register.never_allowed.map((p, i) => [i ? ", " : "", code(p)])) : null,
  );
}
