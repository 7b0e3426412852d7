//! The token service (discovery, JWKS, token endpoint), RS256 validation with every rejection
//! class, trusted issuers with JWKS files and URLs, and https with the `--tls auto` CA.

use crate::support::{Server, POLICIES, TENANT, WRITE};
use base64::Engine;
use complyd::identity::registry::{self, Application, User};
use complyd::store::Store;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::sync::Arc;

const SECRET: &str = "app-secret-value";
pub(crate) const CLIENT: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const READER: &str = "aaaaaaaa-0000-4000-8000-000000000002";
const CERT_CLIENT: &str = "aaaaaaaa-0000-4000-8000-000000000003";
pub(crate) const PUBLIC_CLIENT: &str = "aaaaaaaa-0000-4000-8000-000000000004";
const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

/// The store the server uses (SQLite in its folder, or its PostgreSQL database in the PG run).
pub(crate) async fn open_store(server: &Server) -> Arc<dyn Store> {
    let url = crate::support::test_store(server.data_dir());
    complyd::store::open(url.as_deref(), server.data_dir())
        .await
        .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// The JSON a GET of `url` answers.
async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

fn app(client_id: &str, roles: &[&str], secret: Option<&str>, certs: Vec<String>) -> Application {
    Application {
        client_id: client_id.into(),
        tenant: TENANT.into(),
        name: format!("test {client_id}"),
        object_id: uuid::Uuid::new_v4().to_string(),
        secrets: secret.map(registry::hash_secret).into_iter().collect(),
        certificates: certs,
        roles: roles.iter().map(|r| r.to_string()).collect(),
        redirect_uris: Vec::new(),
        created: 0,
    }
}

/// A server with a ReadWrite app (secret), a Read app, a public client and a user.
pub(crate) async fn registered() -> (Server, Arc<dyn Store>) {
    let server = Server::start().await;
    let store = open_store(&server).await;
    registry::add_app(&store, app(CLIENT, &[WRITE], Some(SECRET), vec![]))
        .await
        .unwrap();
    registry::add_app(
        &store,
        app(
            READER,
            &["DeviceManagementConfiguration.Read.All"],
            Some(SECRET),
            vec![],
        ),
    )
    .await
    .unwrap();
    registry::add_app(&store, app(PUBLIC_CLIENT, &[], None, vec![]))
        .await
        .unwrap();
    registry::add_user(
        &store,
        User {
            id: uuid::Uuid::new_v4().to_string(),
            tenant: TENANT.into(),
            username: "ada@example.test".into(),
            password: registry::hash_secret("correct horse"),
            scopes: vec!["DeviceManagementConfiguration.Read.All".into()],
            created: 0,
        },
    )
    .await
    .unwrap();
    (server, store)
}

async fn token_call(server: &Server, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = http()
        .post(format!("{}/{tenant}/oauth2/v2.0/token", server.base))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

pub(crate) async fn app_token(server: &Server, client_id: &str) -> String {
    let (status, body) = token_call(
        server,
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", SECRET),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

pub(crate) async fn list_policies(server: &Server, token: &str) -> (u16, Value) {
    let res = http()
        .get(format!("{}/v1.0/{POLICIES}", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub(crate) fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

#[track_caller]
pub(crate) fn assert_oauth_error(
    status: u16,
    body: &Value,
    want_status: u16,
    error: &str,
    code: u64,
    why: &str,
) {
    assert_eq!(status, want_status, "{why}: {body}");
    assert_eq!(body["error"], error, "{why}: {body}");
    assert_eq!(body["error_codes"], json!([code]), "{why}: {body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{why}: {description}"
    );
    for field in ["trace_id", "correlation_id", "timestamp"] {
        assert!(
            body[field].as_str().is_some_and(|s| !s.is_empty()),
            "{why}: {field} in {body}"
        );
    }
}

#[tokio::test]
async fn discovery_documents_point_at_this_host_and_the_jwks_publishes_the_kid() {
    let (server, _store) = registered().await;
    let host = server.base.trim_start_matches("http://").to_string();
    let v2 = get_json(
        &http(),
        &format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            server.base
        ),
    )
    .await;
    assert_eq!(
        v2["token_endpoint"],
        format!("{}/{TENANT}/oauth2/v2.0/token", server.base)
    );
    assert_eq!(
        v2["issuer"],
        format!("https://login.microsoftonline.com/{TENANT}/v2.0")
    );
    let v1 = get_json(
        &http(),
        &format!("{}/{TENANT}/.well-known/openid-configuration", server.base),
    )
    .await;
    assert_eq!(v1["issuer"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(
        v1["token_endpoint"],
        format!("{}/{TENANT}/oauth2/token", server.base)
    );
    // Both JWKS the documents advertise publish the same key, and it is the tokens' kid.
    let mut kids = Vec::new();
    for doc in [&v2, &v1] {
        let jwks = get_json(&http(), doc["jwks_uri"].as_str().unwrap()).await;
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert!(key["n"].as_str().unwrap().len() > 300);
        kids.push(key["kid"].as_str().unwrap().to_string());
    }
    assert_eq!(kids[0], kids[1]);
    let token = app_token(&server, CLIENT).await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some(kids[0].as_str()));
    // MSAL's instance discovery, answered for this host.
    let instance = get_json(&http(), &format!(
            "{}/common/discovery/instance?api-version=1.1&authorization_endpoint=https://{host}/{TENANT}/oauth2/v2.0/authorize",
            server.base
        )).await;
    assert_eq!(
        instance["tenant_discovery_endpoint"],
        format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            server.base
        )
    );
    assert_eq!(instance["metadata"][0]["aliases"], json!([host]));
}

#[tokio::test]
async fn client_credentials_give_an_rs256_app_token_with_graphs_claims_that_the_api_accepts() {
    let (server, _store) = registered().await;
    let token = app_token(&server, CLIENT).await;
    let claims = payload(&token);
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["iss"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["appid"], CLIENT);
    assert_eq!(claims["appidacr"], "1");
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["roles"], json!([WRITE]));
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["oid"], claims["sub"]);
    assert!(claims["scp"].is_null());
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(claims["nbf"].as_i64().unwrap(), iat);
    assert!((3000..=3600).contains(&(exp - iat)));
    let (status, body) = list_policies(&server, &token).await;
    assert_eq!(status, 200, "{body}");
    // A created policy lands in the token's tenant.
    let created = http()
        .post(format!("{}/beta/{POLICIES}", server.base))
        .bearer_auth(&token)
        .json(&json!({
            "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
            "displayName": "via the token service",
            "scheduledActionsForRule": [{"ruleName": "PasswordRequired", "scheduledActionConfigurations": [{"actionType": "block"}]}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let listed = server
        .client()
        .get("beta", POLICIES)
        .await
        .expect(200)
        .values();
    assert_eq!(
        listed.len(),
        1,
        "the HS256 dev token of the same tenant sees it"
    );
    // The Read.All app reads, and is refused a write with Graph's 403.
    let read_token = app_token(&server, READER).await;
    assert_eq!(list_policies(&server, &read_token).await.0, 200);
    let refused = http()
        .post(format!("{}/v1.0/{POLICIES}", server.base))
        .bearer_auth(&read_token)
        .json(&json!({"@odata.type": "#microsoft.graph.windows10CompliancePolicy", "displayName": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Forbidden");
}

#[tokio::test]
async fn the_v1_token_endpoint_takes_a_resource() {
    let (server, _store) = registered().await;
    let res: Value = http()
        .post(format!("{}/{TENANT}/oauth2/token", server.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
            ("resource", "https://graph.microsoft.com"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["resource"], "https://graph.microsoft.com");
    assert_eq!(res["expires_in"], "3599");
    let token = res["access_token"].as_str().unwrap();
    assert_eq!(list_policies(&server, token).await.0, 200);
}

/// The client-credentials form of the Read/Write app, which the token endpoint accepts.
const CLIENT_CREDENTIALS: [(&str, &str); 4] = [
    ("grant_type", "client_credentials"),
    ("client_id", CLIENT),
    ("client_secret", SECRET),
    ("scope", GRAPH_DEFAULT),
];
/// The password-grant form of the registered user, through the public client.
const PASSWORD: [(&str, &str); 5] = [
    ("grant_type", "password"),
    ("client_id", PUBLIC_CLIENT),
    ("username", "ada@example.test"),
    ("password", "correct horse"),
    ("scope", GRAPH_DEFAULT),
];

/// `form` with `name` set to `value` (`None` leaves it out).
fn form_with(
    form: &[(&'static str, &'static str)],
    name: &str,
    value: Option<&'static str>,
) -> Vec<(&'static str, &'static str)> {
    form.iter()
        .filter_map(|&(k, v)| match value {
            _ if k != name => Some((k, v)),
            Some(value) => Some((k, value)),
            None => None,
        })
        .collect()
}

/// A refused token request: who asks which tenant with what, and Entra's answer.
struct OAuthCase {
    why: &'static str,
    tenant: &'static str,
    form: Vec<(&'static str, &'static str)>,
    status: u16,
    error: &'static str,
    code: u64,
}

#[tokio::test]
async fn token_endpoint_errors_are_entras_oauth_bodies() {
    let (server, store) = registered().await;
    // The Read/Write app's twin, registered in another tenant.
    let mut other = app(
        "aaaaaaaa-0000-4000-8000-0000000000ff",
        &[WRITE],
        Some(SECRET),
        vec![],
    );
    other.tenant = crate::support::OTHER_TENANT.into();
    registry::add_app(&store, other).await.unwrap();
    let base = || CLIENT_CREDENTIALS.to_vec();
    let with = |name, value| form_with(&CLIENT_CREDENTIALS, name, Some(value));
    let without = |name| form_with(&CLIENT_CREDENTIALS, name, None);
    let case = |why, form, status, error, code| OAuthCase {
        why,
        tenant: TENANT,
        form,
        status,
        error,
        code,
    };
    let cases = [
        case(
            "a wrong client secret",
            with("client_secret", "wrong"),
            401,
            "invalid_client",
            7000215,
        ),
        case(
            "no client secret",
            without("client_secret"),
            401,
            "invalid_client",
            7000218,
        ),
        case(
            "a client id nobody registered",
            with("client_id", "ffffffff-0000-4000-8000-00000000dead"),
            400,
            "unauthorized_client",
            700016,
        ),
        case(
            "a grant the service does not offer",
            with("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            400,
            "unsupported_grant_type",
            70003,
        ),
        case(
            "client credentials ask for a permission instead of /.default",
            with("scope", "https://graph.microsoft.com/User.Read"),
            400,
            "invalid_scope",
            1002012,
        ),
        case(
            "a resource that is not Graph",
            with("scope", "https://example.com/.default"),
            400,
            "invalid_resource",
            500011,
        ),
        case("no scope", without("scope"), 400, "invalid_request", 900144),
        OAuthCase {
            tenant: "99999999-9999-4999-8999-999999999999",
            ..case(
                "a tenant nobody registered in",
                base(),
                400,
                "invalid_request",
                90002,
            )
        },
        OAuthCase {
            tenant: crate::support::OTHER_TENANT,
            ..case(
                "the app asked for in another registered tenant",
                base(),
                400,
                "unauthorized_client",
                700016,
            )
        },
        case(
            "the user's wrong password",
            form_with(&PASSWORD, "password", Some("wrong")),
            400,
            "invalid_grant",
            50126,
        ),
        case(
            "a delegated permission the user never consented to",
            form_with(
                &PASSWORD,
                "scope",
                Some("https://graph.microsoft.com/DeviceManagementConfiguration.ReadWrite.All"),
            ),
            400,
            "invalid_grant",
            65001,
        ),
    ];
    for c in cases {
        let (status, body) = token_call(&server, c.tenant, &c.form).await;
        assert_oauth_error(status, &body, c.status, c.error, c.code, c.why);
    }
    // The correlation id is the client's request id when it sends one.
    let res = http()
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", server.base))
        .header("client-request-id", "my-correlation")
        .form(&with("client_secret", "wrong"))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["correlation_id"], "my-correlation");
}

#[tokio::test]
async fn the_token_endpoint_refuses_a_form_past_the_body_limit() {
    let server = Server::start_with(|c| c.max_body_bytes = 1024).await;
    let padding = "x".repeat(2048);
    let mut form = CLIENT_CREDENTIALS.to_vec();
    form.push(("padding", &padding));
    let res = http()
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", server.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RequestEntityTooLarge", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1024 bytes"),
        "{body}"
    );
}

#[tokio::test]
async fn the_password_grant_gives_a_delegated_token_with_the_users_scopes() {
    let (server, _store) = registered().await;
    let form = form_with(
        &PASSWORD,
        "scope",
        Some("https://graph.microsoft.com/.default openid profile offline_access"),
    );
    let (status, body) = token_call(&server, TENANT, &form).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id_token"].is_string() && body["client_info"].is_string());
    let token = body["access_token"].as_str().unwrap();
    let claims = payload(token);
    assert_eq!(claims["idtyp"], "user");
    assert_eq!(claims["scp"], "DeviceManagementConfiguration.Read.All");
    assert_eq!(claims["upn"], "ada@example.test");
    assert_eq!(list_policies(&server, token).await.0, 200);
}

/// An RSA key with a self-signed certificate, PEM (rcgen signs with the rsa crate's key).
fn rsa_certificate() -> (EncodingKey, String) {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let pkcs8 = private.to_pkcs8_pem(LineEnding::LF).unwrap();
    let pair =
        rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["cert-app".to_string()])
        .unwrap()
        .self_signed(&pair)
        .unwrap();
    let der = private.to_pkcs1_der().unwrap();
    (EncodingKey::from_rsa_der(der.as_bytes()), cert.pem())
}

#[tokio::test]
async fn certificate_assertions_are_verified_against_the_registered_certificate() {
    let (server, store) = registered().await;
    let (key, pem) = rsa_certificate();
    let (other_key, _) = rsa_certificate();
    registry::add_app(&store, app(CERT_CLIENT, &[WRITE], None, vec![pem]))
        .await
        .unwrap();
    let endpoint = format!("{}/{TENANT}/oauth2/v2.0/token", server.base);
    let now = complyd::common::now_unix();
    let assertion = |alg: Algorithm, key: &EncodingKey, claims: Value| {
        jsonwebtoken::encode(&Header::new(alg), &claims, key).unwrap()
    };
    let good_claims = json!({"aud": endpoint, "iss": CERT_CLIENT, "sub": CERT_CLIENT, "exp": now + 300, "nbf": now, "jti": "1"});
    let call = |jwt: String| {
        let server = &server;
        async move {
            token_call(
                server,
                TENANT,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", CERT_CLIENT),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &jwt),
                    ("scope", GRAPH_DEFAULT),
                ],
            )
            .await
        }
    };
    for alg in [Algorithm::RS256, Algorithm::PS256] {
        let (s, b) = call(assertion(alg, &key, good_claims.clone())).await;
        assert_eq!(s, 200, "{alg:?}: {b}");
        assert_eq!(
            payload(b["access_token"].as_str().unwrap())["appidacr"],
            "2"
        );
    }
    let claims = |name: &str, value: Value| {
        let mut claims = good_claims.clone();
        claims[name] = value;
        claims
    };
    let hs256 = EncodingKey::from_secret(b"x");
    // Each assertion is refused with `invalid_client` (401) and the code Entra gives.
    let refused = [
        (
            "signed by a key whose certificate is not registered",
            assertion(Algorithm::RS256, &other_key, good_claims.clone()),
            700027,
        ),
        (
            "for another token endpoint",
            assertion(
                Algorithm::RS256,
                &key,
                claims("aud", json!("https://elsewhere.example/token")),
            ),
            700212,
        ),
        (
            "issued by another app than the client",
            assertion(Algorithm::RS256, &key, claims("iss", json!(CLIENT))),
            700021,
        ),
        (
            "expired",
            assertion(Algorithm::RS256, &key, claims("exp", json!(now - 600))),
            700024,
        ),
        (
            "signed with a shared secret (HS256)",
            assertion(Algorithm::HS256, &hs256, good_claims),
            5002738,
        ),
    ];
    for (why, jwt, code) in refused {
        let (s, b) = call(jwt).await;
        assert_oauth_error(s, &b, 401, "invalid_client", code, why);
    }
}

/// Signs `claims` with complyd's own key (read from the store), under `alg` and `kid`.
pub(crate) async fn own_signed(store: &Arc<dyn Store>, alg: Algorithm, claims: &Value) -> String {
    let stored = registry::signing_key(store).await.unwrap().unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(&stored.private_key)
        .unwrap();
    let mut header = Header::new(alg);
    header.kid = Some(stored.kid);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(&der)).unwrap()
}

pub(crate) fn graph_claims(now: i64) -> Value {
    json!({
        "aud": "https://graph.microsoft.com",
        "iss": format!("https://sts.windows.net/{TENANT}/"),
        "tid": TENANT,
        "oid": "o",
        "idtyp": "app",
        "appid": CLIENT,
        "roles": [WRITE],
        "iat": now, "nbf": now, "exp": now + 600,
        "ver": "1.0"
    })
}

async fn assert_rejected(server: &Server, token: &str, why: &str) {
    let (status, body) = list_policies(server, token).await;
    assert_eq!(status, 401, "{why}: {body}");
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken", "{why}");
}

/// `graph_claims(at)` with some claims replaced.
fn edited(at: i64, edits: &[(&str, Value)]) -> Value {
    let mut claims = graph_claims(at);
    for (name, value) in edits {
        claims[*name] = value.clone();
    }
    claims
}

#[tokio::test]
async fn every_kind_of_bad_rs256_token_is_refused_with_401() {
    let (server, store) = registered().await;
    let good = app_token(&server, CLIENT).await;
    let now = complyd::common::now_unix();
    // The forged-but-valid control: the same key and claims pass.
    let control = own_signed(&store, Algorithm::RS256, &graph_claims(now)).await;
    assert_eq!(list_policies(&server, &control).await.0, 200);
    // Within the leeway (30 s by default) passes too.
    let barely = edited(now - 7200, &[("exp", json!(now - 5))]);
    let barely = own_signed(&store, Algorithm::RS256, &barely).await;
    assert_eq!(list_policies(&server, &barely).await.0, 200);

    // Signed with complyd's own key, each wrong in one way.
    let rs256 = Algorithm::RS256;
    let own_key = [
        (
            "RS512: an algorithm the key is not for",
            Algorithm::RS512,
            graph_claims(now),
        ),
        (
            "PS256: an algorithm the key is not for",
            Algorithm::PS256,
            graph_claims(now),
        ),
        (
            "issuer of another tenant",
            rs256,
            edited(
                now,
                &[(
                    "iss",
                    json!("https://sts.windows.net/22222222-2222-4222-8222-222222222222/"),
                )],
            ),
        ),
        (
            "foreign issuer",
            rs256,
            edited(now, &[("iss", json!("https://evil.example/"))]),
        ),
        (
            "audience",
            rs256,
            edited(now, &[("aud", json!("https://management.azure.com"))]),
        ),
        (
            "expired beyond the leeway",
            rs256,
            edited(now - 7200, &[("exp", json!(now - 120))]),
        ),
        (
            "not yet valid beyond the leeway",
            rs256,
            edited(
                now,
                &[("nbf", json!(now + 600)), ("exp", json!(now + 1200))],
            ),
        ),
    ];
    for (why, alg, claims) in own_key {
        assert_rejected(&server, &own_signed(&store, alg, &claims).await, why).await;
    }

    // Forged around the key.
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let json64 = |v: &Value| b64(v.to_string().as_bytes());
    let kid = jsonwebtoken::decode_header(&good).unwrap().kid.unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let mut confused = Header::new(Algorithm::HS256);
    confused.kid = Some(kid.clone());
    let mut widened = payload(&good);
    widened["roles"] = json!([WRITE, "Directory.ReadWrite.All"]);
    let mut signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[2])
        .unwrap();
    signature[10] ^= 1;
    let mut unknown = Header::new(Algorithm::RS256);
    unknown.kid = Some("unknown".into());
    let (stranger, _) = rsa_certificate();
    let forged = [
        (
            "alg none, unsigned",
            format!(
                "{}.{}.",
                json64(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
                json64(&graph_claims(now))
            ),
        ),
        (
            "HS256 keyed with a public value (the classic confusion)",
            jsonwebtoken::encode(
                &confused,
                &graph_claims(now),
                &EncodingKey::from_secret(kid.as_bytes()),
            )
            .unwrap(),
        ),
        (
            "tampered payload (roles widened) under the original signature",
            format!("{}.{}.{}", parts[0], json64(&widened), parts[2]),
        ),
        (
            "tampered signature (one bit flipped)",
            format!("{}.{}.{}", parts[0], parts[1], b64(&signature)),
        ),
        (
            "an unknown kid with an issuer nobody trusts",
            jsonwebtoken::encode(&unknown, &graph_claims(now), &stranger).unwrap(),
        ),
    ];
    for (why, token) in forged {
        assert_rejected(&server, &token, why).await;
    }
}

#[tokio::test]
async fn the_token_leeway_is_configurable() {
    let server = Server::start_with(|c| c.token_leeway = 0).await;
    let store = open_store(&server).await;
    registry::add_app(&store, app(CLIENT, &[WRITE], Some(SECRET), vec![]))
        .await
        .unwrap();
    app_token(&server, CLIENT).await;
    let now = complyd::common::now_unix();
    let mut claims = graph_claims(now - 7200);
    claims["exp"] = json!(now - 5);
    assert_rejected(
        &server,
        &own_signed(&store, Algorithm::RS256, &claims).await,
        "no leeway",
    )
    .await;
}

/// A JWKS document of one RSA key.
fn jwks_of(kid: &str, key: &rsa::RsaPrivateKey) -> Value {
    use rsa::traits::PublicKeyParts;
    let b64 = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    json!({"keys": [{"kty": "RSA", "use": "sig", "kid": kid, "n": b64(key.n().to_bytes_be()), "e": b64(key.e().to_bytes_be())}]})
}

fn rsa_key() -> (rsa::RsaPrivateKey, EncodingKey) {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let der = private.to_pkcs1_der().unwrap();
    let key = EncodingKey::from_rsa_der(der.as_bytes());
    (private, key)
}

#[tokio::test]
async fn trusted_issuers_with_a_jwks_file_refresh_once_for_an_unknown_kid() {
    let issuer = "https://login.example.test/{tenantid}/v2.0";
    let dir = tempfile::tempdir().unwrap();
    let jwks_path = dir.path().join("jwks.json");
    let (a_private, a) = rsa_key();
    std::fs::write(&jwks_path, jwks_of("key-a", &a_private).to_string()).unwrap();
    let path = jwks_path.to_string_lossy().to_string();
    let server = Server::start_with(move |c| {
        c.trusted_issuers = vec![complyd::auth::TrustedIssuerConfig {
            issuer: issuer.into(),
            jwks: path,
        }]
    })
    .await;
    let now = complyd::common::now_unix();
    let mut claims = graph_claims(now);
    claims["iss"] = json!(format!("https://login.example.test/{TENANT}/v2.0"));
    let sign = |kid: &str, alg: Algorithm, key: &EncodingKey, claims: &Value| {
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    };
    assert_eq!(
        list_policies(&server, &sign("key-a", Algorithm::RS256, &a, &claims))
            .await
            .0,
        200
    );
    // The trusted key, but another tenant's issuer than the token's tid: refused.
    let mut mismatched = claims.clone();
    mismatched["iss"] =
        json!("https://login.example.test/22222222-2222-4222-8222-222222222222/v2.0");
    assert_rejected(
        &server,
        &sign("key-a", Algorithm::RS256, &a, &mismatched),
        "issuer vs tid",
    )
    .await;
    // An algorithm the JWKS key is not for.
    assert_rejected(
        &server,
        &sign("key-a", Algorithm::RS384, &a, &claims),
        "RS384 on an RS256 key",
    )
    .await;
    // Key rotation: B is published after the start; its first token triggers the one refresh.
    let (b_private, b) = rsa_key();
    let (c_private, c) = rsa_key();
    let mut both = jwks_of("key-a", &a_private);
    both["keys"]
        .as_array_mut()
        .unwrap()
        .push(jwks_of("key-b", &b_private)["keys"][0].clone());
    std::fs::write(&jwks_path, both.to_string()).unwrap();
    assert_eq!(
        list_policies(&server, &sign("key-b", Algorithm::RS256, &b, &claims))
            .await
            .0,
        200
    );
    // C, published right after: refreshes are rate-limited, so C stays unknown for now.
    both["keys"]
        .as_array_mut()
        .unwrap()
        .push(jwks_of("key-c", &c_private)["keys"][0].clone());
    std::fs::write(&jwks_path, both.to_string()).unwrap();
    assert_rejected(
        &server,
        &sign("key-c", Algorithm::RS256, &c, &claims),
        "rate-limited refresh",
    )
    .await;
    // Still, B and A keep working from the cache.
    assert_eq!(
        list_policies(&server, &sign("key-a", Algorithm::RS256, &a, &claims))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_trusted_issuer_with_a_jwks_url_accepts_another_token_service() {
    // Server A issues; server B trusts A's issuer for the tenant with A's JWKS URL.
    let (a, _store) = registered().await;
    let token = app_token(&a, CLIENT).await;
    let jwks_url = format!("{}/common/discovery/keys", a.base);
    let b = Server::start_with(move |c| {
        c.trusted_issuers = vec![complyd::auth::TrustedIssuerConfig {
            issuer: format!("https://sts.windows.net/{TENANT}/"),
            jwks: jwks_url,
        }]
    })
    .await;
    assert_eq!(list_policies(&b, &token).await.0, 200);
    // A server that trusts nobody refuses A's token.
    let c = Server::start().await;
    assert_rejected(&c, &token, "untrusted issuer").await;
}

#[tokio::test]
async fn instances_sharing_a_store_share_the_signing_key_and_registrations() {
    let (a, _store) = registered().await;
    let token = app_token(&a, CLIENT).await;
    let dir = a.stop().await;
    let b = Server::start_in(dir, |_| {}).await;
    assert_eq!(
        list_policies(&b, &token).await.0,
        200,
        "key kept across restarts"
    );
    app_token(&b, CLIENT).await;
}

#[tokio::test]
async fn tls_auto_serves_https_with_a_ca_it_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let identity = complyd::tls::TlsIdentity::auto(dir.path(), &["complyd.test".into()]).unwrap();
    let ca_path = identity.ca_path.clone().unwrap();
    let ca = std::fs::read(&ca_path).unwrap();
    // A second start reuses the CA and the server certificate.
    let again = complyd::tls::TlsIdentity::auto(dir.path(), &["complyd.test".into()]).unwrap();
    assert_eq!(std::fs::read(again.ca_path.unwrap()).unwrap(), ca);
    assert_eq!(again.cert_chain_pem, identity.cert_chain_pem);
    let server = Server::start_in(dir, move |c| c.tls = Some(identity)).await;
    let port = server.base.rsplit(':').next().unwrap().to_string();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let token = complyd::auth::mint(
        crate::support::SECRET.as_bytes(),
        &complyd::auth::TokenRequest::delegated(TENANT, &[WRITE]),
    )
    .unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let res = client
            .get(format!("https://{host}:{port}/v1.0/{POLICIES}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let body: Value = res.json().await.unwrap();
        assert!(
            body["@odata.context"]
                .as_str()
                .unwrap()
                .starts_with(&format!("https://{host}:{port}/v1.0/$metadata")),
            "{body}"
        );
    }
    // Discovery advertises https endpoints too.
    let doc = get_json(
        &client,
        &format!("https://127.0.0.1:{port}/{TENANT}/v2.0/.well-known/openid-configuration"),
    )
    .await;
    assert!(doc["token_endpoint"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    // Plain http on the https port fails; a client without the CA refuses the certificate.
    let plain = http()
        .get(format!("http://127.0.0.1:{port}/v1.0/{POLICIES}"))
        .send()
        .await;
    assert!(!plain.is_ok_and(|r| r.status().is_success()));
    assert!(reqwest::Client::new()
        .get(format!("https://127.0.0.1:{port}/v1.0/{POLICIES}"))
        .send()
        .await
        .is_err());
}
