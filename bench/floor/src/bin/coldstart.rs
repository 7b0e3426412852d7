//! Cold start: the time from exec of `complyd serve` to the first 200 on a GET, polled every
//! millisecond, over several runs. Prints each run and a JSON summary line.

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use floor::{authority, Conn};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "coldstart",
    about = "Times complyd from exec to its first 200."
)]
struct Args {
    /// The complyd binary.
    #[arg(long)]
    complyd: PathBuf,
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    jwt_secret: String,
    #[arg(long)]
    token: String,
    /// The path polled, e.g. a device status by id.
    #[arg(long)]
    path: String,
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Give up on one run after this long.
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
}

fn stop(mut child: Child) -> anyhow::Result<()> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill()?;
    child.wait()?;
    Ok(())
}

fn one_run(args: &Args) -> anyhow::Result<f64> {
    let timeout = Duration::from_millis(args.timeout_ms);
    let started = Instant::now();
    let mut child = Command::new(&args.complyd)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&args.data)
        .args(["--jwt-secret", &args.jwt_secret])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("exec {}", args.complyd.display()))?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let read = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(read.map(|_| line));
    });
    let result = (|| -> anyhow::Result<f64> {
        let line = rx
            .recv_timeout(timeout)
            .map_err(|_| anyhow!("no `listening on` line within {timeout:?}"))??;
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| anyhow!("unexpected first line {line:?}"))?;
        let addr = authority(url)?;
        let mut last = String::new();
        while started.elapsed() < timeout {
            match Conn::connect(&addr, &args.token).and_then(|mut c| c.get(&args.path)) {
                Ok(res) if res.status == 200 => return Ok(started.elapsed().as_secs_f64() * 1000.0),
                Ok(res) => last = format!("status {}", res.status),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        bail!("no 200 within {timeout:?} (last: {last})")
    })();
    stop(child)?;
    result
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut runs = Vec::with_capacity(args.runs);
    for n in 0..args.runs.max(1) {
        let ms = one_run(&args)?;
        eprintln!("coldstart: run {} {ms:.1} ms", n + 1);
        runs.push(ms);
    }
    let mut sorted = runs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    println!(
        "{}",
        serde_json::json!({ "runs_ms": runs, "median_ms": median })
    );
    Ok(())
}
