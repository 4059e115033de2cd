// The JSON API as the dashboard uses it: same-origin fetches with the session cookie, the
// CSRF header on every state-changing request, errors as one readable line.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

// FastAPI's {"detail": "..."} or its 422 list of {loc, msg} as one line.
function detailText(body, fallback) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => `${(d.loc || []).filter((p) => p !== "body" && p !== "query").join(".")}: ${d.msg}`)
      .join("; ");
  }
  return fallback;
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// fetch JSON (or text with {text: true}); 401 sends the user to the login page.
export async function api(path, { method = "GET", body, params, text = false, redirect = true } = {}) {
  const headers = { Accept: text ? "text/plain" : "application/json" };
  if (method !== "GET" && method !== "HEAD") {
    headers["X-CSRF-Token"] = cookie("vigil_csrf");
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path + query(params), {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && redirect) {
    const next = encodeURIComponent(location.pathname + location.search);
    location.assign(`/login?next=${next}`);
    throw new ApiError(401, "not signed in");
  }
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      // not JSON: the status line says enough
    }
    throw new ApiError(response.status, detailText(parsed, `${response.status} ${response.statusText}`));
  }
  if (response.status === 204) return null;
  return text ? response.text() : response.json();
}

// The WebSocket of live events and object metadata; reconnects after a drop.
export function liveSocket(params, onMessage) {
  let socket = null;
  let closed = false;
  const open = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/api/ws${query(params)}`);
    socket.onmessage = (message) => onMessage(JSON.parse(message.data));
    socket.onclose = () => {
      if (!closed) setTimeout(open, 2000);
    };
  };
  open();
  return {
    close() {
      closed = true;
      socket.close();
    },
  };
}
