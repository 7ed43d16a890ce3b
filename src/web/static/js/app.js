// The back office's shell: who is signed in, the navigation, and a router
// that draws one page module into <main>. Pages are plain modules with
// `render(main, ctx)`; a page may return a cleanup function (live stock
// closes its WebSocket).

import { get, post, setCsrf } from './api.js';
import { h, clear, setCurrencies } from './dom.js';

const PAGES = {
  '/': ['Dashboard', () => import('./pages/dashboard.js')],
  '/catalog': ['Catalog', () => import('./pages/catalog.js')],
  '/stock': ['Stock', () => import('./pages/stock.js')],
  '/receipts': ['Receipts', () => import('./pages/receipts.js')],
  '/shifts': ['Shifts', () => import('./pages/shifts.js')],
  '/people': ['Employees', () => import('./pages/people.js')],
  '/stores': ['Stores & registers', () => import('./pages/stores.js')],
  '/tokens': ['API tokens', () => import('./pages/tokens.js')],
  '/import': ['Import & export', () => import('./pages/import.js')],
  '/account': ['Account', () => import('./pages/account.js')],
};

const app = document.getElementById('app');
let user = null;
let cleanup = null;
let storesCache = null;

const ctx = {
  get user() { return user; },
  navigate,
  /// The tenant's stores; their currencies are loaded with them (money
  /// figures are formatted with them, see dom.js).
  async stores(refresh) {
    if (!storesCache || refresh) {
      const stores = await get('/stores');
      const settings = await Promise.all(stores.map((s) =>
        get(`/stores/${s.id}/settings`).then((x) => [s.id, x], () => [s.id, null])));
      setCurrencies(settings);
      storesCache = stores;
    }
    return storesCache;
  },
};

export function navigate(path, replace) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-nav]');
  if (!a || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', route);
window.addEventListener('jowi:signed-out', () => {
  if (user) {
    user = null;
    setCsrf(null);
    navigate('/login', true);
  }
});

async function whoAmI() {
  try {
    const me = await get('/auth/me');
    user = me.user;
    setCsrf(me.csrf_token);
  } catch (_) {
    user = null;
  }
}

function shell(path) {
  const nav = h('nav', { id: 'nav', 'aria-label': 'Main' },
    h('ul', {}, Object.entries(PAGES).map(([p, [title]]) =>
      h('li', {}, h('a', { href: p, 'data-nav': true, 'aria-current': p === path ? 'page' : false }, title)))));
  const toggle = h('button', {
    type: 'button', class: 'menu-toggle', 'aria-controls': 'nav', 'aria-expanded': 'false',
    onclick: () => {
      const open = document.body.classList.toggle('nav-open');
      toggle.setAttribute('aria-expanded', String(open));
    },
  }, 'Menu');
  const signOut = h('button', {
    type: 'button', class: 'btn ghost', id: 'sign-out',
    onclick: async () => {
      try { await post('/auth/logout'); } catch (_) { /* already gone */ }
      user = null;
      setCsrf(null);
      navigate('/login', true);
    },
  }, 'Sign out');
  const header = h('header', { class: 'top' },
    toggle,
    h('a', { href: '/', 'data-nav': true, class: 'brand' }, 'JOWi', h('span', {}, ' Back Office')),
    h('span', { class: 'who' }, user.name, ' · ', user.role),
    signOut);
  const main = h('main', { id: 'main', tabindex: '-1' });
  clear(app, h('a', { href: '#main', class: 'skip' }, 'Skip to content'), header, h('div', { class: 'layout' }, nav, main));
  return main;
}

async function route() {
  if (cleanup) { try { cleanup(); } catch (_) { /* ignore */ } cleanup = null; }
  document.body.classList.remove('nav-open');
  const path = location.pathname;
  if (!user) await whoAmI();
  if (!user || path === '/login') {
    if (user) return navigate('/', true);
    if (path !== '/login') history.replaceState(null, '', '/login');
    const page = await import('./pages/login.js');
    document.title = 'Sign in · JOWi';
    return page.render(app, {
      ...ctx,
      signedIn(me) {
        user = me.user;
        setCsrf(me.csrf_token);
        storesCache = null;
        navigate('/', true);
      },
    });
  }
  const [title, load] = PAGES[path] || PAGES['/'];
  document.title = `${title} · JOWi`;
  const main = shell(path);
  main.append(h('h1', {}, title));
  const body = h('div', { class: 'page' });
  main.append(body);
  try {
    // Every page's money figures need the stores' currencies.
    await ctx.stores();
    const page = await load();
    const done = await page.render(body, ctx);
    if (typeof done === 'function') cleanup = done;
  } catch (e) {
    body.append(h('div', { class: 'notice error', role: 'alert' }, e.message || String(e)));
  }
}

route();
