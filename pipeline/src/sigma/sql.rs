//! Sigma detections compiled to a SQL `WHERE` expression over the lake, with the spec's
//! semantics: a map is an AND of its fields, a list of maps or of values an OR (`|all`: AND),
//! strings compare case-insensitively unless `|cased`, `*` and `?` are wildcards (`\` escapes
//! them), `null` matches a missing field. A construct trailhound cannot compile is an error
//! naming it: a rule never silently matches nothing.

use std::collections::{BTreeMap, HashMap};

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
    /// `|expand` placeholder values, by name.
    pub placeholders: &'a BTreeMap<String, Vec<String>>,
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
        Detection::Keywords(values) => {
            let haystack = format!("lower({})", keyword_haystack());
            let predicates: Vec<String> = values
                .iter()
                .map(|value| match value {
                    SigmaValue::String(text) => {
                        let (pattern, _) = like_pattern(text);
                        Ok(format!(
                            "{haystack} LIKE {} ESCAPE '\\'",
                            literal(&format!("%{}%", pattern.to_lowercase()))
                        ))
                    }
                    SigmaValue::Integer(number) => {
                        Ok(format!("{haystack} LIKE {}", literal(&format!("%{number}%"))))
                    }
                    other => Err(format!("keyword {other:?}: keywords are strings or numbers")),
                })
                .collect::<Result<_, String>>()?;
            predicates.join(" OR ")
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
                | Modifier::Cidr
                | Modifier::Base64
                | Modifier::Base64Offset
                | Modifier::Wide
                | Modifier::Utf16be
                | Modifier::Utf16
                | Modifier::WindAsh
                | Modifier::Minute
                | Modifier::Hour
                | Modifier::Day
                | Modifier::Week
                | Modifier::Month
                | Modifier::Year
                | Modifier::Expand
        ) {
            return Err(format!("field '{name}': the |{modifier:?} modifier is not supported yet"));
        }
    }
    let time_part = [
        (Modifier::Minute, "minute"),
        (Modifier::Hour, "hour"),
        (Modifier::Day, "day"),
        (Modifier::Week, "week"),
        (Modifier::Month, "month"),
        (Modifier::Year, "year"),
    ]
    .into_iter()
    .find(|(modifier, _)| has(*modifier));
    let column = match time_part {
        // eventTime is kept as text; its parsed instant is event_ts.
        Some((_, part)) if name == "eventTime" => {
            format!("CAST(date_part('{part}', event_ts) AS BIGINT)")
        }
        Some((_, part)) => {
            format!("CAST(date_part('{part}', from_iso8601_timestamp({column})) AS BIGINT)")
        }
        None => column,
    };
    if time_part.is_some() {
        let numbers: Vec<String> = item
            .values
            .iter()
            .map(|value| match value {
                SigmaValue::Integer(number) => Ok(format!("{column} = {number}")),
                other => Err(format!(
                    "field '{name}': a time part is matched with a number, not {other:?}"
                )),
            })
            .collect::<Result<_, String>>()?;
        return Ok(numbers.join(if has(Modifier::All) { " AND " } else { " OR " }));
    }
    if has(Modifier::Exists) {
        return match item.values.as_slice() {
            [SigmaValue::Bool(true)] => Ok(format!("{column} IS NOT NULL")),
            [SigmaValue::Bool(false)] => Ok(format!("{column} IS NULL")),
            _ => Err(format!("field '{name}': |exists takes true or false")),
        };
    }
    let expanded;
    let values = if has(Modifier::Expand) {
        expanded = expand_values(&item.values, context.placeholders)
            .map_err(|reason| format!("field '{name}': {reason}"))?;
        &expanded
    } else {
        &item.values
    };
    let predicates: Vec<String> = values
        .iter()
        .map(|value| value_sql(name, &column, value, modifiers, context))
        .collect::<Result<_, String>>()?;
    if predicates.is_empty() {
        return Err(format!("field '{name}' has no value to match"));
    }
    let joined = predicates.join(if has(Modifier::All) { " AND " } else { " OR " });
    Ok(if has(Modifier::Neq) { format!("NOT ({joined})") } else { joined })
}

/// `|expand`: every `%name%` placeholder of a string value replaced by each of its values.
fn expand_values(
    values: &[SigmaValue],
    placeholders: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<SigmaValue>, String> {
    let mut expanded = Vec::new();
    for value in values {
        let SigmaValue::String(text) = value else {
            return Err(format!("|expand applies to strings, not {value:?}"));
        };
        for text in expand(&text.original, placeholders)? {
            expanded.push(SigmaValue::String(SigmaString::new(&text)));
        }
    }
    Ok(expanded)
}

fn expand(text: &str, placeholders: &BTreeMap<String, Vec<String>>) -> Result<Vec<String>, String> {
    let Some(start) = text.find('%') else { return Ok(vec![text.to_string()]) };
    let Some(length) = text[start + 1..].find('%') else { return Ok(vec![text.to_string()]) };
    let name = &text[start + 1..start + 1 + length];
    let values = placeholders.get(name).ok_or_else(|| {
        format!(
            "placeholder '%{name}%' has no values (define it under vars in a Sigma pipeline file)"
        )
    })?;
    let rests = expand(&text[start + length + 2..], placeholders)?;
    Ok(values
        .iter()
        .flat_map(|value| rests.iter().map(move |rest| format!("{}{value}{rest}", &text[..start])))
        .collect())
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
    if has(Modifier::Cidr) {
        lake::net::Cidr::parse(&text.original)
            .map_err(|reason| format!("field '{name}': |cidr {reason}"))?;
        return Ok(format!("cidr_contains({column}, {})", literal(&text.original)));
    }
    if has(Modifier::WindAsh) || has(Modifier::Base64) || has(Modifier::Base64Offset) {
        return encoded_sql(name, column, text, modifiers);
    }
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

/// A value under `windash`, `base64` or `base64offset` (with an optional UTF-16
/// encoding): the plain strings it stands for, each matched as the other modifiers say.
/// Base64 text is matched with its case, which carries meaning.
fn encoded_sql(
    name: &str,
    column: &str,
    text: &SigmaString,
    modifiers: &[Modifier],
) -> Result<String, String> {
    use super::encode::{TextEncoding, base64, base64_offsets, encode_text, windash};
    let has = |modifier: Modifier| modifiers.contains(&modifier);
    if text.parts.iter().any(|part| matches!(part, StringPart::Special(_))) {
        return Err(format!(
            "field '{name}': wildcards cannot be combined with encoding modifiers"
        ));
    }
    let plain = text.original.clone();
    let values = if has(Modifier::WindAsh) { windash(&plain) } else { vec![plain] };
    let encoding = if has(Modifier::Wide) {
        TextEncoding::Utf16Le
    } else if has(Modifier::Utf16be) {
        TextEncoding::Utf16Be
    } else if has(Modifier::Utf16) {
        TextEncoding::Utf16Bom
    } else {
        TextEncoding::Utf8
    };
    let (strings, cased): (Vec<String>, bool) = if has(Modifier::Base64Offset) {
        (
            values.iter().flat_map(|value| base64_offsets(&encode_text(value, encoding))).collect(),
            true,
        )
    } else if has(Modifier::Base64) {
        (values.iter().map(|value| base64(&encode_text(value, encoding))).collect(), true)
    } else {
        (values, has(Modifier::Cased))
    };
    let contains = has(Modifier::Contains) || has(Modifier::Base64Offset);
    let starts = has(Modifier::StartsWith);
    let ends = has(Modifier::EndsWith);
    let subject = if cased { column.to_string() } else { format!("lower({column})") };
    let predicates: Vec<String> = strings
        .iter()
        .map(|value| {
            let value = if cased { value.clone() } else { value.to_lowercase() };
            let escaped: String = value
                .chars()
                .flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] })
                .collect();
            if contains || starts || ends {
                let pattern = format!(
                    "{}{escaped}{}",
                    if contains || ends { "%" } else { "" },
                    if contains || starts { "%" } else { "" }
                );
                format!("{subject} LIKE {} ESCAPE '\\'", literal(&pattern))
            } else {
                format!("{subject} = {}", literal(&value))
            }
        })
        .collect();
    Ok(format!("({})", predicates.join(" OR ")))
}

/// The text keyword (field-less) searches look in: every text and JSON column, the main
/// identity members and the unmapped members.
fn keyword_haystack() -> String {
    use lake::schema::{CLOUDTRAIL_FIELDS, Shape, UNMAPPED};
    let mut columns: Vec<String> = CLOUDTRAIL_FIELDS
        .iter()
        .filter(|field| matches!(field.shape, Shape::Text | Shape::BoolText | Shape::Json))
        .map(|field| field.column.to_string())
        .collect();
    for member in ["arn", "principalid", "username", "accesskeyid", "invokedby"] {
        columns.push(format!("useridentity.{member}"));
    }
    columns.push(UNMAPPED.to_string());
    format!("concat_ws(' ', {})", columns.join(", "))
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
