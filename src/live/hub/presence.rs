//! Presence as a state: a join or a leave only marks the chat; at most once
//! per interval the current count goes into each socket's presence slot,
//! which the socket's writer turns into one frame.

use std::time::Duration;

use tokio::time::Instant;

use super::{Hub, Room, State};

/// The shortest time between two presence frames to one socket.
pub const PRESENCE_INTERVAL: Duration = Duration::from_millis(250);

/// Presence frames one chat may cause per second: above 1,000 sockets the
/// interval grows with the room, so a busy 10,000-socket room costs 4,000
/// presence frames a second, not 40,000.
const PRESENCE_FRAMES_PER_SEC: u64 = 4_000;

impl Hub {
    /// A chat's count changed: tell its sockets now if the last telling
    /// was an interval ago, else once the interval is over.
    pub(super) fn count_changed(&self, state: &mut State, chat_id: i64) {
        if state.shutting_down {
            return; // every socket is closing; nobody needs the count
        }
        let Some(room) = state.chats.get_mut(&chat_id) else {
            return;
        };
        if room.pending {
            return;
        }
        let now = Instant::now();
        let due = room.last_told.map(|at| at + interval(room.members.len()));
        match (due, tokio::runtime::Handle::try_current()) {
            (Some(due), Ok(runtime)) if due > now => {
                room.pending = true;
                let hub = self.me.clone();
                runtime.spawn(async move {
                    tokio::time::sleep_until(due).await;
                    if let Some(hub) = hub.upgrade() {
                        hub.tell_pending(chat_id);
                    }
                });
            }
            _ => tell(room, now),
        }
    }

    /// The scheduled telling of a chat's count.
    fn tell_pending(&self, chat_id: i64) {
        let mut state = self.lock();
        if state.shutting_down {
            return;
        }
        if let Some(room) = state.chats.get_mut(&chat_id) {
            if room.pending {
                room.pending = false;
                tell(room, Instant::now());
            }
        }
    }
}

/// The presence interval of a chat with `online` sockets.
pub(super) fn interval(online: usize) -> Duration {
    let spread = Duration::from_secs(1) * online as u32 / PRESENCE_FRAMES_PER_SEC as u32;
    spread.max(PRESENCE_INTERVAL)
}

/// Puts the chat's count into every member's presence slot, if it changed
/// since the last telling. A socket's writer skips a count its `hello`
/// already gave.
fn tell(room: &mut Room, now: Instant) {
    room.last_told = Some(now);
    let online = room.members.len();
    if online == room.told {
        return;
    }
    room.told = online;
    for member in room.members.values() {
        member.peer.control.set_presence(online);
    }
}
