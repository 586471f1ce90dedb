// The staff page (#/admin): every user with suspend (and a reason) or
// unsuspend, new invite codes, and the audit log. Only staff see the link;
// the server refuses everyone else anyway (403).

import { state } from './state.js';
import { api } from './api.js';
import { $, h, show, setTab, toast, fmtTime, showErrors, clearErrors } from './dom.js';

export function showAdmin() {
  show('admin');
  setTab(null);
  $('#invite-code').hidden = true;
  return Promise.all([loadUsers(), loadAudit()]);
}

/** The first complaint in a DRF error body. */
function complaint(data) {
  if (data?.detail) return data.detail;
  const first = Object.values(data || {}).flat()[0];
  return first || 'Something went wrong.';
}

async function loadUsers() {
  const { status, data } = await api('/api/admin/users/');
  const list = $('#admin-users');
  if (status !== 200) { list.replaceChildren(h('li', { class: 'muted' }, complaint(data))); return; }
  list.replaceChildren(...data.results.map(userRow));
}

async function loadAudit() {
  const { status, data } = await api('/api/admin/audit/');
  const list = $('#admin-audit');
  if (status !== 200) { list.replaceChildren(h('li', { class: 'muted' }, complaint(data))); return; }
  if (!data.results.length) { list.replaceChildren(h('li', { class: 'muted' }, 'Nothing yet.')); return; }
  list.replaceChildren(...data.results.map((e) => h('li', { class: 'audit-entry', 'data-action': e.action },
    h('time', { dateTime: e.timestamp, title: new Date(e.timestamp).toLocaleString() }, fmtTime(e.timestamp)),
    ' ', h('strong', {}, e.actor), ' ', h('code', {}, e.action), ' ', h('span', { class: 'target' }, e.target),
    e.detail ? h('span', { class: 'muted detail' }, ` — ${e.detail}`) : null)));
}

function userRow(u) {
  const act = async (action, body) => {
    const path = `/api/admin/users/${encodeURIComponent(u.username)}/${action}/`;
    const { status, data } = await api(path, { method: 'POST', body });
    if (status !== 200) { toast(complaint(data)); return; }
    toast(data.is_active ? `${data.username} may sign in again.` : `${data.username} is suspended.`);
    await Promise.all([loadUsers(), loadAudit()]);
  };
  const self = u.username === state.me?.username;
  let controls = null;
  if (!u.is_active) {
    controls = h('button', { type: 'button', class: 'unsuspend', onclick: () => act('unsuspend', {}) }, 'Unsuspend');
  } else if (!self) {
    const reason = h('input', { name: 'reason', maxLength: 400, placeholder: 'Reason', 'aria-label': `Why suspend ${u.username}` });
    controls = h('span', { class: 'suspend-controls' }, reason,
      h('button', { type: 'button', class: 'quiet danger suspend', onclick: () => act('suspend', { reason: reason.value }) }, 'Suspend'));
  }
  const standing = u.is_active ? 'active' : `suspended${u.reason ? `: ${u.reason}` : ''}`;
  return h('li', { class: 'admin-user', 'data-username': u.username, 'data-active': String(u.is_active) },
    h('strong', {}, u.username), u.is_staff ? h('span', { class: 'badge' }, 'staff') : null,
    h('span', { class: 'muted standing' }, standing), controls);
}

export function setupAdmin() {
  const form = $('#invite-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { uses: form.elements.uses.value.trim() || '1', expires: form.elements.expires.value.trim() || '7d' };
    const { status, data } = await api('/api/admin/invites/', { method: 'POST', body });
    if (status !== 201) { showErrors(form, data); return; }
    clearErrors(form);
    const out = $('#invite-code');
    out.replaceChildren('Code (shown once): ', h('code', {}, data.code),
      h('span', { class: 'muted' }, ` — ${data.uses_left} use(s), until ${new Date(data.expires).toLocaleString()}`));
    out.hidden = false;
    await loadAudit();
  });
}
