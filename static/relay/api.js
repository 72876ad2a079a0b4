// The API as the browser uses it: same endpoints as API clients, authenticated by the session + CSRF.
export function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (input) return input.value;
  const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(body) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// The contract's errors: {"detail": "text"} or {"detail": [{loc, msg, type}, …]}.
export function describe(body) {
  if (!body || body.detail === undefined) return "";
  if (typeof body.detail === "string") return body.detail;
  return body.detail.map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ");
}

export async function api(method, url, { json, headers = {}, signal } = {}) {
  const init = { method, headers: { "X-CSRFToken": csrfToken(), ...headers }, credentials: "same-origin", signal };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const response = await fetch(url, init);
  const text = response.status === 204 ? "" : await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { detail: text.slice(0, 200) };
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return { body, headers: response.headers };
}
