//! "nik is typing…": who may tell a chat they are typing, and when. A
//! typing notice is never stored; each user is heard at most once per
//! [`TYPING_EVERY`] in a chat, however many sockets or keystrokes they have.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The shortest gap between two typing notices of one user in one chat.
pub const TYPING_EVERY: Duration = Duration::from_secs(3);

/// Entries beyond this are pruned of expired ones before another is added.
const PRUNE_AT: usize = 4096;

/// When each user last told each chat they were typing.
#[derive(Debug, Default)]
pub struct Typing {
    last: Mutex<HashMap<(i64, i64), Instant>>,
}

impl Typing {
    /// True when `user_id`'s notice in `chat_id` goes out now (and
    /// records it); false within [`TYPING_EVERY`] of the last one.
    pub fn allow(&self, chat_id: i64, user_id: i64, now: Instant) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = last.get(&(chat_id, user_id)) {
            if now.saturating_duration_since(*at) < TYPING_EVERY {
                return false;
            }
        }
        if last.len() >= PRUNE_AT {
            last.retain(|_, at| now.saturating_duration_since(*at) < TYPING_EVERY);
        }
        last.insert((chat_id, user_id), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_user_and_chat_every_three_seconds() {
        let typing = Typing::default();
        let t0 = Instant::now();
        assert!(typing.allow(1, 7, t0));
        assert!(!typing.allow(1, 7, t0 + Duration::from_millis(2900)));
        assert!(typing.allow(2, 7, t0), "another chat");
        assert!(typing.allow(1, 8, t0), "another user");
        assert!(typing.allow(1, 7, t0 + TYPING_EVERY));
    }
}
