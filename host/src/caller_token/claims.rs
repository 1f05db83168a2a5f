//! What a verified token's claims must say, and who they say the caller is. Every check reads
//! the token's own claims against the operator's settings; nothing the caller sends beside the
//! token counts.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::refusal::{Shown, TokenRefusal};
use super::settings::{Expected, TokenVersion};
use crate::caller::{Caller, Groups, TokenIdentity, Via};

type Claims = Map<String, Value>;

fn missing(claim: &'static str, expected: &'static str) -> TokenRefusal {
    TokenRefusal::Claim { claim, expected }
}

fn text<'a>(claims: &'a Claims, claim: &'static str) -> Result<&'a str, TokenRefusal> {
    claims
        .get(claim)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or(missing(claim, "a string"))
}

fn optional_text<'a>(claims: &'a Claims, claim: &'static str) -> Option<&'a str> {
    claims
        .get(claim)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

fn time(claims: &Claims, claim: &'static str) -> Result<Option<i64>, TokenRefusal> {
    match claims.get(claim) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|t| t.is_finite())
            .map(|t| Some(t.floor() as i64))
            .ok_or(missing(claim, "a time (seconds since 1970)")),
    }
}

fn utc(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| unix.to_string())
}

fn same_id(a: &str, b: &str) -> bool {
    match (Uuid::parse_str(a), Uuid::parse_str(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Checks version, issuer, tenant, audience and times (with the skew) at `now` (Unix seconds).
pub(crate) fn check(claims: &Claims, expected: &Expected, now: i64) -> Result<(), TokenRefusal> {
    let ver = text(claims, "ver")?;
    if ver != expected.version.as_str() {
        return Err(TokenRefusal::Version {
            found: Shown::new(ver),
            expected: expected.version.as_str(),
        });
    }
    let iss = text(claims, "iss")?;
    if iss != expected.issuer {
        return Err(TokenRefusal::Issuer {
            found: Shown::new(iss),
            expected: expected.issuer.clone(),
        });
    }
    let tid = text(claims, "tid")?;
    if Uuid::parse_str(tid).ok() != Some(expected.tenant) {
        return Err(TokenRefusal::Tenant {
            found: Shown::new(tid),
            expected: expected.tenant.to_string(),
        });
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Err(missing("aud", "a string")),
    };
    if !audiences.iter().any(|a| same_id(a, &expected.audience)) {
        return Err(TokenRefusal::Audience {
            found: Shown::new(&audiences.join(" ")),
            expected: expected.audience.clone(),
        });
    }
    let exp = time(claims, "exp")?.ok_or(missing("exp", "a time (seconds since 1970)"))?;
    if now > exp.saturating_add(expected.skew) {
        return Err(TokenRefusal::Expired { at: utc(exp) });
    }
    if let Some(nbf) = time(claims, "nbf")?
        && now.saturating_add(expected.skew) < nbf
    {
        return Err(TokenRefusal::NotYetValid { from: utc(nbf) });
    }
    Ok(())
}

/// Whether the token speaks for a user or an app: `idtyp` when the API app has that optional
/// claim, else a delegated token's `scp`.
fn identity(claims: &Claims) -> Result<TokenIdentity, TokenRefusal> {
    let delegated = optional_text(claims, "scp").is_some();
    match claims.get("idtyp").and_then(Value::as_str) {
        Some("app") if delegated => Err(TokenRefusal::Contradiction {
            problem: "idtyp says app, yet the token carries delegated scopes (scp)",
        }),
        Some("app") => Ok(TokenIdentity::App),
        Some("user") if !delegated => Err(TokenRefusal::Contradiction {
            problem: "idtyp says user, yet the token carries no delegated scopes (scp)",
        }),
        Some("user") => Ok(TokenIdentity::User),
        Some(_) => Err(missing("idtyp", "'app' or 'user'")),
        None if claims.contains_key("idtyp") => Err(missing("idtyp", "'app' or 'user'")),
        None if delegated => Ok(TokenIdentity::User),
        None => Ok(TokenIdentity::App),
    }
}

fn strings(claims: &Claims, claim: &'static str) -> Result<Vec<String>, TokenRefusal> {
    match claims.get(claim) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or(missing(claim, "a list of strings")),
        Some(_) => Err(missing(claim, "a list of strings")),
    }
}

/// `groups`, or [`Groups::Overage`] when Entra left them out for too many (`_claim_names`
/// naming `groups`, or `hasgroups`).
fn groups(claims: &Claims) -> Result<Groups, TokenRefusal> {
    let overage = claims
        .get("_claim_names")
        .and_then(Value::as_object)
        .is_some_and(|names| names.contains_key("groups"))
        || claims.get("hasgroups").and_then(Value::as_bool) == Some(true);
    if overage {
        return Ok(Groups::Overage);
    }
    Ok(Groups::Known(strings(claims, "groups")?))
}

/// The caller a checked token speaks for.
pub(crate) fn caller(claims: &Claims, expected: &Expected) -> Result<Caller, TokenRefusal> {
    let identity = identity(claims)?;
    let app_claim = match expected.version {
        TokenVersion::V1 => "appid",
        TokenVersion::V2 => "azp",
    };
    let app_id = optional_text(claims, app_claim).map(str::to_string);
    let object_id = optional_text(claims, "oid").map(str::to_string);
    let (principal, upn) = match identity {
        TokenIdentity::User => {
            let upn = optional_text(claims, "upn")
                .or_else(|| optional_text(claims, "preferred_username"))
                .ok_or(missing("upn", "a string (nor is preferred_username)"))?;
            if object_id.is_none() {
                return Err(missing("oid", "a string"));
            }
            (upn.to_string(), Some(upn.to_string()))
        }
        TokenIdentity::App => {
            let app = app_id.as_deref().ok_or(match expected.version {
                TokenVersion::V1 => missing("appid", "a string"),
                TokenVersion::V2 => missing("azp", "a string"),
            })?;
            (format!("app:{app}"), None)
        }
    };
    Ok(Caller {
        principal,
        via: Via::EntraToken {
            tenant: expected.tenant.to_string(),
            identity,
            version: expected.version.as_str().to_string(),
        },
        upn,
        object_id,
        app_id,
        unix_user: None,
        groups: groups(claims)?,
        roles: strings(claims, "roles")?,
        source: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller_token::settings::TokenSettings;
    use serde_json::json;

    const TENANT: &str = "6f0b2c3e-1d4a-4b8e-9c7f-2a5d8e1b4c60";
    const API: &str = "2b0f7a4c-86d4-4a39-8f1e-9e7c2d5a1b30";
    const NOW: i64 = 1_800_000_000;

    fn expected(version: TokenVersion, audience: &str) -> Expected {
        TokenSettings {
            tenant: TENANT.into(),
            audience: audience.into(),
            token_version: version,
            authority: "https://login.microsoftonline.com".into(),
            ca_file: None,
            clock_skew_secs: 60,
        }
        .expected()
        .unwrap()
    }

    fn v2_user() -> Claims {
        json!({
            "aud": API, "iss": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
            "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 3600, "ver": "2.0", "tid": TENANT,
            "oid": "0d0c3b8a-5b8e-4c4e-9f0e-1a2b3c4d5e6f", "preferred_username": "ann@contoso.com",
            "name": "Ann", "scp": "access_as_user", "azp": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "groups": ["g1", "g2"], "roles": ["Runs.Submit"],
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn refusal(claims: &Claims, e: &Expected) -> String {
        check(claims, e, NOW)
            .and_then(|()| caller(claims, e).map(|_| ()))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_v2_user_token_gives_a_user_with_groups_and_roles() {
        let e = expected(TokenVersion::V2, API);
        let claims = v2_user();
        check(&claims, &e, NOW).unwrap();
        let caller = caller(&claims, &e).unwrap();
        assert_eq!(caller.principal, "ann@contoso.com");
        assert_eq!(caller.upn.as_deref(), Some("ann@contoso.com"));
        assert_eq!(
            caller.object_id.as_deref(),
            Some("0d0c3b8a-5b8e-4c4e-9f0e-1a2b3c4d5e6f")
        );
        assert_eq!(
            caller.app_id.as_deref(),
            Some("04b07795-8ddb-461a-bbee-02f9e1bf7b46")
        );
        assert_eq!(caller.groups, Groups::Known(vec!["g1".into(), "g2".into()]));
        assert_eq!(caller.roles, ["Runs.Submit"]);
        assert_eq!(
            caller.via,
            Via::EntraToken {
                tenant: TENANT.into(),
                identity: TokenIdentity::User,
                version: "2.0".into()
            }
        );
        assert_eq!(caller.authenticated_by(), "entra-token");
    }

    #[test]
    fn an_app_token_is_decided_by_idtyp_or_the_absence_of_scp() {
        let e = expected(TokenVersion::V1, "api://exorun");
        let mut claims = json!({
            "aud": "api://exorun", "iss": format!("https://sts.windows.net/{TENANT}/"),
            "nbf": NOW, "exp": NOW + 60, "ver": "1.0", "tid": TENANT,
            "appid": "9a1d3f4e-0000-4000-8000-000000000001", "oid": "sp-oid", "roles": ["Runs.Submit"],
        })
        .as_object()
        .unwrap()
        .clone();
        check(&claims, &e, NOW).unwrap();
        let app = caller(&claims, &e).unwrap();
        assert_eq!(app.principal, "app:9a1d3f4e-0000-4000-8000-000000000001");
        assert_eq!(app.upn, None);
        assert_eq!(app.object_id.as_deref(), Some("sp-oid"));
        assert!(matches!(
            app.via,
            Via::EntraToken {
                identity: TokenIdentity::App,
                ..
            }
        ));
        claims.insert("idtyp".into(), json!("app"));
        assert_eq!(caller(&claims, &e).unwrap(), app);
        claims.insert("scp".into(), json!("access_as_user"));
        assert_eq!(
            refusal(&claims, &e),
            "the token's claims contradict each other (idtyp says app, yet the token carries delegated scopes (scp)): get a new token"
        );
        claims.remove("idtyp");
        assert_eq!(
            refusal(&claims, &e),
            "the token's upn claim is missing or not a string (nor is preferred_username): it is not an Entra ID access token for this service; get a new token"
        );
        claims.remove("scp");
        claims.remove("appid");
        claims.insert("azp".into(), json!("x"));
        assert!(refusal(&claims, &e).starts_with("the token's appid claim is missing"));
    }

    #[test]
    fn the_overage_marker_stands_for_the_groups() {
        let e = expected(TokenVersion::V2, API);
        let mut claims = v2_user();
        claims.remove("groups");
        assert_eq!(caller(&claims, &e).unwrap().groups, Groups::Known(vec![]));
        claims.insert("_claim_names".into(), json!({"groups": "src1"}));
        claims.insert(
            "_claim_sources".into(),
            json!({"src1": {"endpoint": "https://graph.windows.net/x/users/y/getMemberObjects"}}),
        );
        assert_eq!(caller(&claims, &e).unwrap().groups, Groups::Overage);
        let mut claims = v2_user();
        claims.insert("hasgroups".into(), json!(true));
        assert_eq!(caller(&claims, &e).unwrap().groups, Groups::Overage);
    }

    #[test]
    fn each_mismatch_is_refused_with_what_was_expected() {
        let e = expected(TokenVersion::V2, API);
        let with = |claim: &str, value: Value| {
            let mut c = v2_user();
            c.insert(claim.into(), value);
            refusal(&c, &e)
        };
        assert_eq!(
            with("ver", json!("1.0")),
            "the token is a version '1.0' token; this service accepts version 2.0 tokens only (the API app's accessTokenAcceptedVersion decides which version Entra ID issues): ask the service's operator"
        );
        assert_eq!(
            with("iss", json!("https://login.microsoftonline.com/other/v2.0")),
            format!(
                "the token was issued by 'https://login.microsoftonline.com/other/v2.0', this service accepts tokens issued by https://login.microsoftonline.com/{TENANT}/v2.0: get a token from the service's tenant"
            )
        );
        assert!(with("tid", json!("11111111-1111-1111-1111-111111111111"))
            .starts_with("the token is for tenant '11111111-1111-1111-1111-111111111111', this service accepts tenant 6f0b"));
        assert!(
            with("aud", json!("api://other"))
                .starts_with("the token is for audience 'api://other', this service is 2b0f")
        );
        let mut c = v2_user();
        c.insert("aud".into(), json!(API.to_uppercase()));
        assert_eq!(check(&c, &e, NOW), Ok(()), "GUIDs match in any case");
    }

    #[test]
    fn times_are_checked_with_the_skew() {
        let e = expected(TokenVersion::V2, API);
        let at = |exp: i64, nbf: i64| {
            let mut c = v2_user();
            c.insert("exp".into(), json!(exp));
            c.insert("nbf".into(), json!(nbf));
            check(&c, &e, NOW).map_err(|r| r.to_string())
        };
        assert_eq!(at(NOW - 60, NOW - 600), Ok(()), "within the skew");
        assert_eq!(
            at(NOW - 61, NOW - 600),
            Err("the token expired at 2027-01-15 07:58:59 (UTC): get a new one".into())
        );
        assert_eq!(at(NOW + 600, NOW + 60), Ok(()));
        assert_eq!(
            at(NOW + 600, NOW + 61),
            Err("the token is not valid before 2027-01-15 08:01:01 (UTC): check this machine's clock and the caller's, or wait".into())
        );
        let mut c = v2_user();
        c.insert("exp".into(), json!("tomorrow"));
        assert_eq!(
            check(&c, &e, NOW).unwrap_err().to_string(),
            "the token's exp claim is missing or not a time (seconds since 1970): it is not an Entra ID access token for this service; get a new token"
        );
    }
}
