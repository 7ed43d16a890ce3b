// Stores and their registers. A register's device token is shown once,
// when issued; revoking it cuts that device off at its next call.
import { get, post, del } from '../api.js';
import { h, clear, field, when, notice, errorText, table, button, busy } from '../dom.js';

export async function render(page, ctx) {
  const body = h('div');
  const out = h('div', { id: 'stores-out' });
  page.append(out, body);

  function showToken(title, token) {
    const input = h('input', { readonly: true, value: token, class: 'token', 'aria-label': title, id: 'new-token' });
    clear(out, h('div', { class: 'notice ok', role: 'status' },
      h('strong', {}, title), h('p', {}, 'Copy it now: it is shown only once.'), input,
      button('Copy', () => { input.select(); navigator.clipboard && navigator.clipboard.writeText(token); }, 'small')));
    input.focus();
    input.select();
  }

  async function load() {
    const stores = await ctx.stores(true);
    const tokens = await get('/tokens');
    const sections = [];
    for (const s of stores) {
      const regs = await get(`/stores/${s.id}/registers`);
      const regName = h('input', { name: 'register', required: true, autocomplete: 'off' });
      const addBtn = h('button', { type: 'submit', class: 'btn' }, 'Add register');
      const regOut = h('div');
      const addForm = h('form', { class: 'inline' }, field('New register name', regName), addBtn, regOut);
      addForm.addEventListener('submit', async (e) => {
        e.preventDefault();
        await busy(addBtn, regOut, async () => {
          const r = await post(`/stores/${s.id}/registers`, { name: regName.value });
          await load();
          showToken(`Token of register ${r.register.number} · ${r.register.name}`, r.token);
        });
      });
      sections.push(h('section', { class: 'card', dataset: { store: s.id } },
        h('h2', {}, s.name), s.address ? h('p', { class: 'muted' }, s.address) : null,
        table([
          ['No.', (r) => r.number],
          ['Register', (r) => r.name],
          ['Device tokens', (r) => {
            const mine = tokens.filter((t) => t.register_id === r.id);
            return mine.length
              ? h('ul', { class: 'plain' }, mine.map((t) => h('li', {}, `issued ${when(t.created_at)} `,
                button('Revoke', async (e) => {
                  if (!confirm(`Revoke this token of register ${r.number}? The device must be given a new one.`)) return;
                  await busy(e.target, regOut, async () => { await del('/tokens/' + t.id); clear(out, notice('ok', 'Token revoked.')); load(); });
                }, 'small danger', { dataset: { token: t.id }, 'aria-label': `Revoke token of register ${r.number}` }))))
              : h('span', { class: 'muted' }, 'none');
          }],
          ['', (r) => button('Issue token', async (e) => {
            await busy(e.target, regOut, async () => {
              const t = await post(`/registers/${r.id}/token`);
              await load();
              showToken(`New token of register ${r.number} · ${r.name}`, t.token);
            });
          }, 'small', { dataset: { register: r.id } })],
        ], regs, { empty: 'No registers yet.' }),
        addForm));
    }
    const sName = h('input', { name: 'store', required: true, autocomplete: 'off' });
    const sAddr = h('input', { name: 'address', autocomplete: 'off' });
    const sBtn = h('button', { type: 'submit', class: 'btn primary' }, 'Add store');
    const sOut = h('div');
    const sForm = h('form', { class: 'card inline-form' }, h('h2', {}, 'New store'), field('Name', sName), field('Address (optional)', sAddr), sBtn, sOut);
    sForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      await busy(sBtn, sOut, async () => {
        const b = { name: sName.value };
        if (sAddr.value.trim()) b.address = sAddr.value.trim();
        await post('/stores', b);
        load();
      });
    });
    clear(body, sections, sForm);
  }
  try { await load(); } catch (e) { clear(body, notice('error', errorText(e))); }
}
