//! Sigma detections compiled to a SQL `WHERE` expression over the lake, with the spec's
//! semantics: a map is an AND of its fields, a list of maps or of values an OR (`|all`: AND),
//! strings compare case-insensitively unless `|cased`, `*` and `?` are wildcards (`\` escapes
//! them), `null` matches a missing field. A construct trailhound cannot compile is an error
//! naming it: a rule never silently matches nothing.

use std::collections::HashMap;

use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Modifier, Quantifier, SelectorPattern, SigmaString,
    SigmaValue, SpecialChar, StringPart,
};

use super::fields::FieldMapping;

/// What compilation needs besides the detection.
pub struct Context<'a> {
    /// Sigma field names to SQL.
    pub fields: &'a FieldMapping,
    /// Fields whose value is structured (a YAML map, or a list holding maps), by field name,
    /// as JSON: `rsigma-parser` keeps scalar values only.
    pub structured: &'a HashMap<String, serde_json::Value>,
}

/// Compiles a rule's condition over its named detections.
pub fn condition_sql(
    condition: &ConditionExpr,
    named: &HashMap<String, Detection>,
    context: &Context<'_>,
) -> Result<String, String> {
    Ok(match condition {
        ConditionExpr::And(parts) => join(parts, " AND ", named, context)?,
        ConditionExpr::Or(parts) => join(parts, " OR ", named, context)?,
        ConditionExpr::Not(inner) => format!("NOT ({})", condition_sql(inner, named, context)?),
        ConditionExpr::Identifier(name) => {
            let detection = named
                .get(name)
                .ok_or_else(|| format!("the condition names '{name}', which is not defined"))?;
            format!("({})", detection_sql(detection, context)?)
        }
        ConditionExpr::Selector { quantifier, pattern } => {
            let mut names: Vec<&String> = named
                .keys()
                .filter(|name| match pattern {
                    SelectorPattern::Them => !name.starts_with('_'),
                    SelectorPattern::Pattern(pattern) => glob(pattern, name),
                })
                .collect();
            names.sort();
            if names.is_empty() {
                return Err(format!("the condition's selector {pattern:?} matches no detection"));
            }
            let parts: Vec<String> = names
                .iter()
                .map(|name| Ok(format!("({})", detection_sql(&named[*name], context)?)))
                .collect::<Result<_, String>>()?;
            match quantifier {
                Quantifier::Any => format!("({})", parts.join(" OR ")),
                Quantifier::All => format!("({})", parts.join(" AND ")),
                Quantifier::Count(count) => {
                    let terms: Vec<String> = parts
                        .iter()
                        .map(|part| format!("CASE WHEN {part} THEN 1 ELSE 0 END"))
                        .collect();
                    format!("(({}) >= {count})", terms.join(" + "))
                }
            }
        }
    })
}

fn join(
    parts: &[ConditionExpr],
    operator: &str,
    named: &HashMap<String, Detection>,
    context: &Context<'_>,
) -> Result<String, String> {
    let parts: Vec<String> = parts
        .iter()
        .map(|part| Ok(format!("({})", condition_sql(part, named, context)?)))
        .collect::<Result<_, String>>()?;
    Ok(parts.join(operator))
}

/// `*`-wildcard match of a selection name.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, rest)) => {
            name.starts_with(prefix)
                && (rest.is_empty()
                    || (0..=name.len() - prefix.len())
                        .any(|skip| glob(rest, &name[prefix.len() + skip..])))
        }
    }
}

/// Compiles one named detection.
pub fn detection_sql(detection: &Detection, context: &Context<'_>) -> Result<String, String> {
    Ok(match detection {
        Detection::AllOf(items) if items.is_empty() => "TRUE".to_string(),
        Detection::AllOf(items) => items
            .iter()
            .map(|item| Ok(format!("({})", item_sql(item, context)?)))
            .collect::<Result<Vec<_>, String>>()?
            .join(" AND "),
        Detection::AnyOf(detections) => detections
            .iter()
            .map(|detection| Ok(format!("({})", detection_sql(detection, context)?)))
            .collect::<Result<Vec<_>, String>>()?
            .join(" OR "),
        Detection::And(detections) => detections
            .iter()
            .map(|detection| Ok(format!("({})", detection_sql(detection, context)?)))
            .collect::<Result<Vec<_>, String>>()?
            .join(" AND "),
        Detection::Keywords(_) => {
            return Err("keyword (field-less) searches are not supported yet".into());
        }
        Detection::ArrayMatch { field, .. } => {
            return Err(format!("array matching on '{field}' is not supported yet"));
        }
        Detection::Conditional { .. } => {
            return Err("conditional detections are not supported yet".into());
        }
    })
}

/// Compiles `field|modifiers: values`.
fn item_sql(item: &DetectionItem, context: &Context<'_>) -> Result<String, String> {
    let name =
        item.field.name.as_deref().ok_or("keyword (field-less) searches are not supported yet")?;
    let column = context.fields.sql(name)?;
    if let Some(pattern) = context.structured.get(name) {
        // A structured value (a map, or a list of maps): the field's JSON must hold it.
        return Ok(format!("json_contains({column}, {})", literal(&pattern.to_string())));
    }
    let modifiers = &item.field.modifiers;
    let has = |modifier: Modifier| modifiers.contains(&modifier);
    for modifier in modifiers {
        if !matches!(
            modifier,
            Modifier::Contains
                | Modifier::StartsWith
                | Modifier::EndsWith
                | Modifier::All
                | Modifier::Re
                | Modifier::Cased
                | Modifier::Exists
                | Modifier::FieldRef
                | Modifier::Gt
                | Modifier::Gte
                | Modifier::Lt
                | Modifier::Lte
                | Modifier::Neq
                | Modifier::IgnoreCase
                | Modifier::Multiline
                | Modifier::DotAll
        ) {
            return Err(format!("field '{name}': the |{modifier:?} modifier is not supported yet"));
        }
    }
    if has(Modifier::Exists) {
        return match item.values.as_slice() {
            [SigmaValue::Bool(true)] => Ok(format!("{column} IS NOT NULL")),
            [SigmaValue::Bool(false)] => Ok(format!("{column} IS NULL")),
            _ => Err(format!("field '{name}': |exists takes true or false")),
        };
    }
    let predicates: Vec<String> = item
        .values
        .iter()
        .map(|value| value_sql(name, &column, value, modifiers, context))
        .collect::<Result<_, String>>()?;
    if predicates.is_empty() {
        return Err(format!("field '{name}' has no value to match"));
    }
    let joined = predicates.join(if has(Modifier::All) { " AND " } else { " OR " });
    Ok(if has(Modifier::Neq) { format!("NOT ({joined})") } else { joined })
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn value_sql(
    name: &str,
    column: &str,
    value: &SigmaValue,
    modifiers: &[Modifier],
    context: &Context<'_>,
) -> Result<String, String> {
    let has = |modifier: Modifier| modifiers.contains(&modifier);
    let comparison =
        [(Modifier::Gt, ">"), (Modifier::Gte, ">="), (Modifier::Lt, "<"), (Modifier::Lte, "<=")]
            .into_iter()
            .find(|(modifier, _)| has(*modifier));
    if let Some((_, operator)) = comparison {
        let number = match value {
            SigmaValue::Integer(number) => number.to_string(),
            SigmaValue::Float(number) => number.to_string(),
            other => {
                return Err(format!("field '{name}': a comparison needs a number, not {other:?}"));
            }
        };
        return Ok(format!("TRY_CAST({column} AS DOUBLE) {operator} {number}"));
    }
    let cased = has(Modifier::Cased);
    let text = match value {
        SigmaValue::Null => return Ok(format!("{column} IS NULL")),
        // CloudTrail booleans and numbers are kept as their JSON text.
        SigmaValue::Bool(flag) => return Ok(format!("lower({column}) = '{flag}'")),
        SigmaValue::Integer(number) => return Ok(format!("{column} = '{number}'")),
        SigmaValue::Float(number) => return Ok(format!("{column} = '{number}'")),
        SigmaValue::String(text) => text,
    };
    if has(Modifier::Re) {
        let mut flags = String::new();
        for (modifier, flag) in
            [(Modifier::IgnoreCase, 'i'), (Modifier::Multiline, 'm'), (Modifier::DotAll, 's')]
        {
            if has(modifier) {
                flags.push(flag);
            }
        }
        let pattern = if flags.is_empty() {
            text.original.clone()
        } else {
            format!("(?{flags}){}", text.original)
        };
        regex::Regex::new(&pattern)
            .map_err(|error| format!("field '{name}': invalid regular expression: {error}"))?;
        return Ok(format!("regexp_like({column}, {})", literal(&pattern)));
    }
    if has(Modifier::FieldRef) {
        let other = context.fields.sql(&text.original)?;
        return Ok(if cased {
            format!("{column} = {other}")
        } else {
            format!("lower({column}) = lower({other})")
        });
    }
    let (pattern, wildcards) = like_pattern(text);
    let contains = has(Modifier::Contains);
    let starts = has(Modifier::StartsWith) || contains;
    let ends = has(Modifier::EndsWith) || contains;
    let pattern = format!(
        "{}{pattern}{}",
        if ends && !has(Modifier::StartsWith) { "%" } else { "" },
        if starts && !has(Modifier::EndsWith) { "%" } else { "" }
    );
    let subject = if cased { column.to_string() } else { format!("lower({column})") };
    let pattern = if cased { pattern } else { pattern.to_lowercase() };
    if !wildcards && !contains && !has(Modifier::StartsWith) && !has(Modifier::EndsWith) {
        let exact = like_unescape(&pattern);
        return Ok(format!("{subject} = {}", literal(&exact)));
    }
    Ok(format!("{subject} LIKE {} ESCAPE '\\'", literal(&pattern)))
}

/// A LIKE pattern for a Sigma string (`%` and `_` escaped, wildcards translated), and
/// whether it has wildcards.
fn like_pattern(text: &SigmaString) -> (String, bool) {
    let mut pattern = String::new();
    let mut wildcards = false;
    for part in &text.parts {
        match part {
            StringPart::Plain(plain) => {
                for c in plain.chars() {
                    if matches!(c, '%' | '_' | '\\') {
                        pattern.push('\\');
                    }
                    pattern.push(c);
                }
            }
            StringPart::Special(SpecialChar::WildcardMulti) => {
                pattern.push('%');
                wildcards = true;
            }
            StringPart::Special(SpecialChar::WildcardSingle) => {
                pattern.push('_');
                wildcards = true;
            }
        }
    }
    (pattern, wildcards)
}

/// The plain text of a LIKE pattern without wildcards.
fn like_unescape(pattern: &str) -> String {
    let mut text = String::new();
    let mut escaped = false;
    for c in pattern.chars() {
        if c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        escaped = false;
        text.push(c);
    }
    text
}
