// The open chat's WebSocket: connecting, reconnecting with backoff, catching
// up with ?after= (and REST pages when the hello says `more`) so no message
// is missed or shown twice, and handing each frame to the chat view.
//
// `synced` is the id up to which the view holds every message: what a
// reconnect asks to catch up after. While pages are still being read it
// stays behind the live messages that already arrived.

import { state } from './state.js';
import { api, accessLeft, refresh } from './api.js';
import {
  showChat, setStatus, showDeleted, showMissing, showError, renderChatHead, setOnline, scrollToEnd, upsert,
  focusMessage,
} from './chat.js';
import { clearAttachment } from './composer.js';
import { typingFrom, stoppedTyping, clearTyping } from './typing.js';
import { markRead } from './unread.js';

// Reading pages to reach a message opened from search or mentions stops
// after this many (10,000 messages) rather than reading a huge chat whole.
const REACH_PAGES = 100;

/** Opens a chat; with `focus`, scrolled to that message and highlighted. */
export function openChat(room, id, focus = null) {
  showChat(room);
  clearAttachment();
  state.chat = {
    room, id, ws: null, byId: new Map(), lastId: 0, synced: 0, catchingUp: false, attempt: 0, done: false, hello: false,
    focus, atEnd: true,
  };
  setStatus('connecting', 'Connecting…');
  connect(state.chat);
}

export function closeChat() {
  const c = state.chat;
  if (!c) return;
  clearTimeout(c.timer);
  clearTimeout(c.readTimer);
  clearTyping(c);
  c.done = true;
  c.ws?.close(1000);
  state.chat = null;
}

async function connect(c) {
  if (c.done) return;
  if (state.accessToken && accessLeft() < 30_000) await refresh().catch(() => {});
  if (c.done) return;
  const query = new URLSearchParams();
  const token = state.accessToken;
  if (token) query.set('token', token);
  if (c.synced) query.set('after', c.synced);
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let ws;
  try {
    ws = new WebSocket(`${scheme}//${location.host}/chat/${c.room}/${c.id}/?${query}`);
  } catch (error) {
    console.error(error);
    setStatus('reconnecting', 'Reconnecting…');
    later(c);
    return;
  }
  c.ws = ws;
  c.hello = false;
  ws.onmessage = (event) => {
    if (c.ws !== ws) return;
    try { onFrame(c, ws, JSON.parse(event.data)); } catch (error) { console.error(error); }
  };
  ws.onclose = (event) => {
    if (c.ws !== ws) return;
    c.ws = null;
    if (c.done) return;
    c.catchingUp = false;
    if (event.code === 4404) { gone(c); return; }
    setStatus('reconnecting', 'Reconnecting…');
    setOnline(null);
    if (event.code === 1011) later(c); // the server failed; try again later
    else if (event.code === 4401) refresh().catch(() => {}).then(() => later(c)); // signed out if revoked
    else if (!c.hello) checkBeforeRetry(c).then((retry) => retry && later(c));
    else later(c);
  };
}

/** When a socket never got its hello: is the chat gone, or the token stale? */
async function checkBeforeRetry(c) {
  const { status } = await api(`/api/chat/${c.room}/${c.id}/`);
  if (status === 404 || status === 400) {
    c.done = true;
    showMissing();
    return false;
  }
  if (status === 200 && state.accessToken && !c.refreshed) {
    c.refreshed = true; // once per chat: other refusals (e.g. 503) just back off
    await refresh().catch(() => {});
  }
  return !c.done;
}

function later(c) {
  const delay = Math.min(1000 * 2 ** c.attempt, 8000) + Math.random() * 300;
  c.attempt += 1;
  clearTimeout(c.timer);
  c.timer = setTimeout(() => connect(c), delay);
}

function gone(c) {
  c.done = true;
  showDeleted();
}

/** Reads the REST pages after `cursor` until `next` is null, then marks
 * the view synced; on a failure the socket is closed, and the reconnect
 * catches up from what was synced. */
async function catchUp(c, ws, cursor) {
  c.catchingUp = true;
  for (;;) {
    const { status, data } = await api(`/api/chat/${c.room}/${c.id}/messages/?after=${cursor}`);
    if (c.ws !== ws) return;
    if (status !== 200) { ws.close(); return; }
    for (const m of data.results) upsert(c, m, true);
    if (data.results.length) cursor = data.results[data.results.length - 1].id;
    if (!data.next) break;
  }
  c.catchingUp = false;
  // Pages reached past the hello's snapshot; live frames cover the rest.
  c.synced = Math.max(c.synced, c.lastId);
}

/** Reads the pages from message `c.focus` on until they meet what the
 * hello brought (or REACH_PAGES), then shows that message. */
async function reach(c, ws, helloFirst) {
  const target = c.focus;
  c.focus = null;
  let cursor = target - 1;
  for (let page = 0; !c.byId.has(target) || cursor < helloFirst; page += 1) {
    if (page === REACH_PAGES) break;
    const { status, data } = await api(`/api/chat/${c.room}/${c.id}/messages/?after=${cursor}`);
    if (c.ws !== ws || status !== 200) return;
    for (const m of data.results) upsert(c, m, true);
    if (!data.next || !data.results.length) break;
    cursor = data.results[data.results.length - 1].id;
    if (cursor >= helloFirst) break;
  }
  if (!focusMessage(c, target)) showError('That message is no longer in this chat.');
}

function onFrame(c, ws, frame) {
  switch (frame.type) {
    case 'hello':
      c.hello = true;
      c.attempt = 0;
      renderChatHead(frame.chat);
      setOnline(frame.online);
      for (const m of frame.messages) upsert(c, m, true);
      if (frame.messages.length) c.synced = Math.max(c.synced, frame.messages[frame.messages.length - 1].id);
      if (frame.more) catchUp(c, ws, c.synced);
      setStatus('live', frame.user ? 'Live' : 'Live · read-only');
      showError('');
      if (c.focus) {
        c.atEnd = false;
        if (c.byId.has(c.focus)) { focusMessage(c, c.focus); c.focus = null; }
        else reach(c, ws, frame.messages.length ? frame.messages[0].id : Infinity);
      } else scrollToEnd(!c.seen);
      c.seen = true;
      markRead(c);
      break;
    case 'message':
      upsert(c, frame.message, true);
      if (!c.catchingUp) c.synced = Math.max(c.synced, frame.message.id);
      stoppedTyping(c, frame.message.user_name);
      markRead(c);
      break;
    case 'reactions':
      upsert(c, frame.message, false, true);
      break;
    case 'typing':
      if (frame.user !== state.me?.username) typingFrom(c, frame.user);
      break;
    case 'message_edited':
    case 'message_deleted':
      upsert(c, frame.message, false);
      break;
    case 'presence':
      setOnline(frame.online);
      break;
    case 'chat_updated':
      renderChatHead(frame.chat);
      break;
    case 'chat_deleted':
      gone(c);
      break;
    case 'error':
      showError(frame.detail);
      break;
    default:
      break;
  }
}
