//! Prometheus metrics at `/metrics` (text format 0.0.4): HTTP requests by
//! route and status, request latency, open sockets, chats with sockets,
//! messages persisted and the writer's batch sizes.
//!
//! Counters are atomics or one short mutex per request; nothing here
//! allocates per request except the first time a (route, status) pair is
//! seen. Routes are labelled by template (`/api/chat/:room/:id/`), never by
//! raw path, so the label set stays small whatever clients send.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the request latency histogram.
const LATENCY_BUCKETS: [f64; 9] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5];
/// Upper bounds of the writer batch size histogram.
const BATCH_BUCKETS: [u64; 8] = [1, 2, 5, 10, 25, 50, 100, 500];

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
    messages: AtomicU64,
    batches: [AtomicU64; BATCH_BUCKETS.len() + 1],
    batch_ops: AtomicU64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, path: &str, status: u16, elapsed: Duration) {
        let route = route_label(path);
        *self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((route, status))
            .or_default() += 1;
        let secs = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    /// Counts one committed writer batch of `ops` operations, `messages` of
    /// them new messages.
    pub fn batch(&self, ops: usize, messages: usize) {
        let bucket = BATCH_BUCKETS
            .iter()
            .position(|&b| ops as u64 <= b)
            .unwrap_or(BATCH_BUCKETS.len());
        self.batches[bucket].fetch_add(1, Ordering::Relaxed);
        self.batch_ops.fetch_add(ops as u64, Ordering::Relaxed);
        self.messages.fetch_add(messages as u64, Ordering::Relaxed);
    }

    /// The text exposition, with the hub's gauges.
    pub fn render(&self, open_sockets: usize, chats_with_sockets: usize) -> String {
        let mut out = String::with_capacity(4096);
        describe(
            &mut out,
            "chatd_http_requests_total",
            "counter",
            "HTTP requests answered, by route template and status.",
        );
        for ((route, status), count) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "chatd_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        histogram(
            &mut out,
            "chatd_http_request_duration_seconds",
            "Time to answer HTTP requests.",
            &LATENCY_BUCKETS,
            &self.latency,
            sum,
        );
        gauge(
            &mut out,
            "chatd_open_sockets",
            "Open WebSockets.",
            open_sockets,
        );
        gauge(
            &mut out,
            "chatd_chats_with_sockets",
            "Chats with at least one open WebSocket.",
            chats_with_sockets,
        );
        describe(
            &mut out,
            "chatd_messages_persisted_total",
            "counter",
            "Chat messages committed since start.",
        );
        let _ = writeln!(
            out,
            "chatd_messages_persisted_total {}",
            self.messages.load(Ordering::Relaxed)
        );
        histogram(
            &mut out,
            "chatd_writer_batch_size",
            "Operations committed per writer transaction.",
            &BATCH_BUCKETS,
            &self.batches,
            self.batch_ops.load(Ordering::Relaxed),
        );
        out
    }
}

/// The `# HELP` and `# TYPE` lines of a metric.
fn describe(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: usize) {
    describe(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// A histogram from per-bucket counts (the last one is `+Inf`), rendered
/// cumulatively as Prometheus expects.
fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    bounds: &[impl std::fmt::Display],
    counts: &[AtomicU64],
    sum: impl std::fmt::Display,
) {
    describe(out, name, "histogram", help);
    let mut cumulative = 0;
    for (bound, count) in bounds.iter().zip(counts) {
        cumulative += count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    cumulative += counts[bounds.len()].load(Ordering::Relaxed);
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
    let _ = writeln!(out, "{name}_sum {sum}");
    let _ = writeln!(out, "{name}_count {cumulative}");
}

/// The route template of a path; anything unknown is `unmatched`.
pub fn route_label(path: &str) -> &'static str {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match segments.as_slice() {
        [] => "/",
        ["healthz"] => "/healthz",
        ["metrics"] => "/metrics",
        ["static", ..] => "/static/*",
        ["media", ..] => "/media/*",
        ["api", "register"] => "/api/register/",
        ["api", "token"] => "/api/token/",
        ["api", "token", "refresh"] => "/api/token/refresh/",
        ["api", "user"] => "/api/user/",
        ["api", "profile", "avatar"] => "/api/profile/avatar/",
        ["api", "openapi.json"] => "/api/openapi.json",
        ["api", "chat"] => "/api/chat/",
        ["api", "chat", _] => "/api/chat/:room/",
        ["api", "chat", _, id] if number(id) => "/api/chat/:room/:id/",
        ["api", "chat", _, id, "messages"] if number(id) => "/api/chat/:room/:id/messages/",
        ["api", "chat", _, id, "messages", mid] if number(id) && number(mid) => {
            "/api/chat/:room/:id/messages/:mid/"
        }
        ["chat", _, id] if number(id) => "/chat/:room/:id/",
        _ => "unmatched",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_labelled_by_template() {
        assert_eq!(
            route_label("/api/chat/films/3/messages/9/"),
            "/api/chat/:room/:id/messages/:mid/"
        );
        assert_eq!(route_label("/api/chat/films"), "/api/chat/:room/");
        assert_eq!(route_label("/chat/books/1/"), "/chat/:room/:id/");
        assert_eq!(route_label("/media/chat_img/x.png"), "/media/*");
        assert_eq!(route_label("/wp-admin/setup.php"), "unmatched");
    }

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        metrics.request("/api/chat/films/", 200, Duration::from_micros(800));
        metrics.request("/api/chat/films/", 200, Duration::from_millis(3));
        metrics.batch(3, 2);
        let text = metrics.render(5, 2);
        assert!(
            text.contains(
                "chatd_http_requests_total{route=\"/api/chat/:room/\",status=\"200\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("chatd_http_request_duration_seconds_bucket{le=\"0.001\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("chatd_http_request_duration_seconds_count 2\n"));
        assert!(text.contains("chatd_open_sockets 5\n"));
        assert!(text.contains("chatd_chats_with_sockets 2\n"));
        assert!(text.contains("chatd_messages_persisted_total 2\n"));
        assert!(text.contains("chatd_writer_batch_size_bucket{le=\"5\"} 1\n"));
    }
}
