//! The tenant's device verdicts now, how many devices no policy covers, and how the verdicts moved
//! over the tenant's clock (`GET /complyd/v1/verdicts`, the console's overview).
//!
//! The trend is a list of points kept in one hidden row per tenant: a point is the verdict counts
//! from its instant until the next point (a step). Points are taken when the counts may have
//! moved: after writes (a sampler, about every two seconds, for tenants changed on this instance)
//! and during a clock move (at each hour of the tenant's time in which something fired). A point
//! whose counts equal the last one's is not kept; within one hour of tenant time the last point
//! takes the newest counts. At most [`MAX_POINTS`] are kept, the oldest dropped first.

use super::{parse_body, Service};
use crate::error::ApiError;
use crate::store::{CountBy, Key, WriteTx};
use serde_json::{json, Map, Value};

const TREND: &str = "_trend";
const TREND_TYPE: &str = "complyd.verdictTrend";
/// Points kept per tenant (a month of hourly points and more).
pub const MAX_POINTS: usize = 1_000;
/// One point per hour of tenant time at most.
pub const BUCKET_MS: i64 = 3_600_000;
/// Every value of `managedDevice.complianceState`, in the order answers list them.
pub const STATES: [&str; 7] = [
    "compliant",
    "inGracePeriod",
    "noncompliant",
    "unknown",
    "error",
    "conflict",
    "configManager",
];

fn key(tenant: &str) -> Key {
    Key {
        tenant: tenant.to_string(),
        collection: TREND.to_string(),
        parent: String::new(),
        id: "points".to_string(),
    }
}

/// The counts of each verdict (every state, zero when none).
pub type Counts = Vec<u64>;

/// A point of the trend: Unix milliseconds of tenant time, and the counts in [`STATES`]' order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    pub at: i64,
    pub counts: Counts,
}

fn read_points(row: Option<crate::store::Row>) -> Result<Vec<Point>, ApiError> {
    let Some(row) = row else {
        return Ok(Vec::new());
    };
    let body = parse_body(&row.body)?;
    let points = body
        .get("points")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    Ok(points
        .iter()
        .filter_map(|p| {
            let p = p.as_array()?;
            let at = p.first()?.as_i64()?;
            let counts = p[1..].iter().map(|n| n.as_u64().unwrap_or(0)).collect();
            Some(Point { at, counts })
        })
        .collect())
}

/// `points` with `next` added as the rules above say; `None` when nothing would change.
pub fn add(mut points: Vec<Point>, next: Point) -> Option<Vec<Point>> {
    match points.last_mut() {
        Some(last) if last.counts == next.counts => return None,
        // A tenant without devices (or reset) starts no trend.
        None if next.counts.iter().all(|n| *n == 0) => return None,
        // Same hour (or a sampler behind a move): the hour's newest counts.
        Some(last) if next.at.div_euclid(BUCKET_MS) <= last.at.div_euclid(BUCKET_MS) => {
            last.counts = next.counts;
        }
        _ => points.push(next),
    }
    if points.len() > MAX_POINTS {
        let extra = points.len() - MAX_POINTS;
        points.drain(..extra);
    }
    Some(points)
}

fn write_points(tx: &mut dyn WriteTx, tenant: &str, points: &[Point]) -> Result<(), ApiError> {
    let rows: Vec<Value> = points
        .iter()
        .map(|p| {
            let mut row = vec![json!(p.at)];
            row.extend(p.counts.iter().map(|n| json!(n)));
            Value::Array(row)
        })
        .collect();
    let text = json!({ "points": rows }).to_string();
    let key = key(tenant);
    if !tx.update(&key, &text)? {
        tx.insert(&key, TREND_TYPE, &text)?;
    }
    Ok(())
}

fn counts_json(counts: &[u64]) -> Map<String, Value> {
    STATES
        .iter()
        .zip(counts.iter().chain(std::iter::repeat(&0)))
        .map(|(state, n)| (state.to_string(), json!(n)))
        .collect()
}

impl Service {
    /// The tenant's managed devices by verdict, as the database counts them.
    async fn verdict_counts(&self, tenant: &str) -> Result<Counts, ApiError> {
        let groups = self
            .store
            .count_by(CountBy {
                tenant,
                collection: super::engine::DEVICES,
                parent: Some(""),
                property: "complianceState",
            })
            .await?;
        Ok(STATES
            .iter()
            .map(|state| {
                groups
                    .iter()
                    .filter(|(value, _)| value == state)
                    .map(|(_, n)| n)
                    .sum()
            })
            .collect())
    }

    /// Takes a point of the tenant's trend at `at` (Unix ms of its time; its clock's now when
    /// `None`), if the counts moved since the last one.
    pub async fn sample_verdicts(&self, tenant: &str, at: Option<i64>) -> Result<(), ApiError> {
        let counts = self.verdict_counts(tenant).await?;
        let at = match at {
            Some(at) => at,
            None => self.tenant_now_ms(tenant).await?,
        };
        let tenant = tenant.to_string();
        self.store
            .write(move |tx| {
                // Two instances sampling one tenant take turns (the row is read, then written).
                tx.hold(&format!("verdict-trend {tenant}"))?;
                let points = read_points(tx.get(&key(&tenant))?)?;
                match add(points, Point { at, counts }) {
                    Some(points) => write_points(tx, &tenant, &points),
                    None => Ok(()),
                }
            })
            .await
    }

    /// `GET /complyd/v1/verdicts`: the verdicts now, the devices no policy covers, the trend.
    pub async fn verdicts(&self, tenant: &str) -> Result<Value, ApiError> {
        let counts = self.verdict_counts(tenant).await?;
        let uncovered = super::engine::uncovered(self.store.as_ref(), tenant).await?;
        let now = self.tenant_now_ms(tenant).await?;
        let points = read_points(self.store.get(&key(tenant)).await?)?;
        let trend: Vec<Value> = points
            .iter()
            .map(|p| {
                let mut point = Map::new();
                point.insert("dateTime".into(), json!(super::time::text(p.at)));
                point.extend(counts_json(&p.counts));
                Value::Object(point)
            })
            .collect();
        Ok(json!({
            "now": super::time::text(now),
            "deviceCount": counts.iter().sum::<u64>(),
            "devicesWithoutPolicy": uncovered,
            "current": counts_json(&counts),
            "trend": trend,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at: i64, counts: &[u64]) -> Point {
        Point {
            at,
            counts: counts.to_vec(),
        }
    }

    #[test]
    fn a_point_is_kept_only_when_the_counts_move_and_once_an_hour() {
        assert_eq!(add(Vec::new(), point(0, &[0, 0])), None);
        let first = add(Vec::new(), point(0, &[1, 0])).unwrap_or_default();
        assert_eq!(first, [point(0, &[1, 0])]);
        assert_eq!(add(first.clone(), point(10, &[1, 0])), None);
        // Same hour: the newest counts, at the hour's first instant.
        let same_hour = add(first.clone(), point(BUCKET_MS - 1, &[0, 1])).unwrap_or_default();
        assert_eq!(same_hour, [point(0, &[0, 1])]);
        let next_hour = add(first, point(BUCKET_MS, &[0, 1])).unwrap_or_default();
        assert_eq!(next_hour, [point(0, &[1, 0]), point(BUCKET_MS, &[0, 1])]);
    }

    #[test]
    fn the_oldest_points_go_first() {
        let mut points = Vec::new();
        for hour in 0..(MAX_POINTS as i64 + 5) {
            points = add(points, point(hour * BUCKET_MS, &[hour as u64])).unwrap_or_default();
        }
        assert_eq!(points.len(), MAX_POINTS);
        assert_eq!(points[0].at, 5 * BUCKET_MS);
    }
}
