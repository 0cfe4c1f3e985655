// The queues list (one page at a time from the API) and a queue's page.

import {del, get, path, post, put} from '../api.js';
import {actionButton, field, form, h, num, rate, replace, select, setText, Table, yesNo} from '../dom.js';
import {series} from '../chart.js';
import {listState, PagedList} from '../list.js';
import {bindForm, bindingsTable, facts, argsText, jsonArea, objectLink, publishForm, readJSON, vhostSelect} from './common.js';
import {chartPanel, DEPTHS, depths, RATES, rates} from './overview.js';

const state = {...listState(), vhost: ''};

// mountQueues lists the queues of one vhost or of all.
export function mountQueues(main) {
  const list = new PagedList({
    path: () => (state.vhost ? path`/queues/${state.vhost}` : '/queues'),
    state,
    what: 'Queues',
    key: q => `${q.vhost}\u0000${q.name}`,
    empty: 'No queue matches.',
    columns: [
      {label: 'Name', header: true, sort: 'name', cell: q => objectLink('queues', q.vhost, q.name)},
      {label: 'Virtual host', sort: 'vhost', text: q => q.vhost},
      {label: 'Type', sort: 'type', text: q => q.type},
      {label: 'Features', text: q => [q.durable && 'durable', q.auto_delete && 'auto-delete', q.exclusive && 'exclusive'].filter(Boolean).join(', ')},
      {label: 'State', text: q => q.state},
      {label: 'Ready', num: true, sort: 'messages_ready', text: q => num(q.messages_ready)},
      {label: 'Unacked', num: true, sort: 'messages_unacknowledged', text: q => num(q.messages_unacknowledged)},
      {label: 'Total', num: true, sort: 'messages', text: q => num(q.messages)},
      {label: 'Consumers', num: true, sort: 'consumers', text: q => num(q.consumers)},
      {label: 'In / s', num: true, text: q => rate(q.message_stats?.publish_details?.rate)},
      {label: 'Out / s', num: true, text: q => rate(q.message_stats?.deliver_get_details?.rate)},
    ],
  });
  const vhost = vhostSelect(true, state.vhost);
  vhost.setAttribute('aria-label', 'Virtual host');
  vhost.addEventListener('change', () => {
    state.vhost = vhost.value;
    list.go(1);
  });
  list.el.querySelector('.toolbar').prepend(h('label', {}, 'In ', vhost));

  const add = form('Add a queue', [
    field('Virtual host', vhostSelect(false)),
    field('Name', h('input', {name: 'name', required: true})),
    field('Type', select('type', [['classic', 'classic'], ['quorum', 'quorum (replicated, durable)']])),
    field('Durable', h('input', {type: 'checkbox', name: 'durable', checked: true}), 'kept across restarts'),
    field('Auto-delete', h('input', {type: 'checkbox', name: 'auto_delete'}), 'deleted when its last consumer leaves'),
    field('Arguments (JSON)', jsonArea('arguments', '{"x-max-length": 10000, "x-message-ttl": 60000}')),
  ], 'Add queue', async data => {
    const args = readJSON(data.get('arguments'), 'Arguments');
    args['x-queue-type'] = data.get('type');
    const quorum = data.get('type') === 'quorum';
    await put(path`/queues/${data.get('vhost')}/${data.get('name')}`, {
      durable: quorum || !!data.get('durable'), auto_delete: !quorum && !!data.get('auto_delete'), arguments: args});
    await list.refresh();
    return data.get('name');
  }, name => `Added queue ${name}.`);

  main.append(h('h2', {}, 'Queues'), list.el, h('details', {class: 'add'}, h('summary', {}, 'Add a queue'), add));
  return {title: 'Queues', refresh: signal => list.refresh(signal)};
}

const ACK_MODES = [
  ['ack_requeue_true', 'Look only: return them to the queue (nack, requeue)'],
  ['ack_requeue_false', 'Take them: remove from the queue (ack)'],
  ['reject_requeue_true', 'Reject and requeue'],
  ['reject_requeue_false', 'Reject without requeue (dead-letter if set up)'],
];

// propsText shows a message's properties ([] or {} when it has none).
function propsText(p) {
  return p && !Array.isArray(p) && Object.keys(p).length ? JSON.stringify(p) : 'none';
}

function getForm(vhost, name, refresh) {
  const out = h('div', {class: 'messages', 'aria-live': 'polite'});
  const f = form('Get messages', [
    field('How many', h('input', {type: 'number', name: 'count', value: 1, min: 1, max: 1000})),
    field('Then', select('ackmode', ACK_MODES, 'ack_requeue_true')),
    field('Show payload as', select('encoding', [['auto', 'text when it is text, else base64'], ['base64', 'base64']])),
    field('Cut payload at (bytes)', h('input', {type: 'number', name: 'truncate', value: 50000, min: 1})),
  ], 'Get messages', async data => {
    const msgs = await post(path`/queues/${vhost}/${name}/get`, {
      count: Number(data.get('count')), ackmode: data.get('ackmode'), encoding: data.get('encoding'),
      truncate: Number(data.get('truncate')) || undefined});
    replace(out, msgs.map((m, i) => h('article', {class: 'message'},
      h('h4', {}, `Message ${i + 1}`),
      h('dl', {class: 'facts'},
        h('dt', {}, 'Exchange'), h('dd', {}, m.exchange || '(default exchange)'),
        h('dt', {}, 'Routing key'), h('dd', {}, m.routing_key),
        h('dt', {}, 'Redelivered'), h('dd', {}, yesNo(m.redelivered)),
        h('dt', {}, 'Left in queue'), h('dd', {}, num(m.message_count)),
        h('dt', {}, 'Properties'), h('dd', {}, propsText(m.properties)),
        h('dt', {}, `Payload (${num(m.payload_bytes)} bytes, ${m.payload_encoding})`), h('dd', {}, h('pre', {class: 'payload'}, m.payload))))));
    await refresh();
    return msgs.length;
  }, n => (n ? `Got ${n} message${n > 1 ? 's' : ''}.` : 'The queue is empty.'));
  f.append(out);
  return f;
}

// mountQueue is one queue's page.
export function mountQueue(main, [vhost, name]) {
  const stats = DEPTHS.map(d => [d.key, h('strong', {id: `queue-${d.key}`})]);
  const consumersCount = h('strong', {id: 'queue-consumers'});
  const info = facts();
  const depthChart = chartPanel('Queued messages', DEPTHS, num);
  const rateChart = chartPanel('Message rates', RATES, rate, 'This node does not report message rates for queues yet.');
  const depthSeries = series(`queue-depth ${vhost} ${name}`);
  const rateSeries = series(`queue-rates ${vhost} ${name}`);
  const consumers = new Table({
    key: c => `${c.channel_details?.name} ${c.consumer_tag}`,
    empty: 'No consumers.',
    columns: [
      {label: 'Consumer tag', text: c => c.consumer_tag},
      {label: 'Channel', text: c => c.channel_details?.name},
      {label: 'From', text: c => `${c.channel_details?.peer_host}:${c.channel_details?.peer_port}`},
      {label: 'Acknowledges', text: c => yesNo(c.ack_required)},
      {label: 'Prefetch', num: true, text: c => (c.prefetch_count ? num(c.prefetch_count) : 'none')},
      {label: 'Active', text: c => yesNo(c.active)},
    ],
  });
  let page;
  const refreshBindings = async () => bindings.update(await get(path`/queues/${vhost}/${name}/bindings`));
  const bindings = bindingsTable(vhost, 'Bindings to this queue', refreshBindings);
  const gone = h('p', {class: 'health bad', hidden: true}, 'This queue no longer exists.');

  main.append(
    h('p', {class: 'crumbs'}, h('a', {href: '#/queues'}, 'Queues'), ` › virtual host ${vhost}`),
    h('h2', {}, `Queue ${name}`), gone,
    h('div', {class: 'stats'},
      stats.map(([k, el]) => h('div', {class: 'stat'}, h('span', {}, `Messages ${DEPTHS.find(d => d.key === k).label.toLowerCase()}`), el)),
      h('div', {class: 'stat'}, h('span', {}, 'Consumers'), consumersCount)),
    h('div', {class: 'charts'}, depthChart.el, rateChart.el),
    h('section', {class: 'panel'}, h('h3', {}, 'Details'), info.el),
    h('section', {class: 'panel'}, h('h3', {}, 'Consumers'), h('div', {class: 'scroll'}, consumers.el)),
    h('section', {class: 'panel'}, h('div', {class: 'scroll'}, bindings.el)),
    h('div', {class: 'forms'},
      bindForm(vhost, {toQueue: name}, refreshBindings),
      publishForm(vhost, '', name),
      getForm(vhost, name, () => page.refresh())),
    h('section', {class: 'panel danger-zone'}, h('h3', {}, 'Purge or delete'),
      actionButton('Purge messages', async () => {
        await del(path`/queues/${vhost}/${name}/contents`);
        await page.refresh();
      }, {confirm: `Remove every ready message from ${name}? Unacknowledged ones stay with their consumers.`, danger: true}),
      ' ',
      actionButton('Delete queue', async () => {
        await del(path`/queues/${vhost}/${name}`);
        location.hash = '#/queues';
      }, {confirm: `Delete queue ${name} and every message in it?`, danger: true})),
  );

  function record(q) {
    depthSeries.add(depths(q));
    const r = rates(q.message_stats);
    if (r) rateSeries.add(r);
    for (const [k, el] of stats) setText(el, num(q[k]));
    setText(consumersCount, num(q.consumers));
    depthChart.draw(depthSeries);
    rateChart.draw(rateSeries, rateSeries.samples.length > 0);
  }

  page = {
    title: `Queue ${name}`,
    async refresh(signal) {
      let q;
      try {
        q = await get(path`/queues/${vhost}/${name}`, {signal});
      } catch (e) {
        gone.hidden = e.status !== 404;
        if (e.status === 404) return;
        throw e;
      }
      gone.hidden = true;
      record(q);
      info.update({
        'Virtual host': q.vhost, Type: q.type, State: q.state, Durable: yesNo(q.durable),
        'Auto-delete': yesNo(q.auto_delete), Exclusive: yesNo(q.exclusive), Node: q.node,
        Members: (q.members || []).join(', ') || '–', Arguments: argsText(q.arguments),
        Policy: q.policy || 'none', 'Operator policy': q.operator_policy || 'none',
        'Policy in force': argsText(q.effective_policy_definition)});
      consumers.update(q.consumer_details || []);
      bindings.update(await get(path`/queues/${vhost}/${name}/bindings`, {signal}));
    },
    async sample(signal) {
      record(await get(path`/queues/${vhost}/${name}?columns=messages,messages_ready,messages_unacknowledged,consumers,message_stats`, {signal}));
    },
  };
  return page;
}
