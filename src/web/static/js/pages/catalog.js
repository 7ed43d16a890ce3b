// Products: search by name prefix or barcode, create and edit (with
// variants), soft delete; categories. A stale edit (someone else saved
// first) is explained in plain words with a reload button.
import { get, post, patch, del } from '../api.js';
import { h, clear, field, select, money, parseMoney, toMajor, currencyOf, notice, errorText, table, button, busy } from '../dom.js';

export async function render(page) {
  let categories = await get('/categories');
  const catName = (id) => (categories.find((c) => c.id === id) || {}).name || '—';
  const q = h('input', { type: 'search', name: 'q', placeholder: 'e.g. Milk or 4780000000017', autocomplete: 'off' });
  const results = h('div', { id: 'product-results' });
  const editor = h('div', { id: 'editor' });
  const out = h('div');
  let cursor = null;

  const searchForm = h('form', { class: 'toolbar', role: 'search' },
    field('Search by name or barcode', q),
    h('button', { type: 'submit', class: 'btn' }, 'Search'),
    button('New product', () => openEditor(null), 'primary', { id: 'new-product' }));
  searchForm.addEventListener('submit', (e) => { e.preventDefault(); search(); });

  const catInput = h('input', { name: 'category', autocomplete: 'off' });
  const catOut = h('div');
  const catForm = h('form', { class: 'inline' }, field('New category', catInput), h('button', { type: 'submit', class: 'btn' }, 'Add category'), catOut);
  const catList = h('p', { class: 'muted small' });
  const drawCats = () => clear(catList, 'Categories: ', categories.map((c) => c.name).join(', ') || 'none yet');
  catForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      clear(catOut);
      await post('/categories', { name: catInput.value });
      catInput.value = '';
      categories = await get('/categories');
      drawCats();
    } catch (err) {
      clear(catOut, notice('error', errorText(err)));
    }
  });
  drawCats();

  page.append(searchForm, out, editor, results, h('details', { class: 'card' }, h('summary', {}, 'Categories'), catList, catForm));

  function row(p) {
    return p;
  }

  function drawList(items, append) {
    const cols = [
      ['Product', (p) => h('strong', {}, p.name)],
      ['Category', (p) => catName(p.category_id)],
      ['Barcodes', (p) => p.variants.map((v) => v.barcode).join(', ')],
      ['Price', (p) => p.variants.map((v) => money(v.price)).join(' / ')],
      ['', (p) => button('Edit', () => openEditor(p.id), 'small', { 'aria-label': `Edit ${p.name}` })],
    ];
    const t = table(cols, items.map(row), { empty: 'No products match.', class: 'products' });
    if (append) results.querySelector('tbody').append(...t.querySelectorAll('tbody tr'));
    else clear(results, t);
    const more = results.querySelector('.more');
    if (more) more.remove();
    if (cursor) results.append(button('Show more', () => search(true), 'more'));
  }

  async function search(more) {
    clear(out);
    const text = q.value.trim();
    try {
      if (!more && /^[0-9A-Za-z-]{4,64}$/.test(text) && /\d/.test(text)) {
        try {
          const hit = await get('/products/barcode/' + encodeURIComponent(text));
          cursor = null;
          return drawList([hit.product || hit]);
        } catch (e) {
          if (e.status !== 404) throw e;
        }
      }
      const qs = new URLSearchParams({ limit: '50' });
      if (text) qs.set('q', text);
      if (more && cursor) qs.set('cursor', cursor);
      const pageData = await get('/products?' + qs);
      cursor = pageData.next_cursor;
      drawList(pageData.items, more);
    } catch (e) {
      clear(out, notice('error', errorText(e)));
    }
  }

  function variantRow(v = {}) {
    const barcode = h('input', { name: 'barcode', value: v.barcode || '', required: true, inputmode: 'numeric', autocomplete: 'off' });
    const sku = h('input', { name: 'sku', value: v.sku || '', autocomplete: 'off' });
    const price = h('input', { name: 'price', value: v.price !== undefined ? toMajor(v.price) : '', inputmode: 'decimal', required: true, autocomplete: 'off' });
    const rowEl = h('fieldset', { class: 'variant', dataset: { id: v.id || '' } },
      h('legend', {}, 'Variant'),
      field('Barcode', barcode), field('SKU (optional)', sku), field('Price', price),
      button('Remove', () => rowEl.remove(), 'small ghost'));
    return rowEl;
  }

  async function openEditor(id) {
    clear(out);
    let product = null;
    if (id) {
      try { product = await get('/products/' + id); } catch (e) { return clear(editor, notice('error', errorText(e))); }
    }
    const name = h('input', { name: 'name', value: product ? product.name : '', required: true, autocomplete: 'off' });
    const cat = select('category_id', [['', '— none —'], ...categories.map((c) => [c.id, c.name])], product ? product.category_id || '' : '');
    const variants = h('div', { class: 'variants' }, (product ? product.variants : [{}]).map(variantRow));
    const msg = h('div', { class: 'out' });
    const save = h('button', { type: 'submit', class: 'btn primary' }, product ? 'Save changes' : 'Create product');
    const form = h('form', { class: 'card editor', 'aria-label': product ? 'Edit product' : 'New product' },
      h('h2', {}, product ? `Edit: ${product.name}` : 'New product'),
      field('Name', name), field('Category', cat),
      variants,
      button('Add variant', () => variants.append(variantRow()), 'small'),
      msg,
      h('div', { class: 'actions' },
        save,
        button('Cancel', () => clear(editor), 'ghost'),
        product ? button('Delete product', async (e) => {
          if (!confirm(`Delete "${product.name}"? It leaves the catalog and the registers; sales history keeps it.`)) return;
          await busy(e.target, msg, async () => {
            await del('/products/' + product.id, { 'If-Match': String(product.version) });
            clear(editor);
            await search();
            clear(out, notice('ok', `Deleted "${product.name}".`));
          });
        }, 'danger') : null));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const vs = [];
      for (const fs of variants.querySelectorAll('fieldset.variant')) {
        const get1 = (n) => fs.querySelector(`[name=${n}]`).value.trim();
        const price = parseMoney(get1('price'));
        if (price === null) {
          const m = currencyOf().minor_units;
          clear(msg, notice('error', `Price: type a number like 12500${m ? ' or 12500.' + '5'.padEnd(m, '0') : ''}.`));
          fs.querySelector('[name=price]').focus();
          return;
        }
        const v = { barcode: get1('barcode'), price };
        if (get1('sku')) v.sku = get1('sku');
        if (fs.dataset.id) v.id = fs.dataset.id;
        vs.push(v);
      }
      await busy(save, msg, async () => {
        try {
          const body = { name: name.value, category_id: cat.value || null, variants: vs };
          const saved = product
            ? await patch('/products/' + product.id, { ...body, version: product.version })
            : await post('/products', body);
          clear(editor);
          q.value = saved.variants[0] ? saved.variants[0].barcode : saved.name;
          await search();
          clear(out, notice('ok', `Saved "${saved.name}".`));
        } catch (err) {
          if (err.code === 'version_conflict') {
            clear(msg, notice('error',
              'Someone else changed this product while you were editing it. ',
              'Reload it to see their changes, then make your edit again. ',
              button('Reload product', () => openEditor(product.id), 'small', { id: 'reload-product' })));
            return;
          }
          throw err;
        }
      });
    });
    clear(editor, form);
    name.focus();
  }

  await search();
}
