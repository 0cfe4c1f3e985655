// PagedList: one page of an API list at a time, as RabbitMQ's API pages
// it (page, page_size, name, use_regex, sort, sort_reverse), so a list
// of 10,000 queues costs one page's worth of JSON and rows.

import {get, query} from './api.js';
import {h, num, setText, Table} from './dom.js';

export const PAGE_SIZES = [20, 50, 100, 500];

// PagedList shows the list at path(): a filter, the page size, the table
// and the pager. state ({page, size, name, regex, sort, reverse}) is the
// caller's, so that it survives leaving the page and coming back.
export class PagedList {
  constructor({path, columns, key, state, empty, what, columnsParam}) {
    this.path = path;
    this.state = state;
    this.what = what;
    this.columnsParam = columnsParam;
    this.table = new Table({columns, key, empty, onSort: s => this.sortBy(s)});
    this.table.sort = {key: state.sort || '', reverse: !!state.reverse};

    this.filter = h('input', {type: 'search', class: 'filter', value: state.name || '', placeholder: 'part of a name',
      'aria-label': `Filter ${what} by name`, 'data-filter': ''});
    this.regex = h('input', {type: 'checkbox', checked: !!state.regex});
    this.size = h('select', {'aria-label': 'Rows per page'},
      PAGE_SIZES.map(n => h('option', {value: n, selected: n === state.size}, `${n} a page`)));
    this.summary = h('span', {class: 'muted', role: 'status'});
    this.prev = h('button', {type: 'button', onclick: () => this.go(this.state.page - 1)}, '← Previous');
    this.next = h('button', {type: 'button', onclick: () => this.go(this.state.page + 1)}, 'Next →');
    this.pageLabel = h('span', {class: 'page-of'});

    let timer;
    this.filter.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.setFilter(), 250);
    });
    this.filter.addEventListener('keydown', ev => {
      if (ev.key === 'Enter') { ev.preventDefault(); clearTimeout(timer); this.setFilter(); }
    });
    this.regex.addEventListener('change', () => this.setFilter());
    this.size.addEventListener('change', () => {
      this.state.size = Number(this.size.value);
      this.go(1);
    });

    this.el = h('div', {class: 'list'},
      h('div', {class: 'toolbar'},
        h('label', {}, 'Filter ', this.filter),
        h('label', {title: 'Read the filter as a regular expression'}, this.regex, ' regular expression'),
        this.size, this.summary),
      h('div', {class: 'scroll'}, this.table.el),
      h('div', {class: 'pager'}, this.prev, this.pageLabel, this.next));
  }

  setFilter() {
    this.state.name = this.filter.value;
    this.state.regex = this.regex.checked;
    this.go(1);
  }

  sortBy({key, reverse}) {
    this.state.sort = key;
    this.state.reverse = reverse;
    this.go(1);
  }

  go(page) {
    this.state.page = Math.max(1, page);
    this.onChange?.();
    return this.refresh();
  }

  // url is the API request for the current page.
  url() {
    const s = this.state;
    return query(this.path(), {page: s.page, page_size: s.size, name: s.name,
      use_regex: s.name ? String(!!s.regex) : '', sort: s.sort, sort_reverse: s.sort ? String(!!s.reverse) : '',
      columns: this.columnsParam});
  }

  async refresh(signal) {
    let p;
    try {
      p = await get(this.url(), {signal});
    } catch (e) {
      // A page past the end (the list shrank): back to the last page.
      if (e.status === 400 && /Page out of range/.test(e.message) && this.state.page > 1) return this.go(1);
      throw e;
    }
    this.table.update(p.items);
    const s = this.state;
    setText(this.pageLabel, `Page ${num(p.page)} of ${num(Math.max(p.page_count, 1))}`);
    this.prev.disabled = p.page <= 1;
    this.next.disabled = p.page >= p.page_count;
    const shown = p.item_count ? `${num((p.page - 1) * p.page_size + 1)}–${num((p.page - 1) * p.page_size + p.item_count)}` : 'none';
    const of = s.name ? `${num(p.filtered_count)} matching, ${num(p.total_count)} in all` : `${num(p.total_count)} in all`;
    setText(this.summary, `${this.what}: ${shown} of ${of}`);
    return p;
  }
}

// listState is a fresh PagedList state.
export function listState(size = 20) {
  return {page: 1, size, name: '', regex: false, sort: '', reverse: false};
}
