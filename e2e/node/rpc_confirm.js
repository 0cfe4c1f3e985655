'use strict';
// rpc_confirm.js drives a broker through Node's amqplib the way Node
// services use it, and prints one line of JSON with what it saw, for
// e2e/amqplib_test.go to assert.
//
// Usage: node rpc_confirm.js AMQP_URL NAME_PREFIX N
//
// 1. A confirm channel publishes N persistent messages with properties and
//    waits for every confirm.
// 2. A consumer with prefetch and manual acks reads them back, checking
//    body, order and properties, and that the broker keeps to the prefetch
//    window (no more than PREFETCH unacked at once; the rest stay ready).
// 3. A topic exchange routes to a server-named queue through two bindings.
// 4. RPC round trips through direct reply-to (amq.rabbitmq.reply-to).
// 5. A passive declare of a missing queue closes the channel with 404, and
//    the connection stays usable.
//
// On success it prints {"ok":true,...} and exits 0; on any failure it
// prints {"ok":false,"error":"..."} and exits 1. Every wait is bounded.

const amqp = require('amqplib');

const PREFETCH = 10;
const DEADLINE_MS = 20000;

const [url, prefix, nArg] = process.argv.slice(2);
const N = Number.parseInt(nArg, 10);
if (!url || !prefix || !(N > 0) || N % PREFETCH !== 0) {
  console.log(JSON.stringify({ ok: false, error: `usage: rpc_confirm.js URL PREFIX N (N a positive multiple of ${PREFETCH})` }));
  process.exit(2);
}

function fail(msg) {
  throw new Error(msg);
}

// within rejects when p does not settle within ms.
function within(p, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

// publishConfirmed publishes on a confirm channel, honouring back-pressure,
// and resolves with the broker's verdict for this one message.
async function publishConfirmed(ch, exchange, key, body, options) {
  let verdict;
  const confirmed = new Promise((resolve) => {
    verdict = resolve;
  });
  const ok = ch.publish(exchange, key, Buffer.from(body), options, (err) => verdict(err ? 'nack' : 'ack'));
  if (!ok) await within(new Promise((resolve) => ch.once('drain', resolve)), 5000, 'drain');
  return confirmed;
}

async function confirmAndConsume(conn, result) {
  const q = `${prefix}.work`;
  const pub = await conn.createConfirmChannel();
  await pub.assertQueue(q, { durable: false, autoDelete: false });

  const verdicts = [];
  for (let i = 0; i < N; i++) {
    verdicts.push(
      publishConfirmed(pub, '', q, `msg-${i}`, {
        persistent: true,
        contentType: 'text/plain',
        headers: { seq: i, origin: 'node' },
        correlationId: `corr-${i}`,
        replyTo: 'replies',
        messageId: `id-${i}`,
      }),
    );
  }
  await within(pub.waitForConfirms(), 5000, 'waitForConfirms');
  const all = await within(Promise.all(verdicts), 5000, 'per-message confirms');
  result.published = N;
  result.acked = all.filter((v) => v === 'ack').length;
  result.nacked = all.filter((v) => v === 'nack').length;
  result.readyAfterPublish = (await pub.checkQueue(q)).messageCount;

  const sub = await conn.createChannel();
  await sub.prefetch(PREFETCH);
  let consumed = 0;
  let unacked = 0;
  let maxUnacked = 0;
  let readyAtFullWindow = -1;
  let last = null;
  let settle;
  const done = new Promise((resolve, reject) => {
    settle = { resolve, reject };
  });
  const check = (msg) => {
    const i = consumed;
    const body = msg.content.toString();
    const p = msg.properties;
    if (body !== `msg-${i}`) return `delivery ${i}: body ${JSON.stringify(body)}, want "msg-${i}"`;
    if (msg.fields.redelivered) return `delivery ${i}: flagged redelivered`;
    if (msg.fields.routingKey !== q || msg.fields.exchange !== '') return `delivery ${i}: exchange/key ${msg.fields.exchange}/${msg.fields.routingKey}`;
    if (p.deliveryMode !== 2) return `delivery ${i}: deliveryMode ${p.deliveryMode}, want 2 (persistent)`;
    if (p.contentType !== 'text/plain') return `delivery ${i}: contentType ${p.contentType}`;
    if (p.correlationId !== `corr-${i}`) return `delivery ${i}: correlationId ${p.correlationId}`;
    if (p.replyTo !== 'replies') return `delivery ${i}: replyTo ${p.replyTo}`;
    if (p.messageId !== `id-${i}`) return `delivery ${i}: messageId ${p.messageId}`;
    if (!p.headers || p.headers.seq !== i || p.headers.origin !== 'node') return `delivery ${i}: headers ${JSON.stringify(p.headers)}`;
    return null;
  };
  const { consumerTag } = await sub.consume(
    q,
    (msg) => {
      if (msg === null) return settle.reject(new Error('consumer cancelled by the broker'));
      const bad = check(msg);
      if (bad) return settle.reject(new Error(bad));
      consumed++;
      unacked++;
      maxUnacked = Math.max(maxUnacked, unacked);
      last = msg;
      if (unacked < PREFETCH && consumed < N) return;
      const ackWindow = () => {
        // One multiple ack settles the whole window.
        sub.ack(last, true);
        unacked = 0;
        if (consumed === N) settle.resolve();
      };
      if (readyAtFullWindow >= 0) return ackWindow();
      // Still counting the first window: it is acked when the count is in
      // (maxUnacked has recorded any delivery past the window).
      if (readyAtFullWindow === -2) return;
      // The first full window: with the prefetch honoured nothing more is
      // delivered until we ack, so exactly N - PREFETCH stay ready.
      readyAtFullWindow = -2;
      pub.checkQueue(q).then((ok) => {
        readyAtFullWindow = ok.messageCount;
        ackWindow();
      }, settle.reject);
    },
    { noAck: false },
  );
  await within(done, 10000, `consuming ${N} messages (got ${consumed})`);
  await sub.cancel(consumerTag);
  // Closing the channel would requeue anything not acked: the queue is
  // empty afterwards only if every ack reached the broker.
  await sub.close();
  result.consumed = consumed;
  result.maxUnacked = maxUnacked;
  result.readyAtFullWindow = readyAtFullWindow;
  result.readyAfterAcks = (await pub.checkQueue(q)).messageCount;
  await pub.deleteQueue(q);
  await pub.close();
}

async function topic(conn, result) {
  const x = `${prefix}.topic`;
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange(x, 'topic', { durable: false, autoDelete: false });
  const { queue } = await ch.assertQueue('', { exclusive: true });
  result.serverNamedQueue = queue.startsWith('amq.gen-');
  await ch.bindQueue(queue, x, 'stock.*.nyse');
  await ch.bindQueue(queue, x, 'news.#');
  const keys = ['stock.ibm.nyse', 'stock.ibm.nasdaq', 'news', 'stock.nyse', 'news.tech.ai', 'weather.nyse'];
  for (const key of keys) ch.publish(x, key, Buffer.from(key));
  await within(ch.waitForConfirms(), 5000, 'topic confirms');
  // Confirmed means routed and enqueued, so the count is final.
  result.topicQueued = (await ch.checkQueue(queue)).messageCount;
  const routed = [];
  for (;;) {
    const msg = await ch.get(queue, { noAck: true });
    if (msg === false) break;
    routed.push(msg.fields.routingKey);
  }
  result.topicRouted = routed;
  await ch.deleteExchange(x);
  await ch.close();
}

async function rpc(conn, result) {
  const q = `${prefix}.rpc`;
  // The server: uppercases each request and replies to its replyTo.
  const srv = await conn.createChannel();
  await srv.assertQueue(q, { durable: false, autoDelete: false });
  const replyTos = new Set();
  await srv.consume(q, (msg) => {
    if (msg === null) return;
    replyTos.add(msg.properties.replyTo);
    srv.sendToQueue(msg.properties.replyTo, Buffer.from(msg.content.toString().toUpperCase()), {
      correlationId: msg.properties.correlationId,
    });
    srv.ack(msg);
  });

  // The client: consume from the pseudo-queue (no-ack, before publishing),
  // then send requests that name it as their replyTo.
  const cli = await conn.createChannel();
  const pending = new Map();
  await cli.consume(
    'amq.rabbitmq.reply-to',
    (msg) => {
      if (msg === null) return;
      const waiter = pending.get(msg.properties.correlationId);
      if (waiter) waiter(msg.content.toString());
    },
    { noAck: true },
  );
  const requests = ['ping', 'hello', 'warren'];
  const replies = await within(
    Promise.all(
      requests.map((body, i) => {
        const id = `rpc-${i}`;
        const reply = new Promise((resolve) => pending.set(id, resolve));
        cli.sendToQueue(q, Buffer.from(body), { replyTo: 'amq.rabbitmq.reply-to', correlationId: id });
        return reply;
      }),
    ),
    5000,
    'direct reply-to replies',
  );
  result.rpcReplies = replies;
  // The broker rewrites the pseudo-queue name into a routable one.
  result.rpcReplyTo = [...replyTos].every((r) => r.startsWith('amq.rabbitmq.reply-to.')) && replyTos.size === 1;
  await srv.deleteQueue(q);
  await cli.close();
  await srv.close();
}

async function notFound(conn, result) {
  const missing = `${prefix}.missing`;
  const ch = await conn.createChannel();
  const events = { error: null, closed: false };
  ch.on('error', (err) => {
    events.error = err;
  });
  const closed = new Promise((resolve) => ch.on('close', resolve));
  try {
    await ch.checkQueue(missing);
    fail(`passive declare of ${missing} succeeded`);
  } catch (err) {
    result.notFound = { code: err.code, classId: err.classId, methodId: err.methodId, message: err.message };
  }
  await within(closed, 5000, 'channel close after 404');
  result.notFound.channelError = events.error ? events.error.message : null;
  // A channel exception leaves the connection and its other channels alone.
  const probe = await conn.createChannel();
  await probe.checkExchange('amq.direct');
  await probe.close();
  result.connectionUsable = true;
}

async function main() {
  const result = { ok: false };
  const conn = await amqp.connect(url);
  let connErr = null;
  conn.on('error', (err) => {
    connErr = err;
  });
  await confirmAndConsume(conn, result);
  await topic(conn, result);
  await rpc(conn, result);
  await notFound(conn, result);
  await conn.close();
  if (connErr) fail(`connection error: ${connErr.message}`);
  result.ok = true;
  return result;
}

const guard = setTimeout(() => {
  console.log(JSON.stringify({ ok: false, error: `did not finish within ${DEADLINE_MS} ms` }));
  process.exit(1);
}, DEADLINE_MS);

main().then(
  (result) => {
    clearTimeout(guard);
    console.log(JSON.stringify(result));
  },
  (err) => {
    clearTimeout(guard);
    console.log(JSON.stringify({ ok: false, error: String(err && err.stack ? err.stack : err) }));
    process.exit(1);
  },
);
