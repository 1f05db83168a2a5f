//! Workflows: plugins chained into steps that run as a DAG, fanned out over lists, journaled so
//! that a run killed at any point resumes where it stopped.

pub mod journal;
pub mod report;
