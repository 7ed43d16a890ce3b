// The signed-in person's password. Changing it ends every session of the
// account (other browsers too); this one continues with a new session.
import { post, setCsrf } from '../api.js';
import { h, field, notice, clear, busy } from '../dom.js';

export function render(page, ctx) {
  const current = h('input', { type: 'password', name: 'current', autocomplete: 'current-password', required: true });
  const next = h('input', { type: 'password', name: 'new', autocomplete: 'new-password', required: true });
  const out = h('div');
  const btn = h('button', { type: 'submit', class: 'btn primary' }, 'Change password');
  const form = h('form', { class: 'card inline-form' }, h('h2', {}, 'Change password'),
    h('p', { class: 'muted' }, `Signed in as ${ctx.user.email}.`),
    field('Current password', current), field('New password', next, 'At least 10 characters. Other sessions of this account end.'), btn, out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(btn, out, async () => {
      const me = await post('/auth/password', { current_password: current.value, new_password: next.value });
      setCsrf(me.csrf_token);
      current.value = ''; next.value = '';
      clear(out, notice('ok', 'Password changed. Other sessions have ended.'));
    });
  });
  page.append(form);
}
