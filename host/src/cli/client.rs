//! The command line as a client of `exorun serve` (`--server unix:PATH`): the same commands,
//! sent to the service that holds the credential; what the service refuses is shown as it says
//! it, with its reason.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

/// A connection to the service.
pub struct ServerClient {
    http: reqwest::Client,
    base: String,
    shown: String,
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
    /// given as `unix:///run/…`).
    pub fn new(server: &str) -> anyhow::Result<ServerClient> {
        let Some(path) = server.strip_prefix("unix:") else {
            anyhow::bail!(
                "--server '{server}' is not a service address this exorun reaches: give unix:/PATH/TO/exorun.sock (HTTPS comes in a later version)"
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

    fn unreachable(&self, error: reqwest::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "cannot reach the service at {}: {error}; is `exorun serve` running, and may you connect to its socket (its group)?",
            self.shown
        )
    }

    /// GETs `path` (under `/api/v1`) as JSON.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .http
            .get(format!("{}/api/v1{path}", self.base))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        Ok(self.answer(response).await?.1)
    }

    /// GETs `path` (under `/api/v1`) as text.
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let response = self
            .http
            .get(format!("{}/api/v1{path}", self.base))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if !response.status().is_success() {
            return Err(self
                .answer(response)
                .await
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("the service failed without saying why")));
        }
        response.text().await.map_err(|e| self.unreachable(e))
    }

    /// POSTs `body` to `path` (under `/api/v1`).
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .post(format!("{}/api/v1{path}", self.base))
            .json(body)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        self.answer(response).await
    }

    /// Follows run `id` until it ends, showing its progress on stderr; gives the run.
    pub async fn follow(&self, id: &str) -> anyhow::Result<Value> {
        let mut after = 0;
        loop {
            let page = self
                .get(&format!("/runs/{id}/events?after={after}"))
                .await?;
            for event in page["events"].as_array().into_iter().flatten() {
                after = event["seq"].as_i64().unwrap_or(after);
                if event["kind"] == "progress" {
                    let data = &event["data"];
                    let total = data["total"].as_u64().unwrap_or(0);
                    let of = if total > 0 {
                        format!("/{total}")
                    } else {
                        String::new()
                    };
                    eprintln!(
                        "  {}{of} {}",
                        data["done"].as_u64().unwrap_or(0),
                        data["message"].as_str().unwrap_or_default()
                    );
                }
            }
            let state = page["state"].as_str().unwrap_or_default();
            if !matches!(state, "queued" | "running") {
                return self.get(&format!("/runs/{id}")).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
