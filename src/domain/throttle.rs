//! Throttling: the one [`TokenBucket`], used per client address for the
//! endpoints an attacker would hammer (register, login, refresh; exceeding
//! it answers `429` with `Retry-After`, in DRF's words) and per socket for
//! the frames a client sends. Which address a request comes from is the
//! edge's business (`crate::http::client_ip`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

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

/// `rate.burst` takes at once, refilled continuously at `rate.per_sec`.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A bucket that starts full at `now`.
    pub fn full(rate: Rate, now: Instant) -> TokenBucket {
        TokenBucket {
            tokens: rate.burst,
            at: now,
        }
    }

    /// Takes a token, or says how many whole seconds (at least 1) until
    /// one is there.
    pub fn take(&mut self, rate: Rate, now: Instant) -> Result<(), u64> {
        self.tokens = self.tokens_at(rate, now).min(rate.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) / rate.per_sec).ceil().max(1.0) as u64)
        }
    }

    /// True when the bucket has refilled: forgetting it changes nothing.
    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        self.tokens_at(rate, now) >= rate.burst
    }

    /// Tokens at `now`, before the cap at `burst`.
    fn tokens_at(&self, rate: Rate, now: Instant) -> f64 {
        self.tokens + now.duration_since(self.at).as_secs_f64() * rate.per_sec
    }
}

/// Token buckets by client address.
pub struct Limiter {
    rate: Rate,
    buckets: Mutex<HashMap<IpAddr, TokenBucket>>,
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
        let rate = self.rate;
        if buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, bucket| !bucket.is_full(rate, now));
        }
        buckets
            .entry(ip)
            .or_insert_with(|| TokenBucket::full(rate, now))
            .take(rate, now)
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
    fn a_bucket_refills_at_its_rate_up_to_the_burst() {
        let rate = Rate {
            burst: 2.0,
            per_sec: 1.0,
        };
        let start = Instant::now();
        let mut bucket = TokenBucket::full(rate, start);
        assert!(bucket.take(rate, start).is_ok());
        assert!(bucket.take(rate, start).is_ok());
        assert_eq!(bucket.take(rate, start), Err(1));
        let later = start + std::time::Duration::from_secs(10);
        assert!(bucket.is_full(rate, later));
        assert!(bucket.take(rate, later).is_ok());
        assert!(bucket.take(rate, later).is_ok());
        assert_eq!(bucket.take(rate, later), Err(1), "capped at the burst");
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
}
