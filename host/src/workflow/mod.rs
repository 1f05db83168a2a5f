//! Workflows: a TOML file that chains plugin runs. Each step runs a plugin with an input built
//! from the workflow's inputs and earlier steps' results, optionally once per item of a list
//! (`for_each`, at most `max_parallel` at once) and only when its condition holds; failures
//! follow `on_error`. See `docs/workflow.md` for the file an admin writes.
//!
//! This module reads and checks the file ([`Workflow::load`]), and gives the engine what it
//! needs to run one: steps in run order ([`Step`]), templates and conditions to evaluate
//! against a [`Context`] ([`ValueTemplate::render`], [`Condition::holds`],
//! [`FanOut::items`]), input binding ([`Inputs::bind`]) and partitions ([`Partition`]).
//!
//! The engine ([`engine::Engine`]) runs one: steps as a DAG, fan-out ([`fanout`]), a journal
//! in the run's directory ([`journal`], [`runs`]) so that a run killed at any point resumes
//! where it stopped.

pub mod admission;
pub mod check;
pub mod csv_input;
pub mod engine;
pub mod error;
pub mod eval;
pub mod expr;
pub mod fanout;
mod file;
pub mod functions;
pub mod graph;
pub mod inputs;
pub mod journal;
pub mod kept;
mod lexer;
mod lint;
mod load;
pub mod opath;
mod order;
pub mod outcome;
mod parser;
pub mod partition;
mod plugin;
pub mod report;
pub mod runs;
pub mod slots;
mod source;
pub mod spec;
mod step;
mod suggest;
pub mod template;

pub use error::{Location, Problem, Warning, WorkflowError};
pub use eval::{Context, EvalError, truthy};
pub use expr::{Expr, Key, Path, Segment, SyntaxError};
pub use functions::Function;
pub use inputs::{InputDecl, InputError, InputErrors, InputType, Inputs};
pub use partition::{Partition, PartitionError};
pub use spec::{FanOut, ItemSource, OnError, PluginRef, Step, Target, Then, Workflow};
pub use template::{Condition, Template, ValueTemplate};

#[cfg(test)]
mod tests;
