use super::presence::interval;
use super::*;
use crate::live::fanout::{Event, Fanout};
use crate::live::peer::{Control, Out};

/// A peer without a stream: its frames wait in its outbox, for the test to
/// take ([`Out::take_queued`]).
fn peer(capacity: usize) -> (Peer, Arc<Out>) {
    let out = Arc::new(Out::new(None, capacity));
    (
        Peer {
            out: out.clone(),
            control: Arc::new(Control::default()),
        },
        out,
    )
}

fn user(user_id: i64) -> Option<SignedIn> {
    Some(SignedIn {
        user_id,
        token_version: 0,
    })
}

#[tokio::test]
async fn presence_is_a_slot_filled_at_most_once_per_interval() {
    let hub = Hub::new(100);
    let (a, _a_rx) = peer(8);
    let a_control = a.control.clone();
    let (a_id, online) = hub.join(1, "http://h".into(), a, None).unwrap();
    assert_eq!(online, 1);
    // The first change is told at once (here: to the joiner itself, whose
    // writer skips the count its hello gave).
    assert_eq!(a_control.take_presence(), Some(1));
    let mut others = Vec::new();
    for _ in 0..50 {
        let (p, rx) = peer(8);
        others.push((hub.join(1, "http://h".into(), p, None).unwrap().0, rx));
    }
    assert_eq!(
        a_control.take_presence(),
        None,
        "coalesced until the interval ends"
    );
    tokio::time::sleep(PRESENCE_INTERVAL + Duration::from_millis(50)).await;
    assert_eq!(a_control.take_presence(), Some(51));
    for (id, _) in others.drain(..) {
        hub.leave(1, id);
    }
    tokio::time::sleep(PRESENCE_INTERVAL + Duration::from_millis(50)).await;
    assert_eq!(a_control.take_presence(), Some(1));
    hub.leave(1, a_id);
    assert_eq!(hub.sockets(), 0);
    assert!(hub.lock().chats.is_empty());
}

#[tokio::test]
async fn a_count_back_where_it_was_is_not_told() {
    let hub = Hub::new(100);
    let (a, _a_rx) = peer(8);
    let a_control = a.control.clone();
    hub.join(1, "h".into(), a, None).unwrap();
    a_control.take_presence();
    let (b, _b_rx) = peer(8);
    let (b_id, _) = hub.join(1, "h".into(), b, None).unwrap();
    hub.leave(1, b_id);
    tokio::time::sleep(PRESENCE_INTERVAL * 2).await;
    assert_eq!(a_control.take_presence(), None);
}

#[test]
fn large_rooms_are_told_less_often() {
    assert_eq!(interval(10), PRESENCE_INTERVAL);
    assert_eq!(interval(1_000), PRESENCE_INTERVAL);
    assert_eq!(interval(10_000), Duration::from_millis(2_500));
}

#[test]
fn a_full_queue_closes_that_socket_only() {
    let hub = Hub::new(10);
    let (slow, _slow_rx) = peer(1);
    let (fast, fast_out) = peer(8);
    let slow_control = slow.control.clone();
    hub.join(1, "b".into(), slow, None).unwrap();
    hub.join(1, "b".into(), fast, None).unwrap();
    hub.broadcast(1, Some(1), |_| "one".into());
    hub.broadcast(1, Some(2), |_| "two".into());
    assert_eq!(slow_control.close_code(), Some(close::POLICY));
    assert_eq!(hub.online(1), 1);
    assert_eq!(fast_out.take_queued(), ["one", "two"]);
}

#[test]
fn frames_are_built_once_per_base() {
    let hub = Hub::new(10);
    let mut receivers = Vec::new();
    for base in ["x", "x", "y"] {
        let (p, rx) = peer(8);
        hub.join(1, base.into(), p, None).unwrap();
        receivers.push(rx);
    }
    let mut built = Vec::new();
    hub.broadcast(1, None, |base| {
        built.push(base.to_string());
        base.to_string().into()
    });
    built.sort();
    assert_eq!(built, ["x", "y"]);
}

#[test]
fn as_the_fan_out_it_renders_events_and_closes_deleted_chats() {
    let hub = Hub::new(10);
    let (a, a_out) = peer(8);
    hub.join(1, "http://h".into(), a, None).unwrap();
    hub.publish(1, Event::ChatDeleted);
    assert_eq!(
        a_out.take_queued(),
        [protocol::chat_deleted().as_str(), "close 4404"]
    );
    assert_eq!(hub.sockets(), 0);
}

#[test]
fn revoking_a_user_closes_only_their_sockets_with_4401() {
    let hub = Hub::new(10);
    let (a, a_out) = peer(8);
    let (a2, a2_out) = peer(8);
    let (b, b_out) = peer(8);
    hub.join(1, "h".into(), a, user(7)).unwrap();
    hub.join(2, "h".into(), a2, user(7)).unwrap();
    hub.join(1, "h".into(), b, user(8)).unwrap();
    assert_eq!(hub.signed_in(), [7, 8]);
    assert_eq!(hub.revoke_user(7), 2);
    for out in [&a_out, &a2_out] {
        assert_eq!(
            out.take_queued(),
            [protocol::revoked().as_str(), "close 4401"]
        );
    }
    assert!(b_out.take_queued().is_empty());
}

#[test]
fn stale_versions_and_vanished_users_are_revoked_current_ones_stay() {
    let hub = Hub::new(10);
    let mut sockets = Vec::new();
    for (user_id, token_version) in [(1, 0), (1, 1), (2, 0), (3, 0)] {
        let (p, rx) = peer(8);
        let signed = SignedIn {
            user_id,
            token_version,
        };
        hub.join(1, "h".into(), p, Some(signed)).unwrap();
        sockets.push(rx);
    }
    // User 1 is at version 1 now, user 2 is gone, user 3 was not checked
    // (joined after the check).
    let current = HashMap::from([(1, 1)]);
    assert_eq!(hub.revoke_stale(&[1, 2], &current), 2);
    let closed: Vec<bool> = sockets
        .iter()
        .map(|out| !out.take_queued().is_empty())
        .collect();
    assert_eq!(closed, [true, false, true, false]);
}

#[test]
fn socket_limit_and_shutdown() {
    let hub = Hub::new(1);
    let (a, _a_rx) = peer(8);
    let control = a.control.clone();
    hub.join(1, "b".into(), a, None).unwrap();
    let (b, _b_rx) = peer(8);
    assert_eq!(
        hub.join(2, "b".into(), b, None).unwrap_err(),
        JoinError::TooManySockets
    );
    hub.shut_down();
    assert_eq!(control.close_code(), Some(close::GOING_AWAY));
    assert!(!hub.has_room());
}
