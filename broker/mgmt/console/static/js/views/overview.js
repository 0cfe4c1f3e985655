// The overview (totals, charts, node health, listeners) and the nodes
// page.

import {get} from '../api.js';
import {bytes, h, num, rate, replace, setText, Table, yesNo} from '../dom.js';
import {Chart, series} from '../chart.js';

// The rates of RabbitMQ's message_stats the console charts, when the
// node reports them.
export const RATES = [
  {key: 'publish', label: 'Published'},
  {key: 'confirm', label: 'Confirmed'},
  {key: 'deliver_get', label: 'Delivered'},
  {key: 'redeliver', label: 'Redelivered'},
  {key: 'ack', label: 'Acknowledged'},
];

// DEPTHS are queue_totals' (and a queue's) message counts.
export const DEPTHS = [
  {key: 'messages_ready', label: 'Ready'},
  {key: 'messages_unacknowledged', label: 'Unacknowledged'},
  {key: 'messages', label: 'Total'},
];

// rates picks the x_details.rate figures of a message_stats object, or
// null when it has none.
export function rates(stats) {
  if (!stats) return null;
  const out = {};
  let any = false;
  for (const r of RATES) {
    const v = stats[`${r.key}_details`]?.rate;
    if (typeof v === 'number') { out[r.key] = v; any = true; }
  }
  return any ? out : null;
}

// depths picks the message counts of an object with them.
export function depths(o) {
  const out = {};
  for (const d of DEPTHS) if (typeof o?.[d.key] === 'number') out[d.key] = o[d.key];
  return out;
}

// chartPanel is a titled canvas with its legend; note is shown instead
// of the chart when there is nothing to draw.
export function chartPanel(title, lines, format, note) {
  const canvas = h('canvas', {class: 'chart', role: 'img', 'aria-label': `${title} over the last minutes (sampled every 5 seconds)`});
  const legend = h('ul', {class: 'legend'});
  const noteEl = h('p', {class: 'muted', hidden: true}, note || '');
  const panel = h('section', {class: 'panel chart-panel'}, h('h3', {}, title), canvas, legend, noteEl);
  const chart = new Chart(canvas, legend, lines, format);
  return {
    el: panel,
    draw(s, available = true) {
      canvas.hidden = legend.hidden = !available;
      noteEl.hidden = available;
      if (available) chart.draw(s);
    },
  };
}

function stat(label, id) {
  const value = h('strong', {id});
  return {el: h('div', {class: 'stat'}, h('span', {}, label), value), value};
}

const nodeColumns = [
  {label: 'Node', header: true, text: n => n.name},
  {label: 'Running', text: n => yesNo(n.running !== false)},
  {label: 'Memory used', num: true, text: n => (typeof n.mem_used === 'number' ? bytes(n.mem_used) : '–')},
  {label: 'Memory alarm at', num: true, text: n => (n.mem_limit ? bytes(n.mem_limit) : 'none')},
  {label: 'Disk free', num: true, text: n => (typeof n.disk_free === 'number' ? bytes(n.disk_free) : '–')},
  {label: 'Disk alarm below', num: true, text: n => bytes(n.disk_free_limit)},
  {label: 'Alarms', text: n => alarmText(n)},
];

function alarmText(n) {
  const a = [];
  if (n.mem_alarm) a.push('memory: publishers blocked');
  if (n.disk_free_alarm) a.push('disk: publishers blocked');
  if (n.running === false) a.push('node down');
  return a.length ? a.join('; ') : 'none';
}

// nodesTable lists /api/nodes.
function nodesTable() {
  return new Table({columns: nodeColumns, key: n => n.name, empty: 'No node answered.'});
}

// mountOverview builds the overview.
export function mountOverview(main, _params, ctx) {
  const totals = ['connections', 'channels', 'exchanges', 'queues', 'consumers'].map(k => [k, stat(k[0].toUpperCase() + k.slice(1), `total-${k}`)]);
  const msgs = DEPTHS.map(d => [d.key, stat(`Messages ${d.label.toLowerCase()}`, `total-${d.key}`)]);
  const depthChart = chartPanel('Queued messages', DEPTHS, num);
  const rateChart = chartPanel('Message rates', RATES, rate,
    'This node does not report message rates (message_stats) yet; queued messages are sampled every 5 seconds.');
  const alarms = h('p', {id: 'alarms', class: 'health'});
  const listeners = new Table({
    columns: [
      {label: 'Protocol', text: l => l.protocol},
      {label: 'Address', text: l => l.ip_address},
      {label: 'Port', num: true, text: l => l.port},
      {label: 'Node', text: l => l.node},
    ],
    key: l => `${l.node} ${l.protocol} ${l.ip_address}:${l.port}`,
  });
  const nodes = ctx.monitor ? nodesTable() : null;
  main.append(
    h('h2', {}, 'Overview'),
    h('div', {class: 'stats'}, totals.map(([, s]) => s.el), msgs.map(([, s]) => s.el)),
    h('div', {class: 'charts'}, depthChart.el, rateChart.el),
    h('section', {class: 'panel'}, h('h3', {}, 'Node health'), alarms,
      nodes ? h('div', {class: 'scroll'}, nodes.el) : h('p', {class: 'muted'}, 'Memory and disk figures need the monitoring or administrator tag.')),
    h('section', {class: 'panel'}, h('h3', {}, 'Listeners'), h('div', {class: 'scroll'}, listeners.el)),
  );
  const depthSeries = series('overview-depth');
  const rateSeries = series('overview-rates');

  function record(o) {
    depthSeries.add(depths(o.queue_totals));
    const r = rates(o.message_stats);
    if (r) rateSeries.add(r);
    for (const [k, s] of msgs) setText(s.value, num(o.queue_totals?.[k]));
    depthChart.draw(depthSeries);
    rateChart.draw(rateSeries, rateSeries.samples.length > 0);
  }

  return {
    title: 'Overview',
    async refresh(signal) {
      const [o, health, ns] = await Promise.all([
        get('/overview', {signal}),
        get('/health/checks/alarms', {signal, accept: [503]}),
        nodes ? get('/nodes', {signal}) : null,
      ]);
      for (const [k, s] of totals) setText(s.value, num(o.object_totals?.[k]));
      record(o);
      listeners.update(o.listeners || []);
      if (nodes) nodes.update(ns);
      if (health.status === 'ok') {
        alarms.className = 'health ok';
        setText(alarms, 'No alarms: publishers are not blocked.');
      } else {
        alarms.className = 'health bad';
        setText(alarms, `Alarm: ${(health.alarms || []).map(a => `${a.resource} on ${a.node}`).join(', ')}. Publishers are blocked until it clears.`);
      }
    },
    async sample(signal) {
      record(await get('/overview?columns=queue_totals,message_stats', {signal}));
    },
  };
}

// mountNodes lists every node of the cluster /api/nodes reports.
export function mountNodes(main) {
  const nodes = nodesTable();
  const detail = h('div');
  main.append(h('h2', {}, 'Nodes'),
    h('p', {class: 'muted'}, 'Every member of the cluster the node you are connected to knows of.'),
    h('div', {class: 'scroll'}, nodes.el), detail);
  return {
    title: 'Nodes',
    async refresh(signal) {
      const ns = await get('/nodes', {signal});
      nodes.update(ns);
      const seen = JSON.stringify(ns.map(n => [n.name, n.type, n.running, n.being_drained, n.partitions, n.enabled_plugins]));
      if (detail.dataset.seen === seen) return;
      detail.dataset.seen = seen;
      replace(detail, ns.map(n => h('section', {class: 'panel'}, h('h3', {}, n.name),
        h('dl', {class: 'facts'},
          ['type', 'running', 'being_drained', 'partitions', 'enabled_plugins']
            .filter(k => k in n)
            .flatMap(k => [h('dt', {}, k.replaceAll('_', ' ')), h('dd', {}, Array.isArray(n[k]) ? (n[k].join(', ') || 'none') : String(n[k]))])))));
    },
  };
}
