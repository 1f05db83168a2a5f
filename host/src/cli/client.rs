//! The command line as a client of `exorun serve` (`--server unix:PATH`): the same commands,
//! sent to the service that holds the credential; what the service refuses is shown as it says
//! it, with its reason.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use serde_json::Value;

use exorun::secret::Secret;

/// How to reach `exorun serve` and who you are to it.
#[derive(Args, Debug, Clone, Default)]
pub struct ServerArgs {
    /// The service (`exorun serve`): unix:/run/exorun/exorun.sock (you are your local user) or
    /// https://exorun.example.com (you are who your Entra ID access token says).
    #[arg(long, env = "EXORUN_SERVER", value_name = "ADDRESS")]
    pub server: Option<String>,
    /// With an https server: an extra CA certificate (PEM) to trust for it.
    #[arg(long, env = "EXORUN_SERVER_CA_FILE", value_name = "FILE")]
    pub server_ca_file: Option<PathBuf>,
}

impl ServerArgs {
    /// A client of the service these arguments name; over HTTPS, `token_command` (the words of
    /// `--access-token-command`, else EXORUN_ACCESS_TOKEN_COMMAND) prints the caller's token.
    pub async fn client(&self, token_command: Option<Vec<String>>) -> anyhow::Result<ServerClient> {
        let server = self.server.as_deref().context(
            "no service named: pass --server unix:/run/exorun/exorun.sock (or https://…), or set EXORUN_SERVER",
        )?;
        let token_command = match token_command {
            Some(words) => Some(words),
            None => std::env::var("EXORUN_ACCESS_TOKEN_COMMAND")
                .ok()
                .filter(|c| !c.trim().is_empty())
                .map(|c| exorun::config::split_command(&c))
                .transpose()
                .map_err(anyhow::Error::msg)?,
        };
        ServerClient::new(server, token_command, self.server_ca_file.as_deref()).await
    }
}

/// How many records are asked of the service at a time.
const RECORDS_PAGE: usize = 10_000;

/// A connection to the service.
pub struct ServerClient {
    http: reqwest::Client,
    base: String,
    shown: String,
    token: Option<Secret>,
}

/// Runs `command` and takes the token it prints: the whole output, or the `accessToken` (Azure
/// CLI) or `access_token` field of the JSON it prints.
async fn token_from(words: &[String]) -> anyhow::Result<Secret> {
    let (program, args) = words
        .split_first()
        .context("--access-token-command is empty")?;
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot start the access token command '{program}'"))?;
    if !output.status.success() {
        anyhow::bail!(
            "the access token command '{program}' failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .next()
                .unwrap_or_default()
        );
    }
    let text =
        String::from_utf8(output.stdout).context("the access token command printed no text")?;
    let text = text.trim();
    let token = match serde_json::from_str::<Value>(text) {
        Ok(json) => json["accessToken"]
            .as_str()
            .or_else(|| json["access_token"].as_str())
            .context("the access token command printed JSON without accessToken or access_token")?
            .to_string(),
        Err(_) => text.to_string(),
    };
    if token.is_empty() || token.contains(char::is_whitespace) {
        anyhow::bail!("the access token command printed no token (one line, no spaces)");
    }
    Ok(Secret::new(token))
}

/// A refusal or failure the service answered with (its problem document's detail).
#[derive(Debug, thiserror::Error)]
#[error("the service refused: {detail}")]
pub struct Refused {
    /// The HTTP status.
    pub status: u16,
    /// What it said.
    pub detail: String,
}

impl ServerClient {
    /// A client of the service at `server`: `unix:/run/exorun/exorun.sock` (the path may also be
    /// given as `unix:///run/…`) or `https://host[:port]`.
    pub async fn new(
        server: &str,
        token_command: Option<Vec<String>>,
        ca_file: Option<&std::path::Path>,
    ) -> anyhow::Result<ServerClient> {
        if server.starts_with("https://") {
            let command = token_command.context(
                "an https server knows you by your Entra ID access token: pass --access-token-command 'az account get-access-token --resource <the service app ID URI>' (or set EXORUN_ACCESS_TOKEN_COMMAND)",
            )?;
            let token = token_from(&command).await?;
            let http = exorun::http::client(ca_file)?;
            return Ok(ServerClient {
                http,
                base: server.trim_end_matches('/').to_string(),
                shown: server.to_string(),
                token: Some(token),
            });
        }
        let Some(path) = server.strip_prefix("unix:") else {
            anyhow::bail!(
                "--server '{server}' is not a service address: give unix:/PATH/TO/exorun.sock or https://HOST[:PORT]"
            );
        };
        let path = PathBuf::from(path.strip_prefix("//").unwrap_or(path));
        if !path.exists() {
            anyhow::bail!(
                "there is no service socket at {}: is `exorun serve` running, and is this its `socket`?",
                path.display()
            );
        }
        let http = reqwest::Client::builder()
            .unix_socket(path.clone())
            .timeout(Duration::from_secs(60))
            .build()
            .context("cannot make an HTTP client")?;
        Ok(ServerClient {
            http,
            base: "http://exorun".into(),
            shown: path.display().to_string(),
            token: None,
        })
    }

    async fn answer(&self, response: reqwest::Response) -> anyhow::Result<(u16, Value)> {
        let status = response.status().as_u16();
        let body: Value = response.json().await.with_context(|| {
            format!(
                "the service at {} answered {status} without JSON",
                self.shown
            )
        })?;
        if status >= 400 {
            let detail = body["detail"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| body.to_string());
            return Err(Refused { status, detail }.into());
        }
        Ok((status, body))
    }

    /// `response` if it succeeded, else the refusal or failure the service answered with.
    async fn succeeded(&self, response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self
            .answer(response)
            .await
            .err()
            .unwrap_or_else(|| anyhow::anyhow!("the service failed without saying why")))
    }

    fn unreachable(&self, error: reqwest::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "cannot reach the service at {}: {error}; is `exorun serve` running, and may you connect to it (the socket's group, or the network)?",
            self.shown
        )
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }

    /// GETs `path` (under `/api/v1`) as JSON.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        Ok(self.answer(response).await?.1)
    }

    /// GETs `path` (under `/api/v1`) as text.
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        self.get_text_with(path, &[]).await
    }

    /// GETs `path` (under `/api/v1`) with the query `query` (encoded here) as text.
    pub async fn get_text_with(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> anyhow::Result<String> {
        let response = self
            .request(reqwest::Method::GET, path)
            .query(query)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let response = self.succeeded(response).await?;
        response.text().await.map_err(|e| self.unreachable(e))
    }

    /// Gives each record of run `id` (a workflow run's `step` and `tenant` when named) to
    /// `record`, page after page as the service pages them, until `record` says to stop
    /// (false) or the records end.
    pub async fn each_record(
        &self,
        id: &str,
        step: Option<&str>,
        tenant: Option<&str>,
        mut record: impl FnMut(Value) -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        let path = format!("/runs/{id}/records");
        let page = RECORDS_PAGE.to_string();
        let mut offset = 0usize;
        loop {
            let at = offset.to_string();
            let mut query = vec![
                ("format", "jsonl"),
                ("limit", page.as_str()),
                ("offset", at.as_str()),
            ];
            query.extend(step.map(|s| ("step", s)));
            query.extend(tenant.map(|t| ("tenant", t)));
            let (mut got, mut going) = (0usize, true);
            self.each_line(&path, &query, |line| {
                if line.trim().is_empty() {
                    return Ok(true);
                }
                got += 1;
                let row: Value = serde_json::from_str(line)
                    .context("the service sent a record that is not JSON")?;
                going = record(row)?;
                Ok(going)
            })
            .await?;
            if !going || got < RECORDS_PAGE {
                return Ok(());
            }
            offset += got;
        }
    }

    /// GETs `path` (under `/api/v1`) with the query `query` and gives each line of the answer
    /// to `line` as it arrives, until `line` says to stop (false): a big answer is never held
    /// whole.
    async fn each_line(
        &self,
        path: &str,
        query: &[(&str, &str)],
        mut line: impl FnMut(&str) -> anyhow::Result<bool>,
    ) -> anyhow::Result<()> {
        let response = self
            .request(reqwest::Method::GET, path)
            .query(query)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let mut response = self.succeeded(response).await?;
        let mut pending: Vec<u8> = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.unreachable(e))? {
            pending.extend_from_slice(&chunk);
            while let Some(at) = pending.iter().position(|&b| b == b'\n') {
                let whole: Vec<u8> = pending.drain(..=at).collect();
                if !line(&String::from_utf8_lossy(&whole[..at]))? {
                    return Ok(());
                }
            }
        }
        if !pending.is_empty() {
            line(&String::from_utf8_lossy(&pending))?;
        }
        Ok(())
    }

    /// POSTs `body` to `path` (under `/api/v1`).
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let response = self
            .request(reqwest::Method::POST, path)
            .json(body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.answer(response).await
    }

    /// The id of the run of kind `kind` that `given` names: its whole id, or the start of one
    /// of your runs' ids, as `exorun workflow runs` lists them.
    pub async fn run_id(&self, given: &str, kind: &str) -> anyhow::Result<String> {
        if uuid::Uuid::parse_str(given).is_ok() {
            return Ok(given.to_string());
        }
        let runs = self.get(&format!("/runs?kind={kind}&limit=1000")).await?;
        let matching: Vec<&str> = runs
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|run| run["id"].as_str())
            .filter(|id| !given.is_empty() && id.starts_with(given))
            .collect();
        match matching.as_slice() {
            [one] => Ok((*one).to_string()),
            [] => anyhow::bail!(
                "none of your {kind} runs on the service has an id starting with '{given}': `{}` lists them",
                if kind == "workflow" {
                    "exorun workflow runs --server …"
                } else {
                    "exorun runs --server …"
                }
            ),
            many => anyhow::bail!(
                "'{given}' starts {} of your runs' ids: give more of it",
                many.len()
            ),
        }
    }

    /// Submits `body` (`POST /runs`, with `run_id` if given) and follows the run to its end
    /// (its progress on stderr); gives the ended run, or `None` when the run's id was printed
    /// instead: with `no_wait`, or when the run waits for approval.
    pub async fn submit_and_follow(
        &self,
        mut body: Value,
        run_id: Option<&str>,
        no_wait: bool,
    ) -> anyhow::Result<Option<Value>> {
        if let Some(key) = run_id {
            body["run_id"] = Value::String(key.to_string());
        }
        let (status, run) = self.post("/runs", &body).await?;
        let id = run["id"].as_str().unwrap_or_default().to_string();
        if status == 200 {
            eprintln!(
                "exorun: run {id} was already submitted with run id {}: following it",
                run_id.unwrap_or_default()
            );
        }
        if run["state"] == "pending-approval" || run["planning"] == true {
            eprintln!(
                "exorun: run {id} waits for approval ({}): the service makes a dry-run plan for the approvers first; see it with `exorun runs show {id}`",
                run["rule"].as_str().unwrap_or_default()
            );
            println!("{id}");
            return Ok(None);
        }
        if no_wait {
            println!("{id}");
            return Ok(None);
        }
        self.follow(&id).await.map(Some)
    }

    /// Follows run `id` until it ends, showing its progress on stderr; gives the run. Its live
    /// event stream is read as the events come (Server-Sent Events), and opened again after
    /// the last event seen when the connection ends early.
    pub async fn follow(&self, id: &str) -> anyhow::Result<Value> {
        self.follow_after(id, 0).await
    }

    /// Follows run `id` from its events after number `after` (a resumed run's, after its
    /// `resumed` event) until it ends; gives the run.
    pub async fn follow_after(&self, id: &str, mut after: i64) -> anyhow::Result<Value> {
        loop {
            let ended = self.follow_stream(id, &mut after).await.unwrap_or(false);
            let run = self.get(&format!("/runs/{id}")).await?;
            if ended || !matches!(run["state"].as_str(), Some("queued" | "running")) {
                return Ok(run);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Reads run `id`'s event stream after event `after` (moved on as events come) until its
    /// `end` event (true) or until the stream stops (false).
    async fn follow_stream(&self, id: &str, after: &mut i64) -> anyhow::Result<bool> {
        let response = self
            .request(reqwest::Method::GET, &format!("/runs/{id}/events"))
            .header("accept", "text/event-stream")
            .header("last-event-id", after.to_string())
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let mut response = self.succeeded(response).await?;
        let mut pending = String::new();
        while let Some(chunk) = response.chunk().await? {
            pending.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(at) = pending.find("\n\n") {
                let block: String = pending.drain(..at + 2).collect();
                let Some(event) = sse_event(&block) else {
                    continue;
                };
                *after = event["seq"].as_i64().unwrap_or(*after);
                if let Some(line) = shown(&event) {
                    eprintln!("  {line}");
                }
                if event["kind"] == "end" {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// One Server-Sent Events block (`id:`, `event:`, `data:` lines) as `{seq, kind, data}`;
/// `None` for a keep-alive comment.
fn sse_event(block: &str) -> Option<Value> {
    let (mut seq, mut kind, mut data) = (None, None, String::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("id:") {
            seq = v.trim().parse::<i64>().ok();
        } else if let Some(v) = line.strip_prefix("event:") {
            kind = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    Some(serde_json::json!({
        "seq": seq?,
        "kind": kind.unwrap_or_else(|| "message".into()),
        "data": serde_json::from_str::<Value>(&data).unwrap_or(Value::String(data)),
    }))
}

/// An event of a followed run as a line on stderr: progress (a plugin's, or a workflow step's
/// items done), a workflow step starting, log lines and throttling waits; `None` for the rest.
fn shown(event: &Value) -> Option<String> {
    let data = &event["data"];
    let text = |key: &str| data[key].as_str().unwrap_or_default().to_string();
    let number = |key: &str| data[key].as_u64().unwrap_or(0);
    let step = match (data["step"].as_str(), data["tenant"].as_str()) {
        (Some(step), Some(tenant)) => format!("step {step} ({tenant}): "),
        _ => String::new(),
    };
    match event["kind"].as_str()? {
        "progress" => {
            let total = number("total");
            let of = if total > 0 {
                format!("/{total}")
            } else {
                String::new()
            };
            Some(
                format!("{step}{}{of} {}", number("done"), text("message"))
                    .trim_end()
                    .to_string(),
            )
        }
        "step" => Some(format!("{step}{} items", number("total"))),
        "log" => Some(format!("{step}{}", text("message"))),
        "throttle" => Some(format!(
            "{step}throttled: {} waiting, {} requests throttled so far",
            number("waiting"),
            number("throttled")
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_sent_event_block_reads_as_its_number_kind_and_data() {
        let event =
            sse_event("id: 7\nevent: progress\ndata: {\"done\":3,\"total\":10}\n\n").unwrap();
        assert_eq!(event["seq"], 7);
        assert_eq!(event["kind"], "progress");
        assert_eq!(event["data"]["done"], 3);
        assert_eq!(shown(&event).unwrap(), "3/10");
        assert!(
            sse_event(":\n\n").is_none(),
            "a keep-alive comment is no event"
        );
    }
}
