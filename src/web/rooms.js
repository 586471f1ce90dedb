// A room's view: its page of chats, editing and deleting one's own chats,
// and the form for a new chat.

import { PAGE_SIZE, state } from './state.js';
import { api } from './api.js';
import { loadMine, unreadBadge } from './unread.js';
import {
  $, h, toast, show, setTab, label, clearOnEdit, clearErrors, showErrors, previewOnChange, confirmButton,
} from './dom.js';

export async function showRoom(room, highlight) {
  show('room');
  setTab(room);
  $('#room-title').textContent = label(room);
  $('#new-chat-room').textContent = label(room);
  $('#new-chat-toggle').hidden = !state.me;
  $('#guest-hint').hidden = !!state.me;
  if (!state.me) $('#new-chat').hidden = true;
  const page = state.pages[room] || 1;
  const seq = ++state.listSeq;
  loadMine();
  const { status, data } = await api(`/api/chat/${room}/${page > 1 ? `?page=${page}` : ''}`);
  if (seq !== state.listSeq) return;
  if (status === 404 && page > 1) { state.pages[room] = 1; showRoom(room); return; }
  const list = $('#chat-list');
  if (status !== 200) {
    list.replaceChildren(h('li', { class: 'empty' }, 'Could not load the chats. Is the server running?'));
    return;
  }
  $('#room-count').textContent = data.count === 1 ? '1 chat' : `${data.count} chats`;
  list.replaceChildren(...data.results.map(chatCard));
  if (!data.results.length) list.append(h('li', { class: 'empty' }, 'No chats here yet.'));
  const last = Math.max(1, Math.ceil(data.count / PAGE_SIZE));
  $('#pager').hidden = last === 1;
  $('#page-info').textContent = `Page ${page} of ${last}`;
  $('#prev-page').disabled = !data.previous;
  $('#next-page').disabled = !data.next;
  if (highlight) {
    const card = list.querySelector(`[data-id="${highlight}"]`);
    card?.classList.add('fresh');
    card?.scrollIntoView({ block: 'center' });
  }
}

export function turnPage(step) {
  state.pages[state.currentRoom] = (state.pages[state.currentRoom] || 1) + step;
  showRoom(state.currentRoom);
  $('#main').scrollTop = 0;
}

function chatCard(chat) {
  // Staff may change anyone's chat; the server checks either way.
  const own = state.me && (chat.creator === state.me.username || state.me.is_staff);
  const li = h('li', { class: 'chat-card card', 'data-id': chat.id });
  const body = h('a', { class: 'chat-link', href: `#/${chat.room}/${chat.id}` },
    h('img', { class: 'cover', src: chat.img, alt: '', loading: 'lazy' }),
    h('div', { class: 'chat-text' },
      h('h3', { class: 'chat-name' }, chat.title),
      h('p', { class: 'muted small creator' }, `by ${chat.creator}`),
      chat.description ? h('p', { class: 'desc' }, chat.description) : null),
    h('span', { class: 'unread-slot' }, unreadBadge(chat.id)));
  li.append(body);
  if (own) {
    li.append(h('div', { class: 'chat-actions' },
      h('button', { type: 'button', class: 'quiet', onclick: () => editChat(li, chat) }, 'Edit'),
      confirmButton('Delete', () => deleteChat(chat))));
  }
  return li;
}

function editChat(li, chat) {
  const preview = h('img', { class: 'preview', alt: 'Preview of the new image', hidden: true });
  const file = h('input', { type: 'file', name: 'img', accept: 'image/jpeg,image/png,image/gif,image/webp' });
  previewOnChange(file, preview);
  const form = h('form', { class: 'form edit-chat', noValidate: true },
    h('label', {}, 'Description', h('textarea', { name: 'description', rows: 3, maxLength: 400, value: chat.description || '' })),
    h('p', { class: 'error', 'data-for': 'description' }),
    h('label', {}, h('span', {}, 'New image ', h('span', { class: 'muted' }, '(optional)')), file),
    preview,
    h('p', { class: 'error', 'data-for': 'img' }),
    h('p', { class: 'error', 'data-for': 'non_field_errors' }),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Save'),
      h('button', { type: 'button', class: 'quiet', onclick: () => li.replaceWith(chatCard(chat)) }, 'Cancel')));
  clearOnEdit(form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const fd = new FormData();
    fd.append('description', form.elements.description.value);
    if (file.files[0]) fd.append('img', file.files[0]);
    const { status, data } = await api(`/api/chat/${chat.room}/${chat.id}/`, { method: 'PATCH', body: fd });
    if (status === 200) li.replaceWith(chatCard(data));
    else showErrors(form, data);
  });
  li.replaceChildren(h('div', { class: 'chat-link' }, h('img', { class: 'cover', src: chat.img, alt: '' }),
    h('div', { class: 'chat-text' }, h('h3', { class: 'chat-name' }, chat.title), form)));
}

async function deleteChat(chat) {
  const { status, data } = await api(`/api/chat/${chat.room}/${chat.id}/`, { method: 'DELETE' });
  if (status === 204) { toast(`Deleted “${chat.title}”.`); showRoom(state.currentRoom); } else toast(data?.detail || 'Could not delete the chat.');
}

export function setupNewChat() {
  const form = $('#new-chat');
  clearOnEdit(form);
  previewOnChange(form.elements.img, $('.preview', form));
  const reset = () => {
    form.reset();
    form.elements.img.dispatchEvent(new Event('change'));
    clearErrors(form);
  };
  $('#new-chat-toggle').addEventListener('click', () => {
    form.hidden = !form.hidden;
    if (!form.hidden) form.elements.title.focus();
  });
  $('[data-cancel]', form).addEventListener('click', () => { reset(); form.hidden = true; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const fd = new FormData();
    fd.append('title', form.elements.title.value);
    fd.append('room', state.currentRoom);
    if (form.elements.description.value.trim()) fd.append('description', form.elements.description.value);
    if (form.elements.img.files[0]) fd.append('img', form.elements.img.files[0]);
    const button = $('button[type=submit]', form);
    button.disabled = true;
    const { status, data } = await api('/api/chat/', { method: 'POST', body: fd });
    button.disabled = false;
    if (status !== 200) { showErrors(form, data); return; }
    reset();
    form.hidden = true;
    const room = data.chat.room;
    const list = await api(`/api/chat/${room}/`);
    state.pages[room] = list.status === 200 ? Math.max(1, Math.ceil(list.data.count / PAGE_SIZE)) : 1;
    if (room === state.currentRoom) showRoom(room, data.chat.id);
    else location.hash = `#/${room}`;
  });
}
