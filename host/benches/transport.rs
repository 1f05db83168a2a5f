//! Host transport benchmarks (run: `cargo bench -p exorun --bench transport`).
//!
//! 1. `exorun invoke Get-Mailbox -ResultSize Unlimited` over 100,000 mailboxes (the CLI, output to
//!    /dev/null) and the library's page stream, against a minimal direct reqwest paging loop
//!    measured in the same run on the same emulator (same token, same page size).
//! 2. `exorun connect --test` from process start to its result, warm emulator, against
//!    `exorun --version` (bare process start) in the same run.

// The module is shared with the other benches, which use the parts this one does not.
#[allow(dead_code)]
mod emulator;

use std::time::{Duration, Instant};

use exorun::Connection;
use exorun::exchange::Surface;
use exorun_sim::ReadyInfo;

use emulator::{bare_start, median, minimal_client, minimal_loop, timed};

const MAILBOXES: usize = 100_000;

async fn library(connection: &Connection) -> usize {
    let mut params = serde_json::Map::new();
    params.insert("ResultSize".into(), "Unlimited".into());
    let mut query = connection
        .exchange()
        .query(Surface::Exchange, "Get-Mailbox", params);
    let mut rows = 0;
    while let Some(page) = query.next_page().await.expect("page") {
        rows += page.rows.len();
    }
    rows
}

fn cli(info: &ReadyInfo, args: &[&str]) -> Duration {
    timed(emulator::exorun(info).args(args))
}

fn main() {
    let emulator = emulator::start(MAILBOXES);
    let info = &emulator.info;
    let (runtime, connection, token) = emulator::sign_in(info);
    let http = minimal_client(info);

    let (mut base, mut lib, mut bin) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        let t = Instant::now();
        assert_eq!(
            runtime.block_on(minimal_loop(&http, info, &token)),
            MAILBOXES
        );
        base.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(runtime.block_on(library(&connection)), MAILBOXES);
        lib.push(t.elapsed());
        bin.push(cli(
            info,
            &["invoke", "Get-Mailbox", "-ResultSize", "Unlimited"],
        ));
    }
    let (b, l, c) = (median(base), median(lib), median(bin));
    let rate = |d: Duration| MAILBOXES as f64 / d.as_secs_f64();
    println!(
        "Get-Mailbox -ResultSize Unlimited over {MAILBOXES} mailboxes (1000-row pages), median of 3:"
    );
    println!(
        "  minimal reqwest loop (baseline)   {:>7.2} s  {:>8.0} rows/s  1.00x",
        b.as_secs_f64(),
        rate(b)
    );
    println!(
        "  exorun library page stream        {:>7.2} s  {:>8.0} rows/s  {:.2}x",
        l.as_secs_f64(),
        rate(l),
        rate(l) / rate(b)
    );
    println!(
        "  exorun invoke (CLI, to /dev/null) {:>7.2} s  {:>8.0} rows/s  {:.2}x",
        c.as_secs_f64(),
        rate(c),
        rate(c) / rate(b)
    );

    cli(info, &["connect", "--test"]);
    let (mut start, mut connect) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        start.push(bare_start());
        connect.push(cli(info, &["connect", "--test"]));
    }
    let (s, t) = (median(start), median(connect));
    println!("exorun connect --test, warm emulator, median of 10:");
    println!(
        "  exorun --version (process start)  {:>7.1} ms  1.00x",
        s.as_secs_f64() * 1000.0
    );
    println!(
        "  exorun connect --test             {:>7.1} ms  {:.1}x",
        t.as_secs_f64() * 1000.0,
        t.as_secs_f64() / s.as_secs_f64()
    );
}
