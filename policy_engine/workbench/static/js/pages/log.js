// Decision log (on `policy-engine serve`, with the read token): the logged decisions, searched
// by subject, party and date; each opens its explanation, decided again by the policy now
// loaded, which says whether it gives what was logged.
import { clear, effectBadge, errorBox, h, labelled, post, query, setQuery } from "../common.js";
import { service, tokenField, when } from "../service.js";

const PAGE = 100;

function explanationView(entry, payload) {
  const log = payload.log;
  const notes = [];
  if (!log.same_version) notes.push(`The policy changed since this decision was logged (logged with ${entry.policy_version.slice(0, 12)}, now ${payload.decision.policy_version.slice(0, 12)}).`);
  if (log.masked.length) notes.push(`The log masks ${log.masked.join(", ")}: decided again without ${log.masked.length > 1 ? "them" : "it"}.`);
  notes.push(log.same_outcome ? "Decided again, it gives what was logged." : "Decided again, it does NOT give what was logged: the explanation below is of the decision made now.");
  return [h("h2", { id: "explanation-title", tabindex: "-1" }, `Decision ${entry.id}`), notes.map((n) => h("p", { class: log.same_outcome ? "note" : "error-box" }, n)), h("pre", { class: "explanation", id: "log-explanation", tabindex: "0" }, payload.explanation)];
}

function row(entry, open) {
  const reasons = entry.reasons || [];
  return h(
    "tr",
    { dataset: { seq: entry.seq } },
    h("td", {}, when(entry.time)),
    h("td", { class: "mono" }, entry.subject || ""),
    h("td", { class: "mono" }, entry.party),
    h("td", { class: "mono" }, entry.data),
    h("td", { class: "mono" }, entry.purpose),
    h("td", {}, effectBadge(entry.effect)),
    h("td", { class: "mono" }, (entry.obligations || []).join(", ")),
    h("td", { class: "mono" }, reasons.join(", ")),
    h("td", {}, h("button", { type: "button", onclick: () => open(entry), "aria-label": `explain decision ${entry.id}` }, "Explain")),
  );
}

export async function render(app) {
  const q = query();
  const inputs = {
    subject: h("input", { type: "text", id: "log-subject", value: q.get("subject") || "" }),
    party: h("input", { type: "text", id: "log-party", value: q.get("party") || "" }),
    from: h("input", { type: "date", id: "log-from", value: q.get("from") || "" }),
    to: h("input", { type: "date", id: "log-to", value: q.get("to") || "" }),
  };
  const body = h("tbody", {});
  const status = h("p", { class: "muted", role: "status" });
  const more = h("button", { type: "button", hidden: true }, "More");
  const detail = h("section", { "aria-live": "polite", class: "detail", "aria-label": "the explanation" });
  let next = null;
  const open = async (entry) => {
    try {
      const logged = { effect: entry.effect, reasons: entry.reasons, obligations: entry.obligations, policy_version: entry.policy_version };
      const payload = await post("api/explain", { ...entry.request, logged });
      clear(detail, explanationView(entry, payload));
    } catch (error) {
      clear(detail, errorBox(error, "This decision cannot be explained now"));
    }
    detail.querySelector("h2")?.focus();
  };
  const load = async (fresh) => {
    const to = inputs.to.value;
    const params = { subject: inputs.subject.value.trim(), party: inputs.party.value.trim(), since: inputs.from.value ? `${inputs.from.value}T00:00:00Z` : "", after: fresh ? "" : next, limit: PAGE };
    if (fresh) {
      setQuery({ subject: params.subject, party: params.party, from: inputs.from.value, to });
      body.replaceChildren();
    }
    try {
      const page = await service("v1/decisions", params);
      const shown = page.decisions.filter((d) => !to || d.time.slice(0, 10) <= to);
      body.append(...shown.map((d) => row(d, open)));
      next = page.next;
      const past = to && page.decisions.some((d) => d.time.slice(0, 10) > to);
      more.hidden = !page.more || past;
      status.textContent = `${body.children.length} decisions shown${more.hidden ? "" : "; more match"}`;
    } catch (error) {
      clear(detail, errorBox(error, "The decision log cannot be read"));
      status.textContent = "";
    }
  };
  more.addEventListener("click", () => load(false));
  const form = h("form", { class: "toolbar", "aria-label": "search the decision log", onsubmit: (e) => { e.preventDefault(); load(true); } },
    tokenField(), labelled("Subject", inputs.subject), labelled("Party", inputs.party), labelled("From", inputs.from), labelled("To", inputs.to), h("button", { type: "submit", class: "primary" }, "Search"));
  const headers = ["time", "subject", "party", "data", "purpose", "effect", "obligations", "rules", "explanation"];
  clear(app, form, status, h("table", { class: "log" }, h("caption", { class: "muted" }, "logged decisions, oldest first"), h("thead", {}, h("tr", {}, headers.map((c) => h("th", { scope: "col" }, c)))), body), more, detail);
  if (document.getElementById("read-token").value) await load(true);
}

