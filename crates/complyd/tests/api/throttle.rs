//! Throttling (`--throttle`): 429 with `Retry-After` and a Graph error body past the limits, counted
//! per tenant and per app per tenant; never when off.

use crate::support::*;
use complyd::http::throttle::ThrottleLimits;
use serde_json::json;
use std::time::Duration;

const APP_A: &str = "aaaaaaaa-0000-4000-8000-00000000000a";
const APP_B: &str = "bbbbbbbb-0000-4000-8000-00000000000b";

/// A delegated read-write client of `tenant` calling as application `app`.
fn client_of(server: &Server, tenant: &str, app: &str) -> Client {
    let token = token_for(&claims(json!({ "tid": tenant, "appid": app })));
    server.client_with_token(Some(token))
}

fn tiny(writes: u32, requests: u32, window: Duration) -> ThrottleLimits {
    ThrottleLimits {
        window,
        tenant_writes: writes * 2,
        app_writes: writes,
        tenant_requests: requests * 2,
        app_requests: requests,
    }
}

/// Asserts a complete 429: Graph body with `TooManyRequests` and a `Retry-After` in whole seconds.
#[track_caller]
fn expect_throttled(resp: Resp, window: Duration) -> u64 {
    let resp = resp.expect_error(429, "TooManyRequests");
    let seconds: u64 = resp
        .header("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After: {:?}", resp.headers))
        .parse()
        .expect("Retry-After in seconds");
    assert!(
        (1..=window.as_secs().max(1)).contains(&seconds),
        "Retry-After {seconds}"
    );
    seconds
}

#[tokio::test]
async fn past_the_app_write_limit_is_429_with_retry_after_then_admitted_again() {
    let window = Duration::from_secs(2);
    let server = Server::start_with(|c| c.throttle = Some(tiny(3, 100, window))).await;
    let client = client_of(&server, TENANT, APP_A);
    for i in 0..3 {
        client.create_policy("v1.0", &format!("p{i}")).await;
    }
    let resp = client
        .post("v1.0", POLICIES, &windows10_policy("one too many"))
        .await;
    let wait = expect_throttled(resp, window);
    // Reads have their own, larger limit.
    client.get("v1.0", POLICIES).await.expect(200);
    // The refused create was not stored.
    assert_eq!(client.list("v1.0", POLICIES).await.len(), 3);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    client.create_policy("v1.0", "after the wait").await;
}

#[tokio::test]
async fn reads_are_limited_too_and_errors_count() {
    let window = Duration::from_secs(20);
    let server = Server::start_with(|c| c.throttle = Some(tiny(100, 4, window))).await;
    let client = client_of(&server, TENANT, APP_A);
    for _ in 0..3 {
        client.get("v1.0", POLICIES).await.expect(200);
    }
    client
        .get("v1.0", &policy_path("00000000-0000-4000-8000-000000000000"))
        .await
        .expect(404);
    expect_throttled(client.get("beta", POLICIES).await, window);
    // Unauthenticated requests are refused before throttling: still 401, not 429.
    server
        .client_with_token(None)
        .get("v1.0", POLICIES)
        .await
        .expect(401);
}

#[tokio::test]
async fn limits_are_per_app_within_a_tenant_and_per_tenant() {
    let window = Duration::from_secs(20);
    // 2 writes per app, 4 per tenant.
    let server = Server::start_with(|c| c.throttle = Some(tiny(2, 100, window))).await;
    let a = client_of(&server, TENANT, APP_A);
    let b = client_of(&server, TENANT, APP_B);
    let c = client_of(&server, TENANT, "cccccccc-0000-4000-8000-00000000000c");
    let other_tenant = client_of(&server, OTHER_TENANT, APP_A);
    a.create_policy("v1.0", "a1").await;
    a.create_policy("v1.0", "a2").await;
    expect_throttled(
        a.post("v1.0", POLICIES, &windows10_policy("a3")).await,
        window,
    );
    // Another app of the same tenant has its own budget ...
    b.create_policy("v1.0", "b1").await;
    b.create_policy("v1.0", "b2").await;
    // ... until the tenant's budget (4) is spent.
    expect_throttled(
        c.post("v1.0", POLICIES, &windows10_policy("c1")).await,
        window,
    );
    // Another tenant is untouched, even for the same app.
    other_tenant.create_policy("v1.0", "t2").await;
    other_tenant.create_policy("beta", "t2 beta").await;
}

#[tokio::test]
async fn the_intune_profile_allows_100_writes_per_app() {
    let server = Server::start_with(|c| c.throttle = Some(ThrottleLimits::INTUNE)).await;
    let a = client_of(&server, TENANT, APP_A);
    let b = client_of(&server, TENANT, APP_B);
    let missing = policy_path("00000000-0000-4000-8000-000000000000");
    for _ in 0..100 {
        a.delete("v1.0", &missing).await.expect(404);
    }
    let resp = a.delete("v1.0", &missing).await;
    expect_throttled(resp, ThrottleLimits::INTUNE.window);
    b.delete("v1.0", &missing).await.expect(404);
}

#[tokio::test]
async fn off_never_throttles() {
    let server = Server::start().await;
    let client = client_of(&server, TENANT, APP_A);
    let missing = policy_path("00000000-0000-4000-8000-000000000000");
    // More writes than the intune profile admits per tenant in one window.
    for _ in 0..ThrottleLimits::INTUNE.tenant_writes + 10 {
        client.delete("v1.0", &missing).await.expect(404);
    }
    client.create_policy("v1.0", "still fine").await;
}
