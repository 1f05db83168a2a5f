//! Callers' Entra ID access tokens, minted by exorun-sim for a service API app and validated by
//! the library against the emulator's published keys over real HTTPS: who the caller is, and
//! every way a token is refused (expired, early, for another API, from another tenant, forged,
//! signed by an unknown key or with another algorithm), with the key fetches counted in the
//! emulator's request log.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use exorun::caller::{Groups, TokenIdentity, Via};
use exorun::caller_token::{TokenRefusal, TokenSettings, TokenValidator, TokenVersion};
use exorun_sim::entra::callers::{CallerTokenRequest, ServiceApiSpec, SigningChoice, TestUserSpec};
use exorun_sim::scenario::TenantSpec;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::x509::X509;
use serde_json::{Value, json};

use crate::support::{Sim, start, start_with};

const ANN: &str = "ann@contoso.com";
const HELPDESK: &str = "7d9c0f8e-0b43-4f59-9a51-3f7f4c1e2a10";
const SERVICE: &str = "2b0f7a4c-86d4-4a39-8f1e-9e7c2d5a1b30";

/// The service API apps (v2.0 `exorun`, v1.0 `exorun-v1`, and `other`) and Ann; returns the
/// client id of `exorun-v1`.
async fn register(sim: &Sim, tenant: Option<&str>) -> String {
    let mut v1_client = String::new();
    for (name, uri, version, client_id) in [
        ("exorun", "api://exorun", 2, Some(SERVICE)),
        ("exorun-v1", "api://exorun-v1", 1, None),
        ("other", "api://other", 2, None),
    ] {
        let spec = ServiceApiSpec {
            tenant: tenant.map(str::to_string),
            name: name.into(),
            client_id: client_id.map(|c| c.parse().unwrap()),
            app_id_uri: Some(uri.into()),
            token_version: version,
            app_roles: vec!["Runs.Submit".into(), "Runs.Approve".into()],
            scopes: vec!["access_as_user".into()],
            idtyp_claim: false,
        };
        let app = sim.post_control("entra/apis", &spec).await;
        if version == 1 {
            v1_client = app["client_id"].as_str().unwrap().to_string();
        }
    }
    let user = TestUserSpec {
        tenant: tenant.map(str::to_string),
        upn: ANN.into(),
        object_id: None,
        display_name: Some("Ann Example".into()),
        groups: vec![HELPDESK.parse().unwrap()],
    };
    sim.post_control("entra/users", &user).await;
    v1_client
}

async fn started() -> Sim {
    let sim = start().await;
    register(&sim, None).await;
    sim
}

/// Ann's delegated token for `resource`.
fn ann(resource: &str) -> CallerTokenRequest {
    CallerTokenRequest {
        resource: resource.into(),
        user: Some(ANN.into()),
        roles: vec!["Runs.Submit".into()],
        ..CallerTokenRequest::default()
    }
}

fn settings(sim: &Sim, audience: &str, version: TokenVersion) -> TokenSettings {
    TokenSettings {
        tenant: sim.info().tenant_id.clone(),
        audience: audience.into(),
        token_version: version,
        authority: sim.info().base_url.clone(),
        ca_file: Some(sim.info().ca_file.clone()),
        clock_skew_secs: 60,
    }
}

fn validator(sim: &Sim) -> TokenValidator {
    TokenValidator::new(&settings(sim, SERVICE, TokenVersion::V2)).unwrap()
}

/// The refusal, after checking that neither its text, its `Debug` nor its challenge shows any
/// part of the token.
async fn refused(validator: &TokenValidator, token: &str) -> TokenRefusal {
    let refusal = validator
        .validate(token)
        .await
        .expect_err("the token was accepted");
    let shown = [
        refusal.to_string(),
        format!("{refusal:?}"),
        refusal.www_authenticate(),
    ];
    for part in token.split('.').filter(|p| p.len() > 8) {
        for text in &shown {
            assert!(!text.contains(part), "{text} shows part of the token");
        }
    }
    refusal
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// `token` with its header replaced (claims and signature kept).
fn with_header(token: &str, header: &Value) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", encode(header))
}

#[tokio::test]
async fn caller_token_of_a_user_gives_upn_oid_groups_and_roles() {
    let sim = started().await;
    let token = sim.caller_token(&ann("api://exorun")).await;
    let caller = validator(&sim).validate(&token).await.unwrap();
    let claims = decode(token.split('.').nth(1).unwrap());
    assert_eq!(caller.principal, ANN);
    assert_eq!(caller.upn.as_deref(), Some(ANN));
    assert_eq!(caller.object_id.as_deref(), claims["oid"].as_str());
    assert_eq!(caller.groups, Groups::Known(vec![HELPDESK.into()]));
    assert_eq!(caller.roles, ["Runs.Submit"]);
    assert_eq!(
        caller.via,
        Via::EntraToken {
            tenant: sim.info().tenant_id.clone(),
            identity: TokenIdentity::User,
            version: "2.0".into()
        }
    );

    let mut overage = ann("api://exorun");
    overage.groups_overage = true;
    let token = sim.caller_token(&overage).await;
    let caller = validator(&sim).validate(&token).await.unwrap();
    assert_eq!(caller.groups, Groups::Overage);
}

#[tokio::test]
async fn caller_token_of_an_app_gives_app_and_its_id() {
    let sim = started().await;
    let daemon = sim.app("exorun-reader").client_id;
    let request = CallerTokenRequest {
        resource: SERVICE.into(),
        app: Some(daemon.parse().unwrap()),
        roles: vec!["Runs.Submit".into()],
        ..CallerTokenRequest::default()
    };
    let caller = validator(&sim)
        .validate(&sim.caller_token(&request).await)
        .await
        .unwrap();
    assert_eq!(caller.principal, format!("app:{daemon}"));
    assert_eq!(caller.app_id.as_deref(), Some(daemon.as_str()));
    assert_eq!(caller.upn, None);
    assert_eq!(caller.roles, ["Runs.Submit"]);
    assert!(matches!(
        caller.via,
        Via::EntraToken {
            identity: TokenIdentity::App,
            ..
        }
    ));
}

#[tokio::test]
async fn caller_token_v1_is_accepted_under_v1_settings_only() {
    let sim = start().await;
    let v1_client = register(&sim, None).await;
    let token = sim.caller_token(&ann("api://exorun-v1")).await;
    let v1 = TokenValidator::new(&settings(&sim, "api://exorun-v1", TokenVersion::V1)).unwrap();
    let caller = v1.validate(&token).await.unwrap();
    assert_eq!(caller.principal, ANN);
    assert!(matches!(caller.via, Via::EntraToken { ref version, .. } if version == "1.0"));

    let by_client_id = sim.caller_token(&ann(&v1_client)).await;
    let v1_client_id = TokenValidator::new(&settings(&sim, &v1_client, TokenVersion::V1)).unwrap();
    assert_eq!(
        v1_client_id
            .validate(&by_client_id)
            .await
            .unwrap()
            .principal,
        ANN,
        "a v1.0 token asked for by client id has that audience"
    );
    assert!(
        refused(&v1_client_id, &token)
            .await
            .to_string()
            .starts_with("the token is for audience 'api://exorun-v1', this service is ")
    );
    let v2 = TokenValidator::new(&settings(&sim, &v1_client, TokenVersion::V2)).unwrap();
    assert_eq!(
        refused(&v2, &token).await.to_string(),
        "the token is a version '1.0' token; this service accepts version 2.0 tokens only (the API app's accessTokenAcceptedVersion decides which version Entra ID issues): ask the service's operator"
    );
}

#[tokio::test]
async fn caller_token_out_of_its_time_is_refused() {
    let sim = started().await;
    let validator = validator(&sim);
    let mut expired = ann("api://exorun");
    expired.starts_in_secs = -7200;
    expired.lifetime_secs = Some(3600);
    let refusal = refused(&validator, &sim.caller_token(&expired).await).await;
    assert!(
        refusal.to_string().starts_with("the token expired at ")
            && refusal.to_string().ends_with(" (UTC): get a new one"),
        "{refusal}"
    );
    assert!(
        refusal
            .www_authenticate()
            .starts_with("Bearer realm=\"exorun\", error=\"invalid_token\", error_description=\"the token expired at ")
    );
    let mut early = ann("api://exorun");
    early.starts_in_secs = 600;
    let refusal = refused(&validator, &sim.caller_token(&early).await).await;
    assert!(
        refusal
            .to_string()
            .starts_with("the token is not valid before "),
        "{refusal}"
    );
}

#[tokio::test]
async fn caller_token_for_another_api_or_tenant_is_refused() {
    let sim = start_with(|config| {
        let mut fabrikam = TenantSpec::named("fabrikam");
        fabrikam.default_apps = false;
        fabrikam.mailboxes = 0;
        config.scenario.tenants.push(fabrikam);
    })
    .await;
    register(&sim, None).await;
    register(&sim, Some("fabrikam.onmicrosoft.com")).await;
    let validator = validator(&sim);

    let other = sim.caller_token(&ann("api://other")).await;
    let refusal = refused(&validator, &other).await;
    assert!(
        refusal
            .to_string()
            .starts_with("the token is for audience '")
            && refusal.to_string().contains(&format!(
                "', this service is {SERVICE}: ask Entra ID for a token for this service"
            )),
        "{refusal}"
    );

    let mut elsewhere = ann("api://exorun");
    elsewhere.tenant = Some("fabrikam.onmicrosoft.com".into());
    let refusal = refused(&validator, &sim.caller_token(&elsewhere).await).await;
    let fabrikam = &sim.info().tenants[1].id;
    assert_eq!(
        refusal.to_string(),
        format!(
            "the token was issued by '{base}/{fabrikam}/v2.0', this service accepts tokens issued by {base}/{contoso}/v2.0: get a token from the service's tenant",
            base = sim.info().base_url,
            contoso = sim.info().tenant_id
        )
    );
}

#[tokio::test]
async fn caller_token_altered_or_signed_otherwise_is_refused() {
    let sim = started().await;
    let validator = validator(&sim);
    let token = sim.caller_token(&ann("api://exorun")).await;
    validator.validate(&token).await.unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let header = decode(parts[0]);
    let kid = header["kid"].as_str().unwrap();

    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[17] ^= 0x01;
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(&signature)
    );
    let forged = format!(
        "the token's signature does not verify with the tenant's key '{kid}': the token was altered after it was issued, or forged; get a new token from Entra ID"
    );
    assert_eq!(refused(&validator, &flipped).await.to_string(), forged);

    let mut claims = decode(parts[1]);
    claims["roles"] = json!(["Runs.Submit", "Runs.Approve"]);
    let promoted = format!("{}.{}.{}", parts[0], encode(&claims), parts[2]);
    assert_eq!(refused(&validator, &promoted).await.to_string(), forged);

    let none = format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "typ": "JWT"})),
        parts[1]
    );
    assert_eq!(
        refused(&validator, &none).await.to_string(),
        "the token is signed with algorithm 'none': only RS256 is accepted"
    );

    // The classic algorithm confusion: HS256 keyed with the bytes of the published public key.
    let jwks: Value = sim
        .http()
        .get(format!(
            "{}/{}/discovery/v2.0/keys",
            sim.info().base_url,
            sim.info().tenant_id
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cert = STANDARD
        .decode(jwks["keys"][0]["x5c"][0].as_str().unwrap())
        .unwrap();
    let public_pem = X509::from_der(&cert)
        .unwrap()
        .public_key()
        .unwrap()
        .public_key_to_pem()
        .unwrap();
    let hs_header = encode(&json!({"alg": "HS256", "typ": "JWT", "kid": kid}));
    let input = format!("{hs_header}.{}", parts[1]);
    let hmac = PKey::hmac(&public_pem).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &hmac).unwrap();
    signer.update(input.as_bytes()).unwrap();
    let confused = format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signer.sign_to_vec().unwrap())
    );
    assert_eq!(
        refused(&validator, &confused).await.to_string(),
        "the token is signed with algorithm 'HS256': only RS256 is accepted"
    );
}

#[tokio::test]
async fn caller_token_of_an_unpublished_key_is_refused_and_a_rolled_key_is_fetched_once() {
    let sim = started().await;
    let validator = validator(&sim);
    let mut stranger = ann("api://exorun");
    stranger.signing_key = SigningChoice::Unpublished;
    let token = sim.caller_token(&stranger).await;
    let kid = decode(token.split('.').next().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        refused(&validator, &token).await.to_string(),
        format!(
            "the token is signed with key '{kid}', which the tenant's published signing keys do not list (fetched just now): it was not issued by this tenant's Entra ID; get a new token for this service"
        )
    );
    assert_eq!(sim.jwks_fetches().await, 1);

    let rolled_sim = started().await;
    let validator = self::validator(&rolled_sim);
    let before = rolled_sim.caller_token(&ann("api://exorun")).await;
    validator.validate(&before).await.unwrap();
    assert_eq!(rolled_sim.jwks_fetches().await, 1);
    rolled_sim
        .post_control("entra/signing-keys/roll", &json!({}))
        .await;
    let after = rolled_sim.caller_token(&ann("api://exorun")).await;
    assert_eq!(validator.validate(&after).await.unwrap().principal, ANN);
    assert_eq!(rolled_sim.jwks_fetches().await, 2, "exactly one refetch");
    validator.validate(&before).await.unwrap();
    validator.validate(&after).await.unwrap();
    assert_eq!(rolled_sim.jwks_fetches().await, 2, "the keys are cached");
}

#[tokio::test]
async fn caller_token_flood_of_unknown_kids_fetches_the_keys_at_most_twice() {
    let sim = started().await;
    let validator = validator(&sim);
    let token = sim.caller_token(&ann("api://exorun")).await;
    validator.validate(&token).await.unwrap();
    let header = decode(token.split('.').next().unwrap());
    let flood: Vec<String> = (0..50)
        .map(|i| {
            let mut h = header.clone();
            h["kid"] = json!(format!("made-up-{i}"));
            with_header(&token, &h)
        })
        .collect();
    let refusals = futures::future::join_all(flood.iter().map(|t| validator.validate(t))).await;
    for (i, refusal) in refusals.into_iter().enumerate() {
        let refusal = refusal.expect_err("an unknown kid is refused");
        assert!(
            matches!(refusal, TokenRefusal::UnknownKey { .. }),
            "{refusal}"
        );
        assert!(refusal.to_string().contains(&format!("'made-up-{i}'")));
    }
    assert!(
        sim.jwks_fetches().await <= 2,
        "{} fetches",
        sim.jwks_fetches().await
    );
    validator.validate(&token).await.unwrap();
    assert!(sim.jwks_fetches().await <= 2);
}

#[tokio::test]
async fn caller_token_keys_that_cannot_be_fetched_are_the_services_fault() {
    let sim = started().await;
    let token = sim.caller_token(&ann("api://exorun")).await;
    let untrusted = TokenValidator::new(&TokenSettings {
        ca_file: None,
        ..settings(&sim, SERVICE, TokenVersion::V2)
    })
    .unwrap();
    let refusal = refused(&untrusted, &token).await;
    assert!(refusal.is_service_fault());
    let text = refusal.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot check the token: the tenant's signing keys could not be fetched from {}/{}/v2.0/.well-known/openid-configuration (the certificate of 127.0.0.1 did not verify",
            sim.info().base_url,
            sim.info().tenant_id
        )),
        "{text}"
    );
    assert!(text.ends_with("the service's operator should check its network access to the authority, its [entra] authority and ca_file"));
    assert_eq!(sim.jwks_fetches().await, 0);
}
