//! `complyd fleet …`, `complyd device …` and `serve --demo`: the engine's commands, run on the
//! data folder's store through the same service the server answers with.

use crate::cli::{CheckInArgs, ClockCommand, DeviceCommand, FleetArgs, FleetCommand};
use crate::registry_cmd::{open, service};
use complyd::service::{FleetSpec, MAX_FLEET};
use std::io::Read;
use std::path::Path;
use std::time::Instant;

/// A service error as the command's error (its Graph message).
fn failed(err: complyd::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{err}")
}

pub async fn fleet(command: FleetCommand) -> anyhow::Result<()> {
    match command {
        FleetCommand::Generate(args) => generate(args).await,
    }
}

pub async fn device(command: DeviceCommand) -> anyhow::Result<()> {
    match command {
        DeviceCommand::CheckIn(args) => check_in(args).await,
    }
}

pub async fn clock(command: ClockCommand) -> anyhow::Result<()> {
    let (args, request) = match command {
        ClockCommand::Show(args) => (args, None),
        ClockCommand::Advance(m) => {
            let request = serde_json::json!({ "advanceBy": m.to, "freeze": m.freeze });
            (m.clock, Some(request))
        }
        ClockCommand::Set(m) => {
            let request = serde_json::json!({ "setTo": m.to, "freeze": m.freeze });
            (m.clock, Some(request))
        }
    };
    let service = service(open(&args.data).await?)?;
    let answer = match request {
        None => service.clock(&args.tenant).await,
        Some(mut request) => {
            if let Some(object) = request.as_object_mut() {
                object.retain(|_, v| !v.is_null());
            }
            let wanted = complyd::service::time::ClockMove::parse(&request).map_err(failed)?;
            service.move_clock(&args.tenant, wanted).await
        }
    }
    .map_err(failed)?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

async fn generate(args: FleetArgs) -> anyhow::Result<()> {
    if args.users > MAX_FLEET || args.devices > MAX_FLEET {
        anyhow::bail!("a fleet has at most {MAX_FLEET} users and {MAX_FLEET} devices");
    }
    let service = service(open(&args.data).await?)?;
    let started = Instant::now();
    let spec = FleetSpec {
        users: args.users,
        devices: args.devices,
        seed: args.seed,
    };
    let made = service
        .generate_fleet(&args.tenant, spec)
        .await
        .map_err(failed)?;
    println!("{}", serde_json::to_string_pretty(&made.to_json())?);
    eprintln!(
        "made {} users, {} devices and {} groups in tenant {}, evaluated {} devices, in {:.1} s",
        made.users,
        made.devices,
        made.groups.len(),
        args.tenant,
        made.evaluated,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn check_in(args: CheckInArgs) -> anyhow::Result<()> {
    let mut text = String::new();
    if args.file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(&args.file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    }
    let report: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", args.file.display()))?;
    let service = service(open(&args.data).await?)?;
    let verdict = service
        .check_in(&args.tenant, &args.id, &report)
        .await
        .map_err(failed)?;
    println!("{}", serde_json::to_string_pretty(&verdict)?);
    Ok(())
}

/// Fills the default tenant with the demo (once) and says how to look at it.
pub async fn demo(prepared: &complyd::Prepared, data: &Path) -> anyhow::Result<()> {
    let tenant = complyd::auth::DEFAULT_TENANT;
    let demo = prepared.service().demo(tenant).await.map_err(failed)?;
    let verdicts: Vec<String> = demo
        .verdicts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| format!("{n} {v}"))
        .collect();
    println!(
        "demo tenant {tenant}: {} managed devices ({}), {} policies",
        demo.devices,
        verdicts.join(", "),
        demo.policies
    );
    println!(
        "get a token: complyd token --data {} --scopes DeviceManagementConfiguration.ReadWrite.All,DeviceManagementManagedDevices.ReadWrite.All,Directory.ReadWrite.All",
        data.display()
    );
    Ok(())
}
