// DOM helpers: an element builder, tables patched in place by key, the
// confirmation dialog and the formatting of numbers.

// h builds an element: h('a', {href: '#/', class: 'x', onclick: f}, 'text', child…).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// setText changes an element's text only when it differs, so that an
// unchanged refresh touches nothing.
export function setText(el, text) {
  text = text === undefined || text === null ? '' : String(text);
  if (el.textContent !== text) el.textContent = text;
}

// replace puts children in place of el's.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const numberFormat = new Intl.NumberFormat('en');

// num renders a count ("1,234"), or a dash when there is none.
export function num(n) {
  return typeof n === 'number' ? numberFormat.format(n) : '–';
}

// rate renders a per-second rate.
export function rate(n) {
  if (typeof n !== 'number') return '–';
  return `${n >= 100 ? Math.round(n) : Math.round(n * 10) / 10}/s`;
}

// bytes renders a size in binary units.
export function bytes(n) {
  if (typeof n !== 'number' || n < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

// when renders a time in milliseconds since the epoch.
export function when(ms) {
  return typeof ms === 'number' ? new Date(ms).toLocaleString() : '–';
}

// yesNo renders a flag.
export const yesNo = v => (v ? 'yes' : 'no');

// Table is a <table> whose rows are kept by key: update() adds, removes,
// reorders and patches rows, so focus, selection and the buttons in a
// row survive a refresh. A column is {label, text(item)} for refreshed
// text, or {label, cell(item, row)} for a node made once per row;
// sort names the API's sort key, and sorting is left to onSort.
export class Table {
  constructor({columns, key, empty = 'Nothing here.', onSort, caption}) {
    this.columns = columns;
    this.key = key;
    this.rows = new Map();
    this.sort = {key: '', reverse: false};
    this.onSort = onSort;
    this.body = h('tbody');
    this.emptyRow = h('tr', {class: 'empty'}, h('td', {colspan: columns.length}, empty));
    const head = h('tr', {}, columns.map(c => this.header(c)));
    this.el = h('table', {}, caption ? h('caption', {}, caption) : null, h('thead', {}, head), this.body);
  }

  header(c) {
    const th = h('th', {scope: 'col', class: c.num ? 'num' : ''});
    if (!c.sort || !this.onSort) {
      th.textContent = c.label;
      return th;
    }
    c.button = h('button', {type: 'button', class: 'sort', onclick: () => this.sortBy(c.sort)}, c.label);
    th.append(c.button);
    c.th = th;
    return th;
  }

  // sortBy asks for the list sorted by key, reversed on a second click.
  sortBy(key) {
    this.sort = {key, reverse: this.sort.key === key ? !this.sort.reverse : false};
    for (const c of this.columns) {
      if (!c.th) continue;
      c.th.setAttribute('aria-sort', c.sort === this.sort.key ? (this.sort.reverse ? 'descending' : 'ascending') : 'none');
    }
    this.onSort(this.sort);
  }

  update(items) {
    const seen = new Set();
    let prev = null;
    for (const it of items) {
      const k = this.key(it);
      seen.add(k);
      let row = this.rows.get(k);
      if (!row) {
        row = this.makeRow(it);
        this.rows.set(k, row);
      }
      this.patchRow(row, it);
      const want = prev ? prev.nextSibling : this.body.firstChild;
      if (want !== row.tr) this.body.insertBefore(row.tr, want);
      prev = row.tr;
    }
    for (const [k, row] of this.rows) {
      if (!seen.has(k)) {
        row.tr.remove();
        this.rows.delete(k);
      }
    }
    if (items.length === 0) this.body.replaceChildren(this.emptyRow);
    else this.emptyRow.remove();
  }

  makeRow(it) {
    const row = {tr: h('tr'), cells: [], item: it};
    row.tr.dataset.key = this.key(it);
    for (const c of this.columns) {
      const td = h(c.header ? 'th' : 'td', {class: c.num ? 'num' : '', scope: c.header ? 'row' : null});
      if (c.cell) append(td, [c.cell(it, row)]);
      row.cells.push(td);
      row.tr.append(td);
    }
    return row;
  }

  patchRow(row, it) {
    row.item = it;
    this.columns.forEach((c, i) => {
      if (c.text) setText(row.cells[i], c.text(it));
      if (c.patch) c.patch(row.cells[i], it);
    });
  }
}

// notify shows text in the page's status line (an API's error, or the
// outcome of an action); empty text hides it.
export function notify(text, kind = 'error') {
  const el = document.getElementById('status');
  el.className = `status ${kind}`;
  setText(el, text);
  el.hidden = !text;
}

// ask shows the confirmation dialog and answers true for OK; with input
// it answers the text typed (null for Cancel).
export function ask(text, {ok = 'OK', input, value = ''} = {}) {
  const dlg = document.getElementById('ask');
  document.getElementById('ask-text').textContent = text;
  document.getElementById('ask-ok').textContent = ok;
  const label = document.getElementById('ask-input-label');
  const field = document.getElementById('ask-input');
  label.hidden = !input;
  document.getElementById('ask-input-name').textContent = input || '';
  field.value = value;
  dlg.returnValue = '';
  dlg.showModal();
  (input ? field : document.getElementById('ask-cancel')).focus();
  return new Promise(resolve => {
    dlg.addEventListener('close', () => {
      const yes = dlg.returnValue === 'ok';
      resolve(input ? (yes ? field.value : null) : yes);
    }, {once: true});
  });
}

// field is a labelled form control: field('Name', h('input', {name: 'name'})).
export function field(label, control, hint) {
  const check = control.type === 'checkbox';
  return h('label', {class: check ? 'field check-field' : 'field'}, h('span', {}, label), control, hint ? h('small', {class: 'muted'}, hint) : null);
}

// form builds a form whose submit runs action(data) with a message area
// that shows the outcome: done's text, or the API's error.
export function form(title, fields, submitLabel, action, done) {
  const msg = h('p', {class: 'outcome', role: 'status'});
  const button = h('button', {type: 'submit'}, submitLabel);
  const el = h('form', {class: 'panel', 'aria-label': title}, h('h3', {}, title), fields, h('div', {class: 'actions'}, button, msg));
  el.addEventListener('submit', async ev => {
    ev.preventDefault();
    button.disabled = true;
    msg.className = 'outcome';
    setText(msg, 'Working…');
    try {
      const result = await action(new FormData(el), el);
      msg.className = 'outcome ok';
      setText(msg, typeof done === 'function' ? done(result) : done);
    } catch (e) {
      msg.className = 'outcome error';
      setText(msg, e.message);
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

// select builds a <select> of options [value, label] or values.
export function select(name, options, selected) {
  return h('select', {name}, options.map(o => {
    const [v, l] = Array.isArray(o) ? o : [o, o];
    return h('option', {value: v, selected: v === selected}, l);
  }));
}

// actionButton runs action on click, asking first when confirm is
// given, and reports failures through report.
export function actionButton(label, action, {confirm, danger, report} = {}) {
  const b = h('button', {type: 'button', class: danger ? 'danger' : ''}, label);
  b.addEventListener('click', async () => {
    if (confirm && !(await ask(confirm, {ok: label}))) return;
    b.disabled = true;
    try {
      await action();
    } catch (e) {
      (report || notify)(e.message);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}
