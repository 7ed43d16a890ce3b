// SVG charts drawn from data: grouped bars (sales by hour) and horizontal
// bars (payment methods). Each chart has a title and a text summary for
// screen readers; colours come from CSS classes.

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/// A round step for axis ticks.
function niceStep(max, ticks) {
  const raw = max / ticks;
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/// Room for a tick label of this text (11 px text, about 6.5 px a glyph).
const textWidth = (t) => Math.ceil(String(t).length * 6.5) + 10;

/// series: [{name, cls, values: number[]}] over `labels`.
/// `width`: the drawing's width in CSS pixels, so text keeps its size on a
/// phone (the SVG scales to its box). `axisFormat`: the (shorter) text of
/// the value axis' ticks; `format` is for the bars' tooltips.
export function barChart({ title, labels, series, format = String, axisFormat = format, width = 720 }) {
  const max = Math.max(1, ...series.flatMap((x) => x.values));
  const step = niceStep(max, 4);
  const top = Math.ceil(max / step) * step;
  const W = Math.max(300, Math.min(960, width)), H = W < 500 ? 220 : 260, R = 8, T = 12, B = 28;
  const L = Math.max(56, textWidth(axisFormat(top)));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const band = (W - L - R) / labels.length;
  const barW = Math.max(2, (band * 0.8) / series.length);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title });
  svg.append(s('title', {}, title));
  for (let v = 0; v <= top + 1e-9; v += step) {
    svg.append(s('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }));
    svg.append(s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, axisFormat(v)));
  }
  labels.forEach((lab, i) => {
    const x0 = L + i * band + band * 0.1;
    series.forEach((ser, k) => {
      const v = ser.values[i] || 0;
      const r = s('rect', { x: x0 + k * barW, y: y(Math.max(v, 0)), width: barW - 1, height: Math.max(0, y(0) - y(Math.max(v, 0))), class: 'bar ' + ser.cls });
      r.append(s('title', {}, `${ser.name}, ${lab}: ${format(v)}`));
      svg.append(r);
    });
    const every = band < 14 ? 3 : band < 24 ? 2 : 1;
    if (i % every === 0) {
      svg.append(s('text', { x: L + i * band + band / 2, y: H - 8, 'text-anchor': 'middle', class: 'tick' }, lab));
    }
  });
  svg.append(s('line', { x1: L, x2: W - R, y1: y(0), y2: y(0), class: 'axis' }));
  return svg;
}

/// rows: [{label, value}] as horizontal bars.
export function hbarChart({ title, rows, format = String }) {
  const rowH = 30, L = 90;
  const R = Math.max(90, ...rows.map((r) => textWidth(format(r.value))));
  const W = Math.max(360, L + R + 120);
  const H = Math.max(rowH, rows.length * rowH) + 4;
  const max = Math.max(1, ...rows.map((r) => Math.abs(r.value)));
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart hbar', role: 'img', 'aria-label': title });
  svg.append(s('title', {}, title));
  rows.forEach((r, i) => {
    const yy = i * rowH + 4;
    const w = ((W - L - R) * Math.abs(r.value)) / max;
    svg.append(s('text', { x: L - 8, y: yy + 17, 'text-anchor': 'end', class: 'tick' }, r.label));
    svg.append(s('rect', { x: L, y: yy + 4, width: Math.max(1, w), height: rowH - 10, rx: 3, class: 'bar s' + (i % 4) }));
    svg.append(s('text', { x: L + w + 6, y: yy + 17, class: 'tick' }, format(r.value)));
  });
  return svg;
}

export function legend(series) {
  const ul = document.createElement('ul');
  ul.className = 'legend';
  for (const ser of series) {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'swatch ' + ser.cls;
    li.append(sw, ser.name);
    ul.append(li);
  }
  return ul;
}
