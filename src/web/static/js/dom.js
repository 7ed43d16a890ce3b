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

const moneyFmt = new Intl.NumberFormat('en-US', { minimumFractionDigits: 0, maximumFractionDigits: 2 });
/// Minor units -> "12,500.50".
export function money(minor) {
  return moneyFmt.format(Number(minor || 0) / 100);
}

/// "12500.5" (major units typed by a person) -> minor units, or null.
export function parseMoney(text) {
  const t = String(text).trim().replace(/[\s,]/g, '');
  if (!/^\d{1,13}(\.\d{1,2})?$/.test(t)) return null;
  const [w, f = ''] = t.split('.');
  return Number(w) * 100 + Number((f + '00').slice(0, 2));
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
