// Connections (closed with a reason) and channels.

import {del, path} from '../api.js';
import {actionButton, ask, h, notify, num, when, yesNo} from '../dom.js';
import {listState, PagedList} from '../list.js';

const connState = listState();
const chanState = listState();

function peer(c) {
  return c.peer_host ? `${c.peer_host}:${c.peer_port}` : '';
}

// closeConnection asks for a reason and closes the connection with it
// (the client sees 320 CONNECTION_FORCED and the reason).
async function closeConnection(c, list) {
  const reason = await ask(`Close the connection from ${peer(c)} (user ${c.user})? The client is told the reason.`,
    {ok: 'Close connection', input: 'Reason', value: 'Closed via management console'});
  if (reason === null) return;
  await del(path`/connections/${c.name}`, {headers: {'X-Reason': reason}});
  notify(`Closed the connection from ${peer(c)}.`, 'ok');
  await list.refresh();
}

// mountConnections lists the connections the user may see.
export function mountConnections(main) {
  const list = new PagedList({
    path: () => '/connections',
    state: connState,
    what: 'Connections',
    key: c => c.name,
    empty: 'No client is connected.',
    columns: [
      {label: 'Client', header: true, sort: 'name', text: c => c.user_provided_name || c.client_properties?.product || c.name},
      {label: 'From', text: peer},
      {label: 'User', sort: 'user', text: c => c.user},
      {label: 'Virtual host', sort: 'vhost', text: c => c.vhost},
      {label: 'Channels', num: true, sort: 'channels', text: c => num(c.channels)},
      {label: 'TLS', text: c => yesNo(c.ssl)},
      {label: 'Node', text: c => c.node},
      {label: 'Connected', sort: 'connected_at', text: c => when(c.connected_at)},
      {label: 'Actions', cell: (c, row) => actionButton('Close…', () => closeConnection(row.item, list), {danger: true})},
    ],
  });
  main.append(h('h2', {}, 'Connections'), list.el);
  return {title: 'Connections', refresh: signal => list.refresh(signal)};
}

// mountChannels lists the channels the user may see.
export function mountChannels(main) {
  const list = new PagedList({
    path: () => '/channels',
    state: chanState,
    what: 'Channels',
    key: c => c.name,
    empty: 'No channel is open.',
    columns: [
      {label: 'Channel', header: true, sort: 'name', text: c => c.name},
      {label: 'User', sort: 'user', text: c => c.user},
      {label: 'Virtual host', sort: 'vhost', text: c => c.vhost},
      {label: 'Prefetch', num: true, sort: 'prefetch_count', text: c => (c.prefetch_count ? num(c.prefetch_count) : 'none')},
      {label: 'Consumers', num: true, sort: 'consumer_count', text: c => num(c.consumer_count)},
      {label: 'Unacknowledged', num: true, sort: 'messages_unacknowledged', text: c => num(c.messages_unacknowledged)},
      {label: 'Node', text: c => c.node},
    ],
  });
  main.append(h('h2', {}, 'Channels'), list.el);
  return {title: 'Channels', refresh: signal => list.refresh(signal)};
}
