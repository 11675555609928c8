// The decision service's own endpoints, for the pages that read the log and the ledger: they
// need the read (or admin) token, which the person types once; it stays in this tab only.
import { ApiError, h, labelled } from "./common.js";

const KEY = "policy-engine-read-token";

export function tokenField() {
  const input = h("input", { type: "password", id: "read-token", autocomplete: "off", value: sessionStorage.getItem(KEY) || "" });
  input.addEventListener("change", () => sessionStorage.setItem(KEY, input.value.trim()));
  return labelled("Read token", input, "the service's read or admin token; kept in this tab only");
}

export async function service(path, params = {}) {
  const url = new URL("../" + path, document.baseURI);
  for (const [key, value] of Object.entries(params)) if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  const token = (document.getElementById("read-token")?.value || sessionStorage.getItem(KEY) || "").trim();
  sessionStorage.setItem(KEY, token);
  const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const body = (response.headers.get("content-type") || "").includes("json") ? await response.json() : null;
  if (!response.ok) {
    const diagnostics = body && body.diagnostics ? body.diagnostics : [];
    throw new ApiError(response.status, { error: (body && body.error) || `the service answered ${response.status}`, diagnostics });
  }
  return body;
}

export function when(text) {
  return h("time", { datetime: text }, text.replace("T", " ").replace(/\.\d+/, ""));
}
