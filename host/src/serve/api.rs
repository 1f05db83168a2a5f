//! The HTTP API under `/api/v1`: who am I, what may I run, submit a run, its status, records
//! and events, cancel; plus `/healthz` and `/readyz`. Handlers authenticate the caller, ask the
//! library's caller rules, and store or read; they decide nothing themselves.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use exorun::caller::Caller;
use exorun::caller_token::CHALLENGE;
use exorun::policy::callers::{
    ApprovalStanding, Ask, Bound, Target, allowed_targets, may_approve, rules_for, standing,
};

use super::https::Remote;
use super::problem::Problem;
use super::service::Service;
use super::state::{NewApproval, RunFilter, RunRow, RunState, now_ms};
use super::submit::Submission;
use super::unix::Peer;
use crate::cli::output::{Format, RowSink};
use exorun::workflow::kept::{each_row, kept_records, pick_step};

/// The routes, and the OpenAPI document made from them: every route is added with its
/// annotation, so the document lists exactly what is served.
pub fn router(service: Arc<Service>) -> Router {
    let (api, document) = OpenApiRouter::with_openapi(super::openapi::ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(super::metrics::metrics))
        .routes(routes!(me))
        .routes(routes!(plugins))
        .routes(routes!(workflows))
        .routes(routes!(submit, list_runs))
        .routes(routes!(show_run))
        .routes(routes!(records))
        .routes(routes!(report))
        .routes(routes!(events))
        .routes(routes!(cancel))
        .routes(routes!(resume))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(approvals))
        .routes(routes!(super::audit_api::audit))
        .routes(routes!(schedules))
        .with_state(service)
        .split_for_parts();
    let mut document = document;
    let (path, item) = utoipa_axum::routes!(super::openapi::document)
        .1
        .paths
        .into_iter()
        .next()
        .expect("the document's own route");
    document.paths.paths.insert(path, item);
    let served = Router::new()
        .route("/api/v1/openapi.json", get(super::openapi::document))
        .with_state(Arc::new(document));
    api.merge(served).fallback(not_found)
}

/// The authenticated caller of a request: on the Unix socket, the peer the kernel names; over
/// HTTPS, the Entra ID access token presented as `Bearer`, validated by the library.
pub struct Authenticated(pub Caller);

impl FromRequestParts<Arc<Service>> for Authenticated {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
    ) -> Result<Self, Problem> {
        if let Some(ConnectInfo(Peer(peer))) = parts.extensions.get::<ConnectInfo<Peer>>() {
            return match peer {
                Some(caller) => Ok(Authenticated(caller.clone())),
                None => Err(Problem::unauthenticated(
                    "the kernel names your user id, but the system's user database has no user for it: the service cannot match you to a caller rule",
                    "Unix".into(),
                )),
            };
        }
        let remote = parts.extensions.get::<Remote>().map(|r| r.0);
        let Some(tokens) = &service.tokens else {
            return Err(Problem::unauthenticated(
                "this service authenticates no HTTPS callers: its configuration has no [entra] table",
                CHALLENGE.into(),
            ));
        };
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        let Some(bearer) = bearer else {
            return Err(Problem::unauthenticated(
                "no access token: present an Entra ID access token for this service as `Authorization: Bearer …` (e.g. from `az account get-access-token --resource <the service's app ID URI>`)",
                CHALLENGE.into(),
            ));
        };
        match tokens.validate(bearer).await {
            Ok(mut caller) => {
                caller.source = remote.map(|r| r.to_string());
                Ok(Authenticated(caller))
            }
            Err(refusal) if refusal.is_service_fault() => {
                tracing::error!("cannot check a caller's token: {refusal}");
                Err(Problem::unavailable(refusal.to_string()))
            }
            Err(refusal) => {
                tracing::info!(remote = ?remote, "token refused: {refusal}");
                Err(Problem::unauthenticated(
                    refusal.to_string(),
                    refusal.www_authenticate(),
                ))
            }
        }
    }
}

/// A JSON body whose every rejection is a problem document.
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => {
                let status = rejection.status();
                let mut problem = Problem::bad_request(format!(
                    "the request body is not what this endpoint takes: {}",
                    rejection.body_text()
                ));
                problem.status = status.as_u16();
                Err(problem)
            }
        }
    }
}

/// A query string whose every rejection is a problem document.
pub struct Params<T>(pub T);

impl<T, S> FromRequestParts<S> for Params<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(Problem::bad_request(format!(
                "the query string is not what this endpoint takes: {}",
                rejection.body_text()
            ))),
        }
    }
}

async fn not_found() -> Problem {
    Problem::not_found("no such endpoint: the API is under /api/v1 (GET /api/v1/me to start)")
}

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "The process answers", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok\n"
}

#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, description = "The database answers and a policy is in force", body = Object), (status = 503, description = "Not ready", body = Problem, content_type = "application/problem+json")))]
async fn readyz(State(service): State<Arc<Service>>) -> Result<Json<Value>, Problem> {
    service
        .state
        .ping()
        .await
        .map_err(|e| Problem::unavailable(e.to_string()))?;
    let loaded = service.loaded();
    Ok(Json(json!({
        "ready": true,
        "policy_digest": loaded.policy.digest(),
        "plugins": loaded.plugins.len(),
    })))
}

/// `GET /api/v1/me`: who the service says you are, and what you may run.
#[utoipa::path(get, path = "/api/v1/me", tag = "callers", responses((status = 200, description = "Who the service says you are, what you may run, whether you are an auditor", body = Object), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json")))]
async fn me(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
) -> Json<Value> {
    let loaded = service.loaded();
    let rules = loaded.policy.caller_rules();
    Json(json!({
        "principal": caller.principal,
        "authenticated_by": caller.authenticated_by(),
        "caller": caller,
        "may_run": allowed_targets(rules, &caller),
        "rules": rules_for(rules, &caller).iter().map(|r| r.label()).collect::<Vec<_>>(),
        "auditor": loaded.policy.auditor(&caller).ok().map(|r| r.label()),
    }))
}

/// One plugin a caller may run.
#[derive(Serialize, utoipa::ToSchema)]
struct PluginEntry {
    name: String,
    version: String,
    description: String,
    digest: String,
    mutates: bool,
    input_schema: Option<Value>,
    dry_run_only: bool,
    needs_approval: bool,
    rule: String,
}

/// `GET /api/v1/plugins`: the store's plugins the caller may run, with their input schemas.
#[utoipa::path(get, path = "/api/v1/plugins", tag = "catalogue", responses((status = 200, description = "The store's plugins you may run", body = [PluginEntry]), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json")))]
async fn plugins(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
) -> Json<Vec<PluginEntry>> {
    let loaded = service.loaded();
    let rules = rules_for(loaded.policy.caller_rules(), &caller);
    let mut out = Vec::new();
    for stored in loaded.plugins.values() {
        let manifest = &stored.vetted.manifest;
        let target = Target::Plugin {
            name: &manifest.name,
            digest: &stored.vetted.content_digest,
        };
        if let Some(rule) = rules.iter().find(|r| r.covers(target)) {
            out.push(PluginEntry {
                name: manifest.name.clone(),
                version: manifest.version.clone(),
                description: manifest.description.clone(),
                digest: format!("sha256:{}", stored.vetted.content_digest),
                mutates: manifest.mutates,
                input_schema: manifest
                    .input_schema
                    .as_deref()
                    .and_then(|s| serde_json::from_str(s).ok()),
                dry_run_only: rule.dry_run_only,
                needs_approval: rule.approval.is_some(),
                rule: rule.label(),
            });
        }
    }
    Json(out)
}

/// One workflow a caller may run.
#[derive(Serialize, utoipa::ToSchema)]
struct WorkflowEntry {
    name: String,
    description: Option<String>,
    digest: String,
    /// Its inputs as a JSON Schema.
    input_schema: Value,
    /// Its steps: id, plugin, whether it changes things.
    steps: Vec<Value>,
    mutates: bool,
    dry_run_only: bool,
    needs_approval: bool,
    rule: String,
}

/// `GET /api/v1/workflows`: the service's workflows the caller may run, with their inputs.
#[utoipa::path(get, path = "/api/v1/workflows", tag = "catalogue", responses((status = 200, description = "The workflows you may run", body = [WorkflowEntry]), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json")))]
async fn workflows(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
) -> Json<Vec<WorkflowEntry>> {
    let loaded = service.loaded();
    let rules = rules_for(loaded.policy.caller_rules(), &caller);
    let mut out = Vec::new();
    for (name, stored) in &loaded.workflows {
        let Some(rule) = rules.iter().find(|r| r.covers(Target::Workflow(name))) else {
            continue;
        };
        let workflow = &stored.workflow;
        let steps: Vec<Value> = workflow
            .steps
            .iter()
            .filter_map(|step| {
                let vetted = stored.steps.get(&step.id)?;
                Some(json!({
                    "id": step.id,
                    "plugin": vetted.manifest.name,
                    "digest": format!("sha256:{}", vetted.content_digest),
                    "mutates": vetted.manifest.mutates,
                    "for_each": step.for_each.is_some(),
                }))
            })
            .collect();
        out.push(WorkflowEntry {
            name: name.clone(),
            description: workflow.description.clone(),
            digest: format!("sha256:{}", stored.digest),
            input_schema: workflow.inputs.json_schema(),
            mutates: stored.steps.values().any(|v| v.manifest.mutates),
            steps,
            dry_run_only: rule.dry_run_only,
            needs_approval: rule.approval.is_some(),
            rule: rule.label(),
        });
    }
    Json(out)
}

/// `POST /api/v1/runs`: what to run.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    /// A plugin of the store, by name or `sha256:DIGEST`.
    plugin: Option<String>,
    /// A workflow of the service, by name.
    workflow: Option<String>,
    /// The input object.
    #[serde(default)]
    input: Map<String, Value>,
    /// Record changes instead of sending them.
    #[serde(default)]
    dry_run: bool,
    /// A run id of the caller's choosing: the same request sent again with it returns the
    /// first run instead of queuing a second.
    run_id: Option<String>,
}

/// A run as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
struct RunView {
    #[serde(flatten)]
    run: RunRow,
    links: Value,
    /// After a resume: the number of the run's `resumed` event; the events after it are the
    /// resumed run's (read them with `Last-Event-ID` set to it).
    #[serde(skip_serializing_if = "Option::is_none")]
    resumed_event: Option<i64>,
}

fn view(run: RunRow) -> RunView {
    let base = format!("/api/v1/runs/{}", run.id);
    let mut links = json!({
        "self": base,
        "records": format!("{base}/records"),
        "events": format!("{base}/events"),
        "cancel": format!("{base}/cancel"),
        "resume": format!("{base}/resume"),
        "approve": format!("{base}/approve"),
        "reject": format!("{base}/reject"),
    });
    if run.kind == "workflow" {
        links["report"] = json!(format!("{base}/report"));
    }
    RunView {
        links,
        run,
        resumed_event: None,
    }
}

#[utoipa::path(post, path = "/api/v1/runs", tag = "runs", request_body = SubmitBody, responses((status = 202, description = "Queued (or waiting for approval)", body = RunView), (status = 200, description = "The run this run_id already names", body = RunView), (status = 400, description = "A malformed request or input", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "No caller rule allows it", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such plugin or workflow", body = Problem, content_type = "application/problem+json"), (status = 409, description = "The run_id names another request", body = Problem, content_type = "application/problem+json"), (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json")))]
async fn submit(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
    Body(body): Body<SubmitBody>,
) -> Result<Response, Problem> {
    let (run, new) = service
        .submit(
            &caller,
            Submission {
                plugin: body.plugin,
                workflow: body.workflow,
                input: body.input,
                dry_run: body.dry_run,
                run_id: body.run_id,
            },
        )
        .await?;
    let status = if new {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let location = format!("/api/v1/runs/{}", run.id);
    let mut response = (status, Json(view(run))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// The run `id`, if the caller may see it.
async fn visible_run(service: &Service, caller: &Caller, id: &str) -> Result<RunRow, Problem> {
    let hidden = || Problem::not_found(format!("no run {id} that you may see"));
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(hidden());
    }
    let run = service
        .state
        .get(id)
        .await
        .map_err(|e| Problem::internal(e.to_string()))?
        .ok_or_else(hidden)?;
    let auditor = || service.loaded().policy.auditor(caller).is_ok();
    if run.principal != caller.principal
        && approver_rule(service, caller, &run).is_err()
        && !auditor()
    {
        return Err(hidden());
    }
    Ok(run)
}

/// Whether `approver` may approve `run` (waiting for approval) under the policy in force: the
/// rule that admits its request, or why not.
fn approver_rule(service: &Service, approver: &Caller, run: &RunRow) -> Result<String, Problem> {
    if run.state != RunState::PendingApproval {
        return Err(Problem::conflict(format!(
            "run {} does not wait for approval: it is {}",
            run.id,
            run.state.as_str()
        )));
    }
    let requester: Caller = serde_json::from_str(&run.caller)
        .map_err(|e| Problem::internal(format!("the run's caller cannot be read: {e}")))?;
    let loaded = service.loaded();
    let input = run.input_object();
    let ask = Ask {
        target: run.target(),
        input: &input,
        dry_run: run.dry_run,
    };
    let authorized = loaded
        .policy
        .authorize(&requester, ask, 0)
        .map_err(|refusal| {
            Problem::conflict(format!(
                "the policy in force no longer allows this request: {refusal}"
            ))
        })?;
    may_approve(authorized.rule, &requester, approver).map_err(|refusal| {
        Problem::forbidden(refusal.to_string(), Some(authorized.rule.label()))
    })?;
    Ok(authorized.rule.label())
}

/// `POST /api/v1/runs/{id}/approve` and `/reject`: the plan the approver saw, and why.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    /// The `plan_hash` of the run as the approver saw it (approve only).
    plan_hash: Option<String>,
    /// A comment for the record.
    #[serde(default)]
    comment: String,
}

async fn decide(
    service: &Arc<Service>,
    approver: &Caller,
    id: &str,
    body: DecisionBody,
    approve: bool,
) -> Result<Json<Value>, Problem> {
    let verb = if approve { "approve" } else { "reject" };
    service
        .expire_pending()
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    let run = visible_run(service, approver, id).await?;
    if body.comment.len() > 2000 || body.comment.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Problem::bad_request(
            "`comment` must be at most 2000 characters, without control characters",
        ));
    }
    let rule = match approver_rule(service, approver, &run) {
        Ok(rule) => rule,
        Err(problem) => {
            service.record_refusal(approver, &format!("{verb} run {id}"), &problem.detail);
            return Err(problem);
        }
    };
    let loaded = service.loaded();
    let plan_hash = run.plan_hash.clone().unwrap_or_default();
    if approve && body.plan_hash.as_deref() != Some(plan_hash.as_str()) {
        return Err(Problem::conflict(format!(
            "the approval must name the plan you looked at: send its `plan_hash` ({plan_hash} now); if it changed, look at the plan again"
        )));
    }
    let binding = Bound {
        digest: &run.digest,
        input: &run.input,
        dry_run: run.dry_run,
        policy_digest: loaded.policy.digest(),
        plan_hash: &plan_hash,
    }
    .binding();
    service
        .state
        .add_approval(
            &run.id,
            &NewApproval {
                approver: approver.principal.clone(),
                caller: serde_json::to_string(approver).unwrap_or_default(),
                approve,
                binding: binding.clone(),
                comment: body.comment.clone(),
            },
        )
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    service
        .add_event(
            &run.id,
            if approve { "approved" } else { "rejected" },
            &json!({"by": approver.principal, "comment": body.comment}),
        )
        .await;
    if !approve {
        let why = format!("rejected by {}: {}", approver.principal, body.comment);
        service
            .state
            .close_pending(&run.id, RunState::Rejected, &why)
            .await
            .map_err(|e| Problem::internal(e.to_string()))?;
        service.ended(&run.id);
        return Ok(Json(
            json!({"id": run.id, "state": "rejected", "rule": rule}),
        ));
    }
    let given = service
        .state
        .approvals(&run.id)
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    let approval = loaded
        .policy
        .caller_rules()
        .iter()
        .find(|r| r.label() == rule)
        .and_then(|r| r.approval.clone())
        .ok_or_else(|| Problem::internal("the approving rule vanished"))?;
    let state = match standing(&approval, &given, &binding, run.submitted_at, now_ms()) {
        ApprovalStanding::Approved(approvers) => {
            service
                .state
                .release(&run.id, &approvers)
                .await
                .map_err(|e| Problem::internal(e.to_string()))?;
            service.wake();
            json!({"id": run.id, "state": "queued", "approved_by": approvers})
        }
        ApprovalStanding::Waiting { have, need } => {
            json!({"id": run.id, "state": "pending-approval", "approvals": have, "needed": need})
        }
        ApprovalStanding::Expired => {
            service
                .state
                .close_pending(&run.id, RunState::Expired, "nobody approved it in time")
                .await
                .map_err(|e| Problem::internal(e.to_string()))?;
            service.ended(&run.id);
            json!({"id": run.id, "state": "expired"})
        }
    };
    Ok(Json(state))
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/approve", tag = "approvals", params(("id" = String, Path, description = "The run's id (a UUID)")), request_body = DecisionBody, responses((status = 200, description = "Approved: the run is queued once enough approvers agreed", body = Object), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "You may not approve it", body = Problem, content_type = "application/problem+json"), (status = 409, description = "The plan changed, or the run no longer waits", body = Problem, content_type = "application/problem+json")))]
async fn approve(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Body(body): Body<DecisionBody>,
) -> Result<Json<Value>, Problem> {
    decide(&service, &caller, &id, body, true).await
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/reject", tag = "approvals", params(("id" = String, Path, description = "The run's id (a UUID)")), request_body = DecisionBody, responses((status = 200, description = "Rejected: it never runs", body = Object), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "You may not reject it", body = Problem, content_type = "application/problem+json")))]
async fn reject(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Body(body): Body<DecisionBody>,
) -> Result<Json<Value>, Problem> {
    decide(&service, &caller, &id, body, false).await
}

/// `GET /api/v1/approvals`: the runs waiting for an approval the caller may give, with their
/// plans.
#[utoipa::path(get, path = "/api/v1/approvals", tag = "approvals", responses((status = 200, description = "The runs waiting for an approval you may give, with their plans", body = [RunView]), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json")))]
async fn approvals(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Vec<RunView>>, Problem> {
    service
        .expire_pending()
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    let pending = service
        .state
        .list(&RunFilter {
            principal: None,
            state: Some(RunState::PendingApproval),
            kind: None,
            limit: 1000,
        })
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(Json(
        pending
            .into_iter()
            .filter(|run| approver_rule(&service, &caller, run).is_ok())
            .map(view)
            .collect(),
    ))
}

/// `GET /api/v1/schedules`: the service's schedules whose target the caller's own rules let
/// them run, with their next time and the last one handled.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "schedules", responses((status = 200, description = "The schedules whose target you may run, with their next time", body = [super::schedule::ScheduleView]), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json")))]
async fn schedules(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Vec<super::schedule::ScheduleView>>, Problem> {
    let loaded = service.loaded();
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    for schedule in &service.config.schedules {
        if !schedule.visible_to(&loaded, &caller) {
            continue;
        }
        let last = service
            .state
            .schedule_mark(&schedule.name)
            .await
            .map_err(|e| Problem::internal(e.to_string()))?;
        out.push(schedule.view(last, now));
    }
    Ok(Json(out))
}

#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs", params(("id" = String, Path, description = "The run's id (a UUID)")), responses((status = 200, description = "The run", body = RunView), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No run by that id that you may see", body = Problem, content_type = "application/problem+json")))]
async fn show_run(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<RunView>, Problem> {
    Ok(Json(view(visible_run(&service, &caller, &id).await?)))
}

/// `GET /api/v1/runs` filters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    /// Only `plugin` runs or `workflow` runs.
    kind: Option<String>,
    limit: Option<i64>,
    /// An auditor's: every caller's runs.
    #[serde(default)]
    all: bool,
    /// An auditor's: this caller's runs.
    principal: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(ListQuery), responses((status = 200, description = "Your runs, newest first", body = [RunView]), (status = 400, description = "A bad filter", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Only auditors see other callers' runs", body = Problem, content_type = "application/problem+json")))]
async fn list_runs(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
    Params(query): Params<ListQuery>,
) -> Result<Json<Vec<RunView>>, Problem> {
    let state = match query.state.as_deref() {
        None => None,
        Some(text) => Some(RunState::parse(text).ok_or_else(|| {
            Problem::bad_request(format!(
                "state '{text}' is not one of pending-approval, queued, running, succeeded, failed, cancelled, rejected, expired"
            ))
        })?),
    };
    if let Some(kind) = query.kind.as_deref()
        && !matches!(kind, "plugin" | "workflow")
    {
        return Err(Problem::bad_request(format!(
            "kind '{kind}' is not one of plugin, workflow"
        )));
    }
    let principal = if query.all || query.principal.is_some() {
        service.loaded().policy.auditor(&caller).map_err(|reason| {
            Problem::forbidden(
                format!("only auditors see other callers' runs: {reason}"),
                None,
            )
        })?;
        query.principal
    } else {
        Some(caller.principal.clone())
    };
    let runs = service
        .state
        .list(&RunFilter {
            principal,
            state,
            kind: query.kind,
            limit: query.limit.unwrap_or(100),
        })
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(Json(runs.into_iter().map(view).collect()))
}

/// `GET /api/v1/runs/{id}/records` paging and format.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct RecordsQuery {
    format: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
    /// A workflow run's step (default: its one step with records).
    step: Option<String>,
    /// Only this tenant's records of a workflow run.
    tenant: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/runs/{id}/records", tag = "runs", params(("id" = String, Path, description = "The run's id (a UUID)"), RecordsQuery), responses((status = 200, description = "Its records as JSON Lines, a JSON array or CSV; a full page has a `Link` header to the next (rel=\"next\")", content((String = "application/jsonl"), (Vec<Object> = "application/json"), (String = "text/csv"))), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such run, or step", body = Problem, content_type = "application/problem+json")))]
async fn records(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Params(query): Params<RecordsQuery>,
) -> Result<Response, Problem> {
    let run = visible_run(&service, &caller, &id).await?;
    let (format, content_type) = match query.format.as_deref().unwrap_or("jsonl") {
        "jsonl" => (Format::Jsonl, "application/jsonl"),
        "json" => (Format::Json, "application/json"),
        "csv" => (Format::Csv, "text/csv; charset=utf-8"),
        other => {
            return Err(Problem::bad_request(format!(
                "format '{other}' is not one of jsonl, json, csv"
            )));
        }
    };
    let offset = query.offset.unwrap_or(0);
    let limit = query.limit.unwrap_or(10_000).clamp(1, 100_000);
    let rows = if run.kind == "workflow" {
        let dir = service.config.runs_dir.join(&run.id);
        let (step, tenant) = (query.step.clone(), query.tenant.clone());
        tokio::task::spawn_blocking(move || {
            workflow_rows(&dir, &run.id, step, tenant, offset, limit)
        })
        .await
        .map_err(|e| Problem::internal(e.to_string()))??
    } else {
        plugin_rows(&service.records_path(&run.id), offset, limit).await?
    };
    let full = rows.len() == limit;
    let mut sink = RowSink::new(Vec::new(), format, Vec::new());
    let written = rows
        .iter()
        .try_for_each(|row| sink.write_row(row))
        .and_then(|()| sink.finish_into());
    let body = written.map_err(|e| Problem::internal(format!("cannot write the records: {e}")))?;
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // A full page may have more after it: say where the next one is.
    if full {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        next.append_pair("format", query.format.as_deref().unwrap_or("jsonl"));
        next.append_pair("offset", &(offset + limit).to_string());
        next.append_pair("limit", &limit.to_string());
        if let Some(step) = &query.step {
            next.append_pair("step", step);
        }
        if let Some(tenant) = &query.tenant {
            next.append_pair("tenant", tenant);
        }
        let link = format!(
            "</api/v1/runs/{id}/records?{}>; rel=\"next\"",
            next.finish()
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// Records `offset..offset + limit` of a plugin run's records file.
async fn plugin_rows(
    path: &std::path::Path,
    offset: usize,
    limit: usize,
) -> Result<Vec<Value>, Problem> {
    let text = match tokio::fs::read_to_string(path).await {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Problem::internal(format!(
                "cannot read the run's records: {e}"
            )));
        }
    };
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .skip(offset)
        .take(limit)
        .collect())
}

/// Records `offset..offset + limit` of a workflow run's `step` (its one step with records when
/// not named), for `tenant` or every tenant.
fn workflow_rows(
    dir: &std::path::Path,
    run: &str,
    step: Option<String>,
    tenant: Option<String>,
    offset: usize,
    limit: usize,
) -> Result<Vec<Value>, Problem> {
    let kept = kept_records(dir)
        .map_err(|e| Problem::internal(format!("cannot read the run's records: {e}")))?;
    if kept.is_empty() {
        return Ok(Vec::new());
    }
    let step = pick_step(run, &kept, step.as_deref()).map_err(Problem::not_found)?;
    let tenants: Vec<&str> = kept
        .iter()
        .filter(|(_, s)| *s == step)
        .map(|(t, _)| t.as_str())
        .filter(|t| tenant.as_deref().is_none_or(|wanted| wanted == *t))
        .collect();
    let mut rows = Vec::new();
    let mut seen = 0usize;
    each_row(dir, &step, &tenants, |row| {
        seen += 1;
        if seen > offset {
            rows.push(row);
        }
        rows.len() < limit
    })
    .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(rows)
}

/// `GET /api/v1/runs/{id}/report`: a workflow run's self-contained HTML report.
#[utoipa::path(get, path = "/api/v1/runs/{id}/report", tag = "runs", params(("id" = String, Path, description = "The run's id (a UUID)")), responses((status = 200, description = "A workflow run's self-contained HTML report", body = String, content_type = "text/html"), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such workflow run, or no report yet", body = Problem, content_type = "application/problem+json")))]
async fn report(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let run = visible_run(&service, &caller, &id).await?;
    if run.kind != "workflow" {
        return Err(Problem::not_found(format!(
            "run {id} is a plugin run: only workflow runs have a report (its records and summary are at /api/v1/runs/{id})"
        )));
    }
    let path = service.config.runs_dir.join(&run.id).join("report.html");
    let page = match tokio::fs::read(&path).await {
        Ok(page) => page,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Problem::not_found(format!(
                "run {id} has no report yet: it is written when the run ends (state: {})",
                run.state.as_str()
            )));
        }
        Err(e) => return Err(Problem::internal(format!("cannot read the report: {e}"))),
    };
    let mut response = (StatusCode::OK, page).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// `GET /api/v1/runs/{id}/events`: events after `after` (or the `Last-Event-ID` header); as
/// JSON, or as a live Server-Sent Events stream when the client accepts `text/event-stream`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    after: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/runs/{id}/events", tag = "runs", params(("id" = String, Path, description = "The run's id (a UUID)"), EventsQuery), responses((status = 200, description = "Its events after `after`; with Accept: text/event-stream a live stream whose event ids resume it through Last-Event-ID", content((Object = "application/json"), (String = "text/event-stream"))), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No run by that id that you may see", body = Problem, content_type = "application/problem+json")))]
async fn events(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Params(query): Params<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let run = visible_run(&service, &caller, &id).await?;
    let resumed = match headers.get("last-event-id") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    Problem::bad_request("Last-Event-ID must be the number of an event of this run")
                })?,
        ),
    };
    let after = resumed.or(query.after).unwrap_or(0);
    let streaming = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if streaming {
        return Ok(super::live::stream(service, run.id, after).into_response());
    }
    let events = service
        .state
        .events(&run.id, after)
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(Json(json!({"state": run.state, "events": events})).into_response())
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/cancel", tag = "runs", params(("id" = String, Path, description = "The run's id (a UUID)")), responses((status = 200, description = "Cancelled, or asked to stop", body = Object), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "You may see it but not cancel it", body = Problem, content_type = "application/problem+json"), (status = 409, description = "It has already ended", body = Problem, content_type = "application/problem+json")))]
async fn cancel(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let run = visible_run(&service, &caller, &id).await?;
    // Auditors see every run; only its requester, or who may approve it, may stop it.
    if run.principal != caller.principal && approver_rule(&service, &caller, &run).is_err() {
        let reason = format!(
            "{} may see run {id} but not cancel it: only who asked for it (or may approve it) can",
            caller.principal
        );
        service.record_refusal(&caller, &format!("cancel run {id}"), &reason);
        return Err(Problem::forbidden(reason, None));
    }
    if run.state.is_final() {
        return Err(Problem::conflict(format!(
            "run {id} has already ended ({})",
            run.state.as_str()
        )));
    }
    let state = service
        .state
        .cancel(&run.id)
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    if state.is_some_and(RunState::is_final) {
        service.ended(&run.id);
    }
    Ok(Json(json!({"id": run.id, "state": state})))
}

#[utoipa::path(post, path = "/api/v1/runs/{id}/resume", tag = "runs", params(("id" = String, Path, description = "The run's id (a UUID)")), responses((status = 202, description = "Queued again: what it did not finish runs, what finished does not", body = RunView), (status = 401, description = "Not authenticated (a challenge in WWW-Authenticate)", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Not your run, or the caller rules in force no longer allow it", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No run by that id that you may see", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Not a failed or cancelled workflow run, its workflow changed, or its approvals no longer hold", body = Problem, content_type = "application/problem+json")))]
async fn resume(
    State(service): State<Arc<Service>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let run = visible_run(&service, &caller, &id).await?;
    let (run, seq) = service.resume(&caller, run).await?;
    let mut shown = view(run);
    shown.resumed_event = Some(seq);
    Ok((StatusCode::ACCEPTED, Json(shown)).into_response())
}
