// "nik is typing…" under the open chat's messages: a name from a `typing`
// frame stays for 5 s, or until that user's message arrives.

import { $ } from './dom.js';

// The server passes a user's notice on at most every 3 s while they type.
const SHOWN_FOR_MS = 5000;

function render(c) {
  if (c.done) return;
  const names = [...c.typers.keys()];
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length === 3) text = `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
  else if (names.length > 3) text = 'Several people are typing…';
  $('#typing').textContent = text;
}

export function typingFrom(c, name) {
  c.typers ??= new Map();
  clearTimeout(c.typers.get(name));
  c.typers.set(name, setTimeout(() => stoppedTyping(c, name), SHOWN_FOR_MS));
  render(c);
}

export function stoppedTyping(c, name) {
  if (!c.typers?.has(name)) return;
  clearTimeout(c.typers.get(name));
  c.typers.delete(name);
  render(c);
}

export function clearTyping(c) {
  for (const timer of c.typers?.values() || []) clearTimeout(timer);
  c.typers?.clear();
  $('#typing').textContent = '';
}
