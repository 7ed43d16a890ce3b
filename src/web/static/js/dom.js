// Small DOM helpers: elements from data (text is always set as text, never
// parsed as HTML), formatting of money, quantities and dates.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldSeq = 0;
/// A labelled form control: label text, then the control (input/select).
export function field(label, control, hint) {
  if (!control.id) control.id = 'f' + ++fieldSeq;
  const parts = [h('label', { for: control.id }, label), control];
  if (hint) {
    const hid = control.id + '-hint';
    control.setAttribute('aria-describedby', hid);
    parts.push(h('small', { id: hid, class: 'hint' }, hint));
  }
  return h('div', { class: 'field' }, parts);
}

export function select(name, options, value) {
  return h('select', { name },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
}

// Money. Amounts are integers in minor units; each store has a currency
// and its minor units in its settings (GET /stores/{id}/settings), which
// the shell loads with the store list (`setCurrencies`) before a page draws.
// Figures of one store use its currency; figures of the whole tenant (all
// stores, catalog prices) use the currency all stores share.
const stores = new Map(); // store id -> { currency, minor_units }
let tenant = { currency: 'UZS', minor_units: 2 }; // the server's default
let mixed = false;

/// `list`: [[store id, settings], ...].
export function setCurrencies(list) {
  stores.clear();
  for (const [id, s] of list) {
    if (s && s.currency) stores.set(id, { currency: s.currency, minor_units: Number(s.minor_units) || 0 });
  }
  const all = [...stores.values()];
  mixed = all.some((c) => c.currency !== all[0].currency || c.minor_units !== all[0].minor_units);
  // Mixed currencies: tenant-wide sums have no one currency; show the
  // number with the first store's minor units and no code.
  if (!all.length) tenant = { currency: 'UZS', minor_units: 2 };
  else tenant = mixed ? { currency: '', minor_units: all[0].minor_units } : all[0];
}

/// True when the stores do not all use one currency.
export function mixedCurrencies() {
  return mixed;
}

/// The currency of a store, or of the tenant without one.
export function currencyOf(storeId) {
  return (storeId && stores.get(storeId)) || tenant;
}

const formats = new Map();
function formatter(c) {
  const key = c.currency + '/' + c.minor_units;
  let f = formats.get(key);
  if (!f) {
    const digits = { minimumFractionDigits: c.minor_units, maximumFractionDigits: c.minor_units };
    try {
      f = c.currency
        ? new Intl.NumberFormat('en-US', { style: 'currency', currency: c.currency, ...digits })
        : new Intl.NumberFormat('en-US', digits);
    } catch (_) {
      // Not an ISO 4217 code the browser knows: the number and the code.
      const plain = new Intl.NumberFormat('en-US', digits);
      f = { format: (v) => `${c.currency} ${plain.format(v)}` };
    }
    formats.set(key, f);
  }
  return f;
}

/// Minor units -> "UZS 12,500.50" in the store's currency (or the tenant's).
export function money(minor, storeId) {
  const c = currencyOf(storeId);
  return formatter(c).format(Number(minor || 0) / 10 ** c.minor_units);
}

/// Minor units -> a short text for chart axes: "UZS 150K".
export function moneyShort(minor, storeId) {
  const c = currencyOf(storeId);
  const key = 'short/' + c.currency;
  let f = formats.get(key);
  if (!f) {
    const opts = { notation: 'compact', minimumFractionDigits: 0, maximumFractionDigits: 1 };
    try {
      f = c.currency
        ? new Intl.NumberFormat('en-US', { style: 'currency', currency: c.currency, ...opts })
        : new Intl.NumberFormat('en-US', opts);
    } catch (_) {
      const plain = new Intl.NumberFormat('en-US', opts);
      f = { format: (v) => `${c.currency} ${plain.format(v)}` };
    }
    formats.set(key, f);
  }
  return f.format(Number(minor || 0) / 10 ** c.minor_units);
}

/// Minor units -> major units as a person types them ("12500.5").
export function toMajor(minor, storeId) {
  const m = currencyOf(storeId).minor_units;
  const s = (Number(minor || 0) / 10 ** m).toFixed(m);
  return m ? s.replace(/\.?0+$/, '') : s;
}

/// "12500.5" (major units typed by a person) -> minor units, or null.
export function parseMoney(text, storeId) {
  const m = currencyOf(storeId).minor_units;
  const t = String(text).trim().replace(/[\s,]/g, '');
  const re = m ? new RegExp(`^\\d{1,13}(\\.\\d{1,${m}})?$`) : /^\d{1,13}$/;
  if (!re.test(t)) return null;
  const [w, f = ''] = t.split('.');
  return Number(w) * 10 ** m + Number((f + '0'.repeat(m)).slice(0, m) || 0);
}

export function qty(q) {
  const n = Number(q);
  return Number.isInteger(n) ? String(n) : n.toFixed(3).replace(/0+$/, '');
}

const dtFmt = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
export function when(iso) {
  return iso ? dtFmt.format(new Date(iso)) : '—';
}

export function short(id) {
  return String(id).slice(-6);
}

/// A message region (errors in plain words; role=alert is read out).
export function notice(kind, ...text) {
  return h('div', { class: 'notice ' + kind, role: kind === 'error' ? 'alert' : 'status' }, ...text);
}

export function errorText(e) {
  if (!e) return '';
  if (e.code === 'validation_failed' && e.field) return `${e.field}: ${e.message.replace(/^[^:]*:\s*/, '')}`;
  return e.message || String(e);
}

/// A table from rows; `cols` = [[header, row => cell], ...].
export function table(cols, rows, opts = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: opts.class || '' },
      opts.caption ? h('caption', {}, opts.caption) : null,
      h('thead', {}, h('tr', {}, cols.map(([t]) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.length
        ? rows.map((r) => {
          const tr = h('tr', opts.rowAttrs ? opts.rowAttrs(r) : {}, cols.map(([t, f]) => h('td', { 'data-label': t }, f(r))));
          return tr;
        })
        : h('tr', {}, h('td', { colspan: cols.length, class: 'empty' }, opts.empty || 'Nothing here yet.')))));
}

export function button(text, onclick, cls = '', attrs = {}) {
  return h('button', { type: 'button', class: 'btn ' + cls, onclick, ...attrs }, text);
}

/// Runs `fn` with the button disabled; shows errors in `out`.
export async function busy(btn, out, fn) {
  btn.disabled = true;
  try {
    if (out) clear(out);
    return await fn();
  } catch (e) {
    if (out) clear(out, notice('error', errorText(e)));
    else throw e;
  } finally {
    btn.disabled = false;
  }
}
