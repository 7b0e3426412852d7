//! The console's pages, one module each. A page reads what it shows through the API with the
//! user's token and marks the parts that change with `data-live` (and an id), which the
//! script swaps when the tenant changes. Write buttons show only when the token carries the
//! permission the API asks for; the API checks it all the same.

pub mod audit;
mod by_name;
pub mod device;
pub mod devices;
pub mod groups;
pub mod outbox;
pub mod overview;
pub mod policies;
pub mod policy;
pub mod policy_form;
pub mod simulation;
mod trend;
pub mod user;
pub mod users;

/// Who may write policies and their assignments.
pub const POLICY_WRITERS: [&str; 1] = ["DeviceManagementConfiguration.ReadWrite.All"];
/// Who may check a device in.
pub const DEVICE_WRITERS: [&str; 1] = ["DeviceManagementManagedDevices.ReadWrite.All"];
/// Who may move the clock.
pub const CLOCK_WRITERS: [&str; 2] = [
    "DeviceManagementConfiguration.ReadWrite.All",
    "DeviceManagementManagedDevices.ReadWrite.All",
];
/// Rows a list page shows.
pub const PAGE_ROWS: usize = 50;

/// The platform a policy's `@odata.type` is for, in a person's words.
pub fn platform(odata_type: &str) -> String {
    let short = odata_type
        .trim_start_matches('#')
        .trim_start_matches("microsoft.graph.");
    match short {
        "windows10CompliancePolicy" => "Windows 10 and later".into(),
        "iosCompliancePolicy" => "iOS/iPadOS".into(),
        "macOSCompliancePolicy" => "macOS".into(),
        "androidWorkProfileCompliancePolicy" => "Android work profile".into(),
        "androidCompliancePolicy" => "Android device administrator".into(),
        "androidDeviceOwnerCompliancePolicy" => "Android Enterprise (fully managed)".into(),
        "aospDeviceOwnerCompliancePolicy" => "Android (AOSP)".into(),
        "windows81CompliancePolicy" => "Windows 8.1".into(),
        "windowsPhone81CompliancePolicy" => "Windows Phone 8.1".into(),
        other => other
            .strip_suffix("CompliancePolicy")
            .unwrap_or(other)
            .to_string(),
    }
}

/// What a page says after a write it was sent back to (`?done=…`): fixed words only.
pub fn done(params: &std::collections::HashMap<String, String>) -> String {
    let words = match params.get("done").map(String::as_str) {
        Some("created") => "The policy was created.",
        Some("saved") => "The policy was saved.",
        Some("assigned") => "The assignment was added.",
        Some("checkedin") => "The device checked in and was evaluated.",
        _ => return String::new(),
    };
    format!("<p class=\"done\" role=\"status\">{words}</p>")
}

/// A filter value fit to go inside an OData string literal ('' for ').
pub fn literal(value: &str) -> String {
    value.replace('\'', "''")
}

/// A date-time as the API gives it, shortened to the minute (`2031-03-01 09:00`).
pub fn when(value: &serde_json::Value) -> String {
    match value.as_str().filter(|t| !t.starts_with("0001-01-01")) {
        Some(text) => text
            .get(..16)
            .map_or_else(|| text.to_string(), |t| t.replacen('T', " ", 1)),
        None => "—".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_dates_and_literals_read_as_people_expect() {
        assert_eq!(
            platform("#microsoft.graph.iosCompliancePolicy"),
            "iOS/iPadOS"
        );
        assert_eq!(platform("#microsoft.graph.fooCompliancePolicy"), "foo");
        assert_eq!(
            when(&serde_json::json!("2031-03-01T09:00:00Z")),
            "2031-03-01 09:00"
        );
        assert_eq!(when(&serde_json::json!("0001-01-01T00:00:00Z")), "—");
        assert_eq!(literal("o'brien"), "o''brien");
    }
}
