// Unread counts: the logged-in user's chats from /api/user/chats/ (badges
// in the room list and on "My chats", and the "My chats" view), fetched
// again every 5 s while a list is on screen and every 15 s in a chat (the
// API has no user-wide socket), and the read marker sent when the open chat's newest message
// is on screen.

import { state } from './state.js';
import { api } from './api.js';
import { $, h, show, setTab, label, fmtTime } from './dom.js';

const POLL_MS = 5000;
// A busy chat would otherwise send a marker per message; each counts
// against the socket's frame budget.
const READ_EVERY_MS = 2000;

/** The badge for one chat: its unread count, marked when it mentions the user. */
export function unreadBadge(id) {
  const entry = state.mine.get(id);
  if (!entry?.unread) return null;
  const mentions = entry.unread_mentions;
  return h('span', {
    class: mentions ? 'unread mention' : 'unread',
    title: mentions ? `${entry.unread} unread, ${mentions} mentioning you` : `${entry.unread} unread`,
  }, entry.unread > 99 ? '99+' : String(entry.unread));
}

function renderBadges() {
  for (const card of document.querySelectorAll('#chat-list .chat-card')) {
    card.querySelector('.unread-slot')?.replaceChildren(unreadBadge(Number(card.dataset.id)) || '');
  }
  const total = [...state.mine.values()].reduce((sum, entry) => sum + entry.unread, 0);
  const badge = $('#mine-badge');
  badge.hidden = total === 0;
  badge.textContent = total > 99 ? '99+' : String(total);
  badge.title = `${total} unread`;
}

let shownMine = '';

/** Fetches the user's chats; redraws the badges, and the view when shown. */
export async function loadMine() {
  if (!state.me) { state.mine = new Map(); renderBadges(); return; }
  const { status, data } = await api('/api/user/chats/');
  if (status !== 200 || !state.me) return;
  state.mine = new Map(data.results.map((chat) => [chat.id, chat]));
  for (const chat of data.results) state.chatInfo.set(chat.id, { room: chat.room, title: chat.title });
  renderBadges();
  // Redrawn only when something changed, so a focused link keeps its focus.
  const key = JSON.stringify(data.results);
  if (document.body.dataset.view === 'mine' && key !== shownMine) {
    shownMine = key;
    $('#mine-list').replaceChildren(...data.results.map(mineCard));
    if (!data.results.length) {
      $('#mine-list').append(h('li', { class: 'empty' }, 'Chats you create, write in or read show up here.'));
    }
  }
}

function lastLine(m) {
  if (!m) return 'No messages yet.';
  if (m.is_deleted) return `${m.user_name}: message deleted`;
  return `${m.user_name}: ${m.text || '🖼 image'}`;
}

function mineCard(chat) {
  return h('li', { class: 'chat-card card', 'data-id': chat.id },
    h('a', { class: 'chat-link', href: `#/${chat.room}/${chat.id}` },
      h('img', { class: 'cover', src: chat.img, alt: '', loading: 'lazy' }),
      h('div', { class: 'chat-text' },
        h('h3', { class: 'chat-name' }, chat.title),
        h('p', { class: 'muted small' }, label(chat.room),
          chat.last_message ? ` · ${fmtTime(chat.last_message.timestamp)}` : ''),
        h('p', { class: 'last' }, lastLine(chat.last_message))),
      h('span', { class: 'unread-slot' }, unreadBadge(chat.id))));
}

export function showMine() {
  show('mine');
  setTab('mine');
  shownMine = '';
  $('#mine-list').replaceChildren(h('li', { class: 'empty' }, 'Loading…'));
  loadMine();
}

function sendRead(c) {
  c.readTimer = null;
  const list = $('#messages');
  if (c.done || !state.me || document.hidden || c.ws?.readyState !== WebSocket.OPEN) return;
  if (list.scrollHeight - list.scrollTop - list.clientHeight > 80) return; // the newest is not on screen
  const newest = c.lastId;
  if (!newest || newest <= (c.readSent || 0)) return;
  c.readSent = newest;
  c.ws.send(JSON.stringify({ type: 'read', id: newest }));
  const entry = state.mine.get(c.id);
  if (entry) {
    Object.assign(entry, { unread: 0, unread_mentions: 0, last_read: Math.max(entry.last_read || 0, newest) });
    renderBadges();
  }
}

/** Marks the open chat read up to its newest message, if that is on screen. */
export function markRead(c) {
  if (!c || c.readTimer) return;
  const wait = Math.max(0, (c.readAt || 0) + READ_EVERY_MS - Date.now());
  c.readTimer = setTimeout(() => { c.readAt = Date.now(); sendRead(c); }, wait);
}

export function setupUnread() {
  let ticks = 0;
  setInterval(() => {
    ticks += 1;
    if (!state.me || document.hidden) return;
    const view = document.body.dataset.view;
    // In a chat only the header's total is at stake: a third as often.
    if (view === 'room' || view === 'mine' || (view === 'chat' && ticks % 3 === 0)) loadMine();
  }, POLL_MS);
  $('#messages').addEventListener('scroll', () => {
    const c = state.chat;
    if (!c) return;
    const list = $('#messages');
    c.atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    if (c.atEnd) markRead(c);
  });
  document.addEventListener('visibilitychange', () => { if (!document.hidden) markRead(state.chat); });
}
