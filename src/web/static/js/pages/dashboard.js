// Today so far against the same span of the same weekday last week.
// The numbers come from one endpoint (GET /dashboard), which the reports
// API can later stand behind without this page changing.
import { get } from '../api.js';
import { h, clear, money, moneyShort, mixedCurrencies, qty, select, field, notice, errorText, table } from '../dom.js';
import { barChart, hbarChart, legend } from '../chart.js';

function delta(now, before) {
  if (!before) return now ? h('span', { class: 'delta up' }, 'new') : h('span', { class: 'delta' }, '—');
  const pct = ((now - before) / Math.abs(before)) * 100;
  const cls = pct >= 0 ? 'up' : 'down';
  return h('span', { class: 'delta ' + cls }, `${pct >= 0 ? '▲' : '▼'} ${Math.abs(pct).toFixed(1)}% vs last week`);
}

function kpi(label, now, before, fmt) {
  return h('div', { class: 'card kpi' },
    h('div', { class: 'kpi-label' }, label),
    h('div', { class: 'kpi-value' }, fmt(now)),
    h('div', { class: 'kpi-sub' }, 'Last week: ', fmt(before), ' ', delta(now, before)));
}

export async function render(page, ctx) {
  const stores = await ctx.stores();
  const storeSel = select('store', [['', 'All stores'], ...stores.map((s) => [s.id, s.name])], '');
  const body = h('div');
  page.append(h('div', { class: 'toolbar' }, field('Store', storeSel)), body);
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const storeName = (id) => (stores.find((s) => s.id === id) || {}).name || id;

  async function load() {
    clear(body, h('p', { class: 'muted' }, 'Loading…'));
    let d;
    try {
      const qs = new URLSearchParams({ tz });
      if (storeSel.value) qs.set('store_id', storeSel.value);
      d = await get('/dashboard?' + qs);
    } catch (e) {
      return clear(body, notice('error', errorText(e)));
    }
    const t = d.today, w = d.last_week;
    // One store: its currency; all stores: the currency they share.
    const cur = (v) => money(v, storeSel.value || undefined);
    const avg = (x) => (x.receipts ? Math.round(x.revenue / x.receipts) : 0);
    const hours = Array.from({ length: 24 }, (_, i) => i);
    const byHour = (x) => hours.map((hh) => ((x.by_hour || []).find((r) => r.hour === hh) || {}).revenue || 0);
    const series = [
      { name: 'Today', cls: 's0', values: byHour(t) },
      { name: 'Same day last week', cls: 's1', values: byHour(w) },
    ];
    clear(body,
      h('div', { class: 'kpis' },
        kpi('Revenue', t.revenue, w.revenue, cur),
        kpi('Receipts', t.receipts, w.receipts, String),
        kpi('Average ticket', avg(t), avg(w), cur)),
      h('section', { class: 'card' },
        h('h2', {}, 'Sales by hour'),
        legend(series),
        barChart({
          title: 'Revenue by hour, today and the same day last week',
          labels: hours.map((x) => String(x).padStart(2, '0')),
          series,
          format: cur,
          axisFormat: (v) => moneyShort(v, storeSel.value || undefined),
          width: body.clientWidth - 34,
        })),
      h('div', { class: 'grid2' },
        h('section', { class: 'card' },
          h('h2', {}, 'Top products today'),
          table([
            ['Product', (r) => r.name || r.product_id],
            ['Qty', (r) => qty(r.quantity)],
            ['Revenue', (r) => cur(r.revenue)],
          ], t.top_products || [], { empty: 'No sales yet today.' })),
        h('section', { class: 'card' },
          h('h2', {}, 'By payment method'),
          (t.by_payment || []).length
            ? hbarChart({ title: 'Payments today by method', rows: t.by_payment.map((p) => ({ label: p.method, value: p.amount })), format: cur })
            : h('p', { class: 'muted' }, 'No payments yet today.'))),
      h('section', { class: 'card' },
        h('h2', {}, 'By store'),
        table([
          ['Store', (r) => storeName(r.store_id)],
          ['Receipts', (r) => r.receipts],
          ['Revenue', (r) => money(r.revenue, r.store_id)],
          ['Last week', (r) => money(((w.by_store || []).find((x) => x.store_id === r.store_id) || {}).revenue || 0, r.store_id)],
        ], t.by_store || [], { empty: 'No sales yet today.' })),
      h('p', { class: 'muted small' }, `Times in ${d.timezone}. Returns are subtracted from revenue.`,
        !storeSel.value && mixedCurrencies() ? ' The stores use different currencies: totals of all stores add them up as plain numbers; pick a store for its figures.' : ''));
  }
  storeSel.addEventListener('change', load);
  await load();
}
