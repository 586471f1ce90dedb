//! Throttling by client address: a token bucket per IP for the endpoints an
//! attacker would hammer (register, login, refresh). Exceeding it answers
//! `429` with `Retry-After`, in DRF's words.
//!
//! Behind a reverse proxy every request comes from the proxy's address, so
//! with `--trust-proxy` the client is taken from the last `X-Forwarded-For`
//! entry (the one our proxy appended; earlier ones are the client's to
//! forge). Without it that header is ignored.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use warp::http::HeaderMap;

/// Buckets kept at most; beyond that, full (idle) buckets are forgotten.
const MAX_TRACKED: usize = 100_000;

/// One limit: `burst` requests at once, refilled at `per_sec`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub burst: f64,
    pub per_sec: f64,
}

/// Register: a few dozen accounts a minute from one address is fine (test
/// suites do that); thousands are not.
pub const REGISTER: Rate = Rate {
    burst: 60.0,
    per_sec: 1.0,
};
/// Login and refresh.
pub const LOGIN: Rate = Rate {
    burst: 60.0,
    per_sec: 2.0,
};

/// Token buckets by client address.
pub struct Limiter {
    rate: Rate,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Limiter {
    pub fn new(rate: Rate) -> Limiter {
        Limiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `ip`, or says how many whole seconds until one is there.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_TRACKED {
            let rate = self.rate;
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate.per_sec < rate.burst
            });
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.rate.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate.per_sec)
            .min(self.rate.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.rate.per_sec).ceil().max(1.0) as u64)
        }
    }
}

/// Open WebSockets per client address, capped. A [`SocketSlot`] is held for
/// a socket's lifetime and gives its place back when dropped.
pub struct PerAddress {
    max: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl PerAddress {
    pub fn new(max: usize) -> PerAddress {
        PerAddress {
            max,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// A place for one more socket from `ip`, if it has fewer than the cap.
    pub fn acquire(self: &std::sync::Arc<Self>, ip: IpAddr) -> Option<SocketSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(SocketSlot {
            owner: self.clone(),
            ip,
        })
    }

    /// Open sockets of `ip`.
    pub fn count(&self, ip: IpAddr) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.get(&ip).copied().unwrap_or(0)
    }
}

/// One socket's place in its address's count.
pub struct SocketSlot {
    owner: std::sync::Arc<PerAddress>,
    ip: IpAddr,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut counts = self.owner.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// The address a request is throttled by.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trust_proxy: bool) -> Option<IpAddr> {
    if trust_proxy {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
            .next_back();
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_429_with_the_wait() {
        let limiter = Limiter::new(Rate {
            burst: 3.0,
            per_sec: 0.5,
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.check(ip).is_ok());
        }
        assert_eq!(limiter.check(ip), Err(2));
        // Another address has its own bucket.
        assert!(limiter.check("10.0.0.2".parse().unwrap()).is_ok());
    }

    #[test]
    fn sockets_per_address_are_capped_and_given_back() {
        let per = std::sync::Arc::new(PerAddress::new(2));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let a = per.acquire(ip).unwrap();
        let _b = per.acquire(ip).unwrap();
        assert!(per.acquire(ip).is_none());
        assert!(per.acquire("10.0.0.2".parse().unwrap()).is_some());
        drop(a);
        assert_eq!(per.count(ip), 1);
        assert!(per.acquire(ip).is_some());
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        let peer: Option<IpAddr> = Some("127.0.0.1".parse().unwrap());
        assert_eq!(client_ip(peer, &headers, false), peer);
        assert_eq!(
            client_ip(peer, &headers, true),
            Some("203.0.113.7".parse().unwrap())
        );
        assert_eq!(client_ip(peer, &HeaderMap::new(), true), peer);
    }
}
