// The composer: text goes over the socket; an image (the button, a paste
// or a drop, previewed and removable first) is posted over REST with the
// text as its caption, and comes back over the socket like any message.
// While the user writes, `typing` notices go out at most every 3 s.

import { state } from './state.js';
import { api } from './api.js';
import { $ } from './dom.js';
import { send, showError } from './chat.js';

// The server sends one notice per user per 3 s; sending more is waste.
const TYPING_EVERY_MS = 3000;

// The image waiting to be sent, its preview URL, and whether it is being posted.
const attached = { file: null, url: null, posting: false };

function attach(file) {
  clearAttachment();
  attached.file = file;
  attached.url = URL.createObjectURL(file);
  $('#attachment-img').src = attached.url;
  $('#attachment-name').textContent = file.name || '';
  $('#attachment').hidden = false;
  showError('');
}

export function clearAttachment() {
  if (attached.url) URL.revokeObjectURL(attached.url);
  attached.file = null;
  attached.url = null;
  $('#attachment').hidden = true;
  $('#attachment-img').removeAttribute('src');
  $('#attachment-name').textContent = '';
  $('#attach-file').value = '';
}

/** The server's words for a refused post, all fields together. */
function errorText(data) {
  if (!data || typeof data !== 'object') return 'Could not send the image. Try again.';
  return Object.entries(data).filter(([key]) => key !== 'code')
    .map(([, messages]) => [].concat(messages).join(' ')).join(' ');
}

async function postImage(c, text, grow) {
  if (attached.posting) return;
  attached.posting = true;
  const fd = new FormData();
  if (text) fd.append('text', text);
  fd.append('image', attached.file, attached.file.name || 'image');
  const button = $('#composer button[type=submit]');
  button.disabled = true;
  const { status, data } = await api(`/api/chat/${c.room}/${c.id}/messages/`, { method: 'POST', body: fd });
  attached.posting = false;
  if (state.chat !== c) return;
  button.disabled = $('#chat-status').dataset.status !== 'live';
  if (status !== 201) { showError(errorText(data)); return; }
  $('#composer-text').value = '';
  clearAttachment();
  showError('');
  grow();
}

function typing() {
  const c = state.chat;
  const now = Date.now();
  if (!c || c.ws?.readyState !== WebSocket.OPEN || now - (c.typingSent || 0) < TYPING_EVERY_MS) return;
  c.typingSent = now;
  c.ws.send(JSON.stringify({ type: 'typing' }));
}

function firstFile(list) {
  return [...(list || [])].find((item) => item.kind === undefined || item.kind === 'file');
}

export function setupComposer() {
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
    const c = state.chat;
    if (!c) return;
    if (attached.file) { postImage(c, text, grow); return; }
    if (!text) return;
    if (send(c, { type: 'message', text, nonce: `c-${++state.nonces}` })) {
      input.value = '';
      showError('');
      grow();
    }
  };
  input.addEventListener('input', () => { grow(); if (input.value.trim()) typing(); });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
  });
  form.addEventListener('submit', (event) => { event.preventDefault(); submit(); input.focus(); });

  const chooser = $('#attach-file');
  $('#attach').addEventListener('click', () => chooser.click());
  chooser.addEventListener('change', () => { if (chooser.files[0]) attach(chooser.files[0]); });
  $('#attachment-remove').addEventListener('click', () => { clearAttachment(); input.focus(); });
  // A pasted file is attached; pasted text stays the browser's business.
  input.addEventListener('paste', (event) => {
    const item = firstFile(event.clipboardData?.items);
    const file = item?.getAsFile();
    if (!file) return;
    event.preventDefault();
    attach(file);
  });
  // A file dropped anywhere on the page is taken (a browser would leave
  // the page to show it); in a chat one can write in, it is attached.
  const dragsFiles = (event) => [...(event.dataTransfer?.types || [])].includes('Files');
  const writable = () => document.body.dataset.view === 'chat' && !form.hidden;
  document.addEventListener('dragover', (event) => {
    if (!dragsFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = writable() ? 'copy' : 'none';
    form.classList.toggle('dropping', writable());
  });
  document.addEventListener('dragleave', (event) => {
    if (!event.relatedTarget) form.classList.remove('dropping');
  });
  document.addEventListener('drop', (event) => {
    form.classList.remove('dropping');
    if (!dragsFiles(event)) return;
    event.preventDefault();
    const file = firstFile(event.dataTransfer.files);
    if (!file || !writable()) return;
    attach(file);
    input.focus();
  });
}
