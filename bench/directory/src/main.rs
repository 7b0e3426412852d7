//! The directory benchmark (issue 16). Builds a tenant through the service itself (the same
//! checks and writes as HTTP, without the sockets): users, devices, static groups with members,
//! chains of nested groups, dynamic groups over users and devices. Then times, on that tenant:
//!
//! 1. a full recomputation of every dynamic group (`Service::recompute_memberships`), in process;
//! 2. `GET /v1.0/devices/{id}/transitiveMemberOf` over HTTP, one request at a time, random devices;
//! 3. `PATCH /v1.0/devices/{id}` moving a device in or out of a dynamic device group over HTTP:
//!    the PATCH answers once the group's members are re-evaluated (same transaction).
//!
//! Prints the figures (milliseconds) and a JSON line. `bench/directory.sh` runs it in release.

use anyhow::{anyhow, Context};
use clap::Parser;
use complyd::auth::{self, TokenRequest};
use complyd::service::{Call, Fidelity, Operation, Reply, Service, Settings, TokenKey};
use futures_util::stream::{self, StreamExt};
use odata::path::ResourcePath;
use odata::{Model, Version};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const TENANT: &str = "bbbbbbbb-0000-4000-8000-000000000001";
const SECRET: &str = "directory-bench-secret";
/// Requests in flight while building (the writer commits them in groups).
const IN_FLIGHT: usize = 32;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    #[arg(long, default_value_t = 100_000)]
    devices: usize,
    /// Groups in all: chains of nested groups, dynamic groups, and static groups of users.
    #[arg(long, default_value_t = 1_000)]
    groups: usize,
    /// Dynamic groups (half over devices, half over users).
    #[arg(long, default_value_t = 100)]
    dynamic: usize,
    /// Chains of groups nested `depth` deep; every device is a member of one chain's innermost.
    #[arg(long, default_value_t = 20)]
    chains: usize,
    #[arg(long, default_value_t = 5)]
    depth: usize,
    /// Members of each static group of users.
    #[arg(long, default_value_t = 100)]
    members: usize,
    /// Timed requests per measurement.
    #[arg(long, default_value_t = 1_000)]
    samples: usize,
    /// Keep the data here (default: a temporary folder, removed at the end).
    #[arg(long)]
    data: Option<std::path::PathBuf>,
    /// Measure a tenant built by an earlier run with `--data` (the same folder) instead of building.
    #[arg(long)]
    reuse: bool,
}

struct Bench {
    service: Service,
    model: &'static Model,
}

impl Bench {
    async fn call(
        &self,
        operation: Operation,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Reply> {
        let call = Call {
            tenant: TENANT.into(),
            version: Version::V1,
            path: ResourcePath::parse(self.model, Version::V1, path)
                .map_err(|e| anyhow!("{path}: {e}"))?,
            operation,
            body,
            query: Default::default(),
            caller: Default::default(),
            eventual: false,
        };
        self.service
            .execute(call)
            .await
            .map_err(|e| anyhow!("{path}: {e}"))
    }

    async fn create(&self, path: &str, body: Value) -> anyhow::Result<String> {
        match self.call(Operation::Post, path, Some(body)).await? {
            Reply::Entity { body, .. } => body.to_value()["id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("no id")),
            _ => Err(anyhow!("{path}: no entity")),
        }
    }

    /// Creates every body at `path`, IN_FLIGHT at a time; their ids in order.
    async fn create_all(&self, path: &str, bodies: Vec<Value>) -> anyhow::Result<Vec<String>> {
        let results: Vec<anyhow::Result<String>> = stream::iter(bodies)
            .map(|b| self.create(path, b))
            .buffered(IN_FLIGHT)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn link(&self, group: &str, member: &str) -> anyhow::Result<()> {
        let body = json!({ "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{member}") });
        self.call(
            Operation::Post,
            &format!("groups/{group}/members/$ref"),
            Some(body),
        )
        .await
        .map(|_| ())
    }

    async fn link_all(&self, pairs: Vec<(String, String)>) -> anyhow::Result<()> {
        let results: Vec<anyhow::Result<()>> = stream::iter(pairs)
            .map(|(g, m)| async move { self.link(&g, &m).await })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        results.into_iter().collect()
    }
}

fn group(name: &str) -> Value {
    json!({ "displayName": name, "mailEnabled": false, "mailNickname": name.replace(' ', ""), "securityEnabled": true })
}

fn dynamic(name: &str, rule: String) -> Value {
    let mut g = group(name);
    g["groupTypes"] = json!(["DynamicMembership"]);
    g["membershipRule"] = json!(rule);
    g["membershipRuleProcessingState"] = json!("On");
    g
}

/// A device's OS version: devices `i` with the same `i % 100` share a minor version.
fn os_version(i: usize) -> String {
    format!("10.0.{}.{i}", i % 100)
}

fn device(i: usize) -> Value {
    json!({
        "accountEnabled": true,
        "alternativeSecurityIds": [{ "type": 2, "key": "eA==" }],
        "deviceId": format!("00000000-0000-4000-8000-{i:012}"),
        "displayName": format!("PC-{i:06}"),
        "operatingSystem": if i.is_multiple_of(10) { "macOS" } else { "Windows" },
        "operatingSystemVersion": os_version(i),
    })
}

fn user(i: usize) -> Value {
    json!({
        "accountEnabled": true,
        "displayName": format!("User {i:06}"),
        "mailNickname": format!("user{i}"),
        "userPrincipalName": format!("user{i}@bench.test"),
        "department": format!("Dept{}", i % 60),
        "passwordProfile": { "password": "Bench-pa55" },
    })
}

/// A deterministic spread over `0..n` (no random crate needed).
fn spread(i: usize, n: usize) -> usize {
    (i.wrapping_mul(2_654_435_761) >> 7) % n.max(1)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn summary(name: &str, mut samples: Vec<Duration>) -> Value {
    samples.sort();
    let (p50, p99, max) = (
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        percentile(&samples, 1.0),
    );
    println!(
        "{name}: n={} p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms",
        samples.len()
    );
    json!({ "n": samples.len(), "p50_ms": p50, "p99_ms": p99, "max_ms": max })
}

async fn build(args: &Args, bench: &Bench) -> anyhow::Result<(Vec<String>, Vec<String>, Value)> {
    let started = Instant::now();
    let users = bench
        .create_all("users", (0..args.users).map(user).collect())
        .await?;
    println!(
        "{} users in {:.1} s",
        users.len(),
        started.elapsed().as_secs_f64()
    );
    let at = Instant::now();
    let devices = bench
        .create_all("devices", (0..args.devices).map(device).collect())
        .await?;
    println!(
        "{} devices in {:.1} s",
        devices.len(),
        at.elapsed().as_secs_f64()
    );
    let at = Instant::now();
    // Chains: chain c is groups c.0 ⊃ c.1 ⊃ … ⊃ c.(depth-1); devices go into the innermost.
    let mut chains = Vec::new();
    for c in 0..args.chains {
        let names = (0..args.depth)
            .map(|d| group(&format!("Chain {c} level {d}")))
            .collect();
        chains.push(bench.create_all("groups", names).await?);
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for chain in &chains {
        for pair in chain.windows(2) {
            pairs.push((pair[0].clone(), pair[1].clone()));
        }
    }
    for (i, d) in devices.iter().enumerate() {
        if let Some(inner) = chains.get(i % args.chains.max(1)).and_then(|c| c.last()) {
            pairs.push((inner.clone(), d.clone()));
        }
    }
    let nested = args.chains * args.depth;
    let statics = args.groups.saturating_sub(nested + args.dynamic);
    let static_ids = bench
        .create_all(
            "groups",
            (0..statics)
                .map(|i| group(&format!("Static {i}")))
                .collect(),
        )
        .await?;
    for (g, id) in static_ids.iter().enumerate() {
        for k in 0..args.members {
            pairs.push((
                id.clone(),
                users[spread(g * args.members + k, users.len())].clone(),
            ));
        }
    }
    pairs.sort();
    pairs.dedup();
    bench.link_all(pairs).await?;
    println!(
        "{nested} nested and {statics} static groups with their members in {:.1} s",
        at.elapsed().as_secs_f64()
    );
    let mut creations = Vec::new();
    let mut dynamic_ids = Vec::new();
    for k in 0..args.dynamic {
        let (name, rule) = if k % 2 == 0 {
            (format!("Windows 10.0.{k}"), format!("(device.deviceOSType -eq \"Windows\") -and (device.deviceOSVersion -startsWith \"10.0.{k}.\")"))
        } else {
            (
                format!("Department {k}"),
                format!("user.department -eq \"Dept{}\"", k % 60),
            )
        };
        let at = Instant::now();
        dynamic_ids.push(bench.create("groups", dynamic(&name, rule)).await?);
        creations.push(at.elapsed());
    }
    let creation = summary(
        "create a dynamic group (its members computed over 100k objects)",
        creations,
    );
    println!("built in {:.1} s", started.elapsed().as_secs_f64());
    Ok((devices, dynamic_ids, creation))
}

async fn measure_http(
    args: &Args,
    data: &std::path::Path,
    devices: &[String],
) -> anyhow::Result<(Value, Value)> {
    let mut config = complyd::Config::new(data);
    config.jwt_secret = Some(SECRET.into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(complyd::serve(config, listener, async move {
        let _ = stopped.await;
    }));
    let token = auth::mint(
        SECRET.as_bytes(),
        &TokenRequest::delegated(TENANT, &["Directory.ReadWrite.All"]),
    )?;
    let http = reqwest::Client::new();
    let get = |url: String| {
        let (http, token) = (http.clone(), token.clone());
        async move { http.get(url).bearer_auth(token).send().await }
    };
    // Warm the caches and the connection, then time one request at a time.
    for i in 0..50 {
        get(format!(
            "{base}/v1.0/devices/{}/transitiveMemberOf",
            devices[spread(i, devices.len())]
        ))
        .await?;
    }
    let mut walks = Vec::new();
    for i in 0..args.samples {
        let device = &devices[spread(i + 7, devices.len())];
        let at = Instant::now();
        let res = get(format!("{base}/v1.0/devices/{device}/transitiveMemberOf")).await?;
        let status = res.status();
        let body: Value = res.json().await?;
        walks.push(at.elapsed());
        let found = body["value"].as_array().map_or(0, Vec::len);
        if !status.is_success() || found < args.depth {
            return Err(anyhow!(
                "transitiveMemberOf of {device}: {status}, {found} groups"
            ));
        }
    }
    let walk = summary("GET devices/{id}/transitiveMemberOf", walks);
    // A PATCH that moves a device out of its dynamic group and back: re-evaluated in the write.
    let mut patches = Vec::new();
    for i in 0..args.samples.min(500) {
        let n = spread(i + 11, devices.len());
        let version = if i % 2 == 0 {
            "11.0.0".to_string()
        } else {
            os_version(n)
        };
        let at = Instant::now();
        let res = http
            .patch(format!("{base}/v1.0/devices/{}", devices[n]))
            .bearer_auth(&token)
            .json(&json!({ "operatingSystemVersion": version }))
            .send()
            .await?;
        patches.push(at.elapsed());
        if res.status().as_u16() != 204 {
            return Err(anyhow!("PATCH device: {}", res.status()));
        }
    }
    let patch = summary(
        "PATCH devices/{id} (dynamic groups re-evaluated in the write)",
        patches,
    );
    let _ = stop.send(());
    server.await.context("server task")??;
    Ok((walk, patch))
}

/// The ids of the devices a previous run stored.
async fn stored_devices(
    store: &std::sync::Arc<dyn complyd::store::Store>,
) -> anyhow::Result<Vec<String>> {
    let mut query = complyd::store::Query::all(TENANT, "directoryObjects", "");
    query.filter = Some(odata::query::bind::Condition::IsOf(vec![
        "microsoft.graph.device".into(),
    ]));
    let rows = store.query(query).await?;
    Ok(rows.into_iter().map(|(row, _)| row.key.id).collect())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let temp = tempfile::tempdir()?;
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&data)?;
    let model = Model::intune().map_err(|e| anyhow!(e))?;
    let store = complyd::store::open(None, &data).await?;
    let settings = Settings {
        fidelity: Fidelity::Documented,
        page_size: 100,
    };
    let service = Service::new(
        model,
        store.clone(),
        settings,
        TokenKey::derive(SECRET.as_bytes()),
    )
    .map_err(|e| anyhow!(e))?;
    let bench = Bench { service, model };
    let (devices, dynamic_ids, creation) = if args.reuse {
        (stored_devices(&store).await?, Vec::new(), Value::Null)
    } else {
        build(&args, &bench).await?
    };
    let at = Instant::now();
    let owners = bench
        .service
        .recompute_memberships(TENANT)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let full = at.elapsed().as_secs_f64();
    println!("full recomputation of {owners} dynamic groups: {full:.2} s");
    drop(bench);
    store.close().await?;
    drop(store);
    let (walk, patch) = measure_http(&args, &data, &devices).await?;
    let line = json!({
        "users": args.users, "devices": args.devices, "groups": args.groups,
        "dynamic": dynamic_ids.len(), "nested_depth": args.depth,
        "dynamic_group_creation": creation,
        "full_recomputation_s": full,
        "transitive_member_of": walk,
        "dynamic_patch": patch,
    });
    println!("{line}");
    Ok(())
}
