//! How a workflow run shows its progress: on a terminal, a bar per step and tenant (done of
//! total, rate, time left, throttling waits); otherwise (pipes, cron logs, CI) plain lines: a
//! step's start, every tenth of its items (with the throttling waits so far), its end.
//! Failures and retries are always one line each.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use exorun::workflow::fanout::{ItemResult, StepEvents};
use exorun::workflow::journal::ItemOutcome;
use exorun::workflow::slots::Waits;

/// One step of one tenant as shown.
struct Shown {
    bar: Option<ProgressBar>,
    total: usize,
    done: usize,
    waits: Waits,
}

/// The run's progress on stderr.
pub struct CliEvents {
    bars: Option<MultiProgress>,
    steps: Mutex<HashMap<(String, String), Shown>>,
    dry_run: bool,
}

impl CliEvents {
    /// Bars when stderr is a terminal, else lines.
    pub fn new(dry_run: bool) -> CliEvents {
        let bars = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        CliEvents {
            bars,
            steps: Mutex::new(HashMap::new()),
            dry_run,
        }
    }

    /// Prints `line` on stderr, above the bars if there are any.
    fn say(&self, line: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// Leaves the bars as they ended.
    pub fn finish(&self) {
        let steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        for shown in steps.values() {
            if let Some(bar) = &shown.bar {
                bar.finish();
            }
        }
    }
}

/// "throttled 37× (41 s waited)": the service asked the step to slow down; `live` (a bar)
/// adds ", 5 waiting now", which a log line read later would get wrong.
fn describe(waits: Waits, live: bool) -> String {
    let now = match waits.waiting {
        n if n > 0 && live => format!(", {n} waiting now"),
        _ => String::new(),
    };
    format!(
        "throttled {}× ({:.0} s waited){now}",
        waits.throttled,
        waits.waited.as_secs_f64()
    )
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl StepEvents for CliEvents {
    fn started(&self, step: &str, tenant: &str, total: usize, done: usize) {
        let rehearsal = if self.dry_run { " (dry run)" } else { "" };
        let earlier = if done > 0 {
            format!(", {done} done by an earlier attempt")
        } else {
            String::new()
        };
        let bar = self.bars.as_ref().map(|bars| {
            let bar = bars.add(ProgressBar::new(total as u64));
            bar.set_style(style());
            bar.set_prefix(format!("{tenant} {step}"));
            bar.set_position(done as u64);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        if bar.is_none() {
            self.say(&format!(
                "exorun: {tenant}: step {step}{rehearsal}: {total} item{}{earlier}",
                if total == 1 { "" } else { "s" }
            ));
        }
        self.steps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                (tenant.to_string(), step.to_string()),
                Shown {
                    bar,
                    total,
                    done,
                    waits: Waits::default(),
                },
            );
    }

    fn item_ended(&self, step: &str, tenant: &str, item: &ItemResult) {
        if item.outcome == ItemOutcome::Failed {
            self.say(&format!(
                "exorun: {tenant}: step {step}: {} failed: {}",
                item.label,
                item.error.as_deref().unwrap_or("no reason given")
            ));
        }
        let mut steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(shown) = steps.get_mut(&(tenant.to_string(), step.to_string())) else {
            return;
        };
        shown.done += 1;
        match &shown.bar {
            Some(bar) => bar.inc(1),
            None => {
                let tenth = (shown.total / 10).max(1);
                if shown.total > 1 && (shown.done % tenth == 0 || shown.done == shown.total) {
                    let waits = match shown.waits.throttled {
                        0 => String::new(),
                        _ => format!(", {}", describe(shown.waits, false)),
                    };
                    eprintln!(
                        "exorun: {tenant}: step {step}: {}/{} done{waits}",
                        shown.done, shown.total
                    );
                }
            }
        }
    }

    fn throttled(&self, step: &str, tenant: &str, waits: Waits) {
        let mut steps = self.steps.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(shown) = steps.get_mut(&(tenant.to_string(), step.to_string())) else {
            return;
        };
        shown.waits = waits;
        if let Some(bar) = &shown.bar {
            bar.set_message(describe(waits, true));
        }
    }

    fn retrying(&self, step: &str, tenant: &str, label: &str, error: &str, wait: Duration) {
        self.say(&format!(
            "exorun: {tenant}: step {step}: {label} failed ({error}); trying again in {:.1} s",
            wait.as_secs_f64()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_live_bar_says_how_many_wait_now() {
        let waits = Waits {
            waiting: 5,
            throttled: 37,
            waited: Duration::from_secs(41),
        };
        assert_eq!(
            describe(waits, true),
            "throttled 37× (41 s waited), 5 waiting now"
        );
        assert_eq!(describe(waits, false), "throttled 37× (41 s waited)");
    }
}
