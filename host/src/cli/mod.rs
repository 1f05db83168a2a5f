//! Command-line parsing and dispatch; one file per subcommand.

mod args;
mod audit;
mod cert;
mod client;
mod completions;
mod connect;
mod doctor;
mod examples;
mod habits;
mod invoke;
pub(crate) mod output;
mod plugin;
mod policy;
mod raw_row;
mod run;
mod runs;
mod secret_names;
mod serve;
mod signing;
mod workflow;

use std::io::{IsTerminal as _, Write};
use std::process::ExitCode;

use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

pub use args::{ConnectionArgs, SIGN_IN_HEADING};

/// Unattended Exchange Online administration with app-only modern auth.
#[derive(Parser, Debug)]
#[command(
    name = "exorun",
    version = exorun::VERSION,
    about,
    propagate_version = true,
    override_usage = "exorun [SIGN-IN OPTIONS] <COMMAND>",
    after_help = "\
Sign-in options (--app-id, --organization, --certificate, ...) are listed by `exorun connect --help`.
They go after connect, invoke, doctor or run, or before the command; given in both places, the ones
after the command win."
)]
struct Cli {
    /// Sign-in options given before the command (hidden here: each command that signs in lists them).
    #[command(flatten)]
    sign_in: ConnectionArgs,
    #[command(subcommand)]
    command: Command,
}

/// A command that signs in: its own options, then the sign-in options.
#[derive(Args, Debug)]
pub(crate) struct SignedIn<C: Args> {
    #[command(flatten)]
    pub(crate) command: C,
    #[command(flatten)]
    pub(crate) sign_in: ConnectionArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sign in and show who you are; with --test also run Get-OrganizationConfig.
    #[command(after_help = examples::CONNECT)]
    Connect(SignedIn<connect::ConnectCmd>),
    /// Run one cmdlet and stream all of its results.
    #[command(after_help = examples::INVOKE)]
    Invoke(SignedIn<invoke::InvokeCmd>),
    /// Check the whole setup step by step and say how to fix what is wrong.
    Doctor(SignedIn<doctor::DoctorCmd>),
    /// Certificates for app-only auth.
    #[command(subcommand)]
    Cert(cert::CertCmd),
    /// Run a plugin in the sandbox against the tenant.
    #[command(after_help = examples::RUN)]
    Run(SignedIn<run::RunCmd>),
    /// Plugin artifacts: inspect, check, pack; keygen, sign, verify.
    #[command(subcommand)]
    Plugin(plugin::PluginCmd),
    /// The operator's policy: init, check, explain.
    #[command(subcommand)]
    Policy(policy::PolicyCmd),
    /// The audit log: check its chain and MACs, list its records, make a key.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Workflows: run, resume, list runs; check a file, draw its steps.
    #[command(subcommand)]
    Workflow(workflow::WorkflowCmd),
    /// Your runs on the service (--server): list, show, records, cancel, approve, reject.
    Runs(runs::RunsCmd),
    /// Approve a run waiting for your approval on the service, after seeing its plan.
    Approve(runs::ApproveCmd),
    /// Reject a run waiting for your approval on the service.
    Reject(runs::RejectCmd),
    /// Run the service: callers run the plugins their caller rules grant, without the credential.
    Serve(serve::ServeCmd),
    /// Print a shell completion script.
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(completions::CompletionsCmd),
}

/// Where each shell looks for the script.
const COMPLETIONS_HELP: &str = "\
Install:
  bash        exorun completions bash > ~/.local/share/bash-completion/completions/exorun
  zsh         exorun completions zsh > ~/.zfunc/_exorun   (with fpath+=~/.zfunc before compinit)
  fish        exorun completions fish > ~/.config/fish/completions/exorun.fish
  PowerShell  exorun completions powershell | Out-String | Invoke-Expression   (add it to $PROFILE)";

/// The command line as clap sees it, for parsing and for completion scripts.
fn command() -> clap::Command {
    Cli::command().mut_args(|arg| {
        let sign_in = arg.get_help_heading() == Some(SIGN_IN_HEADING);
        arg.hide(sign_in)
    })
}

/// Runs the command line; errors are printed once with their causes.
pub fn main() -> ExitCode {
    // A test build's kill points (RELIABILITY.md); other builds have none.
    #[cfg(feature = "failpoints")]
    if let Err(e) = exorun::failpoints::setup() {
        eprintln!("exorun: {e}");
        return ExitCode::from(2);
    }
    let cli = parse_or_exit();
    tracing_subscriber::fmt()
        .with_env_filter(log_filter(std::env::var("RUST_LOG").ok().as_deref()))
        .with_writer(std::io::stderr)
        .with_ansi(use_colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("exorun: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let before = cli.sign_in;
    quiet_on_closed_output();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async {
            match cli.command {
                Command::Connect(c) => c.command.run(&c.sign_in.over(before)).await,
                Command::Invoke(c) => c.command.run(&c.sign_in.over(before)).await,
                Command::Doctor(c) => c.command.run(&c.sign_in.over(before)).await,
                Command::Cert(cmd) => cmd.run(),
                Command::Plugin(cmd) => cmd.run().await,
                Command::Policy(cmd) => cmd.run(),
                Command::Audit(cmd) => cmd.run(&before),
                Command::Workflow(cmd) => cmd.run(before).await,
                Command::Run(c) => c.command.run(&c.sign_in.over(before)).await,
                Command::Serve(cmd) => cmd.run().await,
                Command::Runs(cmd) => cmd.run().await,
                Command::Approve(cmd) => cmd.run().await,
                Command::Reject(cmd) => cmd.run().await,
                Command::Completions(cmd) => cmd.run(),
            }
        })
    }));
    let result = match result {
        Ok(result) => result,
        // stdout or stderr closed (`exorun … 2>&1 | head`): as with a closed pipe below.
        Err(payload) if is_closed_output(payload.as_ref()) => return ExitCode::SUCCESS,
        Err(payload) => std::panic::resume_unwind(payload),
    };
    match result {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "exorun: {error}");
            for cause in error.chain().skip(1) {
                let _ = write!(stderr, "\n  caused by: {cause}");
            }
            let _ = writeln!(stderr);
            // Cmdlet parameters that cannot be bound are a usage error, like clap's own.
            if error
                .downcast_ref::<exorun::exchange::ParamError>()
                .is_some()
                || error.downcast_ref::<UsageError>().is_some()
            {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// An argument that names something unusable (a file that cannot be read, a key that is not
/// one): exit code 2, like clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct UsageError(#[from] anyhow::Error);

/// Marks `error` as a usage error.
pub fn usage(error: impl Into<anyhow::Error>) -> anyhow::Error {
    UsageError(error.into()).into()
}

/// The command line, or exit 2 with clap's message for a usage error.
fn parse_or_exit() -> Cli {
    parse_from(std::env::args_os()).unwrap_or_else(|error| error.exit())
}

/// Parses a command line; usage errors are clap's own, and those in the options `invoke` takes
/// after the cmdlet, reported with the invoke usage.
fn parse_from(
    argv: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
) -> Result<Cli, clap::Error> {
    let mut command = command();
    let args: Vec<std::ffi::OsString> = argv.into_iter().map(Into::into).collect();
    let matches = command
        .try_get_matches_from_mut(&args)
        .map_err(|error| habits::powershell_parameter(&mut command, &args, error))?;
    let mut cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
    if let Command::Invoke(invoke) = &mut cli.command
        && let Err(error) = invoke.command.split_options()
    {
        command.build();
        let invoke = command
            .find_subcommand_mut("invoke")
            .expect("exorun has an invoke command");
        return Err(error.format(invoke));
    }
    Ok(cli)
}

/// What to log: `RUST_LOG` when set; else warnings and errors, without the TLS verifier's own
/// error line for a certificate that does not verify (exorun's error says it, with the fix).
fn log_filter(rust_log: Option<&str>) -> tracing_subscriber::EnvFilter {
    match rust_log.filter(|directives| !directives.trim().is_empty()) {
        Some(directives) => tracing_subscriber::EnvFilter::new(directives),
        None => tracing_subscriber::EnvFilter::new("warn,rustls_platform_verifier=off"),
    }
}

/// Output (logs, the workflow graph) is coloured only on a terminal, and not when `NO_COLOR` is
/// set to anything but empty (<https://no-color.org>): escape codes in a file are noise.
fn use_colour(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// The panic `println!`/`eprintln!` raise when stdout or stderr is a pipe whose reader has
/// gone (`exorun invoke … 2>&1 | head`): nobody is left to read a message about it.
fn is_closed_output(payload: &(dyn std::any::Any + Send)) -> bool {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    message.starts_with("failed printing to std") && message.contains("os error 32")
}

/// Keeps the panic hook from trying to report a closed stdout or stderr on that same stderr;
/// every other panic is reported as before.
fn quiet_on_closed_output() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_closed_output(info.payload()) {
            report(info);
        }
    }));
}

/// A closed pipe (`exorun invoke ... | head`) is success, not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_closed_stdout_or_stderr_ends_quietly() {
        let closed: Box<dyn std::any::Any + Send> =
            Box::new("failed printing to stderr: Broken pipe (os error 32)".to_string());
        assert!(is_closed_output(closed.as_ref()));
        for other in [
            "failed printing to stdout: No space left on device (os error 28)",
            "index out of bounds",
        ] {
            let payload: Box<dyn std::any::Any + Send> = Box::new(other.to_string());
            assert!(!is_closed_output(payload.as_ref()), "{other}");
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn logs_are_coloured_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsStr::new(""))));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(false, None));
    }

    #[test]
    fn run_settings_do_not_clash_with_the_config_file_flag() {
        let cli = Cli::try_parse_from([
            "exorun",
            "--config-file",
            "/etc/exorun.toml",
            "run",
            "p.wasm",
            "--config",
            "ignore_trustees=svc",
        ])
        .unwrap();
        assert_eq!(
            cli.sign_in.config_file.as_deref(),
            Some(std::path::Path::new("/etc/exorun.toml"))
        );
        let Command::Run(run) = cli.command else {
            panic!("run")
        };
        assert!(format!("{:?}", run.command).contains(r#"config: [("ignore_trustees", "svc")]"#));
    }

    fn parse(argv: &[&str]) -> Result<Cli, clap::Error> {
        parse_from(argv)
    }

    #[test]
    fn the_examples_in_help_parse() {
        for text in [
            examples::CONNECT,
            examples::INVOKE,
            examples::RUN,
            examples::AUDIT_VERIFY,
            examples::AUDIT_SHOW,
        ] {
            let text = text.replace("\\\n", " ");
            let lines = text.lines().map(str::trim);
            for line in lines.filter(|l| l.starts_with("exorun ")) {
                let line = line.split(" > ").next().unwrap();
                let argv = shell_words::split(line).unwrap();
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                parse(&argv).unwrap_or_else(|e| panic!("{line}: {e}"));
            }
        }
    }

    #[test]
    fn a_token_command_is_one_value_and_leaves_the_command_alone() {
        let cli = parse(&[
            "exorun",
            "--access-token-command",
            "get-token",
            "invoke",
            "Get-Mailbox",
        ])
        .unwrap();
        let Command::Invoke(invoke) = cli.command else {
            panic!("invoke")
        };
        assert_eq!(cli.sign_in.access_token_command.unwrap().0, ["get-token"]);
        assert!(format!("{:?}", invoke.command).contains("Get-Mailbox"));
    }

    #[test]
    fn sign_in_options_go_before_or_after_the_command_and_after_wins() {
        let cli = parse(&[
            "exorun",
            "--app-id",
            "before",
            "--page-size",
            "5",
            "invoke",
            "--app-id",
            "after",
            "--x5c",
            "Get-Mailbox",
        ])
        .unwrap();
        let Command::Invoke(invoke) = cli.command else {
            panic!("invoke")
        };
        let merged = invoke.sign_in.over(cli.sign_in);
        assert_eq!(merged.app_id.as_deref(), Some("after"));
        assert_eq!(merged.page_size, Some(5));
        assert!(merged.x5c);
        for command in ["connect", "doctor"] {
            assert!(parse(&["exorun", command, "--organization", "contoso.com"]).is_ok());
        }
        assert!(parse(&["exorun", "run", "p.wasm", "--page-size", "5"]).is_ok());
    }

    #[test]
    fn commands_that_do_not_sign_in_take_no_sign_in_options() {
        for argv in [
            ["exorun", "plugin", "inspect", "p.wasm", "--app-id", "x"].as_slice(),
            &[
                "exorun",
                "cert",
                "new",
                "--subject",
                "s",
                "--out",
                "d",
                "--tenant",
                "x",
            ],
            &["exorun", "completions", "bash", "--profile", "p"],
        ] {
            let e = parse(argv).err().unwrap();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::UnknownArgument,
                "{argv:?}"
            );
        }
    }
}
