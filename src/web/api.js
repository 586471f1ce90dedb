// The REST side of the session: calls to the API, keeping the access token
// fresh, and who is logged in.

import { state } from './state.js';
import { renderAccount, toast } from './dom.js';

// Dispatched on window when a logged-in session ends. app.js routes on it:
// importing the router from here would make app.js, the entry module,
// load a second time (the page loads it as app.js?v=…, an import would ask
// for plain app.js, a different module).
export const LOGGED_OUT = 'chatd:logged-out';

function claims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

/** Milliseconds until the access token expires (negative: expired or none). */
export function accessLeft() {
  const c = claims(state.accessToken || '');
  return c ? c.exp * 1000 - Date.now() : -1;
}

/** Refreshes a minute (or a fifth of its lifetime) before the token expires. */
export function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  const c = claims(state.accessToken || '');
  if (!c || !state.refreshToken) return;
  const margin = Math.min(60_000, ((c.exp - c.iat) * 1000) / 5);
  const wait = Math.min(Math.max(0, accessLeft() - margin), 2 ** 31 - 1);
  state.refreshTimer = setTimeout(() => {
    refresh().catch(() => { state.refreshTimer = setTimeout(scheduleRefresh, 10_000); });
  }, wait);
}

/** New access token from the refresh token; false (and logged out) when refused. */
export function refresh() {
  state.refreshing ??= (async () => {
    const res = await fetch('/api/token/refresh/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh: state.refreshToken || '' }),
    });
    if (res.ok) {
      state.accessToken = (await res.json()).access;
      scheduleRefresh();
      return true;
    }
    if (res.status === 400 || res.status === 401) logout('Your session has expired. Please log in again.');
    return false;
  })().finally(() => { state.refreshing = null; });
  return state.refreshing;
}

/** Calls the API; on a 401 refreshes the token once and retries. */
export async function api(path, { method = 'GET', body, retry = true } = {}) {
  const headers = {};
  const token = state.accessToken;
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload = body;
  if (body && !(body instanceof FormData)) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload });
  } catch {
    return { status: 0, data: { non_field_errors: ['Cannot reach the server. Try again.'] } };
  }
  if (res.status === 401 && token && retry && state.refreshToken) {
    if (await refresh().catch(() => false)) return api(path, { method, body, retry: false });
  }
  let data = null;
  if (res.status !== 204) data = await res.json().catch(() => null);
  return { status: res.status, ok: res.ok, data };
}

export async function loadMe() {
  if (!state.accessToken) { state.me = null; return; }
  const { status, data } = await api('/api/user/');
  if (status === 200) state.me = data;
  else if (status === 401) logout();
  renderAccount();
}

export function logout(message) {
  state.accessToken = null;
  state.refreshToken = null;
  clearTimeout(state.refreshTimer);
  const wasIn = state.me !== null;
  state.me = null;
  renderAccount();
  if (message && wasIn) toast(message);
  if (wasIn) window.dispatchEvent(new Event(LOGGED_OUT));
}
