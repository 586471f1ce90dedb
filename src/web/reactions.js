// Reactions under a message: chips "emoji count" (the user's own
// highlighted, who reacted in the title and, on a phone, on a long press),
// a click toggling one's own, and a small picker of common emoji to add one.
// Sending is the caller's: `toggle(emoji)` sends the socket's `react`.

import { state } from './state.js';
import { h, toast } from './dom.js';

export const COMMON = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'];
const LONG_PRESS_MS = 500;

/** Shows who reacted after a finger rests on the chip; the click that follows is dropped. */
function onLongPress(chip, text) {
  let timer = null;
  let pressed = false;
  const stop = () => { clearTimeout(timer); timer = null; };
  chip.addEventListener('pointerdown', (event) => {
    pressed = false;
    if (event.pointerType !== 'touch') return;
    timer = setTimeout(() => { pressed = true; toast(text); }, LONG_PRESS_MS);
  });
  for (const type of ['pointerup', 'pointercancel', 'pointerleave']) chip.addEventListener(type, stop);
  chip.addEventListener('contextmenu', (event) => { if (pressed || timer) event.preventDefault(); });
  return () => {
    const was = pressed;
    pressed = false;
    return was;
  };
}

function chip(reaction, toggle) {
  const me = state.me?.username;
  const mine = !!me && reaction.users.includes(me);
  const who = `${reaction.emoji} ${reaction.users.join(', ')}`;
  const el = h('button', {
    type: 'button', class: mine ? 'chip mine' : 'chip', title: who, 'data-key': reaction.emoji,
    'aria-pressed': String(mine), 'aria-label': `${reaction.emoji} ${reaction.users.length}: ${reaction.users.join(', ')}`,
  }, h('span', { class: 'emoji' }, reaction.emoji), h('span', { class: 'count' }, String(reaction.users.length)));
  const wasLongPress = onLongPress(el, who);
  el.addEventListener('click', () => {
    if (wasLongPress()) return;
    if (state.me) toggle(reaction.emoji);
    else toast('Log in to react.');
  });
  return el;
}

function picker(m, toggle, close) {
  const me = state.me?.username;
  const have = new Set(m.reactions.filter((r) => r.users.includes(me)).map((r) => r.emoji));
  const box = h('div', { class: 'picker', role: 'group', 'aria-label': 'Pick a reaction' },
    COMMON.map((emoji) => h('button', {
      type: 'button', class: 'quiet', 'aria-label': `React with ${emoji}`, title: emoji,
      onclick: () => { if (!have.has(emoji)) toggle(emoji); close(); },
    }, emoji)));
  box.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') { event.stopPropagation(); close(); }
  });
  return box;
}

/**
 * The chips under a message, and (for the logged in) the button that opens
 * the picker, which the caller places in the message's header line.
 */
export function reactionsRow(m, toggle) {
  const row = h('div', { class: 'reactions' }, (m.reactions || []).map((r) => chip(r, toggle)));
  if (!state.me) return { row, add: null };
  let open = null;
  const add = h('button', {
    type: 'button', class: 'chip add', 'data-key': '+', 'aria-label': 'Add a reaction', title: 'Add a reaction',
    'aria-expanded': 'false',
  }, '☺+');
  const close = () => {
    open?.remove();
    open = null;
    add.setAttribute('aria-expanded', 'false');
    add.focus();
  };
  add.addEventListener('click', () => {
    if (open) { close(); return; }
    open = picker(m, toggle, close);
    row.append(open);
    add.setAttribute('aria-expanded', 'true');
    open.querySelector('button').focus();
  });
  return { row, add };
}
