// Consents and disclosures (on `policy-engine serve`, with the read token): one subject's consent
// history from the ledger, the purposes consented to now, and the decisions that disclosed the
// subject's information, by recipient (the service's disclosures report, from its log).
import { clear, code, errorBox, h, labelled, plural, query, setQuery } from "../common.js";
import { service, tokenField, when } from "../service.js";

function table(caption, headers, rows) {
  return h("table", { class: "log" }, h("caption", { class: "muted" }, caption), h("thead", {}, h("tr", {}, headers.map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows));
}

function consents(state) {
  const active = state.active.map((g) => h("tr", {}, h("td", { class: "mono" }, g.purpose), h("td", {}, when(g.granted_at)), h("td", {}, g.expires_at ? when(g.expires_at) : "never"), h("td", {}, g.recorded_by), h("td", {}, g.source)));
  const history = state.history.map((e) => h("tr", {}, h("td", {}, when(e.timestamp)), h("td", {}, e.event), h("td", { class: "mono" }, e.purposes.join(", ")), h("td", {}, e.expires_at ? when(e.expires_at) : ""), h("td", {}, e.recorded_by), h("td", {}, e.source)));
  return [
    h("h2", {}, "Consented to now"),
    h("p", { id: "consented-now" }, state.consented_purposes.length ? state.consented_purposes.map((p, i) => [i ? ", " : "", code(p)]) : "nothing"),
    table("the grants behind them", ["purpose", "granted", "expires", "recorded by", "source"], active),
    h("h2", {}, "Consent history"),
    table("every event recorded, oldest first", ["when", "event", "purposes", "expires", "recorded by", "source"], history),
  ];
}

function disclosures(report) {
  const recipients = report.recipients.map((r) => h(
    "section",
    { class: "activity", dataset: { party: r.party } },
    h("h3", {}, code(r.party), ` — ${plural(r.decisions, "decision")}, ${r.first.slice(0, 10)} to ${r.last.slice(0, 10)}`),
    h("p", {}, "data: ", r.data.join(", "), "; purposes: ", r.purposes.join(", "), r.obligations.length ? `; obligations: ${r.obligations.join(", ")}` : ""),
    table(`the decisions disclosing to ${r.party}`, ["when", "data", "purpose", "obligations", "rules"], r.entries.map((d) => h("tr", {}, h("td", {}, when(d.time)), h("td", { class: "mono" }, d.data), h("td", { class: "mono" }, d.purpose), h("td", { class: "mono" }, d.obligations.join(", ")), h("td", { class: "mono" }, d.rules.join(", "))))),
  ));
  return [h("h2", {}, "Disclosures"), h("p", { id: "disclosures-summary" }, `${plural(report.decisions, "allowed decision")} about this subject, to ${plural(report.recipients.length, "recipient")}`), recipients];
}

export async function render(app) {
  const subject = h("input", { type: "text", id: "subject", value: query().get("subject") || "" });
  const out = h("div", { "aria-live": "polite" });
  const look = async () => {
    const name = subject.value.trim();
    setQuery({ subject: name });
    if (!name) return;
    try {
      const state = await service(`v1/subjects/${encodeURIComponent(name)}/consents`);
      const report = await service(`v1/subjects/${encodeURIComponent(name)}/disclosures`);
      clear(out, consents(state), disclosures(report));
    } catch (error) {
      clear(out, errorBox(error, "The ledger cannot be read"));
    }
  };
  clear(app, h("form", { class: "toolbar", "aria-label": "a subject", onsubmit: (e) => { e.preventDefault(); look(); } }, tokenField(), labelled("Subject", subject), h("button", { type: "submit", class: "primary" }, "Show")), out);
  if (subject.value && document.getElementById("read-token").value) await look();
}
