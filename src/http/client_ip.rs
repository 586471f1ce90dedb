//! Which client address a request counts against (throttles, sockets per
//! address).
//!
//! Behind a reverse proxy every request comes from the proxy's address, so
//! with `--trust-proxy` the client is taken from the last `X-Forwarded-For`
//! entry (the one our proxy appended; earlier ones are the client's to
//! forge). Without it that header is ignored.

use std::net::IpAddr;

use warp::http::HeaderMap;

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
