// A searchable tree of terms: radio buttons (pick one) or checkboxes (pick several), each term
// under its first parent, its other parents named beside it. Typing in the filter keeps the terms
// whose name contains the text, with the terms above them.
import { h } from "./common.js";

let counter = 0;

export function termTree({ legend, terms, type = "radio", name, chosen = [], onChange }) {
  const id = `tree-${++counter}`;
  const byName = new Map(terms.map((t) => [t.name, t]));
  const children = new Map(terms.map((t) => [t.name, []]));
  const roots = [];
  for (const term of terms) {
    const first = term.parents.find((p) => byName.has(p));
    if (first) children.get(first).push(term);
    else roots.push(term);
  }
  const picked = new Set(chosen);
  const inputs = [];
  const items = new Map();
  const node = (term) => {
    const input = h("input", { type, name: name || id, value: term.name, checked: picked.has(term.name), id: `${id}-${term.name}` });
    input.addEventListener("change", () => onChange && onChange());
    inputs.push(input);
    const also = term.parents.slice(1).filter((p) => byName.has(p));
    const kids = children.get(term.name);
    const li = h("li", {}, h("label", { for: input.id }, input, " ", term.name), also.length ? h("span", { class: "also" }, ` (also under ${also.join(", ")})`) : null, kids.length ? h("ul", {}, kids.map(node)) : null);
    items.set(li, term.name);
    return li;
  };
  const filter = h("input", { type: "search", id: `${id}-filter`, placeholder: "filter", autocomplete: "off", "aria-label": `Filter the ${legend.toLowerCase()}` });
  const list = h("ul", {}, roots.map(node));
  const box = h("div", { class: "tree", tabindex: "0", role: "group", "aria-label": legend }, list);
  filter.addEventListener("input", () => {
    const text = filter.value.trim().toLowerCase();
    const show = (li) => {
      const own = !text || items.get(li).toLowerCase().includes(text);
      let below = false;
      for (const child of li.querySelectorAll(":scope > ul > li")) below = show(child) || below;
      li.hidden = !(own || below);
      return own || below;
    };
    for (const li of list.querySelectorAll(":scope > li")) show(li);
  });
  const fieldset = h("fieldset", { class: "term-tree", dataset: { kind: name || id } }, h("legend", {}, legend), filter, box);
  return {
    element: fieldset,
    value() {
      const on = inputs.filter((i) => i.checked).map((i) => i.value);
      return type === "radio" ? on[0] || "" : [...new Set(on)];
    },
    set(values) {
      const wanted = new Set(Array.isArray(values) ? values : [values]);
      for (const input of inputs) input.checked = wanted.has(input.value);
    },
  };
}
