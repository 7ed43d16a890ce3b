// Catalog CSV import (progress while it runs, every bad row with its line,
// column and reason) and export in the same format.
import { get, upload, uuid } from '../api.js';
import { h, clear, field, notice, errorText, table } from '../dom.js';

export function render(page) {
  const file = h('input', { type: 'file', name: 'file', accept: '.csv,text/csv', required: true });
  const btn = h('button', { type: 'submit', class: 'btn primary' }, 'Import');
  const bar = h('progress', { max: '1', value: '0', 'aria-label': 'Import progress' });
  const status = h('p', { class: 'muted', role: 'status', id: 'import-status' });
  const progress = h('div', { class: 'progress', hidden: true }, bar, status);
  const result = h('div', { id: 'import-result' });
  const form = h('form', { class: 'card' },
    h('h2', {}, 'Import products'),
    h('p', {}, 'A CSV file with the columns ', h('code', {}, 'product,category,sku,barcode,price'),
      ' (a header line first; category and sku may be left out). One line per variant: consecutive lines with the same product name are variants of one product. ',
      'Rows are matched by SKU, else by barcode: matching products are updated, others created. Price in whole units, e.g. 12500 or 12500.50.'),
    field('CSV file', file), btn, progress, result);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = file.files[0];
    if (!f) { clear(result, notice('error', 'Choose a CSV file first.')); return; }
    const job = uuid();
    btn.disabled = true;
    progress.hidden = false;
    bar.value = 0;
    clear(result);
    status.textContent = 'Uploading…';
    let uploaded = 0;
    const poll = setInterval(async () => {
      try {
        const j = await get('/catalog/imports/' + job);
        status.textContent = `Uploaded ${Math.round(uploaded * 100)}% · ${j.rows_read} rows read, ${j.rows_imported} imported, ${j.rows_unchanged} unchanged, ${j.rows_failed} with errors`;
      } catch (_) { /* not started yet */ }
    }, 500);
    try {
      const res = await upload('/catalog/import?job=' + job, f, (p) => { uploaded = p; bar.value = p; });
      const r = res.report;
      bar.value = 1;
      status.textContent = `Done: ${r.rows_read} rows read.`;
      clear(result,
        notice(r.failed ? 'warn' : 'ok', `${r.imported} rows imported, ${r.unchanged} unchanged, ${r.failed} with errors.`),
        r.errors.length ? table([
          ['Line', (x) => x.line], ['Column', (x) => x.column || '—'], ['Problem', (x) => x.reason],
        ], r.errors, { caption: r.failed > r.errors.length ? `First ${r.errors.length} of ${r.failed} errors` : 'Rows not imported', class: 'errors' }) : null);
    } catch (err) {
      status.textContent = '';
      clear(result, notice('error', errorText(err)));
    } finally {
      clearInterval(poll);
      btn.disabled = false;
    }
  });

  page.append(form,
    h('section', { class: 'card' }, h('h2', {}, 'Export'),
      h('p', {}, 'The whole live catalog in the same format (importing it back changes nothing).'),
      h('a', { class: 'btn', href: '/api/v1/catalog/export', download: 'catalog.csv' }, 'Download catalog.csv')));
}
