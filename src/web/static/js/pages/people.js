// Employees of the stores (cashiers, managers) and the people who sign in
// to this back office.
import { get, post, del } from '../api.js';
import { h, clear, field, select, when, notice, errorText, table, button, busy } from '../dom.js';

export async function render(page, ctx) {
  const stores = await ctx.stores();
  const storeName = (id) => (id ? (stores.find((s) => s.id === id) || {}).name || id : 'All stores');
  const list = h('div');
  const users = h('div');
  const out = h('div');

  async function load() {
    try {
      const rows = await get('/employees');
      clear(list, table([
        ['Name', (e) => e.name],
        ['Role', (e) => e.role],
        ['Store', (e) => storeName(e.store_id)],
        ['Phone', (e) => e.phone || '—'],
        ['', (e) => button('Remove', async (ev) => {
          if (!confirm(`Remove ${e.name}?`)) return;
          await busy(ev.target, out, async () => { await del('/employees/' + e.id); load(); });
        }, 'small ghost', { 'aria-label': `Remove ${e.name}` })],
      ], rows, { empty: 'No employees yet.' }));
    } catch (e) {
      clear(list, notice('error', errorText(e)));
    }
    try {
      const rows = await get('/users');
      clear(users, table([
        ['Name', (u) => u.name], ['E-mail', (u) => u.email], ['Role', (u) => u.role], ['Since', (u) => when(u.created_at)],
      ], rows));
    } catch (e) {
      clear(users, notice('error', errorText(e)));
    }
  }

  const name = h('input', { name: 'name', required: true, autocomplete: 'off' });
  const role = select('role', [['cashier', 'Cashier'], ['manager', 'Manager'], ['owner', 'Owner']], 'cashier');
  const store = select('store_id', [['', 'All stores'], ...stores.map((s) => [s.id, s.name])], '');
  const phone = h('input', { name: 'phone', type: 'tel', autocomplete: 'off' });
  const add = h('button', { type: 'submit', class: 'btn primary' }, 'Add employee');
  const form = h('form', { class: 'card inline-form' }, h('h2', {}, 'New employee'),
    field('Name', name), field('Role', role), field('Store', store), field('Phone (optional)', phone), add, out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(add, out, async () => {
      const body = { name: name.value, role: role.value, store_id: store.value || null };
      if (phone.value.trim()) body.phone = phone.value.trim();
      await post('/employees', body);
      name.value = ''; phone.value = '';
      clear(out, notice('ok', 'Added.'));
      load();
    });
  });

  const uOut = h('div');
  const uEmail = h('input', { name: 'email', type: 'email', required: true, autocomplete: 'off' });
  const uName = h('input', { name: 'uname', required: true, autocomplete: 'off' });
  const uRole = select('urole', [['manager', 'Manager'], ['owner', 'Owner']], 'manager');
  const uPass = h('input', { name: 'upassword', type: 'password', required: true, autocomplete: 'new-password' });
  const uAdd = h('button', { type: 'submit', class: 'btn' }, 'Add user');
  const uForm = h('form', { class: 'card inline-form' }, h('h2', {}, 'New back-office user'),
    field('E-mail', uEmail), field('Name', uName), field('Role', uRole), field('Password', uPass, 'At least 10 characters; tell them to change it.'), uAdd, uOut);
  uForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(uAdd, uOut, async () => {
      await post('/users', { email: uEmail.value, name: uName.value, role: uRole.value, password: uPass.value });
      uEmail.value = ''; uName.value = ''; uPass.value = '';
      clear(uOut, notice('ok', 'User added.'));
      load();
    });
  });

  page.append(list, form, h('h2', {}, 'Back-office users'), users, ctx.user.role === 'owner' ? uForm : null);
  await load();
}
