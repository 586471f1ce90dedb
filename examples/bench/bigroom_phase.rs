//! The `bigroom` phase of `loadgen`: a fresh chatd and baseline in turn,
//! `bigroom::run` against each, and the figures and targets it adds to the
//! report (the measuring itself is in `bench/bigroom.rs` and `bench/bigroom/`).

use std::time::Duration;

use crate::process::{start_baseline, start_chatd};
use crate::report::Report;
use crate::{bigroom, common, Args};

// ----------------------------------------------------------------------------
// One big room

pub async fn bigroom_phase(
    args: &Args,
    chatd_bin: &std::path::Path,
    baseline_bin: &std::path::Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let n = args.bigroom_sockets;
    let limit = common::open_files_limit() as usize;
    if n + 200 > limit {
        println!(
            "bigroom {n}: skipped: the open files limit is {limit} (raise it with `ulimit -n`)"
        );
        report.check(
            &format!("bigroom: {n} sockets"),
            None,
            format!("not measurable here: RLIMIT_NOFILE is {limit}"),
        );
        return Ok(());
    }
    let params = bigroom::Params {
        sockets: n,
        concurrency: args.bigroom_concurrency,
        sources: args.bigroom_sources,
        rate: args.bigroom_rate,
        send_for: Duration::from_secs_f64(args.seconds),
        limit: Duration::from_secs_f64(args.bigroom_limit),
    };
    let mut outcomes = Vec::new();
    for chatd in [true, false] {
        // A fresh server each, so RSS before the ramp is the idle server's.
        let target = if chatd {
            start_chatd(args, chatd_bin).await?
        } else {
            start_baseline(baseline_bin).await?
        };
        let (sender_path, path) = match &target.token {
            Some(token) => {
                let chat =
                    common::create_chat(target.addr, token, "books", "big room", "bigroom").await?;
                (
                    format!("/chat/books/{chat}/?token={token}"),
                    format!("/chat/books/{chat}/"),
                )
            }
            None => ("/chat/books/1/".to_string(), "/chat/books/1/".to_string()),
        };
        let pid = match &target.process {
            Some(process) => process.pid(),
            None => std::process::id(),
        };
        let outcome =
            bigroom::run(target.name, target.addr, pid, &sender_path, &path, &params).await?;
        outcome.print();
        drop(target);
        outcomes.push(outcome);
    }
    let (b, c) = (outcomes.pop().expect("two"), outcomes.pop().expect("two"));
    let label = format!("bigroom {n} socks");
    let f = |v: usize| v as f64;
    report.figure(
        "bigroom_opened",
        &label,
        "sockets opened",
        f(c.opened),
        Some(f(b.opened)),
    );
    report.figure(
        "bigroom_ramp_s",
        &label,
        "ramp s",
        c.ramp_secs,
        Some(b.ramp_secs),
    );
    report.figure(
        "bigroom_hello_p50_ms",
        &label,
        "hello p50 ms",
        c.hello_p50,
        Some(b.hello_p50),
    );
    report.figure(
        "bigroom_hello_p99_ms",
        &label,
        "hello p99 ms",
        c.hello_p99,
        Some(b.hello_p99),
    );
    report.figure(
        "bigroom_server_cpu_ramp_s",
        &label,
        "server CPU s in ramp",
        c.server_cpu_ramp,
        Some(b.server_cpu_ramp),
    );
    report.figure(
        "bigroom_loadgen_cpu_ramp_s",
        &label,
        "loadgen CPU s in ramp",
        c.client_cpu_ramp,
        Some(b.client_cpu_ramp),
    );
    let (c_kib, b_kib) = (
        c.kib_per_socket(c.rss_settled_kib),
        b.kib_per_socket(b.rss_settled_kib),
    );
    report.figure(
        "bigroom_kib_per_socket",
        &label,
        "KiB/socket settled",
        c_kib,
        Some(b_kib),
    );
    report.figure(
        "bigroom_kib_per_socket_ramp_end",
        &label,
        "KiB/socket ramp end",
        c.kib_per_socket(c.rss_ramp_kib),
        Some(b.kib_per_socket(b.rss_ramp_kib)),
    );
    report.figure(
        "bigroom_presence_per_socket",
        &label,
        "presence/socket",
        c.presence_mean,
        Some(b.presence_mean),
    );
    report.figure(
        "bigroom_fanout_p50_ms",
        &label,
        "fan-out p50 ms",
        c.fanout_p50,
        Some(b.fanout_p50),
    );
    report.figure(
        "bigroom_fanout_p99_ms",
        &label,
        "fan-out p99 ms",
        c.fanout_p99,
        Some(b.fanout_p99),
    );
    report.figure(
        "bigroom_lost",
        &label,
        "lost",
        c.lost as f64,
        Some(b.lost as f64),
    );
    report.figure(
        "bigroom_closes_answered",
        &label,
        "closes answered <=2s",
        f(c.close_answered),
        Some(f(b.close_answered)),
    );
    report.figure(
        "bigroom_close_p99_ms",
        &label,
        "close answer p99 ms",
        c.close_p99,
        Some(b.close_p99),
    );
    report.check(
        "bigroom: all sockets open",
        Some(c.opened == n),
        format!("{} of {n} (baseline {})", c.opened, b.opened),
    );
    report.check(
        "bigroom: ramp <= 2x baseline",
        Some(c.ramp_secs <= 2.0 * b.ramp_secs),
        format!(
            "{:.2}x ({:.2} vs {:.2} s)",
            c.ramp_secs / b.ramp_secs,
            c.ramp_secs,
            b.ramp_secs
        ),
    );
    report.check(
        "bigroom: <= 12 KiB/socket",
        Some(c_kib <= 12.0),
        format!(
            "{c_kib:.2} KiB/socket settled, {:.2} at ramp end",
            c.kib_per_socket(c.rss_ramp_kib)
        ),
    );
    report.check(
        "bigroom: <= 3 presence frames/socket",
        Some(c.presence_mean <= 3.0),
        format!(
            "{:.1}/socket (max {}, {} in all)",
            c.presence_mean, c.presence_max, c.presence_total
        ),
    );
    report.check(
        "bigroom: fan-out p99 <= 2x baseline, 0 lost",
        Some(c.fanout_p99 <= 2.0 * b.fanout_p99 && c.lost == 0 && c.sent > 0),
        format!(
            "{:.2}x ({:.2} vs {:.2} ms), {} of {} lost, server closes {:?}",
            c.fanout_p99 / b.fanout_p99,
            c.fanout_p99,
            b.fanout_p99,
            c.lost,
            c.sent * c.opened as u64,
            c.server_closes
        ),
    );
    report.check(
        "bigroom: every close answered within 2 s",
        Some(c.close_sent == c.opened && c.close_answered == c.close_sent),
        format!(
            "{} of {} ({} later, {} dropped without one, {} still open; baseline {} of {})",
            c.close_answered,
            c.close_sent,
            c.close_late,
            c.close_dropped,
            c.close_open,
            b.close_answered,
            b.close_sent
        ),
    );
    Ok(())
}
