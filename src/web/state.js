// The client's one mutable state object and its fixed settings. Every other
// module reads and writes through `state`, so what can change at run time is
// listed in one place instead of spread over module-level `let`s.

export const ROOMS = ['films', 'music', 'books', 'games'];
// The server's page size for chat lists; must match the API's.
export const PAGE_SIZE = 100;
// localStorage keys; exported for the 'storage' event, which names the key.
export const ACCESS = 'chatd.access';
export const REFRESH = 'chatd.refresh';

function store(key, token) {
  if (token === null) localStorage.removeItem(key);
  else localStorage.setItem(key, token);
}

export const state = {
  // The tokens live in localStorage rather than here so that every tab
  // shares one session; null clears one.
  get accessToken() { return localStorage.getItem(ACCESS); },
  set accessToken(token) { store(ACCESS, token); },
  get refreshToken() { return localStorage.getItem(REFRESH); },
  set refreshToken(token) { store(REFRESH, token); },

  /** {id, username, email, avatar, is_staff} when logged in, else null. */
  me: null,
  // The refresh in flight, so that concurrent 401s share one request.
  refreshing: null,
  refreshTimer: undefined,
  toastTimer: undefined,

  // Where "New chat" and the pager apply, and where a bad hash goes back to.
  currentRoom: 'films',
  // Logging in returns to the page that asked for it.
  returnTo: '#/films',
  // room -> page shown, so coming back to a room keeps its page.
  pages: {},
  // Counts chat-list loads, so that a slow answer to an older one is dropped.
  listSeq: 0,

  /**
   * The open chat, or null: {room, id, ws, byId, lastId, synced, catchingUp, attempt, done,
   * hello, timer, seen, refreshed, focus (a message id to open the chat at), atEnd,
   * typers (name -> timer), typingSent, readSent, readAt, readTimer}. A closed chat's object is marked `done`
   * and dropped, so callbacks still holding it can tell they are stale.
   */
  chat: null,
  // Numbers the nonces of sent messages (unique within this page).
  nonces: 0,
  // chat id -> the logged-in user's entry of /api/user/chats/ (a Chat with
  // last_read, unread, unread_mentions, last_message): the unread badges.
  mine: new Map(),
  // chat id -> {room, title}, for feeds whose messages name only the chat id.
  chatInfo: new Map(),
};
