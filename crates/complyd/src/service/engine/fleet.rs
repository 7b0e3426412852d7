//! A fleet in one call (`POST /complyd/v1/fleet`, `complyd fleet generate`): users, their
//! directory and managed devices with a realistic mix of platforms, OS versions and reported
//! settings, and a few groups (some dynamic). Everything but the times is decided by the seed: the
//! same seed gives the same ids, names and facts; enrolment and last check-in times are set
//! relative to now so that no device starts past the check-in threshold.

use super::results::{self, utc};
use crate::error::ApiError;
use crate::service::{canonical, Operation, Reply, Service};
use crate::store::{Key, WriteTx};
use odata::Model;
use serde_json::{json, Map, Value};

/// The most users or devices one fleet request over HTTP makes (the CLI allows more).
pub const MAX_FLEET_HTTP: usize = 20_000;
/// The most the CLI makes.
pub const MAX_FLEET: usize = 1_000_000;
/// Rows written per transaction: few commits (each waits for the disk), each short enough that
/// a server's clients on the same store wait about a second at most.
const BATCH: usize = 10_000;
/// Devices' rows per transaction: a device's first evaluation writes about four rows more than its
/// two (the same `BATCH` of rows written in all).
const DEVICE_ROWS_BATCH: usize = BATCH / 3;

/// What to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetSpec {
    pub users: usize,
    pub devices: usize,
    pub seed: u64,
}

/// SplitMix64: small, fast, and the same on every machine. `ids` is where the next GUID's
/// ordered part starts (see `guid`).
struct Dice {
    state: u64,
    ids: u64,
}

impl Dice {
    fn new(seed: u64) -> Self {
        let mut ids = Dice {
            state: !seed,
            ids: 0,
        };
        // 48 bits: 20 from the seed, 28 that start at zero and count the GUIDs made.
        let start = (ids.next() >> 16) & !((1 << 28) - 1);
        Dice {
            state: seed,
            ids: start,
        }
    }
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// 0..n
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    /// A GUID from the dice, shaped as a random (version 4) one, whose first 48 bits count up
    /// from where the seed put them. A fleet's ids are then in the order its rows are written,
    /// as complyd's own time-ordered ids are, and each row lands at the end of the key indexes
    /// instead of on a random page of them.
    fn guid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        let a = ((self.ids & 0xFFFF_FFFF_FFFF) << 16) | (a & 0xFFFF);
        self.ids += 1;
        let bytes: u128 = (u128::from(a) << 64) | u128::from(b);
        let bytes = (bytes & !(0xF000_u128 << 64)) | (0x4000_u128 << 64);
        let bytes = (bytes & !(0xC000_u128 << 48)) | (0x8000_u128 << 48);
        let hex = format!("{bytes:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }
}

const FIRST: &[&str] = &[
    "Ada", "Ben", "Chloe", "Dev", "Elif", "Farah", "Gus", "Hana", "Ivo", "Jun", "Kofi", "Lena",
    "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Viktor", "Wen",
    "Yusuf", "Zoe",
];
const LAST: &[&str] = &[
    "Adeyemi",
    "Berg",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Hoang",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rossi",
    "Singh",
    "Tanaka",
    "Usman",
    "Varga",
    "Weber",
    "Yilmaz",
    "Zhang",
];
const DEPARTMENTS: &[&str] = &[
    "Sales",
    "Engineering",
    "Finance",
    "Support",
    "Marketing",
    "Legal",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("Seattle", "United States", "US"),
    ("London", "United Kingdom", "GB"),
    ("Berlin", "Germany", "DE"),
    ("Paris", "France", "FR"),
    ("Tokyo", "Japan", "JP"),
    ("São Paulo", "Brazil", "BR"),
];

/// A platform of the mix: its share (percent), how it reports itself, its OS versions (old to
/// new) and models.
struct Platform {
    share: u64,
    operating_system: &'static str,
    versions: &'static [&'static str],
    models: &'static [(&'static str, &'static str)],
    enrollment: &'static str,
    device_type: Option<&'static str>,
}

const PLATFORMS: &[Platform] = &[
    Platform {
        share: 55,
        operating_system: "Windows",
        versions: &[
            "10.0.19044.3086",
            "10.0.19045.4170",
            "10.0.22621.3155",
            "10.0.22631.4037",
            "10.0.26100.2033",
        ],
        models: &[
            ("Microsoft", "Surface Laptop 5"),
            ("Lenovo", "ThinkPad T14 Gen 4"),
            ("Dell", "Latitude 7440"),
            ("HP", "EliteBook 840 G10"),
        ],
        enrollment: "windowsAzureADJoin",
        device_type: None,
    },
    Platform {
        share: 20,
        operating_system: "iOS",
        versions: &["16.7.8", "17.4.1", "17.6.1", "18.0.1", "18.1"],
        models: &[
            ("Apple", "iPhone 14"),
            ("Apple", "iPhone 15 Pro"),
            ("Apple", "iPhone 16"),
        ],
        enrollment: "appleBulkWithUser",
        device_type: None,
    },
    Platform {
        share: 15,
        operating_system: "Android",
        versions: &["12", "13", "14", "15"],
        models: &[
            ("Samsung", "Galaxy S23"),
            ("Google", "Pixel 8"),
            ("Samsung", "Galaxy A54"),
        ],
        enrollment: "userEnrollment",
        device_type: Some("androidForWork"),
    },
    Platform {
        share: 10,
        operating_system: "macOS",
        versions: &["13.6.7", "14.5", "14.6.1", "15.0.1"],
        models: &[("Apple", "MacBook Air (M2)"), ("Apple", "MacBook Pro (M3)")],
        enrollment: "appleBulkWithUser",
        device_type: None,
    },
];

fn platform_for(dice: &mut Dice) -> &'static Platform {
    let mut roll = dice.below(100);
    for p in PLATFORMS {
        if roll < p.share {
            return p;
        }
        roll -= p.share;
    }
    &PLATFORMS[0]
}

/// The groups every fleet has: (name, dynamic rule).
const GROUPS: &[(&str, Option<&str>)] = &[
    (
        "All Windows devices",
        Some("(device.deviceOSType -eq \"Windows\")"),
    ),
    (
        "All Apple mobile devices",
        Some("(device.deviceOSType -eq \"iOS\")"),
    ),
    ("Sales", Some("(user.department -eq \"Sales\")")),
    ("Engineering", Some("(user.department -eq \"Engineering\")")),
    ("Compliance pilots", None),
];

/// What a fleet made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSummary {
    pub users: usize,
    pub devices: usize,
    pub groups: Vec<(String, String)>,
    pub evaluated: usize,
}

impl FleetSummary {
    pub fn to_json(&self) -> Value {
        json!({
            "users": self.users,
            "devices": self.devices,
            "groups": self.groups.iter().map(|(id, name)| json!({"id": id, "displayName": name})).collect::<Vec<_>>(),
            "evaluated": self.evaluated,
        })
    }
}

/// One row to store, its body already JSON text (made by the generator, not the writer); a
/// managed device's instead as the body and hidden record its first evaluation takes.
struct Row {
    key: Key,
    type_name: &'static str,
    text: String,
    first_report: Option<FirstReport>,
}

struct FirstReport {
    device: Map<String, Value>,
    record: Map<String, Value>,
}

impl Row {
    fn new(key: Key, type_name: &'static str, body: Map<String, Value>) -> Self {
        Self {
            key,
            type_name,
            text: Value::Object(body).to_string(),
            first_report: None,
        }
    }
}

/// What the fleet's writes did with its managed devices.
#[derive(Default)]
struct Written {
    /// Evaluated in the write that added them.
    evaluated: usize,
    /// Stored as they are, for a round to evaluate (the tenant had a policy, or the device was
    /// there before).
    left: usize,
}

fn shaped(model: &'static Model, type_name: &str, body: Value) -> Map<String, Value> {
    let body = body.as_object().cloned().unwrap_or_default();
    match model.structured(type_name) {
        Some(ty) => canonical(model, ty, &body),
        None => body,
    }
}

/// Everything the rows depend on: the generator runs on a thread of its own, one batch ahead of
/// the writer.
struct Plan {
    model: &'static Model,
    tenant: String,
    spec: FleetSpec,
    /// The "Compliance pilots" group and the collection of its member links.
    pilots: Option<(String, String)>,
    now: i64,
}

impl Plan {
    /// Every row, in order, handed over `BATCH` at a time; stops when `send` answers false.
    fn generate(&self, mut send: impl FnMut(Vec<Row>) -> bool) {
        let tenant = self.tenant.as_str();
        let mut dice = Dice::new(self.spec.seed ^ 0xC0FF_EE00_D15E_A5E5);
        let mut users = Vec::with_capacity(self.spec.users);
        let mut rows = Vec::with_capacity(BATCH);
        for n in 0..self.spec.users {
            let (id, body) = fleet_user(self.model, &mut dice, n);
            if let Some((pilots, links)) = &self.pilots {
                if n % 20 == 0 {
                    rows.push(Row::new(
                        Key::new(tenant, links, pilots, &id),
                        "",
                        Map::new(),
                    ));
                }
            }
            users.push((
                id.clone(),
                body["userPrincipalName"].clone(),
                body["displayName"].clone(),
            ));
            let key = Key::new(tenant, super::tenant::DIRECTORY, "", &id);
            rows.push(Row::new(key, "microsoft.graph.user", body));
            if rows.len() >= BATCH && !send(std::mem::take(&mut rows)) {
                return;
            }
        }
        for n in 0..self.spec.devices {
            let user = (!users.is_empty() && !dice.chance(3))
                .then(|| &users[dice.below(users.len() as u64) as usize]);
            rows.extend(fleet_device(
                self.model, tenant, &mut dice, n, user, self.now,
            ));
            if rows.len() >= DEVICE_ROWS_BATCH && !send(std::mem::take(&mut rows)) {
                return;
            }
        }
        if !rows.is_empty() {
            send(rows);
        }
    }
}

impl Service {
    /// Makes a fleet in `tenant` and evaluates it; answers what it made.
    pub async fn generate_fleet(
        &self,
        tenant: &str,
        spec: FleetSpec,
    ) -> Result<FleetSummary, ApiError> {
        if spec.users > MAX_FLEET || spec.devices > MAX_FLEET {
            return Err(ApiError::bad_request(format!(
                "A fleet has at most {MAX_FLEET} users and {MAX_FLEET} devices (the limit)."
            )));
        }
        let groups = self.fleet_groups(tenant).await?;
        let pilots = groups
            .iter()
            .find(|(_, name)| name == "Compliance pilots")
            .map(|(id, _)| id.clone());
        let plan = Plan {
            model: self.model,
            tenant: tenant.to_string(),
            spec,
            pilots: pilots.zip(self.model.link_collection("members")),
            now: self.tenant_now_ms(tenant).await? / 1000,
        };
        // The next batch is made while the writer stores this one. A failed write drops the
        // receiver, which stops the generator.
        let (sender, mut batches) = tokio::sync::mpsc::channel::<Vec<Row>>(1);
        let generator = tokio::task::spawn_blocking(move || {
            plan.generate(|batch| sender.blocking_send(batch).is_ok());
        });
        let mut written = Written::default();
        while let Some(batch) = batches.recv().await {
            let batch = self.insert_fleet_rows(tenant, batch).await?;
            written.evaluated += batch.evaluated;
            written.left += batch.left;
        }
        generator
            .await
            .map_err(|e| ApiError::Internal(format!("the fleet's generator failed: {e}")))?;
        self.recompute_memberships(tenant).await?;
        if written.left > 0 {
            let tenant_owned = tenant.to_string();
            self.store
                .write(move |tx| super::mark(tx, &tenant_owned).map_err(ApiError::from))
                .await?;
        }
        let evaluated = written.evaluated + self.settle(tenant).await?;
        Ok(FleetSummary {
            users: spec.users,
            devices: spec.devices,
            groups,
            evaluated,
        })
    }

    /// Stores one batch. While the tenant has no policy, no group decides anything about a device
    /// yet, so each new managed device is evaluated here, in the write that adds it, and is
    /// stored once, with its verdict. Otherwise (its groups are not all known until the fleet's
    /// dynamic groups are recomputed) it is stored as generated and a round evaluates it.
    async fn insert_fleet_rows(&self, tenant: &str, rows: Vec<Row>) -> Result<Written, ApiError> {
        let (engine, tenant) = (std::sync::Arc::clone(&self.engine), tenant.to_string());
        self.store
            .write(move |tx: &mut dyn WriteTx| {
                super::Engine::hold_tenant(tx, &tenant)?;
                let view = engine.view(tx, &tenant)?;
                let now = crate::service::time::now_ms(tx, &tenant)? / 1000;
                let tally = super::SharedTally::default();
                let mut written = Written::default();
                for row in rows {
                    // A fleet's rows are mostly new: the key index answers that without the
                    // body being handed to an UPDATE first.
                    let new = !tx.exists(&row.key)?;
                    match row.first_report {
                        Some(first) if new && view.policies.is_empty() => {
                            let input = super::DeviceInput::new_device(
                                row.type_name,
                                first.device,
                                first.record,
                            );
                            // As a new device is evaluated: `reported`.
                            engine.evaluate_with(
                                tx,
                                &view,
                                &tenant,
                                &row.key.id,
                                now,
                                true,
                                input,
                                &tally,
                            )?;
                            written.evaluated += 1;
                        }
                        Some(first) => {
                            let text = json_text(&first.device)?;
                            store_text(tx, &row.key, row.type_name, &text, new)?;
                            let key = super::evaluation_key(&tenant, &row.key.id);
                            let record = json_text(&first.record)?;
                            let new = !tx.exists(&key)?;
                            store_text(tx, &key, "", &record, new)?;
                            written.left += 1;
                        }
                        None => store_text(tx, &row.key, row.type_name, &row.text, new)?,
                    }
                }
                tally.into_inner().flush(tx, engine.model, &tenant)?;
                Ok::<_, ApiError>(written)
            })
            .await
    }

    /// The fleet's groups, made as a client makes them (so dynamic rules are indexed), or found
    /// when a fleet was made before.
    async fn fleet_groups(&self, tenant: &str) -> Result<Vec<(String, String)>, ApiError> {
        let mut out = Vec::new();
        for (name, rule) in GROUPS {
            let nickname: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            let filter = format!("mailNickname eq '{nickname}'");
            let found = self
                .run_as_client(
                    tenant,
                    Operation::Get,
                    &format!("groups?$filter={filter}"),
                    None,
                )
                .await?;
            if let Reply::Collection { items, .. } = &found {
                let first = items.first().map(|g| g.to_value());
                if let Some(id) = first
                    .as_ref()
                    .and_then(|g| g.get("id"))
                    .and_then(Value::as_str)
                {
                    let id = id.to_string();
                    out.push((id, name.to_string()));
                    continue;
                }
            }
            let mut body = json!({"displayName": name, "mailEnabled": false,
                "mailNickname": nickname, "securityEnabled": true});
            if let Some(rule) = rule {
                body["groupTypes"] = json!(["DynamicMembership"]);
                body["membershipRule"] = json!(rule);
                body["membershipRuleProcessingState"] = json!("On");
            }
            let made = self
                .run_as_client(tenant, Operation::Post, "groups", Some(body))
                .await?;
            if let Reply::Entity { body, .. } = made {
                let id = body
                    .to_value()
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| ApiError::Internal("a group without an id".into()))?;
                out.push((id, name.to_string()));
            }
        }
        Ok(out)
    }
}

fn json_text(body: &Map<String, Value>) -> Result<String, ApiError> {
    serde_json::to_string(body).map_err(|e| ApiError::Internal(format!("a fleet row: {e}")))
}

fn store_text(
    tx: &mut dyn WriteTx,
    key: &Key,
    type_name: &str,
    text: &str,
    new: bool,
) -> Result<(), ApiError> {
    if new {
        tx.insert(key, type_name, text)?;
    } else {
        tx.update(key, text)?;
    }
    Ok(())
}

fn fleet_user(model: &'static Model, dice: &mut Dice, n: usize) -> (String, Map<String, Value>) {
    let id = dice.guid();
    let (first, last) = (dice.pick(FIRST), dice.pick(LAST));
    let (city, country, usage) = CITIES[dice.below(CITIES.len() as u64) as usize];
    let nickname = format!(
        "{}.{}{}",
        first.to_lowercase(),
        ascii(last).to_lowercase(),
        n + 1
    );
    let upn = format!("{nickname}@contoso.example");
    let body = shaped(
        model,
        "microsoft.graph.user",
        json!({
            "accountEnabled": true,
            "displayName": format!("{first} {last}"),
            "givenName": first,
            "surname": last,
            "mailNickname": nickname,
            "mail": upn,
            "userPrincipalName": upn,
            "department": dice.pick(DEPARTMENTS),
            "jobTitle": dice.pick(&["Analyst", "Engineer", "Manager", "Consultant", "Director"]),
            "city": city,
            "country": country,
            "usageLocation": usage,
            "preferredLanguage": dice.pick(&["en-US", "en-GB", "de-DE", "fr-FR", "ja-JP", "pt-BR"]),
            "userType": "Member",
        }),
    );
    (id, body)
}

fn ascii(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'á' | 'ã' => 'a',
            'é' => 'e',
            'í' => 'i',
            'ó' => 'o',
            'ú' => 'u',
            other => other,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// A managed device, its directory device, and what it reported (the engine's hidden record).
fn fleet_device(
    model: &'static Model,
    tenant: &str,
    dice: &mut Dice,
    n: usize,
    user: Option<&(String, Value, Value)>,
    now: i64,
) -> [Row; 2] {
    let platform = platform_for(dice);
    let id = dice.guid();
    let aad = dice.guid();
    let object = dice.guid();
    // Newer versions are more common.
    let versions = platform.versions;
    let index = (dice.below(versions.len() as u64) + dice.below(versions.len() as u64))
        .min(2 * versions.len() as u64 - 2)
        / 2;
    let version = versions[(versions.len() - 1).saturating_sub(index as usize)];
    let (manufacturer, model_name) =
        platform.models[dice.below(platform.models.len() as u64) as usize];
    let prefix = match platform.operating_system {
        "Windows" => "LAPTOP",
        "macOS" => "MAC",
        "iOS" => "IPHONE",
        _ => "ANDROID",
    };
    let name = format!("{prefix}-{:06}", n + 1);
    let enrolled = now - 86_400 * (30 + dice.below(700) as i64);
    let synced = now - 60 * dice.below(48 * 60) as i64;
    let encrypted = dice.chance(88);
    let mut device = json!({
        "deviceName": name,
        "managedDeviceName": name,
        "operatingSystem": platform.operating_system,
        "osVersion": version,
        "manufacturer": manufacturer,
        "model": model_name,
        "serialNumber": format!("SN{:010}", dice.below(10_000_000_000)),
        "azureADDeviceId": aad,
        "azureADRegistered": true,
        "isEncrypted": encrypted,
        "jailBroken": if dice.chance(1) { "True" } else { "False" },
        "managedDeviceOwnerType": if dice.chance(80) { "company" } else { "personal" },
        "managementAgent": "mdm",
        "managementState": "managed",
        "deviceEnrollmentType": platform.enrollment,
        "deviceRegistrationState": "registered",
        "enrolledDateTime": utc(enrolled),
        "lastSyncDateTime": utc(synced),
        "complianceState": "unknown",
        "complianceGracePeriodExpirationDateTime": results::NO_GRACE,
        "totalStorageSpaceInBytes": 256_000_000_000_i64,
        "freeStorageSpaceInBytes": 64_000_000_000_i64 + (dice.below(128) as i64) * 1_000_000_000,
        "deviceType": platform.device_type.unwrap_or(match platform.operating_system {
            "Windows" => "windowsRT",
            "iOS" => "iPhone",
            "macOS" => "macMDM",
            _ => "android",
        }),
    });
    if platform.operating_system == "Windows" {
        let on = |dice: &mut Dice, p| {
            if dice.chance(p) {
                "enabled"
            } else {
                "disabled"
            }
        };
        device["deviceHealthAttestationState"] = json!({
            "bitLockerStatus": on(dice, 85),
            "secureBoot": on(dice, 95),
            "codeIntegrity": on(dice, 95),
            "earlyLaunchAntiMalwareDriverProtection": on(dice, 95),
            "deviceHealthAttestationStatus": if dice.chance(92) { "healthy" } else { "unhealthy" },
        });
    }
    if let Some((user_id, upn, display)) = user {
        device["userId"] = json!(user_id);
        device["userPrincipalName"] = upn.clone();
        device["emailAddress"] = upn.clone();
        device["userDisplayName"] = display.clone();
    }
    let password_set = dice.chance(93);
    let lock_minutes = [1, 5, 5, 10, 15, 0][dice.below(6) as usize];
    let expiry_days = [0, 90, 90, 180][dice.below(4) as usize];
    let facts = json!({
        "passwordSet": password_set,
        "passwordLength": if password_set { 4 + dice.below(12) as i64 } else { 0 },
        "passwordType": dice.pick(&["numeric", "alphanumeric", "alphanumeric"]),
        "passwordIsSimple": dice.chance(10),
        "passwordMinutesOfInactivityBeforeLock": lock_minutes,
        "passwordExpirationDays": expiry_days,
        "firewallEnabled": dice.chance(95),
        "defenderEnabled": dice.chance(96),
        "realTimeProtectionEnabled": dice.chance(95),
        "antivirusEnabled": dice.chance(96),
        "antiSpywareEnabled": dice.chance(96),
        "signatureOutOfDate": dice.chance(7),
        "tpmPresent": dice.chance(97),
        "threatProtectionConnected": dice.chance(60),
        "threatLevel": dice.pick(&["secured", "secured", "secured", "low", "medium", "high"]),
        "systemIntegrityProtectionEnabled": dice.chance(97),
        "safetyNetBasicIntegrity": dice.chance(97),
        "safetyNetCertifiedDevice": dice.chance(95),
        "unknownSourcesAllowed": dice.chance(5),
        "usbDebuggingEnabled": dice.chance(3),
        "safetyNetEvaluationType": if dice.chance(70) { "hardwareBacked" } else { "basic" },
    });
    let directory = shaped(
        model,
        "microsoft.graph.device",
        json!({
            "accountEnabled": true,
            "alternativeSecurityIds": [],
            "deviceId": aad,
            "displayName": name,
            "operatingSystem": platform.operating_system,
            "operatingSystemVersion": version,
            "manufacturer": manufacturer,
            "model": model_name,
            "isManaged": true,
            "trustType": if platform.operating_system == "Windows" { "AzureAd" } else { "Workplace" },
        }),
    );
    let mut record = Map::new();
    record.insert("facts".into(), facts);
    let managed = Row {
        key: Key::new(tenant, results::DEVICES, "", &id),
        type_name: "microsoft.graph.managedDevice",
        text: String::new(),
        first_report: Some(FirstReport {
            device: shaped(model, "microsoft.graph.managedDevice", device),
            record,
        }),
    };
    [
        Row::new(
            Key::new(tenant, super::tenant::DIRECTORY, "", &object),
            "microsoft.graph.device",
            directory,
        ),
        managed,
    ]
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::Dice;

    #[test]
    fn a_fleets_guids_are_well_formed_and_ascend_in_the_order_they_are_made() {
        let mut dice = Dice::new(7);
        let ids: Vec<String> = (0..1000).map(|_| dice.guid()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "not ascending");
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).expect("a GUID");
            assert_eq!(parsed.get_version_num(), 4, "{id}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
        let again: Vec<String> = {
            let mut dice = Dice::new(7);
            (0..1000).map(|_| dice.guid()).collect()
        };
        assert_eq!(ids, again, "the same seed makes the same ids");
        let other = Dice::new(8).guid();
        assert!(!ids.contains(&other), "another seed starts elsewhere");
    }
}
