// Receipts: filter by store, register, cashier and dates, or find one by
// number; the detail shows items, payments and returns made against it.
// Amounts are in each receipt's store currency.
import { get } from '../api.js';
import { h, clear, field, select, money, qty, when, notice, errorText, table, button } from '../dom.js';

export async function render(page, ctx) {
  const stores = await ctx.stores();
  const registers = (await Promise.all(stores.map((s) => get(`/stores/${s.id}/registers`)))).flat();
  const regName = (id) => { const r = registers.find((x) => x.id === id); return r ? `${r.number} · ${r.name}` : id; };
  const storeName = (id) => (stores.find((s) => s.id === id) || {}).name || id;
  // Cashiers: the tenant's employees (a receipt's cashier opened its shift).
  let employees = [];
  try { employees = await get('/employees'); } catch (_) { /* the filter is then empty */ }
  const cashierName = (id) => (id ? (employees.find((x) => x.id === id) || {}).name || 'employee ' + id.slice(-6) : '—');
  const storeSel = select('store', [['', 'All stores'], ...stores.map((s) => [s.id, s.name])], '');
  const regSel = select('register', [['', 'All registers'], ...registers.map((r) => [r.id, regName(r.id)])], '');
  const cashierSel = select('employee', [], '');
  // The cashiers of the chosen store (and those working in every store).
  function fillCashiers() {
    const keep = cashierSel.value;
    const here = employees.filter((e) => !storeSel.value || !e.store_id || e.store_id === storeSel.value);
    clear(cashierSel, h('option', { value: '' }, 'All cashiers'),
      here.map((e) => h('option', { value: e.id, selected: e.id === keep }, e.name)));
  }
  fillCashiers();
  storeSel.addEventListener('change', fillCashiers);
  const from = h('input', { type: 'date', name: 'from' });
  const to = h('input', { type: 'date', name: 'to' });
  const number = h('input', { name: 'number', placeholder: 'e.g. 1-1024', autocomplete: 'off' });
  const form = h('form', { class: 'toolbar' },
    field('Store', storeSel), field('Register', regSel), field('Cashier', cashierSel), field('From', from), field('To', to),
    field('Receipt number', number), h('button', { type: 'submit', class: 'btn' }, 'Find'));
  const list = h('div', { id: 'receipt-list' });
  const detail = h('div', { id: 'receipt-detail' });
  page.append(form, detail, list);

  async function load() {
    const qs = new URLSearchParams({ limit: '100' });
    if (storeSel.value) qs.set('store_id', storeSel.value);
    if (regSel.value) qs.set('register_id', regSel.value);
    if (cashierSel.value) qs.set('employee_id', cashierSel.value);
    if (from.value) qs.set('from', new Date(from.value + 'T00:00').toISOString());
    if (to.value) { const d = new Date(to.value + 'T00:00'); d.setDate(d.getDate() + 1); qs.set('to', d.toISOString()); }
    if (number.value.trim()) qs.set('number', number.value.trim());
    try {
      const rows = await get('/search/receipts?' + qs);
      clear(list, table([
        ['Number', (r) => h('a', { href: '#', onclick: (e) => { e.preventDefault(); show(r.id, r.employee_id); } }, r.number)],
        ['When', (r) => when(r.occurred_at)],
        ['Store', (r) => storeName(r.store_id)],
        ['Register', (r) => regName(r.register_id)],
        ['Cashier', (r) => cashierName(r.employee_id)],
        ['Kind', (r) => (r.kind === 'return' ? h('span', { class: 'flag' }, 'return') : 'sale')],
        ['Total', (r) => money(r.total, r.store_id)],
      ], rows, { empty: 'No receipts match.' }));
      if (rows.length === 1 && number.value.trim()) show(rows[0].id, rows[0].employee_id);
    } catch (e) {
      clear(list, notice('error', errorText(e)));
    }
  }

  async function show(id, cashier) {
    try {
      const [r, returns] = await Promise.all([get('/receipts/' + id), get(`/receipts/${id}/returns`)]);
      const cur = (v) => money(v, r.store_id);
      const names = {};
      await Promise.all([...new Set(r.items.map((i) => i.product_id))].map(async (pid) => {
        try { names[pid] = (await get('/products/' + pid)).name; } catch (_) { names[pid] = 'product ' + pid.slice(-6); }
      }));
      clear(detail, h('section', { class: 'card', 'aria-label': 'Receipt ' + r.number },
        h('div', { class: 'card-head' }, h('h2', {}, `Receipt ${r.number}`), button('Close', () => clear(detail), 'small ghost')),
        h('p', { class: 'muted' }, `${r.kind === 'return' ? 'Return' : 'Sale'} · ${when(r.occurred_at)} · ${storeName(r.store_id)} · register ${regName(r.register_id)}`,
          (r.employee_id || cashier) ? ` · cashier ${cashierName(r.employee_id || cashier)}` : ''),
        table([
          ['Item', (i) => names[i.product_id]],
          ['Qty', (i) => qty(i.quantity)],
          ['Price', (i) => cur(i.price)],
          ['Discount', (i) => cur(i.discount)],
          ['Total', (i) => cur(i.total)],
        ], r.items, { caption: 'Items' }),
        table([
          ['Method', (p) => p.method],
          ['Amount', (p) => cur(p.amount)],
        ], r.payments, { caption: 'Payments' }),
        h('dl', { class: 'totals' },
          h('dt', {}, 'Subtotal'), h('dd', {}, cur(r.subtotal)),
          h('dt', {}, 'Discounts'), h('dd', {}, cur(r.discount_total)),
          h('dt', {}, 'Total'), h('dd', {}, h('strong', {}, cur(r.total))),
          h('dt', {}, 'Paid'), h('dd', {}, cur(r.paid)),
          h('dt', {}, 'Change'), h('dd', {}, cur(r.change))),
        r.original_receipt_id ? h('p', {}, 'Return of ', h('a', { href: '#', onclick: (e) => { e.preventDefault(); show(r.original_receipt_id); } }, 'the original sale')) : null,
        returns.length ? h('p', {}, 'Returns: ', returns.map((x, i) => [i ? ', ' : '', h('a', { href: '#', onclick: (e) => { e.preventDefault(); show(x.id); } }, x.number)])) : null));
      detail.scrollIntoView({ block: 'start' });
    } catch (e) {
      clear(detail, notice('error', errorText(e)));
    }
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  await load();
}
