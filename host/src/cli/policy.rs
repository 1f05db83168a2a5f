//! `exorun policy init|check|explain`, and finding and applying the policy `exorun run`
//! enforces.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use exorun::caller::{Caller, Groups, TokenIdentity, Via};
use exorun::plugin::artifact::read_manifest;
use exorun::plugin::manifest::Manifest;
use exorun::policy::callers::rules_for;
use exorun::policy::{Policy, Submitted, Vetted, default_paths, init};
use exorun::signing::content_digest;

/// `--policy`: where the operator's policy is.
#[derive(Args, Clone, Debug, Default)]
pub struct PolicyArg {
    /// The operator's policy file (default: the profile's `policy`, then
    /// ~/.config/exorun/policy.toml, then /etc/exorun/policy.toml)
    #[arg(long, env = "EXORUN_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

impl PolicyArg {
    /// The policy file: `--policy`/`EXORUN_POLICY`, else the profile's, else the first default
    /// that exists.
    fn path(&self, from_profile: Option<PathBuf>) -> Option<PathBuf> {
        self.policy
            .clone()
            .or(from_profile)
            .or_else(|| default_paths().into_iter().find(|p| p.exists()))
    }

    /// Reads the policy; none configured is an error that says how to make one that admits
    /// `plugins` (the one `exorun run` runs, or a workflow's).
    pub fn load(&self, from_profile: Option<PathBuf>, plugins: &[&Path]) -> anyhow::Result<Policy> {
        let Some(path) = self.path(from_profile) else {
            let defaults: Vec<String> = default_paths()
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            let shown: Vec<String> = plugins.iter().map(|p| quoted(p)).collect();
            anyhow::bail!(
                "no policy is configured, and exorun runs no plugin without one (deny by default).\n  \
                 Make one that admits {which} with exactly what {whose} asks for:\n    \
                 exorun policy init {plugins} --out {first}\n  \
                 then narrow it (`exorun policy explain {explained}` shows the result). Or name a policy \
                 with --policy FILE or EXORUN_POLICY; looked in: {all}",
                which = if plugins.len() == 1 {
                    "this plugin"
                } else {
                    "these plugins"
                },
                whose = if plugins.len() == 1 {
                    "its manifest"
                } else {
                    "each manifest"
                },
                plugins = shown.join(" "),
                explained = shown.first().map_or("PLUGIN", String::as_str),
                first = defaults
                    .first()
                    .map_or_else(|| "policy.toml".into(), |p| quoted(Path::new(p))),
                all = defaults.join(", ")
            );
        };
        Ok(Policy::load(&path)?)
    }
}

/// A path as a shell reads it back, for commands to paste.
fn quoted(path: &Path) -> String {
    shell_words::quote(&path.display().to_string()).into_owned()
}

/// Policy commands.
#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Write a starting policy that pins each plugin's digest with exactly what its manifest
    /// requests (commented, to narrow).
    Init(Init),
    /// Check a policy file: errors point at the line.
    Check(Check),
    /// Show what a plugin may do under the policy, or why it may not run and what would allow it.
    Explain(Explain),
}

/// Options of `policy init`.
#[derive(Args, Debug)]
pub struct Init {
    /// The plugin artifacts (.wasm).
    #[arg(required = true)]
    plugins: Vec<PathBuf>,
    /// Write the policy here instead of to stdout (an existing file is not overwritten).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Options of `policy check`.
#[derive(Args, Debug)]
pub struct Check {
    /// The policy file (default: as `exorun run` finds it).
    file: Option<PathBuf>,
    #[command(flatten)]
    policy: PolicyArg,
}

/// Options of `policy explain`.
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["plugin", "caller"]))]
pub struct Explain {
    /// The plugin artifact (.wasm).
    plugin: Option<PathBuf>,
    /// Instead, what a caller may ask `exorun serve` for: a UPN (ann@contoso.com), app:CLIENT-ID,
    /// unix:NAME (with the groups the system gives them) or schedule:NAME.
    #[arg(long, value_name = "PRINCIPAL", conflicts_with = "plugin")]
    caller: Option<String>,
    /// With --caller: an Entra group (object id) the caller's token lists (repeatable).
    #[arg(long, value_name = "OBJECT-ID", requires = "caller")]
    group: Vec<String>,
    /// With --caller: an app role the caller's token carries (repeatable).
    #[arg(long, value_name = "ROLE", requires = "caller")]
    role: Vec<String>,
    #[command(flatten)]
    policy: PolicyArg,
}

impl PolicyCmd {
    /// Runs the command.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            PolicyCmd::Init(cmd) => cmd.run(),
            PolicyCmd::Check(cmd) => cmd.run(),
            PolicyCmd::Explain(cmd) => cmd.run(),
        }
    }
}

/// A plugin's manifest and content digest, read without running any of its code.
fn identify(path: &Path) -> anyhow::Result<(Manifest, String)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let manifest = read_manifest(&bytes, &path.display().to_string())?;
    Ok((manifest, content_digest(&bytes)))
}

impl Init {
    fn run(self) -> anyhow::Result<ExitCode> {
        let plugins = self
            .plugins
            .iter()
            .map(|p| identify(p))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let text = init::starting_policy(&plugins);
        match &self.out {
            Some(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .with_context(|| {
                        format!(
                            "cannot create {} (an existing policy is never overwritten: remove it or pick another name)",
                            path.display()
                        )
                    })?;
                file.write_all(text.as_bytes())?;
                eprintln!(
                    "wrote {}: {} plugin(s) pinned by digest; narrow it, then `exorun policy check {}`",
                    path.display(),
                    plugins.len(),
                    path.display()
                );
            }
            None => std::io::stdout().lock().write_all(text.as_bytes())?,
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl Check {
    fn run(self) -> anyhow::Result<ExitCode> {
        let path = self.file.or_else(|| self.policy.path(None)).context(
            "no policy file given or found: name one, e.g. `exorun policy check policy.toml`",
        )?;
        let policy = Policy::load(&path)?;
        for warning in policy.warnings() {
            eprintln!("warning: {warning}");
        }
        println!(
            "{}: ok — {} rule(s), {} caller rule(s), {} auditor rule(s), {} trusted key(s), digest {}",
            path.display(),
            policy.rules().len(),
            policy.caller_rules().len(),
            policy.auditor_rules().len(),
            policy.trusted_keys().count(),
            policy.digest()
        );
        Ok(ExitCode::SUCCESS)
    }
}

impl Explain {
    fn run(self) -> anyhow::Result<ExitCode> {
        let Some(plugin) = &self.plugin else {
            let principal = self.caller.as_deref().unwrap_or_default();
            let caller = caller_named(principal, &self.group, &self.role)?;
            let policy = self.policy.load(None, &[])?;
            explain_caller(&policy, &caller, &mut std::io::stdout().lock())?;
            return Ok(ExitCode::SUCCESS);
        };
        if let Err(not_a_plugin) = identify(plugin) {
            if Policy::load(plugin).is_ok() {
                let file = quoted(plugin);
                anyhow::bail!(
                    "{} is a policy file, not a plugin: `policy explain` takes the plugin (.wasm), as in `exorun policy explain PLUGIN.wasm --policy {file}`; to check the policy: `exorun policy check {file}`",
                    plugin.display()
                );
            }
            return Err(not_a_plugin);
        }
        let policy = self.policy.load(None, &[plugin.as_path()])?;
        let Vetted {
            grant,
            manifest,
            content_digest: digest,
            ..
        } = match policy.vet(Submitted::read(plugin)?) {
            Ok(vetted) => vetted,
            Err(refused) => {
                eprintln!("{refused}");
                return Ok(ExitCode::FAILURE);
            }
        };
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "plugin {} {} (digest {digest})\n  admitted by {}",
            manifest.name, manifest.version, grant.source
        )?;
        match &grant.profile {
            Some(profile) => writeln!(out, "  credential: profile '{profile}' of the config file")?,
            None => writeln!(out, "  credential: the sign-in options of the command line")?,
        }
        writeln!(out, "  cmdlets:")?;
        for cmdlet in &grant.cmdlets {
            let note = match (cmdlet.mutating, cmdlet.compliance) {
                (true, true) => " (changes; Security & Compliance)",
                (true, false) => " (changes)",
                (false, true) => " (Security & Compliance)",
                (false, false) => "",
            };
            writeln!(out, "    {}{note}", cmdlet.name)?;
            for (name, check) in &cmdlet.parameters {
                writeln!(out, "      -{name}: {}", check.describe())?;
            }
            if cmdlet.mutating && grant.scope.is_some() {
                let on: Vec<String> = grant
                    .scope_targets(&cmdlet.name)
                    .iter()
                    .map(|(name, _)| format!("-{name}"))
                    .collect();
                writeln!(out, "      scope checked on: {}", on.join(", "))?;
            }
        }
        if let Some(scope) = &grant.scope {
            writeln!(out, "  scope: {}", scope.text())?;
            let external = if grant.external_targets {
                "allowed"
            } else {
                "refused"
            };
            writeln!(out, "  addresses outside the tenant: {external}")?;
        }
        let changes = match (grant.read_only, grant.max_mutations) {
            (true, _) => "none (read-only)".to_string(),
            (false, Some(max)) => format!("at most {max} per run"),
            (false, None) => "no limit".to_string(),
        };
        writeln!(out, "  changes: {changes}")?;
        let caps = [
            ("memory", grant.caps.memory_mb.map(|m| format!("{m} MiB"))),
            ("time", grant.caps.timeout_secs.map(|s| format!("{s} s"))),
            ("fuel", grant.caps.fuel.map(|f| f.to_string())),
        ];
        for (what, cap) in caps {
            if let Some(cap) = cap {
                writeln!(out, "  {what}: at most {cap}")?;
            }
        }
        if let Some(config) = &grant.config {
            if config.is_empty() {
                writeln!(out, "  settings: none allowed")?;
            }
            for (key, check) in config {
                writeln!(out, "  setting {key}: {}", check.describe())?;
            }
        }
        for withheld in &grant.withheld {
            writeln!(out, "  withheld (narrow = true): {withheld}")?;
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// The caller `principal` names, as the service would see them: a local user with the groups
/// the system gives them, a schedule, an app, or a user with the given groups and roles.
fn caller_named(principal: &str, groups: &[String], roles: &[String]) -> anyhow::Result<Caller> {
    let token = |identity: TokenIdentity| Via::EntraToken {
        tenant: String::new(),
        identity,
        version: "2.0".into(),
    };
    let caller = if let Some(name) = principal.strip_prefix("unix:") {
        let user = nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .with_context(|| format!("there is no local user '{name}' on this machine"))?;
        crate::serve::unix::caller_of(user.uid.as_raw(), user.gid.as_raw(), None)
            .with_context(|| format!("the groups of local user '{name}' cannot be read"))?
    } else if let Some(name) = principal.strip_prefix("schedule:") {
        Caller::schedule(name)
    } else if let Some(id) = principal.strip_prefix("app:") {
        Caller {
            principal: principal.to_string(),
            via: token(TokenIdentity::App),
            app_id: Some(id.to_string()),
            roles: roles.to_vec(),
            ..Caller::schedule("")
        }
    } else if principal.contains('@') {
        Caller {
            principal: principal.to_string(),
            via: token(TokenIdentity::User),
            upn: Some(principal.to_string()),
            groups: Groups::Known(groups.to_vec()),
            roles: roles.to_vec(),
            ..Caller::schedule("")
        }
    } else {
        anyhow::bail!(
            "'{principal}' names no caller: give a UPN (ann@contoso.com), app:CLIENT-ID, unix:NAME or schedule:NAME"
        );
    };
    Ok(caller)
}

/// What `caller` may ask the service for under `policy`, rule by rule.
fn explain_caller(policy: &Policy, caller: &Caller, out: &mut impl Write) -> anyhow::Result<()> {
    if let Ok(rule) = policy.auditor(caller) {
        writeln!(
            out,
            "{caller} is an auditor ({}): reads the audit log and sees every run through exorun serve",
            rule.label()
        )?;
    }
    let rules = rules_for(policy.caller_rules(), caller);
    if rules.is_empty() {
        writeln!(
            out,
            "{caller}: no caller rule of {} names them: they may run nothing through exorun serve (deny by default)",
            policy.origin()
        )?;
        return Ok(());
    }
    writeln!(out, "{caller} may ask exorun serve for:")?;
    for rule in rules {
        let mut what: Vec<String> = rule.plugins.iter().map(|p| format!("plugin {p}")).collect();
        what.extend(rule.workflows.iter().map(|w| format!("workflow {w}")));
        writeln!(out, "  {}: {}", rule.label(), what.join(", "))?;
        if rule.inputs.is_empty() {
            writeln!(out, "    input: none may be given")?;
        }
        for (field, check) in &rule.inputs {
            writeln!(out, "    input {field}: {}", check.describe())?;
        }
        if rule.dry_run_only {
            writeln!(out, "    dry runs only")?;
        }
        if let Some(limit) = rule.runs_per_hour {
            writeln!(out, "    at most {limit} runs an hour")?;
        }
        if let Some(approval) = &rule.approval {
            let who: Vec<String> = approval.approvers.iter().map(ToString::to_string).collect();
            writeln!(
                out,
                "    needs {} approval(s) within {} h, by {} (never the requester)",
                approval.min_approvals,
                approval.hours,
                who.join(", ")
            )?;
        }
    }
    Ok(())
}
