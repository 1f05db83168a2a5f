//! `exorun invoke <Cmdlet> [-Param value ...]`: runs one cmdlet and streams every page to
//! stdout, with a progress line on a terminal; each request is audited, and the audit log's head
//! is printed at the end.

use std::process::ExitCode;

use clap::Args;

use exorun::Connection;
use exorun::audit::{CallContext, RunId};
use exorun::exchange::{
    Catalogue, ExchangeError, Page, Parameters, Query, RawRow, Rehearsal, Surface, bind,
    is_mutating,
};
use tokio::sync::mpsc;

use super::ConnectionArgs;
use super::audit::{not_sent, print_head};
use super::output::{Format, Progress, RowSink, count};

/// Run one cmdlet and stream all of its results.
#[derive(Args, Debug)]
pub struct InvokeCmd {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    output: Format,
    /// Properties to show (table, csv), comma-separated.
    #[arg(long, value_delimiter = ',')]
    property: Vec<String>,
    /// Run on Security & Compliance instead of Exchange Online.
    #[arg(long)]
    compliance: bool,
    /// Record changing cmdlets instead of sending them.
    #[arg(long)]
    dry_run: bool,
    /// The cmdlet, e.g. Get-Mailbox.
    cmdlet: String,
    /// Its parameters as PowerShell writes them: -Identity a@contoso.com -ResultSize Unlimited.
    /// exorun's own --output, --property, --compliance and --dry-run may follow them too.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PARAMETERS"
    )]
    parameters: Vec<String>,
}

/// Whether `--name` is one of the sign-in options (they go before the cmdlet).
fn is_sign_in_option(name: &str) -> bool {
    use clap::Args as _;
    ConnectionArgs::augment_args(clap::Command::new("exorun"))
        .get_arguments()
        .any(|arg| {
            arg.get_long() == Some(name) || arg.get_all_aliases().is_some_and(|a| a.contains(&name))
        })
}

/// A usage error in what follows the cmdlet, reported like clap's own (exit code 2).
fn usage(kind: clap::error::ErrorKind, message: String) -> clap::Error {
    clap::Error::raw(kind, message)
}

impl InvokeCmd {
    /// Moves exorun's own `--options` out of the cmdlet parameters, leaving (and returning) the
    /// cmdlet's own. Doing it again changes nothing, so the command line can be checked before
    /// the command runs.
    pub fn split_options(&mut self) -> Result<Vec<String>, clap::Error> {
        use clap::error::ErrorKind;
        if self.cmdlet.contains(char::is_whitespace) {
            let words = shell_words::split(&self.cmdlet)
                .unwrap_or_else(|_| self.cmdlet.split_whitespace().map(str::to_string).collect());
            let line = shell_words::join(words.iter().chain(&self.parameters));
            return Err(usage(
                ErrorKind::InvalidValue,
                format!(
                    "'{}' is a whole command line in one argument: split it, as in `exorun invoke {line}` (quote only a value that has spaces)",
                    self.cmdlet
                ),
            ));
        }
        let mut cmdlet_args = Vec::new();
        let mut rest = std::mem::take(&mut self.parameters).into_iter();
        while let Some(arg) = rest.next() {
            let (name, inline) = match arg.strip_prefix("--") {
                Some(option) => match option.split_once('=') {
                    Some((n, v)) => (n.to_string(), Some(v.to_string())),
                    None => (option.to_string(), None),
                },
                None => {
                    cmdlet_args.push(arg);
                    continue;
                }
            };
            let mut value = |what: &str| -> Result<String, clap::Error> {
                inline.clone().or_else(|| rest.next()).ok_or_else(|| {
                    usage(
                        ErrorKind::InvalidValue,
                        format!("a value is required for '--{what}' but none was supplied"),
                    )
                })
            };
            match name.as_str() {
                "output" => {
                    let v = value("output")?;
                    self.output =
                        <Format as clap::ValueEnum>::from_str(&v, true).map_err(|_| {
                            usage(
                                ErrorKind::InvalidValue,
                                format!("invalid value '{v}' for '--output': it is table, json, jsonl or csv"),
                            )
                        })?;
                }
                "property" => self
                    .property
                    .extend(value("property")?.split(',').map(str::to_string)),
                "compliance" => self.compliance = true,
                "dry-run" => self.dry_run = true,
                "dryrun" | "dry_run" | "dry" | "whatif" | "what-if" | "what_if" => {
                    return Err(usage(
                        ErrorKind::UnknownArgument,
                        format!("'--{name}' is not an option: did you mean --dry-run?"),
                    ));
                }
                other if is_sign_in_option(other) => {
                    return Err(usage(
                        ErrorKind::UnknownArgument,
                        format!(
                            "--{other} is a sign-in option: give it before the cmdlet, as in `exorun invoke --{other} … {} …`",
                            self.cmdlet
                        ),
                    ));
                }
                other => {
                    return Err(usage(
                        ErrorKind::UnknownArgument,
                        format!(
                            "unexpected argument '--{other}' after the cmdlet (cmdlet parameters take one dash: -{other})"
                        ),
                    ));
                }
            }
        }
        self.parameters.clone_from(&cmdlet_args);
        Ok(cmdlet_args)
    }

    /// Runs the command.
    pub async fn run(mut self, args: &ConnectionArgs) -> anyhow::Result<ExitCode> {
        let cmdlet_args = self.split_options()?;
        let binding = bind(&self.cmdlet, &cmdlet_args)?;
        for warning in &binding.warnings {
            eprintln!("exorun: warning: {warning}");
        }
        if self.compliance
            && let Some(known) = binding.cmdlet
            && known.surface == Surface::Exchange
            && !Catalogue::get()
                .cmdlets()
                .iter()
                .any(|c| c.surface == Surface::Compliance && c.name == known.name)
        {
            return Err(super::usage(anyhow::anyhow!(
                "{} is an Exchange Online cmdlet, not a Security & Compliance one: leave out --compliance (a catalogued cmdlet is sent where it belongs without it)",
                known.name
            )));
        }
        let connection = Connection::open(args.settings()?)?;
        let before = connection.audit().head();
        // A Security & Compliance cmdlet goes there without --compliance, as after
        // Connect-IPPSSession.
        let surface = match binding.cmdlet {
            _ if self.compliance => Surface::Compliance,
            Some(known) => known.surface,
            None => Surface::Exchange,
        };
        let run = RunId::new();
        let context = CallContext {
            run: Some(run),
            decision: Some("the operator's own command (exorun invoke)".into()),
            ..CallContext::default()
        };
        let streamed = if self.dry_run && is_mutating(&self.cmdlet) {
            self.rehearse(&connection, context, surface, binding.params)
        } else {
            let query = connection
                .exchange()
                .query(surface, &self.cmdlet, binding.params)
                .with_context(context);
            self.stream(query).await
        };
        print_head(connection.audit(), run, before);
        streamed?;
        Ok(ExitCode::SUCCESS)
    }

    /// Records the change in the audit log as rehearsed and shows it, instead of sending it.
    fn rehearse(
        &self,
        connection: &Connection,
        context: CallContext,
        surface: Surface,
        params: Parameters,
    ) -> anyhow::Result<()> {
        connection
            .audit()
            .rehearsed(&context, &self.cmdlet, &params)?;
        eprintln!(
            "{}",
            not_sent(&Rehearsal {
                surface,
                cmdlet: self.cmdlet.clone(),
                params,
            })
        );
        Ok(())
    }

    /// Streams every page of `query` to stdout, with a spinner on a terminal.
    async fn stream(&self, query: Query) -> anyhow::Result<()> {
        let progress = Progress::start();
        progress.message(format!("{}: waiting for the first page", self.cmdlet));
        let stdout = std::io::stdout().lock();
        let mut sink = RowSink::new(
            std::io::BufWriter::new(stdout),
            self.output,
            self.property.clone(),
        );
        let mut fetched = fetch_ahead(query);
        let (mut pages, mut rows) = (0u64, 0u64);
        while let Some(page) = fetched.recv().await {
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    progress.clear();
                    // What was written stays as it is (JSON without its closing bracket, so it
                    // cannot be mistaken for the whole result).
                    sink.flush()?;
                    let context = if pages == 0 {
                        format!("{} failed", self.cmdlet)
                    } else {
                        format!(
                            "{} stopped after {} in {} were written: the output is incomplete",
                            self.cmdlet,
                            count(rows, "row", "rows"),
                            count(pages, "page", "pages")
                        )
                    };
                    return Err(anyhow::Error::new(e).context(context));
                }
            };
            pages += 1;
            rows += page.rows.len() as u64;
            progress.around(|| sink.write_raw_rows(&page.rows))?;
            exorun::kill_point!("invoke-rows-written");
            for warning in &page.warnings {
                progress.around(|| eprintln!("WARNING: {warning}"));
            }
            progress.message(format!(
                "{}: {} in {}",
                self.cmdlet,
                count(rows, "row", "rows"),
                count(pages, "page", "pages")
            ));
        }
        sink.finish()?;
        progress.finish(&format!(
            "{} in {}",
            count(rows, "row", "rows"),
            count(pages, "page", "pages")
        ));
        Ok(())
    }
}

/// The query's pages, each fetched while the one before is being written: the service prepares
/// page N+1 while exorun writes page N. At most one page waits (memory stays constant); after
/// an error nothing more is fetched.
fn fetch_ahead(mut query: Query) -> mpsc::Receiver<Result<Page<RawRow>, ExchangeError>> {
    let (pages, fetched) = mpsc::channel(1);
    tokio::spawn(async move {
        while let Some(next) = query.next_raw_page().await.transpose() {
            let failed = next.is_err();
            if pages.send(next).await.is_err() || failed {
                break;
            }
        }
    });
    fetched
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        invoke: InvokeCmd,
    }

    fn split(args: &[&str]) -> anyhow::Result<(InvokeCmd, Vec<String>)> {
        let mut cmd =
            Cli::try_parse_from(std::iter::once("invoke").chain(args.iter().copied()))?.invoke;
        let rest = cmd.split_options()?;
        Ok((cmd, rest))
    }

    #[test]
    fn own_options_may_follow_the_parameters() {
        let (cmd, rest) = split(&[
            "Get-Mailbox",
            "-ResultSize",
            "10",
            "--output=csv",
            "--property",
            "A,B",
        ])
        .unwrap();
        assert_eq!(rest, ["-ResultSize", "10"]);
        assert_eq!((cmd.output, cmd.property.len()), (Format::Csv, 2));
    }

    #[test]
    fn splitting_twice_changes_nothing() {
        let (mut cmd, rest) =
            split(&["Get-Mailbox", "-Identity", "ann", "--output", "json"]).unwrap();
        assert_eq!(cmd.split_options().unwrap(), rest);
        assert_eq!(cmd.output, Format::Json);
        let e = split(&["Get-Mailbox", "-ResultSize", "5", "--output", "xml"]).unwrap_err();
        assert!(e.to_string().contains("table, json, jsonl or csv"), "{e}");
    }

    #[test]
    fn sign_in_options_after_the_cmdlet_say_where_they_go() {
        let e = split(&["Get-Mailbox", "--app-id", "x"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--app-id is a sign-in option: give it before the cmdlet"),
            "{e}"
        );
        let e = split(&["Get-Mailbox", "--client-id", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("sign-in option"), "{e}");
        let e = split(&["Get-Mailbox", "--Identity", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("take one dash: -Identity"), "{e}");
    }
}
