// chatd's web client, entry module: routes location.hash to a view and
// wires the page's global events. Plain DOM, the public REST API and the
// chat WebSocket; no build step, the browser loads these modules as they are.
//
// Nothing may import this module: the page loads it as /static/app.js?v=…,
// and an import would ask for /static/app.js, a second copy that would start
// the client again. Other modules reach the router through events instead.

import { ACCESS, REFRESH, ROOMS, state } from './state.js';
import { LOGGED_OUT, loadMe, scheduleRefresh } from './api.js';
import { $, renderAccount } from './dom.js';
import { showRoom, turnPage, setupNewChat } from './rooms.js';
import { setupComposer } from './composer.js';
import { openChat, closeChat } from './socket.js';
import { showMine, setupUnread } from './unread.js';
import { showMentions, showSearch, setupSearch } from './feeds.js';
import { showLogin, showProfile, setupAccounts } from './account.js';
import { showAdmin, setupAdmin } from './admin.js';

function decoded(part) {
  try { return decodeURIComponent(part); } catch { return part; }
}

function route() {
  closeChat();
  const [first, second, third] = location.hash.replace(/^#\/?/, '').split('/');
  if (first === 'login') { if (state.me) location.hash = state.returnTo; else showLogin(); return; }
  if (first === 'profile') { if (state.me) showProfile(); else location.hash = '#/login'; return; }
  if (first === 'admin') {
    if (state.me?.is_staff) showAdmin();
    else location.replace(state.me ? `#/${state.currentRoom}` : '#/login');
    return;
  }
  if (first === 'search' && second) { showSearch(decoded(second)); return; }
  if (first === 'mine' || first === 'mentions') {
    if (!state.me) { state.returnTo = location.hash; location.hash = '#/login'; return; }
    if (first === 'mine') showMine();
    else showMentions();
    return;
  }
  if (!ROOMS.includes(first)) { location.replace(`#/${state.currentRoom}`); return; }
  state.currentRoom = first;
  state.returnTo = location.hash;
  const focus = /^\d+$/.test(third || '') ? Number(third) : null;
  if (/^\d+$/.test(second || '')) openChat(first, Number(second), focus);
  else showRoom(first);
}

/** Escape leaves a list view for the room it came from. */
function onEscape(event) {
  if (event.key !== 'Escape' || event.defaultPrevented) return;
  if (['mine', 'mentions', 'search'].includes(document.body.dataset.view)) location.hash = `#/${state.currentRoom}`;
}

async function start() {
  setupNewChat();
  setupComposer();
  setupUnread();
  setupSearch();
  document.addEventListener('keydown', onEscape);
  setupAccounts();
  setupAdmin();
  $('#prev-page').addEventListener('click', () => turnPage(-1));
  $('#next-page').addEventListener('click', () => turnPage(1));
  window.addEventListener('hashchange', route);
  window.addEventListener(LOGGED_OUT, route);
  window.addEventListener('storage', async (event) => {
    if (event.key !== ACCESS && event.key !== REFRESH) return;
    const was = state.me?.id;
    await loadMe();
    scheduleRefresh();
    if (state.me?.id !== was) route();
  });
  scheduleRefresh();
  await loadMe();
  renderAccount();
  route();
  document.body.dataset.ready = 'true';
}

start();
