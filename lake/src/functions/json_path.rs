//! The JSONPath subset Trino's JSON functions accept: `$`, `.member`, `["member"]`,
//! `['member']`, `[index]` and `.*`-free member chains.

use serde_json::Value;

use crate::json_tape;

/// One step of a JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// An object member.
    Member(String),
    /// An array element.
    Index(usize),
}

/// Parses a JSONPath such as `$.userIdentity.arn` or `$["policy.name"][0]`.
pub fn parse(path: &str) -> Result<Vec<Step>, String> {
    let invalid = |why: &str| format!("invalid JSON path '{path}': {why}");
    let rest = path.trim().strip_prefix('$').ok_or_else(|| invalid("it must start with '$'"))?;
    let bytes = rest.as_bytes();
    let mut steps = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'.' => {
                let start = at + 1;
                let end =
                    rest[start..].find(['.', '[']).map_or(rest.len(), |offset| start + offset);
                if start == end {
                    return Err(invalid("empty member name"));
                }
                steps.push(Step::Member(rest[start..end].to_string()));
                at = end;
            }
            b'[' => {
                let close = rest[at..]
                    .find(']')
                    .map(|offset| at + offset)
                    .ok_or_else(|| invalid("unclosed '['"))?;
                let inside = rest[at + 1..close].trim();
                let quoted = inside
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .or_else(|| inside.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')));
                match quoted {
                    Some(member) => steps.push(Step::Member(member.to_string())),
                    None => steps
                        .push(Step::Index(inside.parse().map_err(|_| invalid("bad array index"))?)),
                }
                at = close + 1;
            }
            _ => return Err(invalid("expected '.' or '['")),
        }
    }
    Ok(steps)
}

/// Follows `steps` into `value`.
pub fn select<'v>(value: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    steps.iter().try_fold(value, |current, step| match step {
        Step::Member(name) => current.as_object()?.get(name),
        Step::Index(index) => current.as_array()?.get(*index),
    })
}

/// Follows `steps` into a parsed value, as [`select`] does into a tree.
pub fn select_in_tape<'t, 'a>(
    value: json_tape::Value<'t, 'a>,
    steps: &[Step],
) -> Option<json_tape::Value<'t, 'a>> {
    steps.iter().try_fold(value, |current, step| match step {
        Step::Member(name) => current.member(name),
        Step::Index(index) => current.element(*index),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_member_and_index_steps() {
        assert_eq!(
            parse("$.a[\"b.c\"][2]['d']").unwrap(),
            vec![
                Step::Member("a".into()),
                Step::Member("b.c".into()),
                Step::Index(2),
                Step::Member("d".into())
            ]
        );
        assert_eq!(parse("$").unwrap(), vec![]);
        assert!(parse("a.b").unwrap_err().contains("must start with '$'"));
        assert!(parse("$.a[x]").unwrap_err().contains("bad array index"));
    }

    #[test]
    fn selects_nested_values() {
        let value: Value = serde_json::from_str(r#"{"a":{"b":[1,{"c":"x"}]}}"#).unwrap();
        assert_eq!(select(&value, &parse("$.a.b[1].c").unwrap()), Some(&Value::from("x")));
        assert_eq!(select(&value, &parse("$.a.z").unwrap()), None);
    }
}
