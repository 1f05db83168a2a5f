//! A step's plugin admitted the way `exorun run` admits one ([`Policy::vet`]), and then held to
//! what the workflow itself says of it: the build its `digest` pins, and a credential profile
//! only where the workflow runs against one tenant.

use super::spec::{Step, Target, Workflow};
use crate::policy::{AdmissionError, Policy, Submitted, Vetted};

/// Why a step's plugin may not run.
#[derive(Debug, thiserror::Error)]
pub enum StepAdmissionError {
    /// The policy does not admit it.
    #[error("{at}: {source}")]
    Policy {
        /// `FILE:LINE:COLUMN: step 'ID'`.
        at: String,
        /// Why.
        source: Box<AdmissionError>,
    },
    /// It is not the build the step pins.
    #[error(
        "{at}: {path} is not the build the step pins: its content digest is sha256:{found}, the step pins sha256:{pinned}"
    )]
    NotPinned {
        /// `FILE:LINE:COLUMN: step 'ID'`.
        at: String,
        /// The artifact.
        path: String,
        /// Its content digest.
        found: String,
        /// The digest the step pins.
        pinned: String,
    },
    /// Its rule names a credential profile, but the workflow runs against several tenants.
    #[error(
        "{at}: the policy ({rule}) runs {plugin} with profile '{profile}', but this workflow runs against several tenants, each with its own profile: drop `profile` from the plugin's rule for this workflow's policy"
    )]
    ProfileAcrossTenants {
        /// `FILE:LINE:COLUMN: step 'ID'`.
        at: String,
        /// The rule that admits it.
        rule: String,
        /// The plugin.
        plugin: String,
        /// The profile its rule names.
        profile: String,
    },
}

/// Vets `step`'s plugin of `workflow` under `policy`: admitted by a rule, the build the step
/// pins, and a profile only for a single-tenant workflow.
pub fn vet_step(
    policy: &Policy,
    workflow: &Workflow,
    step: &Step,
) -> Result<Vetted, StepAdmissionError> {
    let at = format!("{}:{}: step '{}'", workflow.file, step.plugin.at, step.id);
    let path = &step.plugin.path;
    let vetted = Submitted::read(path)
        .and_then(|submitted| policy.vet(submitted))
        .map_err(|source| StepAdmissionError::Policy {
            at: at.clone(),
            source: Box::new(source),
        })?;
    if !step.plugin.admits(&vetted.content_digest) {
        return Err(StepAdmissionError::NotPinned {
            at,
            path: path.display().to_string(),
            found: vetted.content_digest,
            pinned: step.plugin.digest.clone().unwrap_or_default(),
        });
    }
    if let (Some(profile), Target::Tenants(_)) = (&vetted.grant.profile, &workflow.target) {
        return Err(StepAdmissionError::ProfileAcrossTenants {
            at,
            rule: vetted.grant.source.clone(),
            plugin: vetted.grant.plugin.clone(),
            profile: profile.clone(),
        });
    }
    Ok(vetted)
}
