// The API client: every call carries the signed-in key as x-api-key. The key lives in
// sessionStorage only, so it is gone when the tab is closed and never written to disk by us.

const KEY = "outbound.apiKey";

export const session = {
  get key() { return sessionStorage.getItem(KEY) || ""; },
  set(key) { sessionStorage.setItem(KEY, key); },
  clear() { sessionStorage.removeItem(KEY); },
};

/** An answer that is not 2xx: `code` is the API's error name, `message` its message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function api(method, path, body, key = session.key) {
  const headers = { "x-api-key": key, accept: "application/json" };
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch("/api" + path, init);
  } catch {
    throw new ApiError(0, "NetworkError", "The server could not be reached. Check the connection and try again.");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new ApiError(response.status, data?.error || "HttpError",
      data?.message || `The server answered ${response.status}.`);
    // A key revoked while the app is open: back to sign-in, with the reason.
    if (response.status === 401 && key && key === session.key) {
      window.dispatchEvent(new CustomEvent("outbound:unauthorized", { detail: error }));
    }
    throw error;
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path) => api("DELETE", path);

/** The shared clock of the system (it may run faster than the wall clock in a demo). */
export async function serverNow() {
  try {
    return new Date((await get("/time")).now);
  } catch {
    return new Date();
  }
}
