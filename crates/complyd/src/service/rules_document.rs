//! `validateComplianceScript`: a custom compliance rules document (the JSON a compliance policy
//! pairs with its discovery script, base64 in `rulesContent`) checked as Intune documents it:
//! a `Rules` array of at most 100 rules, each with `SettingName`, `Operator`, `DataType`,
//! `Operand`, `MoreInfoUrl` and `RemediationStrings` (`Language`, `Title`, `Description`; one
//! for `en_US` at least), the document at most 100 KB. The answer lists the rules that parsed
//! and every error, with Intune's error codes.

use super::invoke::Invocation;
use super::{Reply, Service};
use crate::error::ApiError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use odata::validate::Argument;
use serde_json::{json, Map, Value};

/// Intune's limits on a rules document.
pub const MAX_DOCUMENT_BYTES: usize = 100 * 1024;
pub const MAX_RULES: usize = 100;
/// complyd's limits on the texts of a rule (Intune answers `…TooLarge` past its own).
const MAX_SETTING_NAME: usize = 256;
const MAX_OPERAND: usize = 1024;
const MAX_URL: usize = 2048;
const MAX_TITLE: usize = 1024;
const MAX_DESCRIPTION: usize = 4096;

const OPERATORS: [&str; 6] = [
    "IsEquals",
    "NotEquals",
    "GreaterThan",
    "GreaterEquals",
    "LessThan",
    "LessEquals",
];
const DATA_TYPES: [&str; 6] = [
    "Boolean", "Int64", "Double", "String", "DateTime", "Version",
];
const LANGUAGES: [&str; 22] = [
    "cs_CZ", "da_DK", "de_DE", "el_GR", "en_US", "es_ES", "fi_FI", "fr_FR", "hu_HU", "it_IT",
    "ja_JP", "ko_KR", "nb_NO", "nl_NL", "pl_PL", "pt_BR", "ro_RO", "ru_RU", "sv_SE", "tr_TR",
    "zh_CN", "zh_TW",
];
const RESULT_TYPE: &str = "microsoft.graph.deviceComplianceScriptValidationResult";

/// An error of the document (`scriptErrors`) or of one rule (`ruleErrors`).
struct Found {
    code: &'static str,
    message: String,
}

fn found(code: &'static str, message: impl Into<String>) -> Found {
    Found {
        code,
        message: message.into(),
    }
}

/// A member of `object` by name, case-insensitively (documents differ in case).
fn member<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// `IsEquals` → `isEquals` (the enum member's spelling).
fn camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Checks a text member: missing, not a string, too long.
fn text<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    limit: usize,
    codes: [&'static str; 3],
    errors: &mut Vec<Found>,
) -> Option<&'a str> {
    match member(object, name) {
        None | Some(Value::Null) => {
            errors.push(found(codes[0], format!("{name} is missing.")));
            None
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            errors.push(found(codes[0], format!("{name} is empty.")));
            None
        }
        Some(Value::String(s)) if s.chars().count() > limit => {
            errors.push(found(
                codes[2],
                format!("{name} is longer than {limit} characters."),
            ));
            None
        }
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            errors.push(found(codes[1], format!("{name} must be a string.")));
            None
        }
    }
}

/// Whether `operand` reads as a value of `data_type`.
fn operand_fits(data_type: &str, operand: &str) -> bool {
    match data_type {
        "Boolean" => operand.eq_ignore_ascii_case("true") || operand.eq_ignore_ascii_case("false"),
        "Int64" => operand.trim().parse::<i64>().is_ok(),
        "Double" => operand.trim().parse::<f64>().is_ok_and(f64::is_finite),
        "DateTime" => odata::value::DateTimeOffset::parse(operand.trim()).is_some(),
        "Version" => {
            let parts: Vec<&str> = operand.trim().split('.').collect();
            (2..=4).contains(&parts.len())
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.parse::<u32>().is_ok())
        }
        _ => true,
    }
}

/// The checks of one rule; its parsed form when it has no error.
fn rule(object: &Map<String, Value>, errors: &mut Vec<Found>) -> Option<Value> {
    let setting = text(
        object,
        "SettingName",
        MAX_SETTING_NAME,
        [
            "settingNameMissing",
            "settingNameInvalid",
            "settingNameTooLarge",
        ],
        errors,
    );
    let operator = match member(object, "Operator") {
        None | Some(Value::Null) => {
            errors.push(found("operatorMissing", "Operator is missing."));
            None
        }
        Some(v) => match v.as_str().filter(|o| OPERATORS.contains(o)) {
            Some(o) => Some(o),
            None => {
                errors.push(found(
                    "operatorNotSupported",
                    format!(
                        "Operator {v} is not supported; use one of {}.",
                        OPERATORS.join(", ")
                    ),
                ));
                None
            }
        },
    };
    let data_type = match member(object, "DataType") {
        None | Some(Value::Null) => {
            errors.push(found("datatypeMissing", "DataType is missing."));
            None
        }
        Some(v) => match v.as_str().filter(|d| DATA_TYPES.contains(d)) {
            Some(d) => Some(d),
            None => {
                errors.push(found(
                    "datatypeNotSupported",
                    format!(
                        "DataType {v} is not supported; use one of {}.",
                        DATA_TYPES.join(", ")
                    ),
                ));
                None
            }
        },
    };
    if let (Some(o), Some(d @ ("Boolean" | "String"))) = (operator, data_type) {
        if o != "IsEquals" && o != "NotEquals" {
            errors.push(found(
                "operatorDataTypeCombinationNotSupported",
                format!("{d} values compare with IsEquals or NotEquals only, not {o}."),
            ));
        }
    }
    let operand = match member(object, "Operand") {
        None | Some(Value::Null) => {
            errors.push(found("operandMissing", "Operand is missing."));
            None
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Some(v.to_string()),
        Some(_) => {
            errors.push(found(
                "operandInvalid",
                "Operand must be a string, a number or a boolean.",
            ));
            None
        }
    };
    let operand = match operand {
        Some(o) if o.chars().count() > MAX_OPERAND => {
            errors.push(found(
                "operandTooLarge",
                format!("Operand is longer than {MAX_OPERAND} characters."),
            ));
            None
        }
        Some(o) if data_type.is_some_and(|d| !operand_fits(d, &o)) => {
            errors.push(found(
                "operandInvalid",
                format!(
                    "Operand '{o}' is not a {} value.",
                    data_type.unwrap_or_default()
                ),
            ));
            None
        }
        other => other,
    };
    if let Some(url) = text(
        object,
        "MoreInfoUrl",
        MAX_URL,
        [
            "moreInfoUriMissing",
            "moreInfoUriInvalid",
            "moreInfoUriTooLarge",
        ],
        errors,
    ) {
        let absolute = url.starts_with("https://") || url.starts_with("http://");
        if !absolute || url.contains(char::is_whitespace) {
            errors.push(found(
                "moreInfoUriInvalid",
                format!("MoreInfoUrl '{url}' is not an absolute http(s) URL."),
            ));
        }
    }
    remediation(member(object, "RemediationStrings"), errors);
    match (setting, operator, data_type, operand) {
        (Some(s), Some(o), Some(d), Some(v)) if errors.is_empty() => Some(json!({
            "@odata.type": "#microsoft.graph.deviceComplianceScriptRule",
            "settingName": s,
            "operator": camel(o),
            "deviceComplianceScriptRulOperator": camel(o),
            "dataType": d.to_ascii_lowercase().replace("datetime", "dateTime"),
            "deviceComplianceScriptRuleDataType": d.to_ascii_lowercase().replace("datetime", "dateTime"),
            "operand": v,
        })),
        _ => None,
    }
}

/// `RemediationStrings`: each with a known `Language` (once), a `Title` and a `Description`;
/// `en_US` among them.
fn remediation(value: Option<&Value>, errors: &mut Vec<Found>) {
    let items = match value {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => {
            errors.push(found(
                "remediationStringsMissing",
                "RemediationStrings is missing or empty.",
            ));
            return;
        }
    };
    let mut languages: Vec<&str> = Vec::new();
    for item in items.iter().take(LANGUAGES.len() + 1) {
        let Some(object) = item.as_object() else {
            errors.push(found(
                "remediationStringsMissing",
                "Each remediation string is an object.",
            ));
            continue;
        };
        match member(object, "Language").and_then(Value::as_str) {
            Some(l) if !LANGUAGES.contains(&l) => {
                errors.push(found(
                    "unrecognizedLocale",
                    format!("Language '{l}' is not one Intune supports."),
                ));
            }
            Some(l) if languages.contains(&l) => {
                errors.push(found(
                    "duplicateLocales",
                    format!("Language '{l}' appears twice."),
                ));
            }
            Some(l) => languages.push(l),
            None => errors.push(found(
                "unrecognizedLocale",
                "A remediation string has no Language.",
            )),
        }
        text(
            object,
            "Title",
            MAX_TITLE,
            ["titleMissing", "titleInvalid", "titleTooLarge"],
            errors,
        );
        text(
            object,
            "Description",
            MAX_DESCRIPTION,
            [
                "descriptionMissing",
                "descriptionInvalid",
                "descriptionTooLarge",
            ],
            errors,
        );
    }
    if !languages.contains(&"en_US") {
        errors.push(found(
            "englishLocaleMissing",
            "RemediationStrings has no en_US entry.",
        ));
    }
}

/// The whole document: decoded, parsed, each rule checked, duplicates found.
fn validate(rules_content: Option<&str>) -> Value {
    let mut script_errors: Vec<Found> = Vec::new();
    let mut rule_errors: Vec<(String, Found)> = Vec::new();
    let mut parsed = Vec::new();
    let decoded = match rules_content.filter(|c| !c.is_empty()) {
        None => {
            script_errors.push(found("jsonFileMissing", "rulesContent is missing."));
            None
        }
        Some(text) => {
            match STANDARD.decode(text) {
                Ok(bytes) if bytes.len() > MAX_DOCUMENT_BYTES => {
                    script_errors.push(found("jsonFileTooLarge", format!(
                    "The rules document is {} bytes; at most {MAX_DOCUMENT_BYTES} are allowed.", bytes.len()
                )));
                    None
                }
                Ok(bytes) => Some(bytes),
                Err(_) => {
                    script_errors.push(found("jsonFileInvalid", "rulesContent is not base64."));
                    None
                }
            }
        }
    };
    let document = decoded.and_then(|bytes| {
        let text = String::from_utf8_lossy(&bytes);
        match serde_json::from_str::<Value>(text.trim_start_matches('\u{feff}')) {
            Ok(Value::Object(object)) => Some(object),
            _ => {
                script_errors.push(found(
                    "jsonFileInvalid",
                    "The rules document is not a JSON object.",
                ));
                None
            }
        }
    });
    if let Some(document) = document {
        match member(&document, "Rules") {
            Some(Value::Array(rules)) if rules.len() > MAX_RULES => {
                script_errors.push(found(
                    "tooManyRulesSpecified",
                    format!(
                        "The document holds {} rules; at most {MAX_RULES} are allowed.",
                        rules.len()
                    ),
                ));
            }
            Some(Value::Array(rules)) if !rules.is_empty() => {
                let mut names: Vec<String> = Vec::new();
                for item in rules {
                    let mut errors = Vec::new();
                    let object = item.as_object().cloned().unwrap_or_default();
                    let name = member(&object, "SettingName")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    if !name.is_empty() && names.contains(&name) {
                        errors.push(found(
                            "duplicateRules",
                            format!("The setting '{name}' has more than one rule."),
                        ));
                    }
                    names.push(name.clone());
                    if let Some(rule) = rule(&object, &mut errors) {
                        parsed.push(rule);
                    }
                    rule_errors.extend(errors.into_iter().map(|e| (name.clone(), e)));
                }
            }
            _ => script_errors.push(found(
                "rulesMissing",
                "The document has no Rules array, or it is empty.",
            )),
        }
    }
    let script_errors: Vec<Value> = script_errors
        .into_iter()
        .map(|e| json!({
            "@odata.type": "#microsoft.graph.deviceComplianceScriptError",
            "code": e.code, "deviceComplianceScriptRulesValidationError": e.code, "message": e.message,
        }))
        .collect();
    let rule_errors: Vec<Value> = rule_errors
        .into_iter()
        .map(|(name, e)| json!({
            "@odata.type": "#microsoft.graph.deviceComplianceScriptRuleError",
            "code": e.code, "deviceComplianceScriptRulesValidationError": e.code, "message": e.message,
            "settingName": if name.is_empty() { Value::Null } else { Value::String(name) },
        }))
        .collect();
    json!({
        "@odata.type": format!("#{RESULT_TYPE}"),
        "rules": parsed,
        "scriptErrors": script_errors,
        "ruleErrors": rule_errors,
    })
}

impl Service {
    /// `validateRules`: the rules document of the script parameter, checked.
    pub(super) async fn validate_rules(&self, invocation: Invocation) -> Result<Reply, ApiError> {
        let content = invocation.arguments.iter().find_map(|(_, a)| match a {
            Argument::Value(Value::Object(script)) => Some(
                script
                    .get("rulesContent")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            ),
            _ => None,
        });
        let result = validate(content.flatten().as_deref());
        let body = result.as_object().cloned().unwrap_or_default();
        Ok(Reply::Entity {
            context: RESULT_TYPE.to_string(),
            body: super::JsonObject::from_map(&body),
            created: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(document: &Value) -> String {
        STANDARD.encode(document.to_string())
    }

    fn good_rule(name: &str) -> Value {
        json!({
            "SettingName": name, "Operator": "GreaterEquals", "DataType": "Version", "Operand": "2.3",
            "MoreInfoUrl": "https://contoso.test/bios",
            "RemediationStrings": [{"Language": "en_US", "Title": "BIOS too old", "Description": "Update it."}],
        })
    }

    fn codes(result: &Value, list: &str) -> Vec<String> {
        result[list]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["code"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_sound_document_parses_every_rule() {
        let result = validate(Some(&encoded(
            &json!({"Rules": [good_rule("BiosVersion"), good_rule("TPM")]}),
        )));
        assert_eq!(result["rules"].as_array().map(Vec::len), Some(2));
        assert_eq!(result["rules"][0]["operator"], "greaterEquals");
        assert_eq!(result["rules"][0]["dataType"], "version");
        assert!(
            codes(&result, "scriptErrors").is_empty() && codes(&result, "ruleErrors").is_empty(),
            "{result}"
        );
    }

    #[test]
    fn each_fault_gets_intunes_code() {
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!({"Rules": []}), "scriptErrors", "rulesMissing"),
            (json!({"Other": 1}), "scriptErrors", "rulesMissing"),
            (
                json!({"Rules": vec![good_rule("x"); 101]}),
                "scriptErrors",
                "tooManyRulesSpecified",
            ),
            (
                json!({"Rules": [good_rule("A"), good_rule("A")]}),
                "ruleErrors",
                "duplicateRules",
            ),
            (
                json!({"Rules": [{"SettingName": "A"}]}),
                "ruleErrors",
                "operatorMissing",
            ),
            (
                json!({"Rules": [good_rule("A").as_object().cloned().map(|mut r| { r.insert("Operator".into(), json!("Like")); r }).unwrap_or_default()]}),
                "ruleErrors",
                "operatorNotSupported",
            ),
            (
                json!({"Rules": [good_rule("A").as_object().cloned().map(|mut r| { r.insert("DataType".into(), json!("Float")); r }).unwrap_or_default()]}),
                "ruleErrors",
                "datatypeNotSupported",
            ),
            (
                json!({"Rules": [good_rule("A").as_object().cloned().map(|mut r| { r.insert("DataType".into(), json!("Boolean")); r.insert("Operand".into(), json!("true")); r }).unwrap_or_default()]}),
                "ruleErrors",
                "operatorDataTypeCombinationNotSupported",
            ),
            (
                json!({"Rules": [good_rule("A").as_object().cloned().map(|mut r| { r.insert("Operand".into(), json!("two.three")); r }).unwrap_or_default()]}),
                "ruleErrors",
                "operandInvalid",
            ),
            (
                json!({"Rules": [good_rule("A").as_object().cloned().map(|mut r| { r.insert("MoreInfoUrl".into(), json!("bios page")); r }).unwrap_or_default()]}),
                "ruleErrors",
                "moreInfoUriInvalid",
            ),
            (
                json!({"Rules": [good_rule("A").as_object().cloned().map(|mut r| { r.insert("RemediationStrings".into(), json!([{"Language": "de_DE", "Title": "t", "Description": "d"}])); r }).unwrap_or_default()]}),
                "ruleErrors",
                "englishLocaleMissing",
            ),
            (
                json!({"Rules": [good_rule("A").as_object().cloned().map(|mut r| { r.insert("RemediationStrings".into(), json!([{"Language": "xx_XX", "Title": "t", "Description": "d"}])); r }).unwrap_or_default()]}),
                "ruleErrors",
                "unrecognizedLocale",
            ),
            (
                json!({"Rules": [good_rule("A").as_object().cloned().map(|mut r| { r.remove("RemediationStrings"); r }).unwrap_or_default()]}),
                "ruleErrors",
                "remediationStringsMissing",
            ),
        ];
        for (document, list, code) in cases {
            let result = validate(Some(&encoded(&document)));
            assert!(
                codes(&result, list).contains(&code.to_string()),
                "{code}: {result}"
            );
        }
        assert_eq!(codes(&validate(None), "scriptErrors"), ["jsonFileMissing"]);
        assert_eq!(
            codes(&validate(Some("%%%")), "scriptErrors"),
            ["jsonFileInvalid"]
        );
        assert_eq!(
            codes(&validate(Some(&STANDARD.encode("[1, 2"))), "scriptErrors"),
            ["jsonFileInvalid"]
        );
        let big = STANDARD.encode(vec![b' '; MAX_DOCUMENT_BYTES + 1]);
        assert_eq!(
            codes(&validate(Some(&big)), "scriptErrors"),
            ["jsonFileTooLarge"]
        );
    }
}
