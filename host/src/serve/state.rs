//! The service's state: submitted runs (the queue, with leases a worker holds while it runs one),
//! and each run's events (progress, log lines, its end), in a real database through `sqlx`:
//! embedded SQLite in the state directory by default (WAL, one writer at a time), PostgreSQL
//! when several replicas share one queue. Queries are written once for both (`$1` placeholders,
//! integers and text only); the claim alone differs (PostgreSQL skips rows another replica is
//! taking). Event numbers are `MAX(seq) + 1`: two writers of one run's events (a worker and an
//! approval on another replica) can pick the same one, and the loser writes again.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Connection, Row};

use exorun::policy::callers::Given;

use super::database::DatabaseUrl;

/// What can go wrong with the state database.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The database failed.
    #[error("the state database failed: {0}")]
    Database(#[from] sqlx::Error),
    /// The PostgreSQL server cannot be reached or refused us.
    #[error(
        "cannot open the state database {database}: {reason}: check that the server is running and reachable from here, and the user, password and database name"
    )]
    Open {
        /// The database's URL, its password hidden.
        database: String,
        /// The driver's reason, the password taken out.
        reason: String,
    },
    /// A stored value is not what this version writes.
    #[error(
        "the state database holds a run this version cannot read ({0}): was it written by a newer exorun?"
    )]
    Corrupt(String),
    /// The caller reused a run id for a different request.
    #[error(
        "run id '{0}' was already used for a different request: choose a new run id, or repeat the first request exactly"
    )]
    RunIdReused(String),
}

/// Where a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Waiting for approval.
    PendingApproval,
    /// Waiting for a worker.
    Queued,
    /// A worker runs it.
    Running,
    /// It ran to its end with no failure.
    Succeeded,
    /// It ran, and failed or some of its work failed.
    Failed,
    /// Cancelled before or while it ran.
    Cancelled,
    /// An approver rejected it.
    Rejected,
    /// Nobody approved it in time.
    Expired,
}

impl RunState {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::PendingApproval => "pending-approval",
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
            RunState::Rejected => "rejected",
            RunState::Expired => "expired",
        }
    }

    /// From storage or a query string.
    pub fn parse(text: &str) -> Option<RunState> {
        [
            RunState::PendingApproval,
            RunState::Queued,
            RunState::Running,
            RunState::Succeeded,
            RunState::Failed,
            RunState::Cancelled,
            RunState::Rejected,
            RunState::Expired,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether it will not change again.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            RunState::PendingApproval | RunState::Queued | RunState::Running
        )
    }
}

/// A run as stored.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RunRow {
    /// Its id (a UUID).
    pub id: String,
    /// Who asked for it.
    pub principal: String,
    /// The caller, as authenticated (JSON of [`exorun::caller::Caller`]).
    #[serde(skip)]
    pub caller: String,
    /// The run id the caller chose, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    /// `plugin` or `workflow`.
    pub kind: String,
    /// The plugin's or workflow's name.
    pub target: String,
    /// The plugin's content digest, or the workflow file's.
    pub digest: String,
    /// The plugin's version, if a plugin.
    pub version: String,
    /// The input object.
    pub input: Value,
    /// Changes recorded, not sent.
    pub dry_run: bool,
    /// Where it is.
    pub state: RunState,
    /// The caller rule that allowed it.
    pub rule: String,
    /// The policy in force when it was submitted.
    pub policy_digest: String,
    /// When it was submitted (Unix milliseconds).
    pub submitted_at: i64,
    /// When a worker started it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// When it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    /// The plugin's summary (JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Value>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Records it wrote.
    pub records: i64,
    /// Cmdlets it was let run.
    pub calls: i64,
    /// Cmdlets it was refused.
    pub denied: i64,
    /// A cancel was asked for.
    pub cancel_requested: bool,
    /// The worker is making the dry-run plan approvers will see.
    pub planning: bool,
    /// The dry-run plan (the changes it would make) approvers see.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Value>,
    /// The sha256 of the plan's text: an approval names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    /// Who approved it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approved_by: Vec<String>,
}

impl RunRow {
    /// What it runs, as the caller rules name it.
    pub fn target(&self) -> exorun::policy::callers::Target<'_> {
        if self.kind == "workflow" {
            return exorun::policy::callers::Target::Workflow(&self.target);
        }
        exorun::policy::callers::Target::Plugin {
            name: &self.target,
            digest: &self.digest,
        }
    }

    /// Its input object.
    pub fn input_object(&self) -> serde_json::Map<String, Value> {
        self.input.as_object().cloned().unwrap_or_default()
    }
}

/// A run to queue.
#[derive(Clone, Debug)]
pub struct NewRun {
    /// Who asks.
    pub principal: String,
    /// The caller as JSON.
    pub caller: String,
    /// The run id the caller chose, if any.
    pub client_key: Option<String>,
    /// `plugin` or `workflow`.
    pub kind: &'static str,
    /// Its name.
    pub target: String,
    /// Its digest.
    pub digest: String,
    /// Its version.
    pub version: String,
    /// The input object.
    pub input: Value,
    /// A dry run.
    pub dry_run: bool,
    /// The rule that allowed it.
    pub rule: String,
    /// The policy in force.
    pub policy_digest: String,
    /// It needs approval: a dry-run plan is made first, for the approvers.
    pub needs_approval: bool,
}

/// An approver's decision to record.
#[derive(Clone, Debug)]
pub struct NewApproval {
    /// The approver's principal.
    pub approver: String,
    /// The approver as authenticated (JSON).
    pub caller: String,
    /// Approve (or reject).
    pub approve: bool,
    /// What the approval is bound to.
    pub binding: String,
    /// The approver's comment.
    pub comment: String,
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct RunEnding {
    /// Succeeded, failed or cancelled.
    pub state: RunState,
    /// The plugin's summary.
    pub summary: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// Records written.
    pub records: i64,
    /// Calls let through.
    pub calls: i64,
    /// Calls refused.
    pub denied: i64,
}

/// One event of a run, for its live stream.
#[derive(Clone, Debug, Serialize)]
pub struct RunEvent {
    /// Its number within the run, from 1: the stream's event id.
    pub seq: i64,
    /// When (Unix milliseconds).
    pub at: i64,
    /// `state`, `progress`, `log`, `end`.
    pub kind: String,
    /// What it says.
    pub data: Value,
}

/// Which runs to list.
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    /// Only this caller's.
    pub principal: Option<String>,
    /// Only runs in this state.
    pub state: Option<RunState>,
    /// Only plugin runs (`plugin`) or workflow runs (`workflow`).
    pub kind: Option<String>,
    /// At most this many, newest first.
    pub limit: i64,
}

/// Whether a worker still holds a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holding {
    /// It does.
    Held {
        /// A cancel was asked for.
        cancel_requested: bool,
    },
    /// It does not: the run ended, or its lease ran out and it was queued again or taken up.
    Lost,
}

/// Who resumes a run, and what allows it now.
#[derive(Clone, Debug)]
pub struct Resumed {
    /// Who asks.
    pub principal: String,
    /// The caller as authenticated now (JSON of [`exorun::caller::Caller`]): the resumed run's
    /// calls are recorded as theirs.
    pub caller: String,
    /// The caller rule in force that allows it.
    pub rule: String,
    /// The policy in force.
    pub policy_digest: String,
}

/// The last time of a schedule the service handled, and what became of it: what decides,
/// after a restart, whether a time was missed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleMark {
    /// The time (Unix milliseconds).
    pub at_ms: i64,
    /// What became of it (`submitted`, `refused`, `skipped`…).
    pub outcome: String,
    /// The run submitted for it.
    pub run_id: Option<String>,
    /// Why it was refused or skipped.
    pub reason: Option<String>,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS runs (
        id TEXT PRIMARY KEY,
        principal TEXT NOT NULL,
        caller TEXT NOT NULL,
        client_key TEXT,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        digest TEXT NOT NULL,
        version TEXT NOT NULL,
        input TEXT NOT NULL,
        dry_run BIGINT NOT NULL,
        state TEXT NOT NULL,
        rule TEXT NOT NULL,
        policy_digest TEXT NOT NULL,
        submitted_at BIGINT NOT NULL,
        started_at BIGINT,
        ended_at BIGINT,
        summary TEXT,
        error TEXT,
        records BIGINT NOT NULL DEFAULT 0,
        calls BIGINT NOT NULL DEFAULT 0,
        denied BIGINT NOT NULL DEFAULT 0,
        cancel_requested BIGINT NOT NULL DEFAULT 0,
        planning BIGINT NOT NULL DEFAULT 0,
        plan TEXT,
        plan_hash TEXT,
        approved_by TEXT,
        owner TEXT,
        lease_until BIGINT,
        UNIQUE (principal, client_key)
    )",
    "CREATE INDEX IF NOT EXISTS runs_by_state ON runs (state, submitted_at)",
    "CREATE INDEX IF NOT EXISTS runs_by_principal ON runs (principal, submitted_at)",
    "CREATE TABLE IF NOT EXISTS approvals (
        run_id TEXT NOT NULL,
        approver TEXT NOT NULL,
        caller TEXT NOT NULL,
        approve BIGINT NOT NULL,
        binding TEXT NOT NULL,
        comment TEXT NOT NULL,
        at BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS approvals_by_run ON approvals (run_id)",
    "CREATE TABLE IF NOT EXISTS events (
        run_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        at BIGINT NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    )",
    "CREATE TABLE IF NOT EXISTS schedules (
        name TEXT PRIMARY KEY,
        last_at BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        run_id TEXT,
        reason TEXT
    )",
];

const RUN_COLUMNS: &str = "id, principal, caller, client_key, kind, target, digest, version, input, dry_run, state, rule, policy_digest, submitted_at, started_at, ended_at, summary, error, records, calls, denied, cancel_requested, planning, plan, plan_hash, approved_by";

/// The state database.
#[derive(Clone, Debug)]
pub struct State {
    pool: AnyPool,
    backend: Backend,
}

/// Which database the state is in: the few statements that differ are chosen by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The advisory lock replicas take while they make the tables, so two starting at once do not
/// race on PostgreSQL's catalog (any fixed number: "exorun" in ASCII).
const SCHEMA_LOCK: i64 = 0x65_78_6f_72_75_6e;

/// How many times an event is written again after another writer took its number.
const EVENT_ATTEMPTS: u32 = 64;

/// The claim on SQLite (one writer at a time: the subquery and the update are one step).
const CLAIM_SQLITE: &str = "UPDATE runs SET state = 'running', owner = $1, lease_until = $2, started_at = COALESCE(started_at, $3)
     WHERE id = (SELECT id FROM runs WHERE state = 'queued' ORDER BY submitted_at, id LIMIT 1)
       AND state = 'queued'
     RETURNING id";

/// The claim on PostgreSQL: a row another replica is taking is skipped, not waited for.
const CLAIM_POSTGRES: &str = "UPDATE runs SET state = 'running', owner = $1, lease_until = $2, started_at = COALESCE(started_at, $3)
     WHERE id = (SELECT id FROM runs WHERE state = 'queued' ORDER BY submitted_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
       AND state = 'queued'
     RETURNING id";

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl State {
    /// Opens the state database: PostgreSQL at `database`, or the embedded SQLite in
    /// `state_dir` when none is given.
    pub async fn connect(
        database: Option<&DatabaseUrl>,
        state_dir: &Path,
    ) -> Result<State, StateError> {
        match database {
            Some(url) => State::open_postgres(url).await,
            None => State::open_sqlite(state_dir).await,
        }
    }

    /// Opens the embedded database in `state_dir` (made if missing).
    pub async fn open_sqlite(state_dir: &Path) -> Result<State, StateError> {
        std::fs::create_dir_all(state_dir).map_err(sqlx::Error::Io)?;
        let path = state_dir.join("exorun.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA busy_timeout = 10000")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&pool)
            .await?;
        for statement in SCHEMA {
            sqlx::query(statement).execute(&pool).await?;
        }
        Ok(State {
            pool,
            backend: Backend::Sqlite,
        })
    }

    /// Opens the PostgreSQL database at `url` and makes its tables, under an advisory lock
    /// (replicas may start at once). No error names the password.
    pub async fn open_postgres(url: &DatabaseUrl) -> Result<State, StateError> {
        sqlx::any::install_default_drivers();
        let failed = |e: sqlx::Error| StateError::Open {
            database: url.to_string(),
            reason: url.scrub(&e.to_string()),
        };
        // One connection first: the pool would retry a refused one until its timeout and then
        // say only that it timed out; this says why at once.
        let mut first = AnyConnection::connect(url.expose()).await.map_err(failed)?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .connect_lazy(url.expose())
            .map_err(failed)?;
        let mut tx = first.begin().await.map_err(failed)?;
        sqlx::query("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock($1)) AS locked")
            .bind(SCHEMA_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        for statement in SCHEMA {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)?;
        first.close().await.map_err(failed)?;
        Ok(State {
            pool,
            backend: Backend::Postgres,
        })
    }

    /// Queues `run` and gives its row; the same caller repeating a request with the same
    /// `client_key` gets the first run back (a retried submit never runs twice), a different
    /// request under that key is refused.
    pub async fn submit(&self, run: NewRun) -> Result<(RunRow, bool), StateError> {
        if let Some(key) = &run.client_key
            && let Some(existing) = self.by_client_key(&run.principal, key).await?
        {
            let same = existing.kind == run.kind
                && existing.target == run.target
                && existing.digest == run.digest
                && existing.input == run.input
                && existing.dry_run == run.dry_run;
            return if same {
                Ok((existing, false))
            } else {
                Err(StateError::RunIdReused(key.clone()))
            };
        }
        let id = uuid::Uuid::new_v4().to_string();
        let inserted = sqlx::query(
            "INSERT INTO runs (id, principal, caller, client_key, kind, target, digest, version, input, dry_run, state, rule, policy_digest, submitted_at, planning)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', $11, $12, $13, $14)",
        )
        .bind(&id)
        .bind(&run.principal)
        .bind(&run.caller)
        .bind(&run.client_key)
        .bind(run.kind)
        .bind(&run.target)
        .bind(&run.digest)
        .bind(&run.version)
        .bind(run.input.to_string())
        .bind(i64::from(run.dry_run))
        .bind(&run.rule)
        .bind(&run.policy_digest)
        .bind(now_ms())
        .bind(i64::from(run.needs_approval))
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => {}
            // Two submits with one key at once: the loser reads the winner's run.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                let key = run.client_key.clone().unwrap_or_default();
                return match self.by_client_key(&run.principal, &key).await? {
                    Some(existing) if existing.input == run.input => Ok((existing, false)),
                    _ => Err(StateError::RunIdReused(key)),
                };
            }
            Err(e) => return Err(e.into()),
        }
        let row = self
            .get(&id)
            .await?
            .ok_or_else(|| StateError::Corrupt(format!("run {id} vanished after insert")))?;
        Ok((row, true))
    }

    async fn by_client_key(
        &self,
        principal: &str,
        key: &str,
    ) -> Result<Option<RunRow>, StateError> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE principal = $1 AND client_key = $2"
        ))
        .bind(principal)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| run_row(&r)).transpose()
    }

    /// The run `id`.
    pub async fn get(&self, id: &str) -> Result<Option<RunRow>, StateError> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| run_row(&r)).transpose()
    }

    /// Runs, newest first.
    pub async fn list(&self, filter: &RunFilter) -> Result<Vec<RunRow>, StateError> {
        let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE 1 = 1");
        let mut n = 0;
        if filter.principal.is_some() {
            n += 1;
            sql.push_str(&format!(" AND principal = ${n}"));
        }
        if filter.state.is_some() {
            n += 1;
            sql.push_str(&format!(" AND state = ${n}"));
        }
        if filter.kind.is_some() {
            n += 1;
            sql.push_str(&format!(" AND kind = ${n}"));
        }
        sql.push_str(&format!(
            " ORDER BY submitted_at DESC, id LIMIT {}",
            filter.limit.clamp(1, 1000)
        ));
        let mut query = sqlx::query(&sql);
        if let Some(principal) = &filter.principal {
            query = query.bind(principal);
        }
        if let Some(state) = filter.state {
            query = query.bind(state.as_str());
        }
        if let Some(kind) = &filter.kind {
            query = query.bind(kind);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(run_row).collect()
    }

    /// How many runs of `target` `principal` submitted since `since_ms`.
    pub async fn runs_since(
        &self,
        principal: &str,
        kind: &str,
        target: &str,
        since_ms: i64,
    ) -> Result<u32, StateError> {
        let count: i64 = sqlx::query(
            "SELECT COUNT(*) FROM runs WHERE principal = $1 AND kind = $2 AND target = $3 AND submitted_at >= $4",
        )
        .bind(principal)
        .bind(kind)
        .bind(target)
        .bind(since_ms)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// Takes the oldest queued run for worker `owner`, leased for `lease`: one statement, so
    /// two workers (or replicas) never take the same run.
    pub async fn claim(&self, owner: &str, lease: Duration) -> Result<Option<RunRow>, StateError> {
        let now = now_ms();
        let until = now + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        let claimed = sqlx::query(match self.backend {
            Backend::Sqlite => CLAIM_SQLITE,
            Backend::Postgres => CLAIM_POSTGRES,
        })
        .bind(owner)
        .bind(until)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        match claimed {
            Some(row) => {
                let id: String = row.try_get(0)?;
                self.get(&id).await
            }
            None => Ok(None),
        }
    }

    /// Extends the leases `owner` holds.
    pub async fn heartbeat(&self, owner: &str, lease: Duration) -> Result<(), StateError> {
        let until = now_ms() + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        sqlx::query("UPDATE runs SET lease_until = $1 WHERE owner = $2 AND state = 'running'")
            .bind(until)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether worker `owner` still holds running run `id`, and whether a cancel was asked.
    pub async fn holding(&self, id: &str, owner: &str) -> Result<Holding, StateError> {
        let row = sqlx::query(
            "SELECT cancel_requested FROM runs WHERE id = $1 AND owner = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(owner)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => Holding::Held {
                cancel_requested: row.try_get::<i64, _>(0)? != 0,
            },
            None => Holding::Lost,
        })
    }

    /// Queues again the runs whose worker's lease ran out (a killed service or replica): they
    /// are taken up again from their journal. Gives their ids.
    pub async fn requeue_expired(&self) -> Result<Vec<String>, StateError> {
        let rows = sqlx::query(
            "UPDATE runs SET state = 'queued', owner = NULL, lease_until = NULL
             WHERE state = 'running' AND lease_until < $1 RETURNING id",
        )
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(StateError::from))
            .collect()
    }

    /// Records how run `id`, which worker `owner` ran, ended; gives false, recording nothing,
    /// when `owner` no longer holds it (its lease ran out and another replica took it up: that
    /// one records the end, so a run ends once).
    /// Its `end` event is written in the same transaction, so a follower that sees the run
    /// ended has its last event too.
    pub async fn finish(
        &self,
        id: &str,
        owner: &str,
        ending: &RunEnding,
    ) -> Result<bool, StateError> {
        retry_taken_number(|| self.try_finish(id, owner, ending)).await
    }

    async fn try_finish(
        &self,
        id: &str,
        owner: &str,
        ending: &RunEnding,
    ) -> Result<bool, StateError> {
        let mut tx = self.pool.begin().await?;
        let ended = sqlx::query(
            "UPDATE runs SET state = $1, summary = $2, error = $3, records = $4, calls = $5, denied = $6,
                ended_at = $7, owner = NULL, lease_until = NULL
             WHERE id = $8 AND state = 'running' AND owner = $9",
        )
        .bind(ending.state.as_str())
        .bind(ending.summary.as_ref().map(Value::to_string))
        .bind(&ending.error)
        .bind(ending.records)
        .bind(ending.calls)
        .bind(ending.denied)
        .bind(now_ms())
        .bind(id)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        if ended.rows_affected() == 0 {
            return Ok(false);
        }
        let end = serde_json::json!({"state": ending.state, "error": ending.error, "records": ending.records});
        end_event(&mut tx, id, &end).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Cancels run `id`: a queued or pending run at once, a running one by asking its worker.
    /// Gives the run's state after.
    pub async fn cancel(&self, id: &str) -> Result<Option<RunState>, StateError> {
        retry_taken_number(|| self.cancel_waiting(id)).await?;
        sqlx::query("UPDATE runs SET cancel_requested = 1 WHERE id = $1 AND state = 'running'")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(self.get(id).await?.map(|r| r.state))
    }

    /// Cancels run `id` if it is queued or waits for approval, with its `end` event.
    async fn cancel_waiting(&self, id: &str) -> Result<(), StateError> {
        let mut tx = self.pool.begin().await?;
        let cancelled = sqlx::query(
            "UPDATE runs SET state = 'cancelled', ended_at = $1
             WHERE id = $2 AND state IN ('queued', 'pending-approval')",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if cancelled.rows_affected() == 1 {
            end_event(&mut tx, id, &serde_json::json!({"state": "cancelled"})).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Queues again run `id`, a workflow run that failed or was cancelled, to run what it did
    /// not finish, as `resumed` says, with a `resumed` event naming who asked. Gives that
    /// event's number (a follower reads the events after it), or `None` when the run is no
    /// longer failed or cancelled (another request resumed it first).
    pub async fn resume(&self, id: &str, resumed: &Resumed) -> Result<Option<i64>, StateError> {
        retry_taken_number(|| self.try_resume(id, resumed)).await
    }

    async fn try_resume(&self, id: &str, resumed: &Resumed) -> Result<Option<i64>, StateError> {
        let mut tx = self.pool.begin().await?;
        let queued = sqlx::query(
            "UPDATE runs SET state = 'queued', summary = NULL, error = NULL, ended_at = NULL,
                cancel_requested = 0, owner = NULL, lease_until = NULL,
                caller = $1, rule = $2, policy_digest = $3
             WHERE id = $4 AND kind = 'workflow' AND state IN ('failed', 'cancelled')",
        )
        .bind(&resumed.caller)
        .bind(&resumed.rule)
        .bind(&resumed.policy_digest)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if queued.rows_affected() == 0 {
            return Ok(None);
        }
        let seq = event_in(
            &mut *tx,
            id,
            "resumed",
            &serde_json::json!({"by": resumed.principal}),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(seq))
    }

    /// Adds an event to run `id`'s stream; gives its number.
    pub async fn add_event(&self, id: &str, kind: &str, data: &Value) -> Result<i64, StateError> {
        retry_taken_number(|| self.try_add_event(id, kind, data)).await
    }

    async fn try_add_event(&self, id: &str, kind: &str, data: &Value) -> Result<i64, StateError> {
        event_in(&self.pool, id, kind, data).await
    }

    /// Run `id`'s events after number `after`, oldest first.
    pub async fn events(&self, id: &str, after: i64) -> Result<Vec<RunEvent>, StateError> {
        let rows = sqlx::query(
            "SELECT seq, at, kind, data FROM events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT 1000",
        )
        .bind(id)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get(3)?;
                Ok(RunEvent {
                    seq: r.try_get(0)?,
                    at: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    data: serde_json::from_str(&data)
                        .map_err(|e| StateError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    /// Stores run `id`'s dry-run plan and leaves it waiting for approval.
    pub async fn set_plan(
        &self,
        id: &str,
        plan: &Value,
        plan_hash: &str,
    ) -> Result<(), StateError> {
        sqlx::query(
            "UPDATE runs SET state = 'pending-approval', planning = 0, plan = $1, plan_hash = $2,
                owner = NULL, lease_until = NULL WHERE id = $3 AND state = 'running'",
        )
        .bind(plan.to_string())
        .bind(plan_hash)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records an approver's decision on run `id`.
    pub async fn add_approval(&self, id: &str, approval: &NewApproval) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO approvals (run_id, approver, caller, approve, binding, comment, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(&approval.approver)
        .bind(&approval.caller)
        .bind(i64::from(approval.approve))
        .bind(&approval.binding)
        .bind(&approval.comment)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The approvals (not rejections) given for run `id`, oldest first.
    pub async fn approvals(&self, id: &str) -> Result<Vec<Given>, StateError> {
        let rows = sqlx::query(
            "SELECT approver, binding, at FROM approvals WHERE run_id = $1 AND approve = 1 ORDER BY at",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Given {
                    approver: r.try_get(0)?,
                    binding: r.try_get(1)?,
                    at_ms: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Queues run `id`, approved by `approvers`, if it still waits for approval.
    pub async fn release(&self, id: &str, approvers: &[String]) -> Result<bool, StateError> {
        let done = sqlx::query(
            "UPDATE runs SET state = 'queued', approved_by = $1 WHERE id = $2 AND state = 'pending-approval'",
        )
        .bind(serde_json::to_string(approvers).unwrap_or_default())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends run `id`, waiting for approval, as `state` (rejected or expired) with `why`.
    pub async fn close_pending(
        &self,
        id: &str,
        state: RunState,
        why: &str,
    ) -> Result<bool, StateError> {
        let done = sqlx::query(
            "UPDATE runs SET state = $1, error = $2, ended_at = $3 WHERE id = $4 AND state = 'pending-approval'",
        )
        .bind(state.as_str())
        .bind(why)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// How many runs are in each state.
    pub async fn counts_by_state(&self) -> Result<Vec<(String, i64)>, StateError> {
        let rows = sqlx::query("SELECT state, COUNT(*) FROM runs GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Cmdlet calls let through and refused, over every ended run.
    pub async fn call_totals(&self) -> Result<(i64, i64), StateError> {
        let row = sqlx::query("SELECT CAST(COALESCE(SUM(calls), 0) AS BIGINT), CAST(COALESCE(SUM(denied), 0) AS BIGINT) FROM runs")
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// The last time of schedule `name` the service handled, if any.
    pub async fn schedule_mark(&self, name: &str) -> Result<Option<ScheduleMark>, StateError> {
        let row =
            sqlx::query("SELECT last_at, outcome, run_id, reason FROM schedules WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| {
            Ok(ScheduleMark {
                at_ms: r.try_get(0)?,
                outcome: r.try_get(1)?,
                run_id: r.try_get(2)?,
                reason: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// Records `mark` as schedule `name`'s last time handled, unless a later one is recorded
    /// (another replica went on already): a schedule's mark only moves forward.
    pub async fn mark_schedule(&self, name: &str, mark: &ScheduleMark) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO schedules (name, last_at, outcome, run_id, reason) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (name) DO UPDATE SET last_at = excluded.last_at, outcome = excluded.outcome,
                run_id = excluded.run_id, reason = excluded.reason
             WHERE schedules.last_at <= excluded.last_at",
        )
        .bind(name)
        .bind(mark.at_ms)
        .bind(&mark.outcome)
        .bind(&mark.run_id)
        .bind(&mark.reason)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StateError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Runs `attempt` again while it fails because another writer took the event number it chose
/// (a unique violation on the events' key); any other outcome is given at once.
async fn retry_taken_number<T, F, Fut>(mut attempt: F) -> Result<T, StateError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StateError>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(StateError::Database(sqlx::Error::Database(e)))
                if e.is_unique_violation() && tries < EVENT_ATTEMPTS =>
            {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=5))).await;
            }
            outcome => return outcome,
        }
    }
}

/// Writes run `id`'s `end` event within `tx`.
async fn end_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    data: &Value,
) -> Result<(), StateError> {
    event_in(&mut **tx, id, "end", data).await.map(drop)
}

/// Adds an event of `kind` to run `id`'s stream through `executor` (the pool, or a
/// transaction the event belongs to); gives its number.
async fn event_in<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: &str,
    kind: &str,
    data: &Value,
) -> Result<i64, StateError> {
    let row = sqlx::query(
        "INSERT INTO events (run_id, seq, at, kind, data)
         VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE run_id = $1), $2, $3, $4)
         RETURNING seq",
    )
    .bind(id)
    .bind(now_ms())
    .bind(kind)
    .bind(data.to_string())
    .fetch_one(executor)
    .await?;
    Ok(row.try_get(0)?)
}

fn run_row(row: &AnyRow) -> Result<RunRow, StateError> {
    let json = |column: &str| -> Result<Value, StateError> {
        let text: String = row.try_get(column)?;
        serde_json::from_str(&text).map_err(|e| StateError::Corrupt(format!("{column}: {e}")))
    };
    let state: String = row.try_get("state")?;
    let summary: Option<String> = row.try_get("summary")?;
    Ok(RunRow {
        id: row.try_get("id")?,
        principal: row.try_get("principal")?,
        caller: row.try_get("caller")?,
        client_key: row.try_get("client_key")?,
        kind: row.try_get("kind")?,
        target: row.try_get("target")?,
        digest: row.try_get("digest")?,
        version: row.try_get("version")?,
        input: json("input")?,
        dry_run: row.try_get::<i64, _>("dry_run")? != 0,
        state: RunState::parse(&state).ok_or_else(|| StateError::Corrupt(state.clone()))?,
        rule: row.try_get("rule")?,
        policy_digest: row.try_get("policy_digest")?,
        submitted_at: row.try_get("submitted_at")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        summary: summary.map(|s| serde_json::from_str(&s).unwrap_or(Value::String(s))),
        error: row.try_get("error")?,
        records: row.try_get("records")?,
        calls: row.try_get("calls")?,
        denied: row.try_get("denied")?,
        cancel_requested: row.try_get::<i64, _>("cancel_requested")? != 0,
        planning: row.try_get::<i64, _>("planning")? != 0,
        plan: row
            .try_get::<Option<String>, _>("plan")?
            .and_then(|p| serde_json::from_str(&p).ok()),
        plan_hash: row.try_get("plan_hash")?,
        approved_by: row
            .try_get::<Option<String>, _>("approved_by")?
            .and_then(|a| serde_json::from_str(&a).ok())
            .unwrap_or_default(),
    })
}

/// A PostgreSQL server of the test's own (the integration tests' helper, shared).
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../../tests/all/postgres.rs"]
mod test_postgres;

#[cfg(test)]
mod tests {
    use super::*;

    fn new_run(key: Option<&str>, input: Value) -> NewRun {
        NewRun {
            principal: "unix:alice".into(),
            caller: "{}".into(),
            client_key: key.map(str::to_string),
            kind: "plugin",
            target: "auto-reply".into(),
            digest: "ab".repeat(32),
            version: "1.0.0".into(),
            input,
            dry_run: false,
            rule: "caller rule at line 3".into(),
            policy_digest: "cd".repeat(32),
            needs_approval: false,
        }
    }

    #[tokio::test]
    async fn a_retried_submit_gets_the_first_run_and_a_run_is_claimed_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open_sqlite(dir.path()).await.unwrap();
        let input = serde_json::json!({"identities": ["ann@contoso.com"]});
        let (first, new) = state
            .submit(new_run(Some("k1"), input.clone()))
            .await
            .unwrap();
        assert!(new);
        let (again, new) = state.submit(new_run(Some("k1"), input)).await.unwrap();
        assert!(!new);
        assert_eq!(again.id, first.id);
        let err = state
            .submit(new_run(
                Some("k1"),
                serde_json::json!({"identities": ["bob@contoso.com"]}),
            ))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("already used for a different request"),
            "{err}"
        );

        let (a, b) = tokio::join!(
            state.claim("w1", Duration::from_secs(30)),
            state.claim("w2", Duration::from_secs(30))
        );
        let claimed: Vec<RunRow> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].state, RunState::Running);
        assert!(state.requeue_expired().await.unwrap().is_empty());
        state
            .heartbeat("w1", Duration::from_millis(0))
            .await
            .unwrap();
        state
            .heartbeat("w2", Duration::from_millis(0))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(
            state.requeue_expired().await.unwrap(),
            vec![first.id.clone()]
        );
        assert_eq!(
            state
                .add_event(&first.id, "log", &serde_json::json!("one"))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            state
                .add_event(&first.id, "log", &serde_json::json!("two"))
                .await
                .unwrap(),
            2
        );
        let events = state.events(&first.id, 1).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, serde_json::json!("two"));
    }

    #[tokio::test]
    async fn a_failed_workflow_run_is_resumed_once_and_a_plugin_run_never() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open_sqlite(dir.path()).await.unwrap();
        let mut ask = new_run(None, serde_json::json!({"people": ["ann@contoso.com"]}));
        ask.kind = "workflow";
        let (run, _) = state.submit(ask).await.unwrap();
        let (plugin_run, _) = state
            .submit(new_run(None, serde_json::json!({})))
            .await
            .unwrap();
        let resumed = Resumed {
            principal: "unix:alice".into(),
            caller: "{\"now\": true}".into(),
            rule: "caller rule at line 9".into(),
            policy_digest: "ef".repeat(32),
        };
        // Queued: nothing to resume.
        assert_eq!(state.resume(&run.id, &resumed).await.unwrap(), None);
        let ending = RunEnding {
            state: RunState::Failed,
            summary: Some(serde_json::json!({"succeeded": false})),
            error: Some("1 item failed".into()),
            records: 0,
            calls: 0,
            denied: 0,
        };
        for _ in 0..2 {
            let claimed = state.claim("w1", Duration::from_secs(30)).await.unwrap();
            assert!(claimed.is_some());
        }
        assert!(state.finish(&run.id, "w1", &ending).await.unwrap());
        assert!(state.finish(&plugin_run.id, "w1", &ending).await.unwrap());
        assert_eq!(state.resume(&plugin_run.id, &resumed).await.unwrap(), None);
        let (a, b) = tokio::join!(
            state.resume(&run.id, &resumed),
            state.resume(&run.id, &resumed)
        );
        let seqs: Vec<i64> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert_eq!(seqs.len(), 1, "resumed once");
        let again = state.get(&run.id).await.unwrap().unwrap();
        assert_eq!(again.state, RunState::Queued);
        assert_eq!(again.error, None);
        assert_eq!(again.summary, None);
        assert_eq!(again.rule, "caller rule at line 9");
        assert_eq!(again.caller, "{\"now\": true}");
        let events = state.events(&run.id, 0).await.unwrap();
        let last = events.last().unwrap();
        assert_eq!((last.seq, last.kind.as_str()), (seqs[0], "resumed"));
        assert_eq!(last.data["by"], "unix:alice");
        assert_eq!(events[events.len() - 2].kind, "end");
    }

    #[tokio::test]
    async fn a_schedules_mark_only_moves_forward() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open_sqlite(dir.path()).await.unwrap();
        assert_eq!(state.schedule_mark("nightly").await.unwrap(), None);
        let mark = |at_ms: i64, outcome: &str| ScheduleMark {
            at_ms,
            outcome: outcome.into(),
            run_id: Some(format!("run-{at_ms}")),
            reason: None,
        };
        state
            .mark_schedule("nightly", &mark(2000, "submitted"))
            .await
            .unwrap();
        state
            .mark_schedule("nightly", &mark(1000, "skipped"))
            .await
            .unwrap();
        assert_eq!(
            state.schedule_mark("nightly").await.unwrap(),
            Some(mark(2000, "submitted"))
        );
        state
            .mark_schedule("nightly", &mark(3000, "refused"))
            .await
            .unwrap();
        assert_eq!(
            state.schedule_mark("nightly").await.unwrap(),
            Some(mark(3000, "refused"))
        );
        assert_eq!(state.schedule_mark("weekly").await.unwrap(), None);
    }

    async fn on_postgres() -> (test_postgres::Postgres, State) {
        let server = tokio::task::spawn_blocking(test_postgres::Postgres::start)
            .await
            .unwrap();
        let url: DatabaseUrl = server.url().parse().unwrap();
        let state = State::open_postgres(&url).await.unwrap();
        (server, state)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn on_postgres_replicas_starting_at_once_make_the_tables_once() {
        let server = tokio::task::spawn_blocking(test_postgres::Postgres::start)
            .await
            .unwrap();
        let url: DatabaseUrl = server.url().parse().unwrap();
        let opened = futures::future::join_all((0..6).map(|_| State::open_postgres(&url))).await;
        for state in opened {
            state.unwrap().ping().await.unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn on_postgres_a_wrong_address_is_told_without_the_password() {
        let server = tokio::task::spawn_blocking(test_postgres::Postgres::start)
            .await
            .unwrap();
        let wrong_port = server.url().replace(&format!(":{}/", server.port()), ":1/");
        let url: DatabaseUrl = wrong_port.parse().unwrap();
        let err = State::open_postgres(&url).await.unwrap_err().to_string();
        assert!(
            err.starts_with(
                "cannot open the state database postgres://exorun:***@127.0.0.1:1/exorun: "
            ),
            "{err}"
        );
        assert!(err.contains("check that the server is running"), "{err}");
        assert!(!err.contains(server.password()), "{err}");
        // The URL's parameters reach the driver, which has TLS: a server without it is refused.
        let url: DatabaseUrl = format!("{}?sslmode=require", server.url()).parse().unwrap();
        let err = State::open_postgres(&url).await.unwrap_err().to_string();
        assert!(err.contains("TLS"), "{err}");
        assert!(!err.contains("without TLS support"), "{err}");
        assert!(!err.contains(server.password()), "{err}");
        let wrong_password = server.url().replace(server.password(), "not-it");
        let url: DatabaseUrl = wrong_password.parse().unwrap();
        let err = State::open_postgres(&url).await.unwrap_err().to_string();
        assert!(err.contains("password authentication failed"), "{err}");
        assert!(!err.contains("not-it"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn on_postgres_a_retried_submit_gets_the_first_run_even_at_once() {
        let (_server, state) = on_postgres().await;
        let input = serde_json::json!({"identities": ["ann@contoso.com"]});
        let submits = futures::future::join_all(
            (0..8).map(|_| state.submit(new_run(Some("k1"), input.clone()))),
        )
        .await;
        let ids: std::collections::HashSet<String> =
            submits.into_iter().map(|s| s.unwrap().0.id).collect();
        assert_eq!(ids.len(), 1);
        let (again, new) = state.submit(new_run(Some("k1"), input)).await.unwrap();
        assert!(!new);
        assert!(ids.contains(&again.id));
        let err = state
            .submit(new_run(Some("k1"), serde_json::json!({"identities": []})))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("run id 'k1' was already used for a different request"),
            "{err}"
        );
        let (other, new) = state
            .submit(new_run(None, serde_json::json!({})))
            .await
            .unwrap();
        assert!(new);
        assert_eq!(other.state, RunState::Queued);
        assert_eq!(other.client_key, None);
        assert!(!other.dry_run);
        assert_eq!(
            state
                .runs_since("unix:alice", "plugin", "auto-reply", 0)
                .await
                .unwrap(),
            2
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn on_postgres_concurrent_workers_claim_each_run_once_and_leases_run_out() {
        let (_server, state) = on_postgres().await;
        const RUNS: usize = 40;
        for n in 0..RUNS {
            state
                .submit(new_run(None, serde_json::json!({"n": n})))
                .await
                .unwrap();
        }
        let workers = (0..8).map(|w| {
            let state = state.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(run) = state
                    .claim(&format!("w{w}"), Duration::from_secs(30))
                    .await
                    .unwrap()
                {
                    assert_eq!(run.state, RunState::Running);
                    assert!(run.started_at.is_some());
                    mine.push(run.id);
                }
                mine
            })
        });
        let mut claimed: Vec<String> = futures::future::join_all(workers)
            .await
            .into_iter()
            .flat_map(Result::unwrap)
            .collect();
        assert_eq!(claimed.len(), RUNS);
        claimed.sort();
        claimed.dedup();
        assert_eq!(claimed.len(), RUNS, "a run was claimed twice");

        // w0 keeps its leases; everyone else's run out and their runs are queued again.
        for w in 0..8 {
            let lease = if w == 0 { 30_000 } else { 0 };
            state
                .heartbeat(&format!("w{w}"), Duration::from_millis(lease))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        let requeued = state.requeue_expired().await.unwrap();
        let counts: std::collections::HashMap<String, i64> =
            state.counts_by_state().await.unwrap().into_iter().collect();
        assert_eq!(counts["queued"] as usize, requeued.len());
        assert_eq!(counts["running"] as usize, RUNS - requeued.len());
        assert!(state.requeue_expired().await.unwrap().is_empty());
        let again = state
            .claim("w9", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert!(requeued.contains(&again.id));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn on_postgres_concurrent_event_writers_each_get_their_own_number_in_order() {
        let (_server, state) = on_postgres().await;
        let (run, _) = state
            .submit(new_run(None, serde_json::json!({})))
            .await
            .unwrap();
        const WRITERS: usize = 8;
        const EACH: usize = 25;
        let writers = (0..WRITERS).map(|w| {
            let state = state.clone();
            let id = run.id.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for n in 0..EACH {
                    let data = serde_json::json!({"writer": w, "n": n});
                    seqs.push(state.add_event(&id, "log", &data).await.unwrap());
                }
                seqs
            })
        });
        let cancel = {
            let state = state.clone();
            let id = run.id.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                state.cancel(&id).await.unwrap()
            })
        };
        let mut seqs: Vec<i64> = futures::future::join_all(writers)
            .await
            .into_iter()
            .flat_map(Result::unwrap)
            .collect();
        assert_eq!(cancel.await.unwrap(), Some(RunState::Cancelled));
        seqs.sort();
        seqs.dedup();
        assert_eq!(seqs.len(), WRITERS * EACH, "two events got one number");
        let events = state.events(&run.id, 0).await.unwrap();
        assert_eq!(events.len(), WRITERS * EACH + 1);
        let numbers: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(
            numbers,
            (1..=(WRITERS * EACH + 1) as i64).collect::<Vec<_>>()
        );
        assert_eq!(
            events.iter().filter(|e| e.kind == "end").count(),
            1,
            "one end event"
        );
        // Each writer's own events are in the order it wrote them.
        for w in 0..WRITERS {
            let ns: Vec<i64> = events
                .iter()
                .filter(|e| e.data["writer"] == w)
                .map(|e| e.data["n"].as_i64().unwrap())
                .collect();
            assert_eq!(ns, (0..EACH as i64).collect::<Vec<_>>());
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn on_postgres_approvals_plans_and_endings_are_kept() {
        let (_server, state) = on_postgres().await;
        let mut ask = new_run(None, serde_json::json!({"identities": ["ann@contoso.com"]}));
        ask.needs_approval = true;
        let (run, _) = state.submit(ask).await.unwrap();
        assert!(run.planning);
        let planning = state
            .claim("w1", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(planning.id, run.id);
        let plan = serde_json::json!({"changes": [{"cmdlet": "Set-Mailbox"}]});
        state.set_plan(&run.id, &plan, "hash1").await.unwrap();
        let pending = state.get(&run.id).await.unwrap().unwrap();
        assert_eq!(pending.state, RunState::PendingApproval);
        assert!(!pending.planning);
        assert_eq!(pending.plan, Some(plan));
        assert_eq!(pending.plan_hash.as_deref(), Some("hash1"));
        for (approver, approve) in [("bob", true), ("carol", false), ("dave", true)] {
            let approval = NewApproval {
                approver: approver.into(),
                caller: "{}".into(),
                approve,
                binding: "hash1".into(),
                comment: String::new(),
            };
            state.add_approval(&run.id, &approval).await.unwrap();
        }
        let given: Vec<String> = state
            .approvals(&run.id)
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.approver)
            .collect();
        assert_eq!(given, ["bob", "dave"]);
        let approvers = vec!["bob".to_string(), "dave".to_string()];
        assert!(state.release(&run.id, &approvers).await.unwrap());
        assert!(!state.release(&run.id, &approvers).await.unwrap());
        let released = state.get(&run.id).await.unwrap().unwrap();
        assert_eq!(released.state, RunState::Queued);
        assert_eq!(released.approved_by, approvers);

        let running = state
            .claim("w1", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            state.cancel(&running.id).await.unwrap(),
            Some(RunState::Running)
        );
        assert!(
            state
                .get(&running.id)
                .await
                .unwrap()
                .unwrap()
                .cancel_requested
        );
        let ending = RunEnding {
            state: RunState::Succeeded,
            summary: Some(serde_json::json!({"done": 1})),
            error: None,
            records: 3,
            calls: 5,
            denied: 2,
        };
        assert!(state.finish(&running.id, "w1", &ending).await.unwrap());
        let done = state.get(&running.id).await.unwrap().unwrap();
        assert_eq!(done.state, RunState::Succeeded);
        assert_eq!(done.summary, Some(serde_json::json!({"done": 1})));
        assert_eq!((done.records, done.calls, done.denied), (3, 5, 2));
        assert!(done.ended_at.is_some());
        let end = state.events(&running.id, 0).await.unwrap();
        assert_eq!(end.last().unwrap().kind, "end");
        assert_eq!(state.call_totals().await.unwrap(), (5, 2));

        let mut other = new_run(None, serde_json::json!({}));
        other.needs_approval = true;
        let (other, _) = state.submit(other).await.unwrap();
        state.claim("w1", Duration::from_secs(30)).await.unwrap();
        state
            .set_plan(&other.id, &serde_json::json!({}), "hash2")
            .await
            .unwrap();
        assert!(
            state
                .close_pending(&other.id, RunState::Rejected, "carol rejected it")
                .await
                .unwrap()
        );
        let rejected = state.get(&other.id).await.unwrap().unwrap();
        assert_eq!(rejected.state, RunState::Rejected);
        assert_eq!(rejected.error.as_deref(), Some("carol rejected it"));
        let listed = state
            .list(&RunFilter {
                principal: Some("unix:alice".into()),
                state: Some(RunState::Succeeded),
                kind: Some("plugin".into()),
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, running.id);
        assert_eq!(
            state
                .list(&RunFilter {
                    limit: 10,
                    ..RunFilter::default()
                })
                .await
                .unwrap()
                .len(),
            2
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn on_postgres_a_worker_whose_lease_ran_out_does_not_end_the_run_another_took_up() {
        let (_server, state) = on_postgres().await;
        let (run, _) = state
            .submit(new_run(None, serde_json::json!({})))
            .await
            .unwrap();
        state.claim("a:1", Duration::from_millis(0)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(state.requeue_expired().await.unwrap(), vec![run.id.clone()]);
        let taken = state
            .claim("b:2", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(taken.id, run.id);
        let ending = |records| RunEnding {
            state: RunState::Succeeded,
            summary: None,
            error: None,
            records,
            calls: 1,
            denied: 0,
        };
        // The stalled worker comes back and ends it: nothing is recorded.
        assert!(!state.finish(&run.id, "a:1", &ending(7)).await.unwrap());
        assert_eq!(
            state.get(&run.id).await.unwrap().unwrap().state,
            RunState::Running
        );
        assert!(state.finish(&run.id, "b:2", &ending(1)).await.unwrap());
        assert!(!state.finish(&run.id, "b:2", &ending(1)).await.unwrap());
        let done = state.get(&run.id).await.unwrap().unwrap();
        assert_eq!((done.state, done.records), (RunState::Succeeded, 1));
        let ends = state.events(&run.id, 0).await.unwrap();
        assert_eq!(ends.iter().filter(|e| e.kind == "end").count(), 1);
    }
}
