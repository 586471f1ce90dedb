//! The fan-out phases of `loadgen`: `fanout` (fixed rates, chatd and the
//! baseline taking turns `--repeat` times) and `max`, and the figures and
//! targets they add to the report (one run is in `bench/fanout.rs`).

use crate::fanout::{fanout_target, print_fanout, FanoutOutcome};
use crate::process::{start_durable_baseline, Target};
use crate::report::Report;
use crate::Args;

/// `fanout`: each `--fanout-sockets` count at its fixed rate. At 1,000
/// msg/s a third server takes its turn too (unless `--no-fsync-reference`):
/// the baseline syncing each message before it sends it, the reference
/// for what one fsync per message costs here.
pub async fn fanout_phase(
    args: &Args,
    chatd: &Target,
    baseline: &Target,
    baseline_bin: &std::path::Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let wanted: Vec<&str> = args.fanout_sockets.split(',').map(str::trim).collect();
    for (sockets, rate) in [(100usize, 1000.0), (1000, 100.0)] {
        if !wanted.contains(&sockets.to_string().as_str()) {
            continue;
        }
        let label = format!("fan-out {sockets} socks @{rate:.0}/s");
        let key = format!("fanout_{sockets}");
        // chatd, the baseline (and the durable reference) take turns;
        // each figure is the median over the --repeat runs.
        let durable = if rate >= 1000.0 && !args.no_fsync_reference {
            start_durable_baseline(args, baseline_bin).await?
        } else {
            None
        };
        let (mut cs, mut bs, mut ds) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..args.repeat.max(1) {
            let c = fanout_target(chatd, sockets, Some(rate), args).await?;
            let b = fanout_target(baseline, sockets, Some(rate), args).await?;
            let d = match &durable {
                Some(durable) => Some(fanout_target(durable, sockets, Some(rate), args).await?),
                None => None,
            };
            print_fanout(&[Some(&c), Some(&b), d.as_ref()]);
            cs.push(c);
            bs.push(b);
            ds.extend(d);
        }
        drop(durable);
        let (c, b) = (FanoutOutcome::median(cs), FanoutOutcome::median(bs));
        report.figure(
            &format!("{key}_deliveries_per_s"),
            &label,
            "deliveries/s",
            c.per_sec,
            Some(b.per_sec),
        );
        report.figure(
            &format!("{key}_p50_ms"),
            &label,
            "p50 ms",
            c.p50,
            Some(b.p50),
        );
        report.figure(
            &format!("{key}_p99_ms"),
            &label,
            "p99 ms",
            c.p99,
            Some(b.p99),
        );
        if let Some(cpu) = c.cpu_us_per_delivery {
            report.figure(
                &format!("{key}_cpu_us_per_delivery"),
                &label,
                "server CPU us/delivery",
                cpu,
                b.cpu_us_per_delivery,
            );
        }
        if let Some(switches) = c.switches_per_msg {
            report.figure(
                &format!("{key}_switches_per_msg"),
                &label,
                "server switches/msg",
                switches,
                b.switches_per_msg,
            );
        }
        report.figure(
            &format!("{key}_lost"),
            &label,
            "lost",
            c.lost as f64,
            Some(b.lost as f64),
        );
        // At 1,000 msg/s the median must stay within 0.3 ms of the
        // baseline's too (issue 12): one fsync, not thread hops.
        let p50_ok = rate < 1000.0 || c.p50 <= b.p50 + 0.3;
        let ok = p50_ok && c.p99 <= 1.5 * b.p99 && c.lost == 0 && c.closed == 0;
        let p50_target = if rate < 1000.0 {
            ""
        } else {
            "p50 <= +0.3 ms, "
        };
        report.check(
            &format!("{label}: {p50_target}p99 <= 1.5x, 0 lost"),
            Some(ok),
            format!(
                "p50 {:.2} vs {:.2} ms, {:.2}x p99 ({:.2} vs {:.2} ms), {} lost, {} closed",
                c.p50,
                b.p50,
                c.p99 / b.p99,
                c.p99,
                b.p99,
                c.lost,
                c.closed
            ),
        );
        if !ds.is_empty() {
            durable_reference(&label, &key, &c, &FanoutOutcome::median(ds), report);
        }
    }
    Ok(())
}

/// `max`: 100 sockets, the sender as fast as `--window` allows.
pub async fn max_phase(
    args: &Args,
    chatd: &Target,
    baseline: &Target,
    report: &mut Report,
) -> anyhow::Result<()> {
    let label = "max 100 socks";
    let c = fanout_target(chatd, 100, None, args).await?;
    let b = fanout_target(baseline, 100, None, args).await?;
    print_fanout(&[Some(&c), Some(&b)]);
    report.figure(
        "max_deliveries_per_s",
        label,
        "deliveries/s",
        c.per_sec,
        Some(b.per_sec),
    );
    report.figure(
        "max_msgs_per_s",
        label,
        "msgs/s",
        c.msgs_per_sec,
        Some(b.msgs_per_sec),
    );
    report.figure("max_p99_ms", label, "p99 ms", c.p99, Some(b.p99));
    let persisted_ok = c.persisted == Some(c.sent + 1);
    let ok = c.per_sec >= 0.5 * b.per_sec && persisted_ok && c.lost == 0;
    report.check(
        "max: >= 0.5x deliveries/s, all persisted",
        Some(ok),
        format!(
            "{:.2}x, {} sent, {:?} in history (+1 end marker), {} lost",
            c.per_sec / b.per_sec,
            c.sent,
            c.persisted,
            c.lost
        ),
    );
    Ok(())
}

/// chatd against the baseline that syncs each message before it sends it:
/// figures and an unjudged line (the targets stay against the bare
/// baseline; this shows how much of the gap is the one fsync).
fn durable_reference(
    label: &str,
    key: &str,
    c: &FanoutOutcome,
    d: &FanoutOutcome,
    report: &mut Report,
) {
    let label = format!("{label} vs +fsync");
    report.figure(
        &format!("{key}_vs_fsync_p50_ms"),
        &label,
        "p50 ms",
        c.p50,
        Some(d.p50),
    );
    report.figure(
        &format!("{key}_vs_fsync_p99_ms"),
        &label,
        "p99 ms",
        c.p99,
        Some(d.p99),
    );
    report.check(
        &format!("reference, not a target: {label} (bare warp + one fdatasync per message)"),
        None,
        format!(
            "p50 {:.2} vs {:.2} ms ({:+.2}), {:.2}x p99 ({:.2} vs {:.2} ms), {} lost",
            c.p50,
            d.p50,
            c.p50 - d.p50,
            c.p99 / d.p99,
            c.p99,
            d.p99,
            d.lost
        ),
    );
}
