// The exchanges list and an exchange's page.

import {del, get, path, put} from '../api.js';
import {actionButton, field, form, h, select, yesNo} from '../dom.js';
import {listState, PagedList} from '../list.js';
import {argsText, bindForm, bindingsTable, exchangeLabel, exchangeName, facts, jsonArea, objectLink, publishForm, readJSON, vhostSelect} from './common.js';

const state = {...listState(), vhost: ''};

// mountExchanges lists the exchanges of one vhost or of all.
export function mountExchanges(main) {
  const list = new PagedList({
    path: () => (state.vhost ? path`/exchanges/${state.vhost}` : '/exchanges'),
    state,
    what: 'Exchanges',
    key: x => `${x.vhost}\u0000${x.name}`,
    empty: 'No exchange matches.',
    columns: [
      {label: 'Name', header: true, sort: 'name', cell: x => objectLink('exchanges', x.vhost, exchangeName(x.name), exchangeLabel(x.name))},
      {label: 'Virtual host', sort: 'vhost', text: x => x.vhost},
      {label: 'Type', sort: 'type', text: x => x.type},
      {label: 'Features', text: x => [x.durable && 'durable', x.auto_delete && 'auto-delete', x.internal && 'internal'].filter(Boolean).join(', ')},
      {label: 'Arguments', text: x => argsText(x.arguments)},
    ],
  });
  const vhost = vhostSelect(true, state.vhost);
  vhost.setAttribute('aria-label', 'Virtual host');
  vhost.addEventListener('change', () => {
    state.vhost = vhost.value;
    list.go(1);
  });
  list.el.querySelector('.toolbar').prepend(h('label', {}, 'In ', vhost));
  const add = form('Add an exchange', [
    field('Virtual host', vhostSelect(false)),
    field('Name', h('input', {name: 'name', required: true})),
    field('Type', select('type', ['direct', 'fanout', 'topic', 'headers'])),
    field('Durable', h('input', {type: 'checkbox', name: 'durable', checked: true}), 'kept across restarts'),
    field('Auto-delete', h('input', {type: 'checkbox', name: 'auto_delete'}), 'deleted when its last binding goes'),
    field('Internal', h('input', {type: 'checkbox', name: 'internal'}), 'only other exchanges publish to it'),
    field('Arguments (JSON)', jsonArea('arguments', '{"alternate-exchange": "unrouted"}')),
  ], 'Add exchange', async data => {
    await put(path`/exchanges/${data.get('vhost')}/${data.get('name')}`, {
      type: data.get('type'), durable: !!data.get('durable'), auto_delete: !!data.get('auto_delete'),
      internal: !!data.get('internal'), arguments: readJSON(data.get('arguments'), 'Arguments')});
    await list.refresh();
    return data.get('name');
  }, name => `Added exchange ${name}.`);
  main.append(h('h2', {}, 'Exchanges'), list.el, h('details', {class: 'add'}, h('summary', {}, 'Add an exchange'), add));
  return {title: 'Exchanges', refresh: signal => list.refresh(signal)};
}

// mountExchange is one exchange's page: its bindings both ways, binding,
// publishing and deleting.
export function mountExchange(main, [vhost, name]) {
  const isDefault = name === 'amq.default' || name === '';
  const info = facts();
  const refreshBindings = async signal => {
    if (isDefault) return;
    const [out, inc] = await Promise.all([
      get(path`/exchanges/${vhost}/${name}/bindings/source`, {signal}),
      get(path`/exchanges/${vhost}/${name}/bindings/destination`, {signal}),
    ]);
    outgoing.update(out);
    incoming.update(inc);
  };
  const outgoing = bindingsTable(vhost, 'Bindings from this exchange', refreshBindings);
  const incoming = bindingsTable(vhost, 'Bindings to this exchange', refreshBindings);
  main.append(
    h('p', {class: 'crumbs'}, h('a', {href: '#/exchanges'}, 'Exchanges'), ` › virtual host ${vhost}`),
    h('h2', {}, `Exchange ${exchangeLabel(isDefault ? '' : name)}`),
    h('section', {class: 'panel'}, h('h3', {}, 'Details'), info.el),
    isDefault
      ? h('p', {class: 'muted'}, 'Every queue is bound to the default exchange with its own name as the key; those bindings cannot change.')
      : h('section', {class: 'panel'}, h('div', {class: 'scroll'}, outgoing.el), h('div', {class: 'scroll'}, incoming.el)),
    h('div', {class: 'forms'},
      isDefault ? null : bindForm(vhost, {fromExchange: name}, refreshBindings),
      publishForm(vhost, isDefault ? '' : name)),
    isDefault || name.startsWith('amq.') ? null : h('section', {class: 'panel danger-zone'}, h('h3', {}, 'Delete'),
      actionButton('Delete exchange', async () => {
        await del(path`/exchanges/${vhost}/${name}`);
        location.hash = '#/exchanges';
      }, {confirm: `Delete exchange ${name} and its bindings?`, danger: true})),
  );
  return {
    title: `Exchange ${exchangeLabel(isDefault ? '' : name)}`,
    async refresh(signal) {
      const x = await get(path`/exchanges/${vhost}/${exchangeName(isDefault ? '' : name)}`, {signal});
      info.update({'Virtual host': x.vhost, Type: x.type, Durable: yesNo(x.durable), 'Auto-delete': yesNo(x.auto_delete),
        Internal: yesNo(x.internal), Arguments: argsText(x.arguments), Policy: x.policy || 'none'});
      await refreshBindings(signal);
    },
  };
}
