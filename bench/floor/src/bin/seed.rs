//! Seeds complyd through its API: `--policies` compliance policies, then `--statuses` device
//! statuses spread round-robin over them, POSTed over `--connections` keep-alive connections.
//! Writes `policies.txt` (one id a line), `rule.txt` (`policy rule` for the first policy) and
//! `ids.txt` (`policy status` a line) into `--out`.

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use floor::{authority, Conn};
use serde_json::{json, Value};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const POLICIES: &str = "deviceManagement/deviceCompliancePolicies";

#[derive(Parser)]
#[command(
    name = "seed",
    about = "Seeds complyd with device statuses through its API."
)]
struct Args {
    /// complyd's base URL, e.g. http://127.0.0.1:41234
    #[arg(long)]
    url: String,
    /// Bearer token with DeviceManagementConfiguration.ReadWrite.All.
    #[arg(long)]
    token: String,
    #[arg(long, default_value_t = 1_000_000)]
    statuses: usize,
    #[arg(long, default_value_t = 100)]
    policies: usize,
    #[arg(long, default_value_t = 48)]
    connections: usize,
    /// The deviceComplianceDeviceStatus request body used as the template (seed 001).
    #[arg(long)]
    body: PathBuf,
    /// Folder for policies.txt, rule.txt and ids.txt.
    #[arg(long)]
    out: PathBuf,
}

/// About a quarter nonCompliant, half compliant, the rest spread over the other values.
fn status_for(i: usize) -> &'static str {
    match i % 20 {
        0..=4 => "nonCompliant",
        5..=14 => "compliant",
        15 | 16 => "notApplicable",
        17 => "remediated",
        18 => "error",
        _ => "unknown",
    }
}

fn status_body(template: &Value, i: usize) -> anyhow::Result<Vec<u8>> {
    let mut body = template.clone();
    let map = body
        .as_object_mut()
        .ok_or_else(|| anyhow!("the body template is not a JSON object"))?;
    map.insert("status".into(), json!(status_for(i)));
    map.insert("deviceDisplayName".into(), json!(format!("DESKTOP-{i:07}")));
    map.insert("userName".into(), json!(format!("user{:05}", i % 50_000)));
    map.insert(
        "userPrincipalName".into(),
        json!(format!("user{:05}@contoso.com", i % 50_000)),
    );
    Ok(serde_json::to_vec(&body)?)
}

fn policy_body(n: usize) -> Vec<u8> {
    json!({
        "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
        "displayName": format!("bench policy {n:03}"),
        "passwordRequired": true,
        "scheduledActionsForRule": [{
            "ruleName": "PasswordRequired",
            "scheduledActionConfigurations": [{ "actionType": "block", "gracePeriodHours": 0 }]
        }]
    })
    .to_string()
    .into_bytes()
}

fn expect(status: u16, res: &floor::Response, what: &str) -> anyhow::Result<()> {
    if res.status != status {
        bail!(
            "{what}: expected {status}, got {}: {}",
            res.status,
            String::from_utf8_lossy(&res.body)
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let addr = authority(&args.url)?;
    let template: Value = serde_json::from_slice(
        &std::fs::read(&args.body).with_context(|| format!("reading {}", args.body.display()))?,
    )?;
    std::fs::create_dir_all(&args.out)?;

    let mut conn = Conn::connect(&addr, &args.token)?;
    let mut policies = Vec::with_capacity(args.policies);
    for n in 0..args.policies {
        let res = conn.post(&format!("/beta/{POLICIES}"), &policy_body(n))?;
        expect(201, &res, "create policy")?;
        policies.push(res.id()?);
    }
    let first = policies
        .first()
        .ok_or_else(|| anyhow!("--policies must be at least 1"))?;
    let rules = conn.get(&format!("/v1.0/{POLICIES}/{first}/scheduledActionsForRule"))?;
    expect(200, &rules, "list rules")?;
    let rule = rules.json()?["value"][0]["id"]
        .as_str()
        .ok_or_else(|| anyhow!("the first policy has no rule"))?
        .to_string();
    std::fs::write(args.out.join("policies.txt"), policies.join("\n") + "\n")?;
    std::fs::write(args.out.join("rule.txt"), format!("{first} {rule}\n"))?;

    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let ids: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::with_capacity(args.statuses));
    let errors: Mutex<Vec<anyhow::Error>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..args.connections.max(1) {
            scope.spawn(|| {
                let result = (|| -> anyhow::Result<()> {
                    let mut conn = Conn::connect(&addr, &args.token)?;
                    let mut mine = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= args.statuses {
                            break;
                        }
                        let policy = &policies[i % policies.len()];
                        let res = conn.post(
                            &format!("/beta/{POLICIES}/{policy}/deviceStatuses"),
                            &status_body(&template, i)?,
                        )?;
                        expect(201, &res, "create device status")?;
                        mine.push((i, res.id()?));
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Ok(mut all) = ids.lock() {
                        all.extend(mine);
                    }
                    Ok(())
                })();
                if let Err(e) = result {
                    failed.store(true, Ordering::Relaxed);
                    if let Ok(mut errors) = errors.lock() {
                        errors.push(e);
                    }
                }
                finished.fetch_add(1, Ordering::Relaxed);
            });
        }
        // Progress every 5 s until every worker has returned.
        let mut last = Instant::now();
        while finished.load(Ordering::Relaxed) < args.connections.max(1) {
            std::thread::sleep(Duration::from_millis(100));
            if last.elapsed() >= Duration::from_secs(5) {
                last = Instant::now();
                let n = done.load(Ordering::Relaxed);
                eprintln!(
                    "seed: {n}/{} statuses, {:.0}/s",
                    args.statuses,
                    n as f64 / started.elapsed().as_secs_f64()
                );
            }
        }
    });
    if let Some(e) = errors
        .into_inner()
        .map_err(|_| anyhow!("poisoned"))?
        .into_iter()
        .next()
    {
        return Err(e);
    }
    let mut ids = ids.into_inner().map_err(|_| anyhow!("poisoned"))?;
    ids.sort_unstable_by_key(|(i, _)| *i);
    let mut out = BufWriter::new(std::fs::File::create(args.out.join("ids.txt"))?);
    for (i, id) in &ids {
        writeln!(out, "{} {id}", policies[i % policies.len()])?;
    }
    out.flush()?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "seed: {} statuses over {} policies in {secs:.1} s ({:.0}/s)",
        ids.len(),
        policies.len(),
        ids.len() as f64 / secs
    );
    Ok(())
}
