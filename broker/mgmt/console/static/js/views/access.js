// Users (with their tags and permissions) and virtual hosts (with their
// limits).

import {del, get, path, put} from '../api.js';
import {actionButton, field, form, h, num, select, Table} from '../dom.js';
import {listState, PagedList} from '../list.js';
import {vhostSelect} from './common.js';

const userState = listState();
const vhostState = listState();
const TAGS = [
  ['administrator', 'everything, users and vhosts included'],
  ['monitoring', 'sees every connection, channel and node'],
  ['policymaker', 'manages policies and parameters'],
  ['management', 'may log in here and see its own vhosts'],
  ['impersonator', 'may publish with another user_id'],
];

function userForm(refresh) {
  const tagBoxes = TAGS.map(([t, hint]) => h('label', {class: 'check'}, h('input', {type: 'checkbox', name: 'tag', value: t}), ` ${t} `, h('small', {class: 'muted'}, hint)));
  return form('Add or change a user', [
    field('Name', h('input', {name: 'name', required: true, autocomplete: 'off'})),
    field('Password', h('input', {name: 'password', type: 'password', autocomplete: 'new-password'}), 'empty: the user cannot log in with a password'),
    h('fieldset', {}, h('legend', {}, 'Tags'), tagBoxes),
    field('Other tags', h('input', {name: 'other_tags', placeholder: 'comma-separated'})),
  ], 'Save user', async data => {
    const tags = [...data.getAll('tag'), ...String(data.get('other_tags')).split(',').map(s => s.trim()).filter(Boolean)];
    const body = {tags: tags.join(',')};
    if (data.get('password')) body.password = data.get('password');
    else body.password_hash = '';
    await put(path`/users/${data.get('name')}`, body);
    await refresh();
    return data.get('name');
  }, name => `Saved user ${name}. Give them permissions on a virtual host below so that they can connect.`);
}

function permissionForm(refresh) {
  return form('Set permissions', [
    field('User', h('input', {name: 'user', required: true, list: 'user-names', autocomplete: 'off'})),
    field('Virtual host', vhostSelect(false)),
    field('Configure', h('input', {name: 'configure', value: '.*'}), 'regular expression of the names the user may declare and delete'),
    field('Write', h('input', {name: 'write', value: '.*'}), 'names the user may publish to and bind queues to'),
    field('Read', h('input', {name: 'read', value: '.*'}), 'names the user may consume, get or purge from, and bind from'),
  ], 'Set permissions', async data => {
    await put(path`/permissions/${data.get('vhost')}/${data.get('user')}`,
      {configure: data.get('configure'), write: data.get('write'), read: data.get('read')});
    await refresh();
    return `${data.get('user')} on ${data.get('vhost')}`;
  }, what => `Set the permissions of ${what}.`);
}

// mountUsers is the users page (administrators only).
export function mountUsers(main, _params, ctx) {
  const users = new PagedList({
    path: () => '/users',
    state: userState,
    what: 'Users',
    key: u => u.name,
    columns: [
      {label: 'Name', header: true, sort: 'name', text: u => u.name},
      {label: 'Tags', text: u => (u.tags || []).join(', ') || 'none (AMQP only, not this console)'},
      {label: 'Password', text: u => (u.password_hash ? 'set' : 'none')},
      {label: 'Limits', text: u => Object.entries(u.limits || {}).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'},
      {label: 'Actions', cell: (u, row) => actionButton('Delete', async () => {
        await del(path`/users/${row.item.name}`);
        await refresh();
      }, {danger: true, confirm: row.item.name === ctx.me.name
        ? `Delete ${row.item.name}? That is you: you will be logged out.`
        : `Delete user ${row.item.name}? Their connections are closed.`})},
    ],
  });
  const names = h('datalist', {id: 'user-names'});
  const perms = new Table({
    key: p => `${p.vhost}\u0000${p.user}`,
    empty: 'No permissions.',
    columns: [
      {label: 'User', header: true, text: p => p.user},
      {label: 'Virtual host', text: p => p.vhost},
      {label: 'Configure', text: p => p.configure},
      {label: 'Write', text: p => p.write},
      {label: 'Read', text: p => p.read},
      {label: 'Actions', cell: (p, row) => actionButton('Clear', async () => {
        await del(path`/permissions/${row.item.vhost}/${row.item.user}`);
        await refresh();
      }, {confirm: `Clear the permissions of ${p.user} on ${p.vhost}? Their connections to it stay until they reconnect.`})},
    ],
  });
  async function refresh(signal) {
    const [, ps, all] = await Promise.all([users.refresh(signal), get('/permissions', {signal}), get('/users?columns=name', {signal})]);
    perms.update(ps);
    const want = all.map(u => u.name).join('\n');
    if (names.dataset.names !== want) {
      names.dataset.names = want;
      names.replaceChildren(...all.map(u => h('option', {value: u.name})));
    }
  }
  main.append(h('h2', {}, 'Users'), users.el, names,
    h('div', {class: 'forms'}, userForm(refresh), permissionForm(refresh)),
    h('section', {class: 'panel'}, h('h3', {}, 'Permissions'), h('div', {class: 'scroll'}, perms.el)));
  return {title: 'Users', refresh};
}

const LIMITS = [['max-connections', 'most connections at once'], ['max-queues', 'most queues']];

// mountVhosts is the virtual hosts page: the list, adding, deleting and
// limits.
export function mountVhosts(main, _params, ctx) {
  let limits = {};
  const vhosts = new PagedList({
    path: () => '/vhosts',
    state: vhostState,
    what: 'Virtual hosts',
    key: v => v.name,
    columns: [
      {label: 'Name', header: true, sort: 'name', text: v => v.name},
      {label: 'Description', text: v => v.description},
      {label: 'Default queue type', text: v => (v.default_queue_type === 'undefined' ? 'classic' : v.default_queue_type)},
      {label: 'Messages', num: true, sort: 'messages', text: v => num(v.messages)},
      {label: 'Limits', text: v => Object.entries(limits[v.name] || {}).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'},
      ctx.admin ? {label: 'Actions', cell: (v, row) => actionButton('Delete', async () => {
        await del(path`/vhosts/${row.item.name}`);
        await refresh();
      }, {danger: true, confirm: `Delete virtual host ${v.name} with every queue, exchange and message in it? Its connections are closed.`})} : null,
    ].filter(Boolean),
  });
  async function refresh(signal) {
    const ls = await get('/vhost-limits', {signal});
    limits = Object.fromEntries(ls.map(l => [l.vhost, l.value]));
    await vhosts.refresh(signal);
  }
  const forms = !ctx.admin ? [] : [
    form('Add a virtual host', [
      field('Name', h('input', {name: 'name', required: true})),
      field('Description', h('input', {name: 'description'})),
      field('Default queue type', select('default_queue_type', [['classic', 'classic'], ['quorum', 'quorum']])),
    ], 'Add virtual host', async data => {
      await put(path`/vhosts/${data.get('name')}`, {description: data.get('description'), default_queue_type: data.get('default_queue_type')});
      await refresh();
      return data.get('name');
    }, name => `Added ${name}; you may use it.`),
    form('Set a limit', [
      field('Virtual host', vhostSelect(false)),
      field('Limit', select('limit', LIMITS.map(([k, d]) => [k, `${k}: ${d}`]))),
      field('Value', h('input', {name: 'value', type: 'number', min: -1}), 'empty or -1 removes the limit'),
    ], 'Set limit', async data => {
      const v = data.get('value');
      if (v === '' || Number(v) < 0) await del(path`/vhost-limits/${data.get('vhost')}/${data.get('limit')}`);
      else await put(path`/vhost-limits/${data.get('vhost')}/${data.get('limit')}`, {value: Number(v)});
      await refresh();
    }, 'Limit saved.'),
  ];
  main.append(h('h2', {}, 'Virtual hosts'), vhosts.el, h('div', {class: 'forms'}, forms));
  return {title: 'Virtual hosts', refresh};
}
