// The console's entry point: logging in and out, the page router (the
// URL's #/… part), the refresh loop and the keyboard shortcuts. A page
// is a view: mount() builds its DOM once, refresh() fetches its data and
// patches that DOM, sample() (pages with charts) records a sample.

import {get, logIn, logOut, onUnauthorised, session} from './api.js';
import {notify, setText} from './dom.js';
import {SAMPLE_MS} from './chart.js';
import * as overview from './views/overview.js';
import * as conns from './views/connections.js';
import * as exchanges from './views/exchanges.js';
import * as queues from './views/queues.js';
import * as access from './views/access.js';
import * as admin from './views/admin.js';

const $ = id => document.getElementById(id);

// pages maps the first segment of #/… to a view's mount, given the
// remaining segments.
const pages = {
  '': () => overview.mountOverview,
  connections: () => conns.mountConnections,
  channels: () => conns.mountChannels,
  exchanges: p => (p.length === 2 ? exchanges.mountExchange : exchanges.mountExchanges),
  queues: p => (p.length === 2 ? queues.mountQueue : queues.mountQueues),
  users: () => access.mountUsers,
  vhosts: () => access.mountVhosts,
  policies: () => admin.mountPolicies,
  definitions: () => admin.mountDefinitions,
  nodes: () => overview.mountNodes,
};

// The keys after "g" that go to a page.
const goKeys = {o: '', c: 'connections', h: 'channels', e: 'exchanges', q: 'queues', u: 'users',
  v: 'vhosts', p: 'policies', d: 'definitions', n: 'nodes'};

let ctx = null;       // {me, admin, monitor, policymaker}
let current = null;   // {view, ctrl}
let lastRefresh = 0;
let busy = false;
let ticker = 0;

function parseHash() {
  const segs = location.hash.replace(/^#\/?/, '').split('/').filter((s, i) => s !== '' || i === 0);
  return segs.map(s => {
    try { return decodeURIComponent(s); } catch { return s; }
  });
}

function refreshSeconds() {
  return Number($('refresh').value);
}

async function show() {
  if (!ctx) return;
  current?.ctrl.abort();
  const [page = '', ...params] = parseHash();
  const pick = pages[page];
  const main = $('main');
  main.replaceChildren();
  notify('');
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === (page || 'overview')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!pick) {
    main.append(Object.assign(document.createElement('h2'), {textContent: 'No such page'}));
    document.title = 'Warren';
    current = null;
    return;
  }
  const ctrl = new AbortController();
  const view = pick(params)(main, params, ctx);
  current = {view, ctrl};
  document.title = `${view.title} · Warren`;
  await refreshNow();
}

async function refreshNow() {
  if (!current || busy) return;
  const {view, ctrl} = current;
  busy = true;
  try {
    await view.refresh(ctrl.signal);
    lastRefresh = Date.now();
    const st = $('status');
    if (st.dataset.from === 'refresh') {
      notify('');
      delete st.dataset.from;
    }
  } catch (e) {
    if (e.name !== 'AbortError' && current?.view === view) {
      notify(`Could not refresh this page: ${e.message}`);
      $('status').dataset.from = 'refresh';
    }
  } finally {
    busy = false;
  }
}

// tick runs every five seconds: the page is refreshed when its interval
// has passed, and a page with charts takes a sample in between.
async function tick() {
  const secs = refreshSeconds();
  if (!current || !secs || document.visibilityState !== 'visible' || busy) return;
  if (Date.now() - lastRefresh >= secs * 1000 - 500) return refreshNow();
  if (current.view.sample) {
    try {
      await current.view.sample(current.ctrl.signal);
    } catch {
      // the next refresh reports it
    }
  }
}

async function enter(me) {
  const tags = me.tags || [];
  const isAdmin = tags.includes('administrator');
  ctx = {me, admin: isAdmin, monitor: isAdmin || tags.includes('monitoring'),
    policymaker: isAdmin || tags.includes('policymaker')};
  $('login').hidden = true;
  $('app').hidden = false;
  setText($('whoami'), `${me.name}${tags.length ? ` (${tags.join(', ')})` : ''}`);
  for (const a of document.querySelectorAll('#nav a[data-admin]')) a.hidden = !ctx.admin;
  for (const a of document.querySelectorAll('#nav a[data-monitor]')) a.hidden = !ctx.monitor;
  get('/overview?columns=cluster_name,product_name,product_version').then(o => {
    setText($('cluster'), `${o.cluster_name} · ${o.product_name || 'Warren'} ${o.product_version || ''}`);
  }).catch(() => {});
  clearInterval(ticker);
  ticker = setInterval(tick, SAMPLE_MS);
  await show();
}

function leave(message) {
  logOut();
  ctx = null;
  current?.ctrl.abort();
  current = null;
  clearInterval(ticker);
  $('main').replaceChildren();
  $('app').hidden = true;
  $('login').hidden = false;
  setText($('login-error'), message || '');
  $('login-pass').value = '';
  $('login-user').focus();
}

function setUpLogin() {
  $('login-form').addEventListener('submit', async ev => {
    ev.preventDefault();
    const button = ev.target.querySelector('button');
    button.disabled = true;
    setText($('login-error'), '');
    try {
      await enter(await logIn($('login-user').value, $('login-pass').value));
    } catch (e) {
      setText($('login-error'), e.status === 401 ? `${e.message}.` : e.message);
    } finally {
      button.disabled = false;
    }
  });
  $('logout').addEventListener('click', () => leave('You are logged out.'));
  onUnauthorised(e => leave(`Your login stopped working: ${e.message}.`));
}

function setUpRefresh() {
  const saved = localStorage.getItem('warren.refresh');
  if (saved !== null && [...$('refresh').options].some(o => o.value === saved)) $('refresh').value = saved;
  $('refresh').addEventListener('change', () => {
    localStorage.setItem('warren.refresh', $('refresh').value);
    refreshNow();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') refreshNow();
  });
}

function setUpKeys() {
  let pendingG = false;
  document.addEventListener('keydown', ev => {
    if (!ctx || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t.closest && t.closest('input, textarea, select, dialog')) return;
    if (pendingG) {
      pendingG = false;
      if (ev.key in goKeys) {
        location.hash = `#/${goKeys[ev.key]}`;
        ev.preventDefault();
      }
      return;
    }
    if (ev.key === 'g') pendingG = true;
    else if (ev.key === 'r') refreshNow();
    else if (ev.key === '/') {
      const f = document.querySelector('#main [data-filter]');
      if (f) { ev.preventDefault(); f.focus(); }
    }
  });
}

async function start() {
  setUpLogin();
  setUpRefresh();
  setUpKeys();
  window.addEventListener('hashchange', () => {
    show();
    $('main').focus({preventScroll: true});
  });
  if (!session()) {
    leave('');
    return;
  }
  try {
    await enter(await get('/whoami'));
  } catch (e) {
    leave(e.status === 401 ? '' : e.message);
  }
}

start();
