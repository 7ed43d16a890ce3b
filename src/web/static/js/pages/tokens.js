// API tokens for integrations (owner only to issue and revoke). Register
// tokens are managed with their registers.
import { get, post, del } from '../api.js';
import { h, clear, field, select, when, notice, errorText, table, button, busy } from '../dom.js';

export async function render(page, ctx) {
  const list = h('div');
  const out = h('div');
  async function load() {
    try {
      const rows = (await get('/tokens')).filter((t) => t.role !== 'register');
      clear(list, table([
        ['Name', (t) => t.name || '—'], ['Role', (t) => t.role], ['Issued', (t) => when(t.created_at)],
        ['', (t) => (ctx.user.role === 'owner' ? button('Revoke', async (e) => {
          if (!confirm(`Revoke "${t.name || t.id}"? Anything using it stops working.`)) return;
          await busy(e.target, out, async () => { await del('/tokens/' + t.id); load(); });
        }, 'small danger') : '')],
      ], rows, { empty: 'No API tokens.' }));
    } catch (e) {
      clear(list, notice('error', errorText(e)));
    }
  }
  const name = h('input', { name: 'name', required: true, autocomplete: 'off' });
  const role = select('role', [['read_only', 'Read only'], ['manager', 'Manager'], ['owner', 'Owner']], 'read_only');
  const btn = h('button', { type: 'submit', class: 'btn primary' }, 'Issue token');
  const form = h('form', { class: 'card inline-form' }, h('h2', {}, 'New API token'), field('Name', name), field('Role', role), btn);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(btn, out, async () => {
      const t = await post('/tokens', { name: name.value, role: role.value });
      name.value = '';
      const input = h('input', { readonly: true, value: t.token, class: 'token', 'aria-label': 'New token' });
      clear(out, h('div', { class: 'notice ok', role: 'status' }, h('strong', {}, 'Token issued. '), 'Copy it now: it is shown only once.', input));
      input.select();
      load();
    });
  });
  page.append(out, list, ctx.user.role === 'owner' ? form : h('p', { class: 'muted' }, 'Only an owner issues tokens.'));
  await load();
}
