// Lists of messages from elsewhere: the mentions feed and search results.
// Each entry names its chat and room and opens the chat at that message
// (#/<room>/<chat>/<message>).

import { ROOMS, state } from './state.js';
import { api } from './api.js';
import { $, h, show, setTab, label, fmtTime, highlight, escapeRegex } from './dom.js';

const SNIPPET = 180;

/** The room and title of each chat id; the mentions feed names only the id. */
async function chatInfos(ids) {
  const unknown = [...new Set(ids)].filter((id) => !state.chatInfo.has(id));
  await Promise.all(unknown.map(async (id) => {
    // A chat's REST path needs its room: ask each; the wrong ones say 404.
    const answers = await Promise.all(ROOMS.map((room) => api(`/api/chat/${room}/${id}/`)));
    const found = answers.find((answer) => answer.status === 200);
    if (found) state.chatInfo.set(id, { room: found.data.room, title: found.data.title });
  }));
  return state.chatInfo;
}

/** The part of `text` around the first match, with the matches marked. */
function snippet(text, pattern) {
  let start = 0;
  const first = pattern ? text.search(pattern) : -1;
  if (text.length > SNIPPET && first > SNIPPET / 3) start = first - Math.floor(SNIPPET / 3);
  let part = text.slice(start, start + SNIPPET);
  if (start > 0) part = `…${part}`;
  if (start + SNIPPET < text.length) part = `${part}…`;
  return highlight(part, pattern, () => 'hit');
}

function entry(m, info, pattern) {
  const body = m.text ? snippet(m.text, pattern) : ['🖼 image'];
  const inner = [
    h('div', { class: 'meta' },
      h('strong', { class: 'result-chat' }, info ? info.title : 'A deleted chat'),
      info ? h('span', { class: 'result-room' }, label(info.room)) : null,
      h('time', { dateTime: m.timestamp }, fmtTime(m.timestamp))),
    h('p', { class: 'snippet' }, h('span', { class: 'author' }, `${m.user_name}: `), body),
  ];
  if (!info) return h('li', { class: 'result card', 'data-id': m.id }, h('div', { class: 'result-link' }, inner));
  return h('li', { class: 'result card', 'data-id': m.id },
    h('a', { class: 'result-link', href: `#/${info.room}/${m.chat}/${m.id}` }, inner));
}

export async function showMentions() {
  show('mentions');
  setTab('mentions');
  const list = $('#mentions-list');
  list.replaceChildren(h('li', { class: 'empty' }, 'Loading…'));
  const { status, data } = await api('/api/user/mentions/');
  if (document.body.dataset.view !== 'mentions') return;
  if (status !== 200) { list.replaceChildren(h('li', { class: 'empty' }, 'Could not load the mentions.')); return; }
  const infos = await chatInfos(data.results.map((m) => m.chat));
  const me = escapeRegex(state.me?.username || '');
  const pattern = me ? new RegExp(`@${me}`, 'giu') : null;
  list.replaceChildren(...data.results.map((m) => entry(m, infos.get(m.chat), pattern)));
  if (!data.results.length) list.append(h('li', { class: 'empty' }, 'Nobody has mentioned you yet.'));
}

// Counts searches, so that a slow answer to an older one is dropped.
let searchSeq = 0;

export async function showSearch(q, more) {
  const seq = ++searchSeq;
  if (!more) {
    show('search');
    setTab(null);
    $('#search-q').value = q;
    $('#search-title').textContent = `Search: ${q}`;
    $('#search-count').textContent = 'Searching…';
    $('#search-list').replaceChildren();
    $('#search-more').hidden = true;
  }
  const path = more || `/api/search/?${new URLSearchParams({ q })}`;
  const { status, data } = await api(path);
  if (seq !== searchSeq || document.body.dataset.view !== 'search') return;
  if (status !== 200) {
    $('#search-count').textContent = [].concat(data?.q || data?.detail || 'The search failed.').join(' ');
    return;
  }
  for (const m of data.results) state.chatInfo.set(m.chat, { room: m.room, title: m.chat_title });
  const words = q.split(/[^\p{L}\p{N}]+/u).filter(Boolean).map(escapeRegex);
  const pattern = words.length ? new RegExp(`(?<![\\p{L}\\p{N}])(${words.join('|')})[\\p{L}\\p{N}]*`, 'giu') : null;
  $('#search-list').append(...data.results.map((m) => entry(m, { room: m.room, title: m.chat_title }, pattern)));
  $('#search-count').textContent = data.count === 1 ? '1 message' : `${data.count} messages`;
  if (!data.count) $('#search-list').replaceChildren(h('li', { class: 'empty' }, `Nothing matches “${q}”.`));
  const next = data.next ? new URL(data.next) : null;
  $('#search-more').hidden = !next;
  $('#search-more').onclick = next ? () => showSearch(q, next.pathname + next.search) : null;
}

export function setupSearch() {
  $('#search-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const q = $('#search-q').value.trim();
    if (!q) return;
    const hash = `#/search/${encodeURIComponent(q)}`;
    if (location.hash === hash) showSearch(q);
    else location.hash = hash;
  });
}
