//! The REST phases of `loadgen` (`list`, `history`, `create`): keep-alive
//! HTTP connections sending requests back to back, and their figures and
//! targets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{self, pct_ms, HttpConn};
use crate::process::Target;
use crate::report::Report;
use crate::ws::seed_messages;
use crate::{baseline_server, Args};

// ----------------------------------------------------------------------------
// REST

pub type MakeRequest = Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync>;

pub struct HttpOutcome {
    pub rps: f64,
    pub p50: f64,
    pub p99: f64,
    pub errors: u64,
    body_len: usize,
}

/// `connections` keep-alive connections send requests back to back for
/// `warmup + seconds`; the last `seconds` are measured.
pub async fn http_load(
    addr: SocketAddr,
    make: MakeRequest,
    connections: usize,
    warmup: f64,
    seconds: f64,
) -> anyhow::Result<HttpOutcome> {
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(warmup);
    let end = measure_from + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for task in 0..connections {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut histogram = common::histogram();
            let (mut count, mut errors, mut body_len) = (0u64, 0u64, 0usize);
            let mut conn = HttpConn::connect(addr).await?;
            let mut n = 0u64;
            while Instant::now() < end {
                let request = make(task, n);
                n += 1;
                let sent = Instant::now();
                let result = conn.send(&request, false).await;
                let measured = sent >= measure_from;
                match result {
                    Ok(response) => {
                        if measured {
                            common::record_us(&mut histogram, sent.elapsed());
                            count += 1;
                            body_len = response.body_len;
                            if !(200..300).contains(&response.status) {
                                errors += 1;
                            }
                        }
                    }
                    Err(_) => {
                        if measured {
                            errors += 1;
                        }
                        conn = HttpConn::connect(addr).await?;
                    }
                }
            }
            anyhow::Ok((histogram, count, errors, body_len))
        }));
    }
    let mut histogram = common::histogram();
    let (mut count, mut errors, mut body_len) = (0u64, 0u64, 0usize);
    for task in tasks {
        let (h, c, e, b) = task.await??;
        histogram.add(h).expect("same bounds");
        count += c;
        errors += e;
        body_len = body_len.max(b);
    }
    Ok(HttpOutcome {
        rps: count as f64 / seconds,
        p50: pct_ms(&histogram, 50.0),
        p99: pct_ms(&histogram, 99.0),
        errors,
        body_len,
    })
}

/// The same GET against chatd, then the baseline.
async fn rest_pair(
    args: &Args,
    chatd: &Target,
    baseline: &Target,
    chatd_path: &str,
    baseline_path: &str,
) -> anyhow::Result<(HttpOutcome, HttpOutcome)> {
    let mut outcomes = Vec::new();
    for (target, path) in [(chatd, chatd_path), (baseline, baseline_path)] {
        let request = common::request_bytes("GET", path, target.addr, None, None);
        let make: MakeRequest = Arc::new(move |_, _| request.clone());
        let outcome = http_load(
            target.addr,
            make,
            args.connections,
            args.warmup,
            args.seconds,
        )
        .await?;
        println!(
            "GET {path} ({}): {:.0} req/s p50 {:.2} ms p99 {:.2} ms, {} bytes, {} errors",
            target.name, outcome.rps, outcome.p50, outcome.p99, outcome.body_len, outcome.errors
        );
        outcomes.push(outcome);
    }
    let baseline = outcomes.pop().expect("two");
    let chatd = outcomes.pop().expect("two");
    Ok((chatd, baseline))
}

/// `list`: the 100-chat page.
pub async fn list_phase(
    args: &Args,
    chatd: &Target,
    baseline: &Target,
    report: &mut Report,
) -> anyhow::Result<()> {
    let path = "/api/chat/films/";
    let (c, b) = rest_pair(args, chatd, baseline, path, path).await?;
    report.figure("list_rps", "list 100 chats", "req/s", c.rps, Some(b.rps));
    report.figure(
        "list_p50_ms",
        "list 100 chats",
        "p50 ms",
        c.p50,
        Some(b.p50),
    );
    report.figure(
        "list_p99_ms",
        "list 100 chats",
        "p99 ms",
        c.p99,
        Some(b.p99),
    );
    report.figure(
        "list_body_bytes",
        "list 100 chats",
        "body bytes",
        c.body_len as f64,
        Some(b.body_len as f64),
    );
    report.read_check("list", &c, &b);
    Ok(())
}

/// `history`: a 100-message page of a chat with a long history.
pub async fn history_phase(
    args: &Args,
    chatd: &Target,
    baseline: &Target,
    token: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let chat = common::create_chat(
        chatd.addr,
        token,
        "films",
        "history chat",
        "a chat with a long history",
    )
    .await?;
    let texts: Vec<String> = (0..baseline_server::SEED_MESSAGES)
        .map(baseline_server::seed_message)
        .collect();
    seed_messages(chatd.addr, token, "films", chat, &texts).await?;
    let c_path = format!("/api/chat/films/{chat}/messages/");
    let (c, b) = rest_pair(
        args,
        chatd,
        baseline,
        &c_path,
        "/api/chat/films/1/messages/",
    )
    .await?;
    report.figure(
        "history_rps",
        "history 100 msgs",
        "req/s",
        c.rps,
        Some(b.rps),
    );
    report.figure(
        "history_p99_ms",
        "history 100 msgs",
        "p99 ms",
        c.p99,
        Some(b.p99),
    );
    report.figure(
        "history_body_bytes",
        "history 100 msgs",
        "body bytes",
        c.body_len as f64,
        Some(b.body_len as f64),
    );
    report.read_check("history", &c, &b);
    Ok(())
}

/// `create`: chats created (chatd only).
pub async fn create_phase(
    args: &Args,
    chatd: &Target,
    token: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let addr = chatd.addr;
    let token = token.to_string();
    let make: MakeRequest = Arc::new(move |task, n| {
        let title = format!("created {task}-{n}");
        let form = serde_urlencoded::to_string([
            ("title", title.as_str()),
            ("room", "games"),
            ("description", "made by the create benchmark"),
        ])
        .expect("form");
        common::request_bytes("POST", "/api/chat/", addr, Some(&token), Some(&form))
    });
    let c = http_load(addr, make, args.connections, args.warmup, args.seconds).await?;
    println!(
        "create (chatd): {:.0}/s p50 {:.2} ms p99 {:.2} ms errors {}",
        c.rps, c.p50, c.p99, c.errors
    );
    report.figure("create_rps", "create chat", "creates/s", c.rps, None);
    report.figure("create_p99_ms", "create chat", "p99 ms", c.p99, None);
    report.check(
        "create: >= 3,000 creates/s",
        Some(c.rps >= 3000.0 && c.errors == 0),
        format!("{:.0}/s, {} errors", c.rps, c.errors),
    );
    Ok(())
}
