// The management API over fetch: basic auth from sessionStorage, JSON in
// and out, and the API's {"error", "reason"} bodies turned into text.

const KEY = 'warren.credentials';

// ApiError is a refusal by the API: the HTTP status and RabbitMQ's
// reason, as text.
export class ApiError extends Error {
  constructor(status, text) {
    super(text);
    this.status = status;
  }
}

// session returns {user, auth} of the logged-in user, or null.
export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY));
  } catch {
    return null;
  }
}

function basic(user, password) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  return 'Basic ' + btoa(String.fromCharCode(...bytes));
}

// logIn checks the credentials against /api/whoami and keeps them for
// this tab; it answers whoami's {name, tags}.
export async function logIn(user, password) {
  const auth = basic(user, password);
  const me = await request('GET', '/whoami', undefined, {auth});
  sessionStorage.setItem(KEY, JSON.stringify({user: me.name, auth}));
  return me;
}

// logOut forgets the credentials.
export function logOut() {
  sessionStorage.removeItem(KEY);
}

// onUnauthorised is called when the stored credentials stop working.
let unauthorised = () => {};
export function onUnauthorised(f) { unauthorised = f; }

// path builds an API path from a template, encoding each value as one
// segment: path`/queues/${vhost}/${name}` turns "/" into %2F.
export function path(strings, ...values) {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? encodeURIComponent(values[i]) : ''), '');
}

// query appends the non-empty parameters to p.
export function query(p, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${p}?${s}` : p;
}

// reasonText renders an error body's reason, which RabbitMQ sometimes
// gives as a term rather than a string.
function reasonText(body, status) {
  if (body && typeof body === 'object' && 'reason' in body) {
    return typeof body.reason === 'string' ? body.reason : JSON.stringify(body.reason);
  }
  if (typeof body === 'string' && body.trim()) return body.trim();
  return `HTTP ${status}`;
}

// request sends one API call; opts: {auth, headers, signal, raw,
// accept}. It answers the decoded JSON body (null when there is none),
// or the Response itself with raw; statuses in accept (such as a health
// check's 503) answer their body rather than throw.
export async function request(method, p, body, opts = {}) {
  const auth = opts.auth || session()?.auth;
  const headers = {'X-Requested-With': 'XMLHttpRequest', ...opts.headers};
  if (auth) headers.Authorization = auth;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch('/api' + p, {method, headers, body: payload, signal: opts.signal, cache: 'no-store'});
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `The broker did not answer (${e.message}).`);
  }
  if (opts.raw && resp.ok) return resp;
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!resp.ok && !opts.accept?.includes(resp.status)) {
    const err = new ApiError(resp.status, reasonText(data, resp.status));
    if (resp.status === 401 && !opts.auth && /Login failed|localhost/.test(err.message)) unauthorised(err);
    throw err;
  }
  return data;
}

export const get = (p, opts) => request('GET', p, undefined, opts);
export const put = (p, body, opts) => request('PUT', p, body ?? {}, opts);
export const post = (p, body, opts) => request('POST', p, body ?? {}, opts);
export const del = (p, opts) => request('DELETE', p, undefined, opts);
