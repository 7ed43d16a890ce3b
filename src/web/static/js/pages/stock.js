// Stock of a store, updated live over the store's WebSocket (the same feed
// stock screens use); negative levels are flagged. Below: stock documents
// (receiving, write-off, transfer, inventory count).
import { get, post, uuid } from '../api.js';
import { h, clear, field, select, qty, notice, errorText, table, button, busy } from '../dom.js';

export async function render(page, ctx) {
  const stores = await ctx.stores();
  if (!stores.length) return page.append(notice('info', 'Add a store first (Stores & registers).'));
  const storeSel = select('store', stores.map((s) => [s.id, s.name]), stores[0].id);
  const q = h('input', { type: 'search', name: 'q', autocomplete: 'off' });
  const negOnly = h('input', { type: 'checkbox', name: 'negative' });
  const live = h('span', { class: 'live', role: 'status' }, 'connecting…');
  const list = h('div', { id: 'stock-list' });
  const filters = h('form', { class: 'toolbar' },
    field('Store', storeSel), field('Product name or barcode', q),
    h('label', { class: 'check' }, negOnly, ' Only negative'),
    h('button', { type: 'submit', class: 'btn' }, 'Show'), live);
  const docs = h('div');
  page.append(filters, list, docs);

  let ws = null;
  let resume = null;
  let closed = false;
  let rows = new Map();

  function key(w, v) { return w + '/' + v; }

  async function load() {
    clear(list, h('p', { class: 'muted' }, 'Loading…'));
    const qs = new URLSearchParams({ limit: '200' });
    if (q.value.trim()) qs.set('q', q.value.trim());
    if (negOnly.checked) qs.set('negative', 'true');
    let data;
    try { data = await get(`/stores/${storeSel.value}/stock-view?` + qs); } catch (e) { return clear(list, notice('error', errorText(e))); }
    rows = new Map();
    const t = table([
      ['Product', (r) => r.product],
      ['Barcode', (r) => r.barcode],
      ['Quantity', (r) => h('span', { class: 'qty' }, qty(r.quantity))],
      ['', (r) => (r.negative ? h('span', { class: 'flag', title: 'Sold below zero: check the stock' }, 'negative') : '')],
    ], data, {
      empty: 'No stock yet: post a receiving below.',
      rowAttrs: (r) => ({ dataset: { key: key(r.warehouse_id, r.variant_id) }, class: r.negative ? 'negative' : '' }),
    });
    clear(list, t);
    for (const tr of t.querySelectorAll('tr[data-key]')) rows.set(tr.dataset.key, tr);
  }

  function apply(change) {
    const tr = rows.get(key(change.warehouse_id, change.variant_id));
    if (!tr) return;
    const n = Number(change.quantity);
    tr.querySelector('.qty').textContent = qty(change.quantity);
    tr.classList.toggle('negative', n < 0);
    const flagCell = tr.lastElementChild;
    clear(flagCell, n < 0 ? h('span', { class: 'flag' }, 'negative') : '');
    tr.classList.remove('flash');
    void tr.offsetWidth;
    tr.classList.add('flash');
  }

  function connect() {
    if (closed) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let url = `${proto}//${location.host}/api/v1/stores/${storeSel.value}/stock/ws`;
    if (resume) url += `?epoch=${resume.epoch}&since_seq=${resume.seq}`;
    const sock = new WebSocket(url);
    ws = sock;
    sock.onopen = () => { live.textContent = '● live'; live.className = 'live on'; };
    sock.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === 'snapshot') resume = { epoch: m.epoch, seq: m.seq };
      else if (m.type === 'replay') { for (const c of m.changes) { apply(c); resume = { epoch: m.epoch, seq: c.seq }; } }
      else if (m.type === 'change') { apply(m); if (resume) resume.seq = m.seq; }
    };
    sock.onclose = () => {
      if (ws !== sock || closed) return;
      live.textContent = 'reconnecting…'; live.className = 'live';
      setTimeout(connect, 2000);
    };
  }

  function restart() {
    resume = null;
    if (ws) { const old = ws; ws = null; old.close(); }
    connect();
  }

  filters.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  storeSel.addEventListener('change', () => { load(); restart(); drawDocs(); });

  function drawDocs() {
    const store = stores.find((s) => s.id === storeSel.value);
    const kind = select('kind', [['receiving', 'Receiving'], ['write_off', 'Write-off'], ['transfer', 'Transfer to another store'], ['inventory', 'Inventory count']], 'receiving');
    const others = stores.filter((s) => s.id !== store.id);
    const to = select('to', others.map((s) => [s.default_warehouse_id, s.name]), others[0] && others[0].default_warehouse_id);
    const toField = field('To store', to);
    toField.hidden = true;
    kind.addEventListener('change', () => { toField.hidden = kind.value !== 'transfer'; });
    const lines = h('div', { class: 'doc-lines' });
    const lineRow = () => {
      const el = h('div', { class: 'doc-line' },
        field('Barcode', h('input', { name: 'barcode', inputmode: 'numeric', autocomplete: 'off', required: true })),
        field('Quantity', h('input', { name: 'quantity', inputmode: 'decimal', autocomplete: 'off', required: true }),
          'For a count: the counted quantity'),
        button('Remove', () => el.remove(), 'small ghost'));
      return el;
    };
    lines.append(lineRow());
    const msg = h('div');
    const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Post document');
    const form = h('form', { class: 'card', id: 'stock-doc' },
      h('h2', {}, 'Stock document'),
      h('p', { class: 'muted small' }, `Warehouse: ${store.name} (main)`),
      field('Kind', kind), toField, lines,
      button('Add line', () => lines.append(lineRow()), 'small'),
      msg, submit);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      await busy(submit, msg, async () => {
        const docLines = [];
        for (const l of lines.querySelectorAll('.doc-line')) {
          const code = l.querySelector('[name=barcode]').value.trim();
          const quantity = l.querySelector('[name=quantity]').value.trim();
          let hit;
          try { hit = await get('/products/barcode/' + encodeURIComponent(code)); } catch (err) {
            throw new Error(err.status === 404 ? `No product has barcode ${code}.` : errorText(err));
          }
          docLines.push({ variant_id: hit.variant.id, quantity });
        }
        const body = { id: uuid(), kind: kind.value, warehouse_id: store.default_warehouse_id, lines: docLines };
        if (kind.value === 'transfer') body.to_warehouse_id = to.value;
        await post('/stock/movements', body);
        clear(msg, notice('ok', 'Posted. Levels update above.'));
        lines.replaceChildren(lineRow());
        if (!rows.size) load();
      });
    });
    clear(docs, form);
  }

  drawDocs();
  await load();
  connect();
  return () => { closed = true; if (ws) ws.close(); };
}
