//! What tests steer and observe: injected faults and the request log.
//!
//! Faults come two ways: a *script* (the next requests fail in exactly this order, for
//! deterministic tests) and *rates* (a random share of requests fail, for soak runs). Both can be
//! set at start (flags) and changed at run time through the control endpoint.
//!
//! A *hold* (`hold_after: n`) is a kill point by request count: the nth InvokeCommand request
//! from the moment the settings were set is carried out and logged, then neither it nor any
//! later one is answered — later ones are not even carried out (nor logged) — until the
//! settings are set again. A test waits for the nth in the request log, then kills the client:
//! a change applied whose answer was lost.

use std::collections::VecDeque;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

/// One injected failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// 429 Too Many Requests with `Retry-After`.
    Throttle,
    /// 503 Service Unavailable.
    Unavailable,
    /// 504 Gateway Timeout.
    GatewayTimeout,
    /// The connection is cut after half of the response body.
    Drop,
    /// The "maximum number of concurrent requests per tenant" 429.
    Concurrency,
}

/// Fault settings, as flags and the control endpoint take them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultSettings {
    /// Share (0–1) of InvokeCommand requests answered 429.
    pub throttle_rate: f64,
    /// Share of InvokeCommand requests answered 503.
    pub unavailable_rate: f64,
    /// Share of InvokeCommand responses cut mid-body.
    pub drop_rate: f64,
    /// Share of token requests answered 429.
    pub token_throttle_rate: f64,
    /// `Retry-After` seconds on injected 429s (fractions allowed).
    pub retry_after: f64,
    /// Extra latency per InvokeCommand response, milliseconds.
    pub page_latency_ms: u64,
    /// A wait after an InvokeCommand request is carried out and logged, before it is answered,
    /// milliseconds: a change applied whose answer is still on its way.
    pub answer_latency_ms: u64,
    /// Paging cursors expire after this many seconds (Exchange: 1800).
    pub cursor_ttl_secs: u64,
    /// Failures the next InvokeCommand requests get, in order.
    pub script: VecDeque<Fault>,
    /// Hold from the nth InvokeCommand request on (counted from when these settings were set,
    /// 1 for the first; each request of a `$batch` counts, and holds the batch's answer): the
    /// nth is carried out and logged but not answered, later ones are
    /// neither carried out nor logged, until the settings are set again (then the nth gets
    /// its answer and the later ones a 503).
    pub hold_after: Option<u64>,
}

impl Default for FaultSettings {
    fn default() -> FaultSettings {
        FaultSettings {
            throttle_rate: 0.0,
            unavailable_rate: 0.0,
            drop_rate: 0.0,
            token_throttle_rate: 0.0,
            retry_after: 1.0,
            page_latency_ms: 0,
            answer_latency_ms: 0,
            cursor_ttl_secs: 1800,
            script: VecDeque::new(),
            hold_after: None,
        }
    }
}

/// What `hold_after` does with one InvokeCommand request.
#[derive(Debug)]
pub enum Hold {
    /// Nothing: carried out and answered as usual.
    None,
    /// The nth: carried out and logged, then answered only once [`Release::wait`] returns.
    AfterLogging(Release),
    /// After the nth: neither carried out nor logged; answered 503 once released.
    Before(Release),
}

/// The end of a hold: the next time the fault settings are set.
#[derive(Debug)]
pub struct Release(watch::Receiver<()>);

impl Release {
    /// Returns once the fault settings have been set again (or the emulator stops).
    pub async fn wait(mut self) {
        let _ = self.0.changed().await;
    }
}

/// The live fault settings.
pub struct Faults {
    settings: Mutex<Live>,
    /// Told each time the settings are set: releases every hold.
    released: watch::Sender<()>,
}

/// The settings and what has been counted since they were set.
struct Live {
    settings: FaultSettings,
    /// InvokeCommand requests seen since the settings were set.
    invokes: u64,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults::new(FaultSettings::default())
    }
}

impl Faults {
    /// Starts with `settings`.
    pub fn new(settings: FaultSettings) -> Faults {
        Faults {
            settings: Mutex::new(Live {
                settings,
                invokes: 0,
            }),
            released: watch::Sender::new(()),
        }
    }

    /// A copy of the current settings.
    pub fn settings(&self) -> FaultSettings {
        self.settings.lock().settings.clone()
    }

    /// Replaces the settings, counts requests from zero again and releases every hold.
    pub fn set(&self, settings: FaultSettings) {
        *self.settings.lock() = Live {
            settings,
            invokes: 0,
        };
        self.released.send_replace(());
    }

    /// Counts an InvokeCommand request as it arrives and says whether `hold_after` holds it.
    pub fn hold(&self) -> Hold {
        let mut live = self.settings.lock();
        live.invokes += 1;
        let Some(n) = live.settings.hold_after else {
            return Hold::None;
        };
        // Subscribed under the lock: a `set` after this point releases the hold.
        let release = || Release(self.released.subscribe());
        match live.invokes.cmp(&n) {
            std::cmp::Ordering::Less => Hold::None,
            std::cmp::Ordering::Equal => Hold::AfterLogging(release()),
            std::cmp::Ordering::Greater => Hold::Before(release()),
        }
    }

    /// Decides whether this InvokeCommand request fails, and how.
    pub fn next_invoke_fault(&self) -> Option<Fault> {
        let mut live = self.settings.lock();
        let s = &mut live.settings;
        if let Some(fault) = s.script.pop_front() {
            return Some(fault);
        }
        let roll = fastrand::f64();
        if roll < s.throttle_rate {
            Some(Fault::Throttle)
        } else if roll < s.throttle_rate + s.unavailable_rate {
            Some(Fault::Unavailable)
        } else if roll < s.throttle_rate + s.unavailable_rate + s.drop_rate {
            Some(Fault::Drop)
        } else {
            None
        }
    }

    /// Decides whether this token request is throttled.
    pub fn token_throttled(&self) -> bool {
        fastrand::f64() < self.settings.lock().settings.token_throttle_rate
    }
}

/// One request as the emulator saw it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogEntry {
    /// When it arrived (ISO-8601).
    pub time: String,
    /// `token`, `managed_identity`, `invoke`, `compliance`, `openid_configuration` or `jwks`.
    pub endpoint: String,
    /// HTTP method.
    pub method: String,
    /// The caller's `client-request-id` header.
    pub client_request_id: Option<String>,
    /// The caller's `connection-id` header.
    pub connection_id: Option<String>,
    /// The caller's `X-AnchorMailbox` header.
    pub anchor_mailbox: Option<String>,
    /// The app (client id), when known.
    pub app_id: Option<String>,
    /// The tenant segment of the URL.
    pub tenant: String,
    /// Cmdlet name, for InvokeCommand.
    pub cmdlet: Option<String>,
    /// Cmdlet parameters, for InvokeCommand.
    pub parameters: Option<Value>,
    /// True when the request followed a `@odata.nextLink`.
    pub next_page: bool,
    /// Response status.
    pub status: u16,
    /// Injected fault, if any.
    pub fault: Option<Fault>,
    /// AADSTS code of a failed token request.
    pub aadsts: Option<u32>,
}

/// The most recent requests (bounded, oldest dropped first).
pub struct RequestLog {
    entries: Mutex<VecDeque<LogEntry>>,
    capacity: usize,
}

impl Default for RequestLog {
    fn default() -> RequestLog {
        RequestLog {
            entries: Mutex::new(VecDeque::new()),
            capacity: 100_000,
        }
    }
}

impl RequestLog {
    /// Records a request.
    pub fn push(&self, entry: LogEntry) {
        let mut entries = self.entries.lock();
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// A copy of all entries, oldest first.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.entries.lock().iter().cloned().collect()
    }

    /// Forgets all entries.
    pub fn clear(&self) {
        self.entries.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_faults_come_in_order_then_rates_apply() {
        let faults = Faults::new(FaultSettings {
            script: VecDeque::from([Fault::Throttle, Fault::Drop]),
            ..FaultSettings::default()
        });
        assert_eq!(faults.next_invoke_fault(), Some(Fault::Throttle));
        assert_eq!(faults.next_invoke_fault(), Some(Fault::Drop));
        assert_eq!(faults.next_invoke_fault(), None);
        faults.set(FaultSettings {
            unavailable_rate: 1.0,
            ..FaultSettings::default()
        });
        assert_eq!(faults.next_invoke_fault(), Some(Fault::Unavailable));
    }

    #[tokio::test]
    async fn a_hold_carries_out_the_nth_request_and_nothing_after_until_the_next_settings() {
        let faults = Faults::new(FaultSettings {
            hold_after: Some(2),
            ..FaultSettings::default()
        });
        assert!(matches!(faults.hold(), Hold::None));
        let Hold::AfterLogging(nth) = faults.hold() else {
            panic!("the 2nd request is held after it is carried out")
        };
        let Hold::Before(later) = faults.hold() else {
            panic!("the 3rd request is held before it is carried out")
        };
        let waiting = tokio::spawn(async move {
            nth.wait().await;
            later.wait().await;
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "held until the settings are set");
        faults.set(FaultSettings::default());
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("released when the settings are set")
            .unwrap();
        assert!(
            matches!(faults.hold(), Hold::None),
            "no hold without hold_after"
        );
        faults.set(FaultSettings {
            hold_after: Some(1),
            ..FaultSettings::default()
        });
        assert!(
            matches!(faults.hold(), Hold::AfterLogging(_)),
            "counted again from the settings"
        );
    }

    #[test]
    fn settings_parse_from_json_and_reject_unknown_fields() {
        let s: FaultSettings =
            serde_json::from_str(r#"{"script": ["throttle", "unavailable"], "retry_after": 0.2}"#)
                .unwrap();
        assert_eq!(s.script.len(), 2);
        assert_eq!(s.cursor_ttl_secs, 1800);
        assert!(serde_json::from_str::<FaultSettings>(r#"{"throttle": 1}"#).is_err());
        let s: FaultSettings = serde_json::from_str(r#"{"hold_after": 3}"#).unwrap();
        assert_eq!(s.hold_after, Some(3));
    }
}
