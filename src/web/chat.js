// The view of one open chat: its head, the message list (text with
// mentions marked, images, reactions), editing and deleting one's own
// messages (staff: anyone's). socket.js feeds it frames; composer.js writes.
// This module imports neither, so imports run one way only.

import { state } from './state.js';
import {
  $, h, show, setTab, label, fmtTime, avatar, confirmButton, highlight, escapeRegex,
} from './dom.js';
import { reactionsRow } from './reactions.js';

/** Empties the chat view for a chat that is about to load. */
export function showChat(room) {
  show('chat');
  setTab(room);
  $('#chat-back').href = `#/${room}`;
  for (const sel of ['#chat-title', '#chat-sub', '#chat-desc', '#chat-online', '#composer-error', '#typing']) {
    $(sel).textContent = '';
  }
  $('#chat-img').hidden = true;
  $('#messages').replaceChildren();
  $('#composer').hidden = !state.me;
  $('#guest-composer').hidden = !!state.me;
}

export function setStatus(status, text) {
  const el = $('#chat-status');
  el.dataset.status = status;
  el.textContent = text;
  $('#composer button[type=submit]').disabled = status !== 'live';
}

export function showDeleted() {
  setStatus('gone', 'Chat deleted');
  $('#composer').hidden = true;
  $('#guest-composer').hidden = true;
  $('#composer-error').textContent = 'This chat has been deleted.';
}

export function showMissing() {
  setStatus('gone', 'Not found');
  $('#chat-title').textContent = 'This chat does not exist.';
}

/** Shows the server's (or our) complaint about the last thing sent; '' clears it. */
export function showError(text) {
  $('#composer-error').textContent = text;
}

export function renderChatHead(info) {
  document.title = `${info.title} · chatd`;
  $('#chat-title').textContent = info.title;
  $('#chat-sub').textContent = `${label(info.room)} · by ${info.creator}`;
  $('#chat-desc').textContent = info.description || '';
  $('#chat-desc').hidden = !info.description;
  const img = $('#chat-img');
  img.src = info.img;
  img.hidden = false;
}

/** null while disconnected: the last count would be stale. */
export function setOnline(n) {
  $('#chat-online').textContent = n === null ? '' : `${n} online`;
}

export const nearEnd = (el) => el.scrollHeight - el.scrollTop - el.clientHeight < 80;
export function scrollToEnd(force) {
  const list = $('#messages');
  if (force || nearEnd(list)) list.scrollTop = list.scrollHeight;
}

/**
 * Adds or replaces a message, keeping the list in id order and free of
 * duplicates. `reactionsOnly`: only its reactions changed.
 */
export function upsert(c, m, add, reactionsOnly = false) {
  const list = $('#messages');
  const known = c.byId.get(m.id);
  if (!known && !add) return;
  const stick = nearEnd(list);
  const el = messageItem(c, m);
  if (reactionsOnly && known?.querySelector('.editing')) {
    // Keep an edit in progress: only the reactions change under it.
    known.querySelector('.reactions')?.replaceWith(el.querySelector('.reactions'));
    known.querySelector('.chip.add')?.replaceWith(el.querySelector('.chip.add'));
    known.message = m;
    return;
  }
  if (known) {
    const focused = known.contains(document.activeElement) ? document.activeElement : null;
    known.replaceWith(el);
    // A chip clicked from the keyboard keeps the focus across the re-render.
    if (focused?.dataset.key) el.querySelector(`[data-key="${CSS.escape(focused.dataset.key)}"]`)?.focus();
  } else {
    let before = null;
    if (m.id < c.lastId) before = [...list.children].find((li) => Number(li.dataset.id) > m.id) || null;
    list.insertBefore(el, before);
  }
  c.byId.set(m.id, el);
  c.lastId = Math.max(c.lastId, m.id);
  if (stick) list.scrollTop = list.scrollHeight;
}

/** Opens the chat at message `id`: scrolled to it and highlighted. */
export function focusMessage(c, id) {
  const li = c.byId.get(id);
  if (!li) { scrollToEnd(true); return false; }
  for (const old of document.querySelectorAll('#messages .focus')) old.classList.remove('focus');
  li.classList.add('focus');
  li.scrollIntoView({ block: 'center' });
  return true;
}

// Sending lives here, beside the buttons that send, so that socket.js and
// composer.js import chat.js, never the other way.
export function send(c, frame) {
  if (c.ws?.readyState !== WebSocket.OPEN) { $('#composer-error').textContent = 'Not connected. Hold on…'; return false; }
  c.ws.send(JSON.stringify(frame));
  return true;
}

/** `@name` of the mentioned users marked; the current user's stands out. */
function textWithMentions(text, mentions) {
  if (!mentions?.length) return [text];
  const names = mentions.map(escapeRegex).join('|');
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}_@.+-])@(${names})(?![\\p{L}\\p{N}_@+-]|\\.[\\p{L}\\p{N}_])`, 'giu');
  const me = state.me?.username.toLowerCase();
  return highlight(text, pattern, (match) => (match[1].toLowerCase() === me ? 'mention mine' : 'mention'));
}

function imageLink(m) {
  const img = h('img', {
    src: m.image, alt: `Image from ${m.user_name}`, loading: 'lazy',
    // An image that loads after the list was scrolled to the end keeps it there.
    onload: () => { if (state.chat?.atEnd) scrollToEnd(true); },
  });
  return h('a', {
    class: 'msg-image', href: m.image, target: '_blank', rel: 'noopener', title: 'Open the image full size',
    onclick: (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      $('#lightbox-img').src = m.image;
      $('#lightbox-img').alt = img.alt;
      $('#lightbox').showModal();
    },
  }, img);
}

function messageItem(c, m) {
  const own = state.me && m.user === state.me.id;
  // Staff may change anyone's message; the server checks either way.
  const mayChange = own || state.me?.is_staff;
  const classes = ['msg', own && 'own', m.is_deleted && 'deleted'].filter(Boolean).join(' ');
  const li = h('li', { class: classes, 'data-id': m.id });
  const reactions = m.is_deleted ? { row: null, add: null }
    : reactionsRow(m, (emoji) => send(c, { type: 'react', id: m.id, emoji }));
  const actions = mayChange && !m.is_deleted ? h('span', { class: 'msg-actions' },
    h('button', { type: 'button', class: 'link edit', onclick: () => editMessage(c, li, m) }, 'Edit'),
    confirmButton('Delete', () => send(c, { type: 'delete', id: m.id }))) : null;
  li.append(avatar(m.user_name, m.user_avatar),
    h('div', { class: 'bubble' },
      h('div', { class: 'meta' },
        h('strong', { class: 'author' }, m.user_name),
        h('time', { dateTime: m.timestamp, title: new Date(m.timestamp).toLocaleString() }, fmtTime(m.timestamp)),
        m.edited && !m.is_deleted ? h('span', { class: 'edited' }, 'edited') : null,
        reactions.add,
        actions),
      h('p', { class: 'text' }, m.is_deleted ? 'Message deleted' : textWithMentions(m.text, m.mentions)),
      m.image && !m.is_deleted ? imageLink(m) : null,
      reactions.row));
  li.message = m;
  return li;
}

function editMessage(c, li, m) {
  const input = h('textarea', { class: 'edit-input', rows: 2, value: m.text, 'aria-label': 'Edit message' });
  const cancel = () => {
    if (c.byId.get(m.id) !== li) return; // replaced by a newer version meanwhile
    const fresh = messageItem(c, li.message);
    li.replaceWith(fresh);
    c.byId.set(m.id, fresh);
  };
  const save = () => {
    const text = input.value.trim();
    if (!text || text === m.text) cancel();
    else send(c, { type: 'edit', id: m.id, text });
  };
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); save(); }
    if (event.key === 'Escape') cancel();
  });
  const text = $('.text', li);
  text.replaceWith(h('div', { class: 'editing' }, input,
    h('div', { class: 'actions small' },
      h('button', { type: 'button', class: 'primary', onclick: save }, 'Save'),
      h('button', { type: 'button', class: 'quiet', onclick: cancel }, 'Cancel'),
      h('span', { class: 'muted' }, 'Enter saves, Esc cancels'))));
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
}
