// The admin API, with the bearer token when one is needed; the live status and errors.

import { $, show, sleep } from './dashboard-dom.js';
import { state } from './dashboard-state.js';

const API = '/_emulator';
export const TOKEN_KEY = 'wishpond-emulator.admin-token';

class AuthError extends Error {}

async function api(path, signal, method, payload) {
  const headers = { Accept: 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = 'Bearer ' + token;
  const init = { headers, signal, cache: 'no-store' };
  if (method) {
    // A same-origin POST: the browser marks it Sec-Fetch-Site: same-origin.
    init.method = method;
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(payload);
    }
  }
  const res = await fetch(API + path, init);
  let body = null;
  try {
    body = await res.json();
  } catch (_) {
    body = null;
  }
  const error = body && body.error ? body.error : {};
  if (res.status === 401) throw new AuthError(error.code || 'admin_token_required');
  if (!res.ok) {
    const err = new Error(error.message || 'The emulator answered ' + res.status + '.');
    err.status = res.status;
    err.code = error.code;
    throw err;
  }
  return body;
}

let tokenWaiters = null;

function waitForToken(code) {
  if (tokenWaiters === null) {
    tokenWaiters = [];
    setLive('locked', 'Locked');
    const hadToken = sessionStorage.getItem(TOKEN_KEY) !== null;
    sessionStorage.removeItem(TOKEN_KEY);
    $('token-error').textContent =
      hadToken || code === 'invalid_admin_token' ? 'The saved token was not accepted.' : '';
    $('token-input').value = '';
    if (!$('token-dialog').open) $('token-dialog').showModal();
    $('token-input').focus();
  }
  return new Promise((resolve) => tokenWaiters.push(resolve));
}

export async function submitToken(event) {
  event.preventDefault();
  const token = $('token-input').value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token-submit').disabled = true;
  try {
    await api('/health');
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    $('token-error').textContent =
      err instanceof AuthError ? 'That token does not match --admin-token.' : err.message;
    return;
  } finally {
    $('token-submit').disabled = false;
  }
  $('token-dialog').close();
  show($('forget-token'), true);
  const waiters = tokenWaiters || [];
  tokenWaiters = null;
  waiters.forEach((resolve) => resolve());
}

export async function call(path, signal) {
  return send(null, path, undefined, signal);
}

// A state-changing call (method POST, PUT or DELETE) with an optional JSON body.
export async function send(method, path, payload, signal) {
  for (;;) {
    try {
      return await api(path, signal, method, payload);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      await waitForToken(err.message);
    }
  }
}

// -- live status and errors --------------------------------------------------

export function setLive(kind, text) {
  $('live').dataset.state = kind;
  $('live-text').textContent = text;
}

export function banner(text) {
  $('banner').textContent = text || '';
  show($('banner'), Boolean(text));
}

export function lostContact(err) {
  if (err && err.name === 'AbortError') return;
  if (err && err.status) {
    banner(err.message); // the emulator answered, but refused: say why
    clearTimeout(state.bannerTimer);
    state.bannerTimer = setTimeout(
      () => banner(state.offline ? $('banner').textContent : ''),
      8000,
    );
    return;
  }
  state.offline = true;
  setLive('offline', 'Offline');
  banner('Lost contact with the emulator (' + err.message + '). Retrying…');
}

// Run fn now, then at most once per gap while triggers keep arriving.
export function coalesce(fn, gap) {
  let busy = false;
  let pending = false;
  async function run() {
    busy = true;
    try {
      await fn();
    } catch (err) {
      lostContact(err);
    }
    await sleep(gap);
    busy = false;
    if (pending) {
      pending = false;
      run();
    }
  }
  return () => {
    if (busy) pending = true;
    else run();
  };
}

// After a long-poll failed: true (retry at once) when the emulator refused the wait as longer
// than its --max-wait, which halves the wait; otherwise report the failure, pause for backoff
// ms and return false.
export async function recover(err, first, backoff) {
  if (err.code === 'invalid_parameter' && !first && state.wait >= 1) {
    state.wait = Math.floor(state.wait / 2);
    return true;
  }
  lostContact(err);
  await sleep(backoff);
  return false;
}
