//! A checked workflow: what the engine runs. Steps are in run order with what they need,
//! plugins resolved to files, templates and conditions parsed, references checked. Build one
//! with [`Workflow::load`] or [`Workflow::parse`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::error::Location;
use super::eval::{Context, EvalError, describe};
use super::inputs::Inputs;
use super::partition::Partition;
use super::template::{Condition, Template, ValueTemplate};
use crate::duration;

/// A checked workflow.
#[derive(Clone, Debug)]
pub struct Workflow {
    /// Its name: letters, digits, `-` and `_`.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// The file it was read from, as the user named it (for messages).
    pub file: String,
    /// The profile(s) it runs against.
    pub target: Target,
    /// Its declared inputs.
    pub inputs: Inputs,
    /// The steps, in an order where each comes after everything it needs (file order where
    /// that leaves a choice).
    pub steps: Vec<Step>,
    /// Its results, in file order: values whose strings are templates over the finished steps.
    pub outputs: Vec<(String, ValueTemplate)>,
    /// The charts its run's HTML report draws (`[[report.charts]]`).
    pub report: Option<super::report::ReportSpec>,
    /// What `workflow check` warns of (values written into a filter as they are), in file
    /// order.
    pub warnings: Vec<super::error::Warning>,
}

impl Workflow {
    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
}

/// The config profile(s) a workflow runs against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Neither `profile` nor `tenants`: the profile of the command line (or the default one).
    CommandLine,
    /// `profile = "contoso"`.
    Profile(String),
    /// `tenants = ["contoso", "fabrikam"]`: the whole workflow once per profile.
    Tenants(Vec<String>),
}

impl Target {
    /// The profile names it runs against; `None` is the command line's.
    pub fn profiles(&self) -> Vec<Option<&str>> {
        match self {
            Target::CommandLine => vec![None],
            Target::Profile(name) => vec![Some(name.as_str())],
            Target::Tenants(names) => names.iter().map(|n| Some(n.as_str())).collect(),
        }
    }
}

/// One step: a plugin run (or one per item) with an input built from what came before.
#[derive(Clone, Debug)]
pub struct Step {
    /// Its id: a letter, then letters, digits, `-` and `_`.
    pub id: String,
    /// Where its `[[steps]]` table is.
    pub at: Location,
    /// The plugin it runs.
    pub plugin: PluginRef,
    /// The steps that must finish before it (its `needs`, and the steps its templates and
    /// conditions use), in run order.
    pub needs: Vec<String>,
    /// Run only when this holds (for a `for_each` step, checked per item).
    pub when: Option<Condition>,
    /// Run once per item.
    pub for_each: Option<FanOut>,
    /// What a failure does.
    pub on_error: OnError,
    /// The plugin's input (an object, or one `${…}` that must give one).
    pub input: ValueTemplate,
    /// The plugin's config values (text), in file order.
    pub config: Vec<(String, Template)>,
}

/// The plugin a step runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginRef {
    /// As written in the file.
    pub written: String,
    /// The artifact: `<plugin_dir>/<name>.wasm` for a name, else the path, relative to the file.
    pub path: PathBuf,
    /// The content digest pinned by `digest` (sha256, lowercase hex, no prefix).
    pub digest: Option<String>,
    /// Where `plugin` is written.
    pub at: Location,
}

impl PluginRef {
    /// Whether an artifact with this content digest (sha256 hex, as
    /// [`crate::signing::content_digest`] gives) is the one the step pins (any, if it pins none).
    pub fn admits(&self, content_digest: &str) -> bool {
        self.digest
            .as_deref()
            .is_none_or(|pinned| pinned.eq_ignore_ascii_case(content_digest))
    }
}

/// How a step fans out.
#[derive(Clone, Debug, PartialEq)]
pub struct FanOut {
    /// Where the items come from.
    pub source: ItemSource,
    /// How many items run at once (at least 1).
    pub max_parallel: usize,
}

/// Where a fan-out's items come from.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemSource {
    /// A value that must give a list: `"${steps.list.records}"`, or a list written in the file.
    Values(ValueTemplate),
    /// A built-in partition of a listing.
    Partition(Partition),
}

/// The default of `max_parallel`.
pub const DEFAULT_MAX_PARALLEL: usize = 4;

impl FanOut {
    /// The items, in order.
    pub fn items(&self, context: &dyn Context) -> Result<Vec<Value>, EvalError> {
        match &self.source {
            ItemSource::Partition(partition) => Ok(partition.items()),
            ItemSource::Values(values) => match values.render(context)? {
                Value::Array(items) => Ok(items),
                other => Err(EvalError::NotItems {
                    found: describe(&other),
                }),
            },
        }
    }
}

/// What a step's failure does: retry it (or the failed item) `retries` times, waiting `backoff`
/// before the first retry and twice as long before each further one, then `then`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OnError {
    /// Retries after the first attempt (0: none).
    pub retries: u32,
    /// The wait before the first retry.
    pub backoff: Duration,
    /// What happens when the last attempt failed.
    pub then: Then,
}

/// What happens once a step (or item) has failed for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    /// The workflow stops (steps already running finish).
    Fail,
    /// The failure is recorded (status `failed`) and the workflow goes on.
    Continue,
}

/// The wait before the first retry when `backoff` is not given.
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);

impl OnError {
    /// `on_error = "fail"`, the default.
    pub const FAIL: OnError = OnError {
        retries: 0,
        backoff: DEFAULT_BACKOFF,
        then: Then::Fail,
    };

    /// The wait before retry `n` (from 1): `backoff`, then doubled each time.
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.backoff.saturating_mul(factor)
    }
}

impl fmt::Display for OnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let then = match self.then {
            Then::Fail => "fail",
            Then::Continue => "continue",
        };
        match self.retries {
            0 => f.write_str(then),
            n => write!(
                f,
                "retry {n} time{} (after {}, doubling), then {then}",
                if n == 1 { "" } else { "s" },
                duration::show(self.backoff)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn retries_wait_longer_each_time() {
        let on_error = OnError {
            retries: 3,
            backoff: Duration::from_secs(2),
            then: Then::Continue,
        };
        assert_eq!(on_error.delay(1), Duration::from_secs(2));
        assert_eq!(on_error.delay(3), Duration::from_secs(8));
        assert!(on_error.delay(200) > Duration::from_secs(86_400 * 365));
        assert_eq!(
            on_error.to_string(),
            "retry 3 times (after 2s, doubling), then continue"
        );
        assert_eq!(OnError::FAIL.to_string(), "fail");
    }

    #[test]
    fn fan_outs_give_lists_or_say_what_they_got() {
        let template =
            |text: &str| ItemSource::Values(ValueTemplate::Text(Template::parse(text).unwrap()));
        let context = json!({"inputs": {"ids": ["a", "b"], "one": "a"}});
        let fan_out = |source| FanOut {
            source,
            max_parallel: 2,
        };
        assert_eq!(
            fan_out(template("${inputs.ids}")).items(&context).unwrap(),
            [json!("a"), json!("b")]
        );
        assert_eq!(
            fan_out(template("${inputs.one}"))
                .items(&context)
                .unwrap_err()
                .to_string(),
            "for_each gave the text \"a\", not a list of items"
        );
        let partition = Partition::first_character("Name").unwrap();
        assert_eq!(
            fan_out(ItemSource::Partition(partition))
                .items(&context)
                .unwrap()
                .len(),
            37
        );
    }

    #[test]
    fn a_pin_admits_only_its_build() {
        let plugin = |digest: Option<&str>| PluginRef {
            written: "x".into(),
            path: "x.wasm".into(),
            digest: digest.map(str::to_string),
            at: Location::default(),
        };
        assert!(plugin(None).admits("ab"));
        assert!(plugin(Some("ab")).admits("AB"));
        assert!(!plugin(Some("ab")).admits("cd"));
        assert_eq!(
            Target::Tenants(vec!["a".into(), "b".into()]).profiles(),
            [Some("a"), Some("b")]
        );
        assert_eq!(Target::CommandLine.profiles(), [None]);
    }
}
