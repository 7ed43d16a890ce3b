import { post } from '../api.js';
import { h, clear, field, notice, errorText } from '../dom.js';

export function render(app, ctx) {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const out = h('div', { class: 'out' });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Sign in');
  const form = h('form', { class: 'card login', novalidate: true },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'JOWi Shop back office'),
    field('E-mail', email),
    field('Password', password),
    out,
    submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    clear(out);
    try {
      const me = await post('/auth/login', { email: email.value, password: password.value });
      ctx.signedIn(me);
    } catch (err) {
      const msg = err.status === 401 ? 'Wrong e-mail or password.' : errorText(err);
      out.append(notice('error', msg));
      password.value = '';
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  clear(app, h('div', { class: 'login-wrap' }, form));
  email.focus();
}
