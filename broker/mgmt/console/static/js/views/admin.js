// Policies and operator policies, and the definitions' export and
// import.

import {del, get, path, post, put} from '../api.js';
import {actionButton, field, form, h, select, setText} from '../dom.js';
import {listState, PagedList} from '../list.js';
import {jsonArea, readJSON, vhostSelect} from './common.js';

const APPLY_TO = [['all', 'queues and exchanges'], ['queues', 'all queues'], ['classic_queues', 'classic queues'],
  ['quorum_queues', 'quorum queues'], ['exchanges', 'exchanges'], ['streams', 'streams']];

const states = {policies: listState(), 'operator-policies': listState()};

// policySection lists one kind of policy with its form; kind is the
// API's resource ("policies" or "operator-policies").
function policySection(kind, title, intro, canChange) {
  const list = new PagedList({
    path: () => `/${kind}`,
    state: states[kind],
    what: title,
    key: p => `${p.vhost}\u0000${p.name}`,
    empty: `No ${title.toLowerCase()}.`,
    columns: [
      {label: 'Name', header: true, sort: 'name', text: p => p.name},
      {label: 'Virtual host', sort: 'vhost', text: p => p.vhost},
      {label: 'Pattern', text: p => p.pattern},
      {label: 'Applies to', text: p => (APPLY_TO.find(([k]) => k === p['apply-to']) || [0, p['apply-to']])[1]},
      {label: 'Priority', num: true, sort: 'priority', text: p => p.priority},
      {label: 'Definition', text: p => JSON.stringify(p.definition)},
      canChange ? {label: 'Actions', cell: (p, row) => actionButton('Delete', async () => {
        await del(path`/${kind}/${row.item.vhost}/${row.item.name}`);
        await list.refresh();
      }, {danger: true, confirm: `Delete ${kind === 'policies' ? 'policy' : 'operator policy'} ${p.name}? The queues and exchanges it matched change at once.`})} : null,
    ].filter(Boolean),
  });
  const add = canChange ? form(`Add or change ${kind === 'policies' ? 'a policy' : 'an operator policy'}`, [
    field('Virtual host', vhostSelect(false)),
    field('Name', h('input', {name: 'name', required: true})),
    field('Pattern', h('input', {name: 'pattern', required: true, placeholder: '^orders\\.'}), 'regular expression matched anywhere in a name'),
    field('Applies to', select('apply-to', APPLY_TO)),
    field('Priority', h('input', {name: 'priority', type: 'number', value: 0}), 'the highest matching priority wins'),
    field('Definition (JSON)', jsonArea('definition', '{"max-length": 10000, "dead-letter-exchange": "dlx"}')),
  ], 'Save', async data => {
    await put(path`/${kind}/${data.get('vhost')}/${data.get('name')}`, {
      pattern: data.get('pattern'), 'apply-to': data.get('apply-to'), priority: Number(data.get('priority')) || 0,
      definition: readJSON(data.get('definition'), 'Definition')});
    await list.refresh();
    return data.get('name');
  }, name => `Saved ${name}; it applies now.`) : null;
  return {
    list,
    el: h('section', {class: 'panel'}, h('h3', {}, title), h('p', {class: 'muted'}, intro), list.el,
      add ? h('details', {class: 'add'}, h('summary', {}, add.querySelector('h3').textContent), add) : null),
  };
}

// mountPolicies shows policies and, to administrators, operator
// policies.
export function mountPolicies(main, _params, ctx) {
  const pol = policySection('policies', 'Policies',
    'A policy sets arguments (length limits, TTLs, dead-lettering …) on the queues and exchanges whose names match its pattern.',
    ctx.policymaker);
  const op = ctx.admin ? policySection('operator-policies', 'Operator policies',
    'An operator policy caps what policies and queue arguments may set: the lower value wins.', true) : null;
  main.append(h('h2', {}, 'Policies'), pol.el, op?.el);
  return {
    title: 'Policies',
    async refresh(signal) {
      await Promise.all([pol.list.refresh(signal), op?.list.refresh(signal)]);
    },
  };
}

// download saves text as a file.
function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], {type: 'application/json'}));
  const a = h('a', {href: url, download: name, hidden: true});
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// mountDefinitions exports (downloads) and imports (uploads)
// RabbitMQ's definitions JSON.
export function mountDefinitions(main) {
  const summary = h('p', {id: 'definitions-summary'});
  const exp = form('Export', [
    h('p', {class: 'muted'}, 'Users (with password hashes), virtual hosts, permissions, limits, parameters, policies, queues, exchanges and bindings, as RabbitMQ exports them. Messages are not included.'),
    field('Virtual host', vhostSelect(true, '')),
  ], 'Download definitions', async data => {
    const vh = data.get('vhost');
    const doc = await get(vh ? path`/definitions/${vh}` : '/definitions');
    const date = new Date().toISOString().slice(0, 10);
    download(`warren-definitions-${vh ? `${vh.replace(/[^\w.-]/g, '_')}-` : ''}${date}.json`, JSON.stringify(doc, null, 2));
    return doc;
  }, doc => `Downloaded ${(doc.queues || []).length} queues, ${(doc.exchanges || []).length} exchanges, ${(doc.users || []).length} users.`);
  const imp = form('Import', [
    h('p', {class: 'muted'}, 'A definitions file from Warren or RabbitMQ. Objects that exist are kept or updated; nothing is deleted.'),
    field('File', h('input', {type: 'file', name: 'file', accept: '.json,application/json', required: true})),
    field('Into virtual host', vhostSelect(true, ''), 'every virtual host: as the file says; one: its objects go into that virtual host'),
  ], 'Upload definitions', async data => {
    const file = data.get('file');
    const text = await file.text();
    const vh = data.get('vhost');
    await post(vh ? path`/definitions/${vh}` : '/definitions', text);
    return file.name;
  }, name => `Imported ${name}.`);
  main.append(h('h2', {}, 'Definitions'), summary, h('div', {class: 'forms'}, exp, imp));
  return {
    title: 'Definitions',
    async refresh(signal) {
      const o = await get('/overview?columns=object_totals', {signal});
      const t = o.object_totals || {};
      setText(summary, `This broker has ${t.queues ?? 0} queues and ${t.exchanges ?? 0} exchanges now.`);
    },
  };
}
