//! The rule text (`rules/FORMAT.md`) into a [`Ruleset`].

use super::{
    ActionPlatforms, Condition, Fact, FactType, Kind, Platform, PolicyRules, Rule, Ruleset,
};

enum Block {
    None,
    Platform(usize),
    Policy(usize),
}

/// Adds what `text` declares to `set`. Errors name the line.
pub fn parse(set: &mut Ruleset, text: &str) -> Result<(), String> {
    let mut block = Block::None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim_end();
        if line.trim().is_empty() {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", index + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        if !line.starts_with(char::is_whitespace) {
            block = header(set, &words).map_err(at)?;
            continue;
        }
        match block {
            Block::None => return Err(at("an indented line outside a block".into())),
            Block::Platform(i) => set.platforms[i]
                .conditions
                .push(condition(&words).map_err(at)?),
            Block::Policy(i) => set.policies[i].rules.push(rule(&words).map_err(at)?),
        }
    }
    Ok(())
}

fn header(set: &mut Ruleset, words: &[&str]) -> Result<Block, String> {
    match words {
        ["fact", name, ty] => {
            if set.fact(name).is_some() {
                return Err(format!("fact {name} declared twice"));
            }
            let ty = match *ty {
                "Boolean" => FactType::Boolean,
                "Int" => FactType::Int,
                "String" => FactType::String,
                "List" => FactType::List,
                other => return Err(format!("fact {name}: unknown type {other}")),
            };
            set.facts.push(Fact {
                name: name.to_string(),
                ty,
            });
            Ok(Block::None)
        }
        ["platform", name] => {
            if set.platforms.iter().any(|p| p.name == *name) {
                return Err(format!("platform {name} declared twice"));
            }
            set.platforms.push(Platform {
                name: name.to_string(),
                conditions: Vec::new(),
            });
            Ok(Block::Platform(set.platforms.len() - 1))
        }
        ["action", action, "on", platforms @ ..] => {
            if set.actions.iter().any(|a| a.action == *action) {
                return Err(format!("action {action} declared twice"));
            }
            if platforms.is_empty() {
                return Err(format!("action {action}: no platform after 'on'"));
            }
            set.actions.push(ActionPlatforms {
                action: action.to_string(),
                platforms: platforms.iter().map(|p| p.to_string()).collect(),
            });
            Ok(Block::None)
        }
        ["policy", policy_type, "on", rest @ ..] => {
            if set.policies.iter().any(|p| p.policy_type == *policy_type) {
                return Err(format!("policy {policy_type} declared twice"));
            }
            let (platforms, reported_as) = match rest {
                [platforms @ .., "reported-as", name] => (platforms, Some(name.to_string())),
                platforms => (platforms, None),
            };
            if platforms.is_empty() {
                return Err(format!("policy {policy_type}: no platform after 'on'"));
            }
            set.policies.push(PolicyRules {
                policy_type: policy_type.to_string(),
                platforms: platforms.iter().map(|p| p.to_string()).collect(),
                reported_as,
                rules: Vec::new(),
            });
            Ok(Block::Policy(set.policies.len() - 1))
        }
        _ => Err(format!(
            "expected 'fact NAME TYPE', 'platform NAME' or 'policy TYPE on PLATFORM…', found '{}'",
            words.join(" ")
        )),
    }
}

fn condition(words: &[&str]) -> Result<Condition, String> {
    let values = |rest: &[&str]| rest.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    match words {
        [fact, "is", rest @ ..] if !rest.is_empty() => {
            Ok(Condition::Is(fact.to_string(), values(rest)))
        }
        [fact, "is-not", rest @ ..] if !rest.is_empty() => {
            Ok(Condition::IsNot(fact.to_string(), values(rest)))
        }
        [fact, "version-at-least", v] => {
            Ok(Condition::VersionAtLeast(fact.to_string(), v.to_string()))
        }
        [fact, "version-below", v] => Ok(Condition::VersionBelow(fact.to_string(), v.to_string())),
        _ => Err(format!(
            "expected 'FACT is|is-not V…' or 'FACT version-at-least|version-below V', found '{}'",
            words.join(" ")
        )),
    }
}

fn rule(words: &[&str]) -> Result<Rule, String> {
    let [setting, kind, fact, rest @ ..] = words else {
        return Err(format!(
            "expected 'SETTING KIND FACT …', found '{}'",
            words.join(" ")
        ));
    };
    let (value, rest) = match rest {
        ["=", value, rest @ ..] => (Some(value.to_string()), rest),
        _ => (None, rest),
    };
    let (order, unset) = lists(rest)?;
    let needs_order = |kind: fn(Vec<String>) -> Kind| {
        if order.is_empty() {
            Err(format!("{setting}: '{}' needs 'order V…'", words[1]))
        } else {
            Ok(kind(order.clone()))
        }
    };
    let kind = match *kind {
        "requires" => Kind::Requires(value.clone()),
        "forbids" => Kind::Forbids(value.clone()),
        "at-least" => Kind::AtLeast,
        "at-most" => Kind::AtMost,
        "version-at-least" => Kind::VersionAtLeast,
        "version-at-most" => Kind::VersionAtMost,
        "level-at-least" => needs_order(Kind::LevelAtLeast)?,
        "level-at-most" => needs_order(Kind::LevelAtMost)?,
        "none-installed" => Kind::NoneInstalled,
        "version-in-ranges" => Kind::VersionInRanges,
        other => return Err(format!("{setting}: unknown rule kind '{other}'")),
    };
    let takes_value = matches!(kind, Kind::Requires(_) | Kind::Forbids(_));
    if value.is_some() && !takes_value {
        return Err(format!(
            "{setting}: '= VALUE' only follows requires or forbids"
        ));
    }
    Ok(Rule {
        setting: setting.to_string(),
        kind,
        fact: fact.to_string(),
        unset,
    })
}

/// `order V…` and `unset V…`, in either order.
fn lists(mut rest: &[&str]) -> Result<(Vec<String>, Vec<String>), String> {
    let (mut order, mut unset) = (Vec::new(), Vec::new());
    while let [keyword, tail @ ..] = rest {
        let end = tail
            .iter()
            .position(|w| matches!(*w, "order" | "unset"))
            .unwrap_or(tail.len());
        let values: Vec<String> = tail[..end].iter().map(|v| v.to_string()).collect();
        match *keyword {
            "order" => order = values,
            "unset" => unset = values,
            other => return Err(format!("unexpected '{other}'")),
        }
        rest = &tail[end..];
    }
    Ok((order, unset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_lines_parse() {
        let mut set = Ruleset::default();
        let text = "platform win\n  operatingSystem is Windows\n  osVersion version-at-least 10.0\n\
                    policy windows10CompliancePolicy on win\n  bitLockerEnabled requires a.b = enabled\n  \
                    passwordRequiredType level-at-least passcodeType order numeric alphanumeric unset deviceDefault\n";
        assert_eq!(parse(&mut set, text), Ok(()));
        assert_eq!(set.platforms[0].conditions.len(), 2);
        let rules = &set.policies[0].rules;
        assert_eq!(rules[0].kind, Kind::Requires(Some("enabled".into())));
        assert_eq!(
            rules[1].kind,
            Kind::LevelAtLeast(vec!["numeric".into(), "alphanumeric".into()])
        );
        assert_eq!(rules[1].unset, vec!["deviceDefault".to_string()]);
    }

    #[test]
    fn mistakes_name_their_line() {
        for (text, needle) in [
            ("  x is y\n", "line 1: an indented line"),
            (
                "policy p on a\n  s sometimes f\n",
                "line 2: s: unknown rule kind",
            ),
            ("policy p on a\n  s level-at-least f\n", "needs 'order"),
            (
                "policy p on a\n  s at-least f = 3\n",
                "only follows requires or forbids",
            ),
            ("platform a\nplatform a\n", "declared twice"),
            ("nonsense\n", "expected 'fact NAME TYPE', 'platform NAME'"),
            ("fact f Float\n", "fact f: unknown type Float"),
            ("fact f Int\nfact f Int\n", "fact f declared twice"),
        ] {
            let err = parse(&mut Ruleset::default(), text)
                .err()
                .unwrap_or_default();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
