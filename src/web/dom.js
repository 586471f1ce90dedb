// DOM helpers shared by every view: element building, the toast, form
// errors, the account corner of the header and which view is shown.
// Text from the server only ever reaches the page as text nodes (see `h`).

import { state } from './state.js';

export const $ = (selector, root = document) => root.querySelector(selector);

/** Builds an element; children that are not nodes become text nodes. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key.startsWith('data-') || key.startsWith('aria-')) el.setAttribute(key, value);
    else el[key] = value;
  }
  for (const child of children.flat()) {
    if (child != null && child !== false) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function toast(text) {
  const el = $('#toast');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(state.toastTimer);
  state.toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

export function avatar(name, url, size = '') {
  if (url) return h('img', { class: `avatar ${size}`, src: url, alt: '' });
  let hash = 0;
  for (const ch of name || '?') hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return h('span', { class: `avatar initial c${hash % 6} ${size}`, 'aria-hidden': 'true' },
    (name || '?').slice(0, 1).toUpperCase());
}

export function renderAccount() {
  $('#login-link').hidden = !!state.me;
  $('#me').hidden = !state.me;
  $('#logout').hidden = !state.me;
  $('#admin-link').hidden = !state.me?.is_staff;
  for (const link of document.querySelectorAll('.tabs .personal')) link.hidden = !state.me;
  if (state.me) {
    $('#me-name').textContent = state.me.username;
    $('#me-avatar').replaceChildren(avatar(state.me.username, state.me.avatar, 'small'));
  }
}

/** Editing a field clears the error shown for it. */
export function clearOnEdit(form) {
  form.addEventListener('input', (event) => {
    const name = event.target.name;
    if (!name) return;
    event.target.removeAttribute('aria-invalid');
    const slot = form.querySelector(`.error[data-for="${CSS.escape(name)}"]`);
    if (slot) slot.textContent = '';
  });
}

export function clearErrors(form) {
  for (const el of form.querySelectorAll('.error')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/** Shows DRF errors ({"field": ["msg"]}) next to their fields. */
export function showErrors(form, data) {
  clearErrors(form);
  const general = form.querySelector('[data-for="non_field_errors"]');
  const errors = data && typeof data === 'object' ? data : { non_field_errors: ['Something went wrong.'] };
  for (const [field, messages] of Object.entries(errors)) {
    if (field === 'code') continue;
    const text = [].concat(messages).join(' ');
    const slot = form.querySelector(`.error[data-for="${CSS.escape(field)}"]`) || general;
    slot.textContent = slot.textContent ? `${slot.textContent} ${text}` : text;
    form.elements[field]?.setAttribute?.('aria-invalid', 'true');
  }
}

/** Shows a preview of the file chosen in `input` in the form's img.preview. */
export function previewOnChange(input, img) {
  let url = null;
  input.addEventListener('change', () => {
    if (url) URL.revokeObjectURL(url);
    const file = input.files[0];
    url = file ? URL.createObjectURL(file) : null;
    img.hidden = !url;
    if (url) img.src = url;
    else img.removeAttribute('src');
  });
}

/** A button that asks for a second click before doing something drastic. */
export function confirmButton(label, action) {
  let armed = null;
  const button = h('button', {
    type: 'button', class: 'quiet danger',
    onclick: () => {
      if (armed) { clearTimeout(armed); armed = null; action(); return; }
      button.textContent = 'Sure?';
      button.classList.add('armed');
      armed = setTimeout(() => { armed = null; button.textContent = label; button.classList.remove('armed'); }, 4000);
    },
  }, label);
  return button;
}

export function show(view) {
  $('#loading').hidden = true;
  for (const name of ['room', 'chat', 'login', 'profile', 'admin', 'mine', 'mentions', 'search']) $(`#view-${name}`).hidden = name !== view;
  document.body.dataset.view = view;
}

export function setTab(room) {
  for (const tab of document.querySelectorAll('.tabs a')) {
    tab.classList.toggle('active', tab.dataset.room === room);
    if (tab.dataset.room === room) {
      tab.setAttribute('aria-current', 'page');
      // On a phone the tabs scroll sideways: keep the current one in sight.
      tab.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    } else tab.removeAttribute('aria-current');
  }
}

/**
 * `text` as nodes, with each match of `pattern` (a /g regex) in a <mark>
 * whose class `classOf(match)` names; the rest stays plain text nodes.
 */
export function highlight(text, pattern, classOf) {
  if (!pattern) return [text];
  const out = [];
  let at = 0;
  for (const match of text.matchAll(pattern)) {
    if (!match[0]) continue;
    out.push(text.slice(at, match.index), h('mark', { class: classOf(match) }, match[0]));
    at = match.index + match[0].length;
  }
  out.push(text.slice(at));
  return out.filter((part) => part !== '');
}

export const escapeRegex = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export const label = (room) => room[0].toUpperCase() + room.slice(1);
export const fmtTime = (ts) => {
  const d = new Date(ts);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString()} ${time}`;
};
