// Shifts of the registers and their X (running) or Z (closing) reports.
import { get } from '../api.js';
import { h, clear, field, select, money, money as fmt, when, notice, errorText, table, button } from '../dom.js';

export async function render(page, ctx) {
  const stores = await ctx.stores();
  const registers = (await Promise.all(stores.map((s) => get(`/stores/${s.id}/registers`)))).flat();
  const regStore = (id) => (registers.find((x) => x.id === id) || {}).store_id;
  const regName = (id) => { const r = registers.find((x) => x.id === id); return r ? `${r.number} · ${r.name}` : id; };
  const storeSel = select('store', [['', 'All stores'], ...stores.map((s) => [s.id, s.name])], '');
  const status = select('status', [['', 'Open and closed'], ['open', 'Open'], ['closed', 'Closed']], '');
  const form = h('form', { class: 'toolbar' }, field('Store', storeSel), field('Status', status), h('button', { type: 'submit', class: 'btn' }, 'Show'));
  const list = h('div');
  const report = h('div', { id: 'shift-report' });
  page.append(form, report, list);

  async function load() {
    const qs = new URLSearchParams({ limit: '100' });
    if (storeSel.value) qs.set('store_id', storeSel.value);
    if (status.value) qs.set('status', status.value);
    try {
      const rows = await get('/shifts?' + qs);
      clear(list, table([
        ['Register', (s) => regName(s.register_id)],
        ['Opened', (s) => when(s.opened_at)],
        ['Closed', (s) => (s.closed_at ? when(s.closed_at) : h('span', { class: 'live on' }, 'open'))],
        ['Receipts', (s) => s.receipts],
        ['Sales', (s) => money(s.sales_total, s.store_id || regStore(s.register_id))],
        ['', (s) => button(s.closed_at ? 'Z report' : 'X report', () => show(s.id), 'small', { dataset: { shift: s.id } })],
      ], rows, { empty: 'No shifts yet.' }));
    } catch (e) {
      clear(list, notice('error', errorText(e)));
    }
  }

  async function show(id) {
    try {
      const r = await get(`/shifts/${id}/report`);
      const methods = Object.entries(r.by_method || {});
      const store = r.shift.store_id || regStore(r.shift.register_id);
      const money = (v) => fmt(v, store);
      clear(report, h('section', { class: 'card report', 'aria-label': `${r.kind.toUpperCase()} report` },
        h('div', { class: 'card-head' },
          h('h2', {}, `${r.kind.toUpperCase()} report · register ${regName(r.shift.register_id)}`),
          button('Close', () => clear(report), 'small ghost')),
        h('p', { class: 'muted' }, `Opened ${when(r.shift.opened_at)}`, r.shift.closed_at ? ` · closed ${when(r.shift.closed_at)}` : ' · still open'),
        h('dl', { class: 'totals' },
          h('dt', {}, 'Sales'), h('dd', {}, `${r.sales_count} · ${money(r.sales_total)}`),
          h('dt', {}, 'Returns'), h('dd', {}, `${r.returns_count} · ${money(r.returns_total)}`),
          h('dt', {}, 'Opening cash'), h('dd', {}, money(r.shift.opening_cash)),
          h('dt', {}, 'Cash in / out'), h('dd', {}, `${money(r.cash_in)} / ${money(r.cash_out)}`),
          h('dt', {}, 'Expected cash'), h('dd', {}, h('strong', {}, money(r.expected_cash))),
          h('dt', {}, 'Counted cash'), h('dd', {}, r.counted_cash === null ? '—' : money(r.counted_cash)),
          h('dt', {}, 'Difference'), h('dd', { class: r.difference < 0 ? 'neg' : '' }, r.difference === null ? '—' : money(r.difference))),
        table([
          ['Method', ([m]) => m],
          ['Sales', ([, t]) => money(t.sales)],
          ['Returns', ([, t]) => money(t.returns)],
        ], methods, { caption: 'By payment method', empty: 'No payments.' })));
      report.scrollIntoView({ block: 'start' });
    } catch (e) {
      clear(report, notice('error', errorText(e)));
    }
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  await load();
}
