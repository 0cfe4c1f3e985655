// What the exchange and queue pages share: the vhost choice, JSON
// fields, object facts, bindings and the publish form.

import {del, get, path, post} from '../api.js';
import {actionButton, field, form, h, notify, replace, select, setText, Table} from '../dom.js';

// vhostNames answers the names of the vhosts the user may see.
export async function vhostNames(signal) {
  const vs = await get('/vhosts?columns=name', {signal});
  return vs.map(v => v.name);
}

// vhostSelect is a <select name="vhost"> filled once the vhosts are
// known; withAll adds "every virtual host" as "".
export function vhostSelect(withAll, selected = '/') {
  const s = h('select', {name: 'vhost'});
  if (withAll) s.append(h('option', {value: ''}, 'every virtual host'));
  vhostNames().then(names => {
    for (const n of names) s.append(h('option', {value: n, selected: n === selected}, n));
  }).catch(e => notify(e.message));
  return s;
}

// readJSON parses an optional JSON object field: '' is {}.
export function readJSON(text, what) {
  if (!text || !text.trim()) return {};
  let v;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON: ${e.message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} must be a JSON object, such as {"x-max-length": 1000}.`);
  return v;
}

// jsonArea is a textarea for an optional JSON object.
export function jsonArea(name, placeholder) {
  return h('textarea', {name, rows: 2, placeholder, spellcheck: false});
}

// exchangePath names an exchange in a path ("" is amq.default).
export const exchangeName = n => n || 'amq.default';

// exchangeLabel shows an exchange's name ("" is the default exchange).
export const exchangeLabel = n => n || '(default exchange)';

// link is an in-console link to an exchange or a queue page.
export function objectLink(kind, vhost, name, text) {
  return h('a', {href: `#/${kind}/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`}, text ?? name);
}

// facts is a <dl> kept up to date: facts.update({label: value}).
export function facts() {
  const el = h('dl', {class: 'facts'});
  const dds = new Map();
  return {
    el,
    update(pairs) {
      for (const [k, v] of Object.entries(pairs)) {
        let dd = dds.get(k);
        if (!dd) {
          dd = h('dd');
          dds.set(k, dd);
          el.append(h('dt', {}, k), dd);
        }
        setText(dd, v);
      }
    },
  };
}

// args renders an arguments table.
export function argsText(a) {
  const keys = Object.keys(a || {});
  return keys.length ? keys.map(k => `${k} = ${JSON.stringify(a[k])}`).join(', ') : 'none';
}

// bindingsTable lists bindings with an unbind button (not for the
// default exchange's implicit ones); refresh is called after a change.
export function bindingsTable(vhost, caption, refresh) {
  return new Table({
    caption,
    key: b => `${b.source}\u0000${b.destination_type}\u0000${b.destination}\u0000${b.properties_key}`,
    empty: 'No bindings.',
    columns: [
      {label: 'From exchange', cell: b => (b.source ? objectLink('exchanges', vhost, b.source) : exchangeLabel(''))},
      {label: 'To', cell: b => objectLink(b.destination_type === 'queue' ? 'queues' : 'exchanges', vhost, b.destination,
        `${b.destination_type} ${b.destination}`)},
      {label: 'Routing key', text: b => b.routing_key},
      {label: 'Arguments', text: b => argsText(b.arguments)},
      {label: 'Actions', cell: b => (b.source ? actionButton('Unbind', async () => {
        const d = b.destination_type === 'queue' ? 'q' : 'e';
        await del(path`/bindings/${vhost}/e/${b.source}/` + d + path`/${b.destination}/${b.properties_key}`);
        await refresh();
      }, {confirm: `Remove the binding from ${b.source} to ${b.destination} with key "${b.routing_key}"?`}) : '')},
    ],
  });
}

// bindForm adds a binding: from the exchange to a queue or exchange
// (fromExchange), or to the queue from an exchange (toQueue).
export function bindForm(vhost, {fromExchange, toQueue}, refresh) {
  const fields = toQueue
    ? [field('From exchange', h('input', {name: 'source', required: true}))]
    : [field('To', select('dtype', [['q', 'queue'], ['e', 'exchange']])), field('Name', h('input', {name: 'destination', required: true}))];
  return form('Add a binding', [...fields,
    field('Routing key', h('input', {name: 'routing_key'})),
    field('Arguments (JSON)', jsonArea('arguments', '{"x-match": "any"}'))],
  'Bind', async data => {
    const source = toQueue ? data.get('source') : fromExchange;
    const d = toQueue ? 'q' : data.get('dtype');
    const dest = toQueue ? toQueue : data.get('destination');
    await post(path`/bindings/${vhost}/e/${source}/` + d + path`/${dest}`,
      {routing_key: data.get('routing_key'), arguments: readJSON(data.get('arguments'), 'Arguments')});
    await refresh();
  }, 'Bound.');
}

// publishForm publishes a message through an exchange; key fixes the
// routing key (a queue's page publishes through the default exchange).
export function publishForm(vhost, exchange, key) {
  return form('Publish a message', [
    key === undefined ? field('Routing key', h('input', {name: 'routing_key'})) : h('p', {class: 'muted'}, `Sent through the default exchange with routing key "${key}".`),
    field('Payload', h('textarea', {name: 'payload', rows: 4, 'aria-label': 'Payload'})),
    field('Persistent', h('input', {type: 'checkbox', name: 'persistent'}), 'written to disk in a durable queue'),
    field('Headers (JSON)', jsonArea('headers', '{"trace": "abc"}')),
    field('Other properties (JSON)', jsonArea('properties', '{"content_type": "text/plain", "expiration": "60000"}')),
  ], 'Publish', async data => {
    const props = readJSON(data.get('properties'), 'Other properties');
    const headers = readJSON(data.get('headers'), 'Headers');
    if (Object.keys(headers).length) props.headers = headers;
    if (data.get('persistent')) props.delivery_mode = 2;
    const r = await post(path`/exchanges/${vhost}/${exchangeName(exchange)}/publish`, {
      routing_key: key ?? data.get('routing_key'), properties: props,
      payload: data.get('payload'), payload_encoding: 'string'});
    return r.routed;
  }, routed => (routed ? 'Published: the message was routed to a queue.' : 'Published, but no queue took it: nothing is bound with that key.'));
}

// showList replaces el's children with a list of texts, or none.
export function showList(el, items, none) {
  if (!items.length) replace(el, h('p', {class: 'muted'}, none));
  else replace(el, h('ul', {}, items.map(i => h('li', {}, i))));
}
