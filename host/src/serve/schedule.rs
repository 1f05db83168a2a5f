//! Schedules: the `[[schedule]]` tables of `serve.toml`. Each names a cron expression in a time
//! zone and what to run (a plugin or a workflow, its input, dry run or not); at each of its
//! times the scheduler (`scheduler.rs`) submits a run as the principal `schedule:NAME`, which
//! the caller rules must name like any other caller. Here: reading and checking the tables, the
//! times a schedule fires, what to do about a time missed while the service was down, and what
//! a caller may see of a schedule.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use exorun::caller::Caller;
use exorun::policy::callers::{Target, is_plain_name, rules_for};

use super::state::ScheduleMark;
use super::store::Loaded;
use super::submit::Submission;

/// The longest schedule name: its run ids (`schedule:NAME@TIME`) must stay within the 128
/// characters a run id may have.
const MAX_NAME: usize = 64;

/// A `[[schedule]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFile {
    name: String,
    cron: String,
    time_zone: Option<String>,
    plugin: Option<String>,
    workflow: Option<String>,
    #[serde(default)]
    input: Map<String, Value>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    missed: Missed,
}

/// What to do about a time that passed while the service was not running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Missed {
    /// Nothing: the next run is at the next time.
    #[default]
    Skip,
    /// Run once when the service starts, for the latest time missed.
    RunOnce,
}

/// What a schedule runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleTarget {
    /// A plugin of the store, by name or `sha256:DIGEST`.
    Plugin(String),
    /// A workflow of the service, by name.
    Workflow(String),
}

/// A checked schedule.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// Its name: it runs as `schedule:NAME`.
    pub name: String,
    /// The cron expression as written.
    pub cron: String,
    pattern: Cron,
    /// The time zone its cron expression is read in.
    pub zone: Tz,
    /// What it runs.
    pub target: ScheduleTarget,
    /// The input object of each run.
    pub input: Map<String, Value>,
    /// Each run records changes instead of sending them.
    pub dry_run: bool,
    /// What to do about a time missed while the service was down.
    pub missed: Missed,
}

/// Why a `[[schedule]]` table cannot be used; each says what to write instead.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The name is not plain.
    #[error(
        "[[schedule]] '{name}': a schedule's name is 1 to {MAX_NAME} letters, digits, '-', '_' or '.' (caller rules name it as schedule:NAME), e.g. name = \"nightly-inventory\""
    )]
    Name {
        /// The name as written.
        name: String,
    },
    /// Two tables share a name.
    #[error(
        "two [[schedule]] tables are named '{name}': give each its own name (its runs are those of the principal schedule:NAME)"
    )]
    Duplicate {
        /// The name.
        name: String,
    },
    /// The cron expression does not parse.
    #[error(
        "[[schedule]] '{name}': cron = \"{cron}\" is not a cron expression ({reason}): write 5 fields, minute hour day-of-month month day-of-week (\"30 2 * * *\" is 02:30 every day), or 6 with the seconds first (\"*/10 * * * * *\" is every 10 seconds)"
    )]
    Cron {
        /// The schedule.
        name: String,
        /// The expression as written.
        cron: String,
        /// The parser's reason.
        reason: String,
    },
    /// The cron expression parses but names no time that comes.
    #[error(
        "[[schedule]] '{name}': cron = \"{cron}\" names no time that will come (e.g. 30 February): correct the day and month fields"
    )]
    Never {
        /// The schedule.
        name: String,
        /// The expression as written.
        cron: String,
    },
    /// The time zone is not an IANA name.
    #[error(
        "[[schedule]] '{name}': time_zone = \"{zone}\" is not an IANA time zone{hint}: write a name such as \"Europe/Berlin\" or \"UTC\" (the default)"
    )]
    Zone {
        /// The schedule.
        name: String,
        /// The zone as written.
        zone: String,
        /// ` (did you mean "…"?)` when a known zone is close.
        hint: String,
    },
    /// Both or neither of `plugin` and `workflow`.
    #[error(
        "[[schedule]] '{name}': it names {given}: write exactly one of plugin = \"NAME\" (a plugin of the store, or sha256:DIGEST) and workflow = \"NAME\""
    )]
    Target {
        /// The schedule.
        name: String,
        /// `both plugin and workflow` or `neither plugin nor workflow`.
        given: &'static str,
    },
    /// The plugin or workflow is not a name.
    #[error(
        "[[schedule]] '{name}': {key} = \"{value}\" is not a plugin or workflow name: write letters, digits, '-', '_' and '.', or sha256: and the 64 hex digits of a plugin build"
    )]
    TargetName {
        /// The schedule.
        name: String,
        /// `plugin` or `workflow`.
        key: &'static str,
        /// What was written.
        value: String,
    },
}

/// Reads and checks the `[[schedule]]` tables: names unique, cron expressions and time zones
/// known, exactly one target each.
pub fn check_all(files: Vec<ScheduleFile>) -> Result<Vec<Schedule>, ScheduleError> {
    let mut out: Vec<Schedule> = Vec::with_capacity(files.len());
    for file in files {
        let schedule = Schedule::check(file)?;
        if out.iter().any(|s| s.name == schedule.name) {
            return Err(ScheduleError::Duplicate {
                name: schedule.name,
            });
        }
        out.push(schedule);
    }
    Ok(out)
}

impl Schedule {
    /// Checks one `[[schedule]]` table.
    pub fn check(file: ScheduleFile) -> Result<Schedule, ScheduleError> {
        let name = file.name;
        if name.len() > MAX_NAME || !is_plain_name(&name) {
            return Err(ScheduleError::Name { name });
        }
        let pattern = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(&file.cron)
            .map_err(|e| ScheduleError::Cron {
                name: name.clone(),
                cron: file.cron.clone(),
                reason: e.to_string().trim_end_matches('.').to_string(),
            })?;
        let zone = match &file.time_zone {
            None => Tz::UTC,
            Some(text) => text.parse::<Tz>().map_err(|_| ScheduleError::Zone {
                name: name.clone(),
                zone: text.clone(),
                hint: closest_zone(text)
                    .map(|z| format!(" (did you mean \"{z}\"?)"))
                    .unwrap_or_default(),
            })?,
        };
        let target = match (file.plugin, file.workflow) {
            (Some(plugin), None) => {
                let plain = plugin.strip_prefix("sha256:").map_or_else(
                    || is_plain_name(&plugin),
                    |hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
                );
                if !plain {
                    return Err(ScheduleError::TargetName {
                        name,
                        key: "plugin",
                        value: plugin,
                    });
                }
                ScheduleTarget::Plugin(plugin)
            }
            (None, Some(workflow)) => {
                if !is_plain_name(&workflow) {
                    return Err(ScheduleError::TargetName {
                        name,
                        key: "workflow",
                        value: workflow,
                    });
                }
                ScheduleTarget::Workflow(workflow)
            }
            (Some(_), Some(_)) => {
                return Err(ScheduleError::Target {
                    name,
                    given: "both plugin and workflow",
                });
            }
            (None, None) => {
                return Err(ScheduleError::Target {
                    name,
                    given: "neither plugin nor workflow",
                });
            }
        };
        let schedule = Schedule {
            name,
            cron: file.cron,
            pattern,
            zone,
            target,
            input: file.input,
            dry_run: file.dry_run,
            missed: file.missed,
        };
        if schedule.next_after(Utc::now()).is_none() {
            return Err(ScheduleError::Never {
                name: schedule.name,
                cron: schedule.cron,
            });
        }
        Ok(schedule)
    }

    /// Its first time after `after` (not at it). A wall-clock time a daylight-saving change
    /// skips fires at the first instant after the gap; one it repeats fires once, at the first
    /// of the two instants. `None` if no time comes.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.pattern
            .find_next_occurrence(&after.with_timezone(&self.zone), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Its latest time at or before `until`, if it has one.
    pub fn latest_until(&self, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.pattern
            .find_previous_occurrence(&until.with_timezone(&self.zone), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The caller its runs are submitted as: `schedule:NAME`.
    pub fn caller(&self) -> Caller {
        Caller::schedule(&self.name)
    }

    /// The run id of its run for time `at`: the same for every replica and every restart, so
    /// one time is never submitted twice.
    pub fn run_id(&self, at: DateTime<Utc>) -> String {
        format!(
            "schedule:{}@{}",
            self.name,
            at.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }

    /// What it submits for time `at`.
    pub fn submission(&self, at: DateTime<Utc>) -> Submission {
        let (plugin, workflow) = match &self.target {
            ScheduleTarget::Plugin(name) => (Some(name.clone()), None),
            ScheduleTarget::Workflow(name) => (None, Some(name.clone())),
        };
        Submission {
            plugin,
            workflow,
            input: self.input.clone(),
            dry_run: self.dry_run,
            run_id: Some(self.run_id(at)),
        }
    }

    /// Whether `caller` may see it: their own caller rules let them run its target (its input
    /// may be sensitive: it is shown only to those who could ask for such a run themselves).
    pub fn visible_to(&self, loaded: &Loaded, caller: &Caller) -> bool {
        let rules = rules_for(loaded.policy.caller_rules(), caller);
        let covered = |target: Target<'_>| rules.iter().any(|r| r.covers(target));
        match &self.target {
            ScheduleTarget::Workflow(name) => covered(Target::Workflow(name)),
            ScheduleTarget::Plugin(name) => match loaded.plugin(name) {
                Ok(stored) => covered(Target::Plugin {
                    name: &stored.vetted.manifest.name,
                    digest: &stored.vetted.content_digest,
                }),
                // Not in the store (or ambiguous): only a rule naming it as written covers it.
                Err(_) => {
                    let digest = name.strip_prefix("sha256:").unwrap_or_default();
                    covered(Target::Plugin { name, digest })
                }
            },
        }
    }

    /// How the API shows it at `now`, with its last recorded time.
    pub fn view(&self, last: Option<ScheduleMark>, now: DateTime<Utc>) -> ScheduleView {
        let (plugin, workflow) = match &self.target {
            ScheduleTarget::Plugin(name) => (Some(name.clone()), None),
            ScheduleTarget::Workflow(name) => (None, Some(name.clone())),
        };
        ScheduleView {
            name: self.name.clone(),
            cron: self.cron.clone(),
            time_zone: self.zone.name().to_string(),
            plugin,
            workflow,
            input: self.input.clone(),
            dry_run: self.dry_run,
            missed: self.missed,
            next: self.next_after(now).map(|at| self.time(at)),
            last: last.and_then(|mark| {
                let outcome = Outcome::parse(&mark.outcome)?;
                // "First seen" is when the service began counting, not a time of the schedule.
                if outcome == Outcome::FirstSeen {
                    return None;
                }
                let at = DateTime::from_timestamp_millis(mark.at_ms)?;
                Some(LastView {
                    time: self.time(at),
                    outcome,
                    run_id: mark.run_id,
                    reason: mark.reason,
                })
            }),
        }
    }

    fn time(&self, at: DateTime<Utc>) -> TimeView {
        TimeView {
            at: at
                .with_timezone(&self.zone)
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            at_utc: at.to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    }
}

/// The known time zone closest to `text` (case and a typo or two apart), if any is close.
fn closest_zone(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| {
            let name = tz.name();
            (
                strsim::normalized_damerau_levenshtein(&lower, &name.to_ascii_lowercase()),
                name,
            )
        })
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

/// What became of one of a schedule's times, as the state database records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The service first saw the schedule (the time is when): times before it were not missed.
    FirstSeen,
    /// A run was submitted (or had been, by another replica).
    Submitted,
    /// The caller rules refused the run.
    Refused,
    /// The run could not be submitted (the service's fault, e.g. its database).
    Failed,
    /// Missed while the service was down, and skipped (`missed = "skip"`).
    Skipped,
}

impl Outcome {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::FirstSeen => "first-seen",
            Outcome::Submitted => "submitted",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }

    /// From storage.
    pub fn parse(text: &str) -> Option<Outcome> {
        [
            Outcome::FirstSeen,
            Outcome::Submitted,
            Outcome::Refused,
            Outcome::Failed,
            Outcome::Skipped,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }
}

/// What the scheduler does about a schedule when the service starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtStart {
    /// The service has not seen it before: record that it counts from now, run nothing.
    FirstSeen,
    /// No time passed since the last one handled.
    UpToDate,
    /// Time `0` (the latest missed) passed while the service was down: record it as skipped.
    Skip(DateTime<Utc>),
    /// Time `0` (the latest missed) passed while the service was down: run it now.
    RunOnce(DateTime<Utc>),
}

/// Decides what a start does about a schedule whose last handled time is `last` (`None`: never
/// seen) and whose latest time up to now is `latest`.
pub fn at_start(
    missed: Missed,
    last: Option<DateTime<Utc>>,
    latest: Option<DateTime<Utc>>,
) -> AtStart {
    let Some(last) = last else {
        return AtStart::FirstSeen;
    };
    match latest {
        Some(due) if due > last => match missed {
            Missed::Skip => AtStart::Skip(due),
            Missed::RunOnce => AtStart::RunOnce(due),
        },
        _ => AtStart::UpToDate,
    }
}

/// A schedule as `GET /api/v1/schedules` shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScheduleView {
    name: String,
    cron: String,
    time_zone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    plugin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow: Option<String>,
    input: Map<String, Value>,
    dry_run: bool,
    missed: Missed,
    next: Option<TimeView>,
    last: Option<LastView>,
}

/// A time, in the schedule's zone and in UTC (RFC 3339).
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct TimeView {
    at: String,
    at_utc: String,
}

/// The last time handled, and what became of it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct LastView {
    #[serde(flatten)]
    time: TimeView,
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Schedule>, String> {
        #[derive(Deserialize)]
        struct File {
            schedule: Vec<ScheduleFile>,
        }
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        check_all(file.schedule).map_err(|e| e.to_string())
    }

    fn one(body: &str) -> Result<Schedule, String> {
        parse(&format!("[[schedule]]\nname = \"nightly\"\n{body}")).map(|mut s| s.remove(0))
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn a_table_becomes_a_schedule() {
        let s = one(
            "cron = \"0 2 * * *\"\ntime_zone = \"Europe/Berlin\"\nplugin = \"mailbox-inventory\"\ndry_run = true\nmissed = \"run-once\"\n[schedule.input]\nstatistics = true\n",
        )
        .unwrap();
        assert_eq!(s.zone, chrono_tz::Europe::Berlin);
        assert_eq!(s.target, ScheduleTarget::Plugin("mailbox-inventory".into()));
        assert_eq!(s.input["statistics"], Value::Bool(true));
        assert!(s.dry_run);
        assert_eq!(s.missed, Missed::RunOnce);
        let d = one("cron = \"*/5 * * * * *\"\nworkflow = \"offboarding\"\n").unwrap();
        assert_eq!(d.zone, Tz::UTC);
        assert_eq!(d.missed, Missed::Skip);
        assert!(!d.dry_run);
        assert_eq!(
            d.next_after(utc("2026-12-07T10:00:02Z")),
            Some(utc("2026-12-07T10:00:05Z"))
        );
        let submission = d.submission(utc("2026-12-07T10:00:05Z"));
        assert_eq!(submission.workflow.as_deref(), Some("offboarding"));
        assert_eq!(
            submission.run_id.as_deref(),
            Some("schedule:nightly@2026-12-07T10:00:05Z")
        );
    }

    #[test]
    fn mistakes_name_the_schedule_and_say_what_to_write() {
        let err = |body: &str| one(body).unwrap_err();
        let bad_cron = err("cron = \"0 25 * * *\"\nplugin = \"p\"\n");
        assert!(
            bad_cron.starts_with(
                "[[schedule]] 'nightly': cron = \"0 25 * * *\" is not a cron expression ("
            ),
            "{bad_cron}"
        );
        assert!(bad_cron.contains("write 5 fields"), "{bad_cron}");
        assert!(
            err("cron = \"0 0 2 * * * 2027\"\nplugin = \"p\"\n")
                .contains("is not a cron expression")
        );
        assert!(
            err("cron = \"0 0 30 2 *\"\nplugin = \"p\"\n").contains("names no time that will come")
        );
        assert_eq!(
            err("cron = \"0 2 * * *\"\ntime_zone = \"Europe/Berln\"\nplugin = \"p\"\n"),
            "[[schedule]] 'nightly': time_zone = \"Europe/Berln\" is not an IANA time zone (did you mean \"Europe/Berlin\"?): write a name such as \"Europe/Berlin\" or \"UTC\" (the default)"
        );
        assert!(
            err("cron = \"0 2 * * *\"\ntime_zone = \"Mars/Olympus\"\nplugin = \"p\"\n")
                .contains("is not an IANA time zone: write")
        );
        assert_eq!(
            err("cron = \"0 2 * * *\"\nplugin = \"p\"\nworkflow = \"w\"\n"),
            "[[schedule]] 'nightly': it names both plugin and workflow: write exactly one of plugin = \"NAME\" (a plugin of the store, or sha256:DIGEST) and workflow = \"NAME\""
        );
        assert!(err("cron = \"0 2 * * *\"\n").contains("it names neither plugin nor workflow"));
        assert!(
            err("cron = \"0 2 * * *\"\nplugin = \"../x\"\n")
                .contains("plugin = \"../x\" is not a plugin or workflow name")
        );
        assert!(
            err("cron = \"0 2 * * *\"\nplugin = \"p\"\nmissed = \"later\"\n")
                .contains("unknown variant `later`")
        );
        assert!(
            err("cron = \"0 2 * * *\"\nplugin = \"p\"\nzone = \"UTC\"\n")
                .contains("unknown field `zone`")
        );
        let bad_name =
            parse("[[schedule]]\nname = \"night ly\"\ncron = \"0 2 * * *\"\nplugin = \"p\"\n")
                .unwrap_err();
        assert!(
            bad_name.starts_with("[[schedule]] 'night ly': a schedule's name is 1 to 64 letters"),
            "{bad_name}"
        );
        let twice = "[[schedule]]\nname = \"a\"\ncron = \"0 2 * * *\"\nplugin = \"p\"\n";
        assert_eq!(
            parse(&format!("{twice}{twice}")).unwrap_err(),
            "two [[schedule]] tables are named 'a': give each its own name (its runs are those of the principal schedule:NAME)"
        );
    }

    /// Its next `n` times after `from`.
    fn times(s: &Schedule, from: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        std::iter::successors(s.next_after(from), |at| s.next_after(*at))
            .take(n)
            .collect()
    }

    #[test]
    fn a_time_the_spring_forward_skips_fires_once_after_the_gap() {
        // 29 March 2026 in Berlin: 02:00 CET becomes 03:00 CEST, so 02:30 does not exist.
        let s =
            one("cron = \"30 2 * * *\"\ntime_zone = \"Europe/Berlin\"\nplugin = \"p\"\n").unwrap();
        assert_eq!(
            times(&s, utc("2026-03-28T12:00:00Z"), 2),
            [
                utc("2026-03-29T01:00:00Z"), // 03:00 CEST, the first instant after the gap
                utc("2026-03-30T00:30:00Z"), // 02:30 CEST
            ]
        );
    }

    #[test]
    fn a_time_the_fall_back_repeats_fires_once() {
        // 25 October 2026 in Berlin: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice.
        let s =
            one("cron = \"30 2 * * *\"\ntime_zone = \"Europe/Berlin\"\nplugin = \"p\"\n").unwrap();
        assert_eq!(
            times(&s, utc("2026-10-24T12:00:00Z"), 2),
            [
                utc("2026-10-25T00:30:00Z"), // 02:30 CEST, the first of the two
                utc("2026-10-26T01:30:00Z"), // 02:30 CET the next day
            ]
        );
        let view = s.view(None, utc("2026-10-24T12:00:00Z"));
        let view = serde_json::to_value(view).unwrap();
        assert_eq!(view["next"]["at"], "2026-10-25T02:30:00+02:00");
        assert_eq!(view["next"]["at_utc"], "2026-10-25T00:30:00Z");
        assert_eq!(view["time_zone"], "Europe/Berlin");
        assert_eq!(view["last"], Value::Null);
    }

    #[test]
    fn an_interval_runs_at_every_real_instant_across_a_change() {
        let s = one("cron = \"*/30 * * * *\"\ntime_zone = \"Europe/Berlin\"\nplugin = \"p\"\n")
            .unwrap();
        // Fall back: 02:00 and 02:30 happen twice, an hour apart; each is a real instant.
        assert_eq!(
            times(&s, utc("2026-10-24T23:45:00Z"), 6),
            [
                "2026-10-25T00:00:00Z", // 02:00 CEST
                "2026-10-25T00:30:00Z", // 02:30 CEST
                "2026-10-25T01:00:00Z", // 02:00 CET
                "2026-10-25T01:30:00Z", // 02:30 CET
                "2026-10-25T02:00:00Z", // 03:00 CET
                "2026-10-25T02:30:00Z",
            ]
            .map(utc)
        );
        // Spring forward: nothing between 01:30 CET and 03:00 CEST, half an hour later.
        assert_eq!(
            times(&s, utc("2026-03-29T00:15:00Z"), 3),
            [
                "2026-03-29T00:30:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-29T01:30:00Z"
            ]
            .map(utc)
        );
    }

    #[test]
    fn the_latest_time_counts_the_time_itself() {
        let s = one("cron = \"0 2 * * *\"\nplugin = \"p\"\n").unwrap();
        assert_eq!(
            s.latest_until(utc("2026-12-07T02:00:00Z")),
            Some(utc("2026-12-07T02:00:00Z"))
        );
        assert_eq!(
            s.latest_until(utc("2026-12-07T01:59:59Z")),
            Some(utc("2026-12-06T02:00:00Z"))
        );
    }

    #[test]
    fn a_start_runs_the_latest_missed_time_once_or_skips_it() {
        let last = Some(utc("2026-12-06T02:00:00Z"));
        let missed = Some(utc("2026-12-07T02:00:00Z"));
        assert_eq!(at_start(Missed::RunOnce, None, missed), AtStart::FirstSeen);
        assert_eq!(at_start(Missed::Skip, None, missed), AtStart::FirstSeen);
        assert_eq!(
            at_start(Missed::RunOnce, last, missed),
            AtStart::RunOnce(utc("2026-12-07T02:00:00Z"))
        );
        assert_eq!(
            at_start(Missed::Skip, last, missed),
            AtStart::Skip(utc("2026-12-07T02:00:00Z"))
        );
        // Nothing passed since the last time handled (or the service came back before it).
        assert_eq!(at_start(Missed::RunOnce, last, last), AtStart::UpToDate);
        assert_eq!(at_start(Missed::RunOnce, missed, last), AtStart::UpToDate);
        assert_eq!(at_start(Missed::RunOnce, last, None), AtStart::UpToDate);
    }

    #[test]
    fn the_last_time_shows_what_became_of_it_and_first_seen_is_not_a_time() {
        let s =
            one("cron = \"0 2 * * *\"\ntime_zone = \"Europe/Berlin\"\nplugin = \"p\"\n").unwrap();
        let mark = |outcome: Outcome| ScheduleMark {
            at_ms: utc("2026-12-07T01:00:00Z").timestamp_millis(),
            outcome: outcome.as_str().into(),
            run_id: (outcome == Outcome::Submitted).then(|| "r1".to_string()),
            reason: None,
        };
        let now = utc("2026-12-07T12:00:00Z");
        let shown = serde_json::to_value(s.view(Some(mark(Outcome::Submitted)), now)).unwrap();
        assert_eq!(
            shown["last"],
            serde_json::json!({"at": "2026-12-07T02:00:00+01:00", "at_utc": "2026-12-07T01:00:00Z", "outcome": "submitted", "run_id": "r1"})
        );
        let first = serde_json::to_value(s.view(Some(mark(Outcome::FirstSeen)), now)).unwrap();
        assert_eq!(first["last"], Value::Null);
    }
}
