// chatd's web client: plain DOM, the public REST API and the chat WebSocket.
// Text from the server only ever reaches the page as text nodes (see `h`).

const ROOMS = ['films', 'music', 'books', 'games'];
const ACCESS = 'chatd.access';
const REFRESH = 'chatd.refresh';
const PAGE_SIZE = 100;

const $ = (selector, root = document) => root.querySelector(selector);

/** Builds an element; children that are not nodes become text nodes. */
function h(tag, props = {}, ...children) {
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

let me = null; // {id, username, email, avatar} when logged in
let toastTimer;
function toast(text) {
  const el = $('#toast');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

// ---- tokens -------------------------------------------------------------

function claims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

/** Milliseconds until the access token expires (negative: expired or none). */
function accessLeft() {
  const c = claims(localStorage.getItem(ACCESS) || '');
  return c ? c.exp * 1000 - Date.now() : -1;
}

let refreshTimer;
let refreshing = null;

/** Refreshes a minute (or a fifth of its lifetime) before the token expires. */
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const c = claims(localStorage.getItem(ACCESS) || '');
  if (!c || !localStorage.getItem(REFRESH)) return;
  const margin = Math.min(60_000, ((c.exp - c.iat) * 1000) / 5);
  const wait = Math.min(Math.max(0, accessLeft() - margin), 2 ** 31 - 1);
  refreshTimer = setTimeout(() => {
    refresh().catch(() => { refreshTimer = setTimeout(scheduleRefresh, 10_000); });
  }, wait);
}

/** New access token from the refresh token; false (and logged out) when refused. */
function refresh() {
  refreshing ??= (async () => {
    const res = await fetch('/api/token/refresh/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh: localStorage.getItem(REFRESH) || '' }),
    });
    if (res.ok) {
      localStorage.setItem(ACCESS, (await res.json()).access);
      scheduleRefresh();
      return true;
    }
    if (res.status === 400 || res.status === 401) logout('Your session has expired. Please log in again.');
    return false;
  })().finally(() => { refreshing = null; });
  return refreshing;
}

/** Calls the API; on a 401 refreshes the token once and retries. */
async function api(path, { method = 'GET', body, retry = true } = {}) {
  const headers = {};
  const token = localStorage.getItem(ACCESS);
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload = body;
  if (body && !(body instanceof FormData)) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload });
  } catch {
    return { status: 0, data: { non_field_errors: ['Cannot reach the server. Try again.'] } };
  }
  if (res.status === 401 && token && retry && localStorage.getItem(REFRESH)) {
    if (await refresh().catch(() => false)) return api(path, { method, body, retry: false });
  }
  let data = null;
  if (res.status !== 204) data = await res.json().catch(() => null);
  return { status: res.status, ok: res.ok, data };
}

async function loadMe() {
  if (!localStorage.getItem(ACCESS)) { me = null; return; }
  const { status, data } = await api('/api/user/');
  if (status === 200) me = data;
  else if (status === 401) logout();
  renderAccount();
}

function logout(message) {
  localStorage.removeItem(ACCESS);
  localStorage.removeItem(REFRESH);
  clearTimeout(refreshTimer);
  const wasIn = me !== null;
  me = null;
  renderAccount();
  if (message && wasIn) toast(message);
  if (wasIn) route();
}

// ---- shared view helpers ------------------------------------------------

function avatar(name, url, size = '') {
  if (url) return h('img', { class: `avatar ${size}`, src: url, alt: '' });
  let hash = 0;
  for (const ch of name || '?') hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return h('span', { class: `avatar initial c${hash % 6} ${size}`, 'aria-hidden': 'true' },
    (name || '?').slice(0, 1).toUpperCase());
}

function renderAccount() {
  $('#login-link').hidden = !!me;
  $('#me').hidden = !me;
  $('#logout').hidden = !me;
  if (me) {
    $('#me-name').textContent = me.username;
    $('#me-avatar').replaceChildren(avatar(me.username, me.avatar, 'small'));
  }
}

/** Editing a field clears the error shown for it. */
function clearOnEdit(form) {
  form.addEventListener('input', (event) => {
    const name = event.target.name;
    if (!name) return;
    event.target.removeAttribute('aria-invalid');
    const slot = form.querySelector(`.error[data-for="${CSS.escape(name)}"]`);
    if (slot) slot.textContent = '';
  });
}

function clearErrors(form) {
  for (const el of form.querySelectorAll('.error')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/** Shows DRF errors ({"field": ["msg"]}) next to their fields. */
function showErrors(form, data) {
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
function previewOnChange(input, img) {
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
function confirmButton(label, action) {
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

function show(view) {
  $('#loading').hidden = true;
  for (const name of ['room', 'chat', 'login', 'profile']) $(`#view-${name}`).hidden = name !== view;
  document.body.dataset.view = view;
}

function setTab(room) {
  for (const tab of document.querySelectorAll('.tabs a')) {
    tab.classList.toggle('active', tab.dataset.room === room);
    if (tab.dataset.room === room) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
}

const label = (room) => room[0].toUpperCase() + room.slice(1);
const fmtTime = (ts) => {
  const d = new Date(ts);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString()} ${time}`;
};

// ---- router -------------------------------------------------------------

let currentRoom = 'films';
let returnTo = '#/films';

function route() {
  closeChat();
  const [first, second] = location.hash.replace(/^#\/?/, '').split('/');
  if (first === 'login') { if (me) location.hash = returnTo; else showLogin(); return; }
  if (first === 'profile') { if (me) showProfile(); else location.hash = '#/login'; return; }
  if (!ROOMS.includes(first)) { location.replace(`#/${currentRoom}`); return; }
  currentRoom = first;
  returnTo = location.hash;
  if (/^\d+$/.test(second || '')) openChat(first, Number(second));
  else showRoom(first);
}

// ---- rooms --------------------------------------------------------------

const pages = {}; // room -> page number shown
let listSeq = 0;

async function showRoom(room, highlight) {
  show('room');
  setTab(room);
  $('#room-title').textContent = label(room);
  $('#new-chat-room').textContent = label(room);
  $('#new-chat-toggle').hidden = !me;
  $('#guest-hint').hidden = !!me;
  if (!me) $('#new-chat').hidden = true;
  const page = pages[room] || 1;
  const seq = ++listSeq;
  const { status, data } = await api(`/api/chat/${room}/${page > 1 ? `?page=${page}` : ''}`);
  if (seq !== listSeq) return;
  if (status === 404 && page > 1) { pages[room] = 1; showRoom(room); return; }
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

function turnPage(step) {
  pages[currentRoom] = (pages[currentRoom] || 1) + step;
  showRoom(currentRoom);
  $('#main').scrollTop = 0;
}

function chatCard(chat) {
  const own = me && chat.creator === me.username;
  const li = h('li', { class: 'chat-card card', 'data-id': chat.id });
  const body = h('a', { class: 'chat-link', href: `#/${chat.room}/${chat.id}` },
    h('img', { class: 'cover', src: chat.img, alt: '', loading: 'lazy' }),
    h('div', { class: 'chat-text' },
      h('h3', { class: 'chat-name' }, chat.title),
      h('p', { class: 'muted small creator' }, `by ${chat.creator}`),
      chat.description ? h('p', { class: 'desc' }, chat.description) : null));
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
  if (status === 204) { toast(`Deleted “${chat.title}”.`); showRoom(currentRoom); } else toast(data?.detail || 'Could not delete the chat.');
}

function setupNewChat() {
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
    fd.append('room', currentRoom);
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
    pages[room] = list.status === 200 ? Math.max(1, Math.ceil(list.data.count / PAGE_SIZE)) : 1;
    if (room === currentRoom) showRoom(room, data.chat.id);
    else location.hash = `#/${room}`;
  });
}

// ---- one chat -----------------------------------------------------------

let chat = null; // the open chat: {room, id, ws, byId, lastId, attempt, done, hello}
let nonces = 0;

function closeChat() {
  if (!chat) return;
  clearTimeout(chat.timer);
  chat.done = true;
  chat.ws?.close(1000);
  chat = null;
}

function openChat(room, id) {
  show('chat');
  setTab(room);
  $('#chat-back').href = `#/${room}`;
  for (const sel of ['#chat-title', '#chat-sub', '#chat-desc', '#chat-online', '#composer-error']) $(sel).textContent = '';
  $('#chat-img').hidden = true;
  $('#messages').replaceChildren();
  $('#composer').hidden = !me;
  $('#guest-composer').hidden = !!me;
  chat = { room, id, ws: null, byId: new Map(), lastId: 0, attempt: 0, done: false, hello: false };
  setStatus('connecting', 'Connecting…');
  connect(chat);
}

function setStatus(state, text) {
  const el = $('#chat-status');
  el.dataset.status = state;
  el.textContent = text;
  $('#composer button').disabled = state !== 'live';
}

async function connect(c) {
  if (c.done) return;
  if (localStorage.getItem(ACCESS) && accessLeft() < 30_000) await refresh().catch(() => {});
  if (c.done) return;
  const query = new URLSearchParams();
  const token = localStorage.getItem(ACCESS);
  if (token) query.set('token', token);
  if (c.lastId) query.set('after', c.lastId);
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
    try { onFrame(c, JSON.parse(event.data)); } catch (error) { console.error(error); }
  };
  ws.onclose = (event) => {
    if (c.ws !== ws) return;
    c.ws = null;
    if (c.done) return;
    if (event.code === 4404) { gone(c); return; }
    setStatus('reconnecting', 'Reconnecting…');
    $('#chat-online').textContent = '';
    if (!c.hello) checkBeforeRetry(c).then((retry) => retry && later(c));
    else later(c);
  };
}

/** When a socket never got its hello: is the chat gone, or the token stale? */
async function checkBeforeRetry(c) {
  const { status } = await api(`/api/chat/${c.room}/${c.id}/`);
  if (status === 404 || status === 400) {
    c.done = true;
    setStatus('gone', 'Not found');
    $('#chat-title').textContent = 'This chat does not exist.';
    return false;
  }
  if (status === 200 && localStorage.getItem(ACCESS) && !c.refreshed) {
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
  setStatus('gone', 'Chat deleted');
  $('#composer').hidden = true;
  $('#guest-composer').hidden = true;
  $('#composer-error').textContent = 'This chat has been deleted.';
}

function onFrame(c, frame) {
  switch (frame.type) {
    case 'hello':
      c.hello = true;
      c.attempt = 0;
      renderChatHead(frame.chat);
      setOnline(frame.online);
      for (const m of frame.messages) upsert(c, m, true);
      setStatus('live', frame.user ? 'Live' : 'Live · read-only');
      $('#composer-error').textContent = '';
      scrollToEnd(!c.seen);
      c.seen = true;
      break;
    case 'message':
      upsert(c, frame.message, true);
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
      $('#composer-error').textContent = frame.detail;
      break;
    default:
      break;
  }
}

function renderChatHead(info) {
  document.title = `${info.title} · chatd`;
  $('#chat-title').textContent = info.title;
  $('#chat-sub').textContent = `${label(info.room)} · by ${info.creator}`;
  $('#chat-desc').textContent = info.description || '';
  $('#chat-desc').hidden = !info.description;
  const img = $('#chat-img');
  img.src = info.img;
  img.hidden = false;
}

function setOnline(n) {
  $('#chat-online').textContent = `${n} online`;
}

const nearEnd = (el) => el.scrollHeight - el.scrollTop - el.clientHeight < 80;
function scrollToEnd(force) {
  const list = $('#messages');
  if (force || nearEnd(list)) list.scrollTop = list.scrollHeight;
}

/** Adds or replaces a message, keeping the list in id order and free of duplicates. */
function upsert(c, m, add) {
  const list = $('#messages');
  const known = c.byId.get(m.id);
  if (!known && !add) return;
  const stick = nearEnd(list);
  const el = messageItem(c, m);
  if (known) known.replaceWith(el);
  else {
    let before = null;
    if (m.id < c.lastId) before = [...list.children].find((li) => Number(li.dataset.id) > m.id) || null;
    list.insertBefore(el, before);
  }
  c.byId.set(m.id, el);
  c.lastId = Math.max(c.lastId, m.id);
  if (stick) list.scrollTop = list.scrollHeight;
}

function send(c, frame) {
  if (c.ws?.readyState !== WebSocket.OPEN) { $('#composer-error').textContent = 'Not connected. Hold on…'; return false; }
  c.ws.send(JSON.stringify(frame));
  return true;
}

function messageItem(c, m) {
  const own = me && m.user === me.id;
  const classes = ['msg', own && 'own', m.is_deleted && 'deleted'].filter(Boolean).join(' ');
  const li = h('li', { class: classes, 'data-id': m.id });
  const actions = own && !m.is_deleted ? h('span', { class: 'msg-actions' },
    h('button', { type: 'button', class: 'link edit', onclick: () => editMessage(c, li, m) }, 'Edit'),
    confirmButton('Delete', () => send(c, { type: 'delete', id: m.id }))) : null;
  li.append(avatar(m.user_name, m.user_avatar),
    h('div', { class: 'bubble' },
      h('div', { class: 'meta' },
        h('strong', { class: 'author' }, m.user_name),
        h('time', { dateTime: m.timestamp, title: new Date(m.timestamp).toLocaleString() }, fmtTime(m.timestamp)),
        m.edited && !m.is_deleted ? h('span', { class: 'edited' }, 'edited') : null,
        actions),
      h('p', { class: 'text' }, m.is_deleted ? 'Message deleted' : m.text)));
  return li;
}

function editMessage(c, li, m) {
  const input = h('textarea', { class: 'edit-input', rows: 2, value: m.text, 'aria-label': 'Edit message' });
  const cancel = () => {
    if (c.byId.get(m.id) !== li) return; // replaced by a newer version meanwhile
    const fresh = messageItem(c, m);
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

function setupComposer() {
  const form = $('#composer');
  const input = $('#composer-text');
  const grow = () => {
    input.style.height = 'auto';
    const full = input.scrollHeight + 2; // + borders
    input.style.height = `${Math.min(full, 160)}px`;
    input.style.overflowY = full > 160 ? 'auto' : 'hidden';
  };
  const submit = () => {
    const text = input.value.trim();
    if (!text || !chat) return;
    if (send(chat, { type: 'message', text, nonce: `c-${++nonces}` })) {
      input.value = '';
      $('#composer-error').textContent = '';
      grow();
    }
  };
  input.addEventListener('input', grow);
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
  });
  form.addEventListener('submit', (event) => { event.preventDefault(); submit(); input.focus(); });
}

// ---- accounts -----------------------------------------------------------

function showLogin() {
  show('login');
  setTab(null);
  $('#login-form').elements.username.focus();
}

async function logIn(username, password, form) {
  const { status, data } = await api('/api/token/', { method: 'POST', body: { username, password } });
  if (status !== 200) { showErrors(form, data); return; }
  localStorage.setItem(ACCESS, data.access);
  localStorage.setItem(REFRESH, data.refresh);
  scheduleRefresh();
  await loadMe();
  form.reset();
  clearErrors(form);
  location.hash = returnTo;
}

function setupAccounts() {
  for (const form of document.querySelectorAll('#login-form, #register-form, #avatar-form')) clearOnEdit(form);
  const login = $('#login-form');
  login.addEventListener('submit', (event) => {
    event.preventDefault();
    logIn(login.elements.username.value, login.elements.password.value, login);
  });
  const register = $('#register-form');
  register.addEventListener('submit', async (event) => {
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(register));
    const { status, data } = await api('/api/register/', { method: 'POST', body: fields });
    if (status !== 201) { showErrors(register, data); return; }
    clearErrors(register);
    await logIn(fields.username, fields.password, register);
  });
  $('#logout').addEventListener('click', () => logout());

  const avatarForm = $('#avatar-form');
  previewOnChange(avatarForm.elements.avatar, $('.preview', avatarForm));
  avatarForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = avatarForm.elements.avatar.files[0];
    if (!file) { showErrors(avatarForm, { avatar: ['Choose an image first.'] }); return; }
    const fd = new FormData();
    fd.append('avatar', file);
    const { status, data } = await api('/api/profile/avatar/', { method: 'PUT', body: fd });
    if (status !== 200) { showErrors(avatarForm, data); return; }
    me.avatar = data.avatar;
    avatarForm.reset();
    avatarForm.elements.avatar.dispatchEvent(new Event('change'));
    clearErrors(avatarForm);
    renderAccount();
    showProfile();
    toast('Avatar saved.');
  });
}

function showProfile() {
  show('profile');
  setTab(null);
  $('#profile-avatar').replaceChildren(avatar(me.username, me.avatar, 'big'));
  $('#profile-name').textContent = me.username;
  $('#profile-email').textContent = me.email;
}

// ---- start --------------------------------------------------------------

async function start() {
  setupNewChat();
  setupComposer();
  setupAccounts();
  $('#prev-page').addEventListener('click', () => turnPage(-1));
  $('#next-page').addEventListener('click', () => turnPage(1));
  window.addEventListener('hashchange', route);
  window.addEventListener('storage', async (event) => {
    if (event.key !== ACCESS && event.key !== REFRESH) return;
    const was = me?.id;
    await loadMe();
    scheduleRefresh();
    if (me?.id !== was) route();
  });
  scheduleRefresh();
  await loadMe();
  renderAccount();
  route();
  document.body.dataset.ready = 'true';
}

start();
