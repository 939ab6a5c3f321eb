//! Sigma field names (CloudTrail's camelCase JSON paths: `eventSource`,
//! `userIdentity.arn`, `requestParameters.bucketName`) mapped to lake SQL expressions, in
//! one table derived from the lake schema: typed columns and struct members by name, paths
//! inside the JSON-text columns through `json_extract_scalar`, and anything else through the
//! `unmapped` column. Users extend it with a processing pipeline (`field_name_mapping`,
//! see [`super::pipeline`]).

use std::collections::HashMap;

use lake::schema::{CLOUDTRAIL_FIELDS, SchemaField, Shape, UNMAPPED};

/// How Sigma field names become SQL.
#[derive(Debug, Clone, Default)]
pub struct FieldMapping {
    /// User mappings: Sigma field name → SQL expression, tried first.
    pub overrides: HashMap<String, String>,
}

impl FieldMapping {
    /// The SQL expression reading `field`, or why it cannot be read.
    pub fn sql(&self, field: &str) -> Result<String, String> {
        if let Some(sql) = self.overrides.get(field) {
            return Ok(sql.clone());
        }
        let parts: Vec<&str> = field.split('.').collect();
        if parts.iter().any(|part| part.is_empty()) {
            return Err(format!("field '{field}' has an empty path segment"));
        }
        let mut members: &[SchemaField] = CLOUDTRAIL_FIELDS;
        let mut column = String::new();
        for (index, part) in parts.iter().enumerate() {
            let Some(member) = members.iter().find(|member| member.json_name == *part) else {
                // Not a typed column: CloudTrail keeps it in `unmapped`, by its JSON path.
                return Ok(json_path(UNMAPPED, &parts));
            };
            if !column.is_empty() {
                column.push('.');
            }
            column.push_str(member.column);
            let rest = &parts[index + 1..];
            match &member.shape {
                Shape::Struct(inner) if !rest.is_empty() => members = inner,
                Shape::Json | Shape::Text if !rest.is_empty() => {
                    return Ok(json_path(&column, rest));
                }
                Shape::StringMap if !rest.is_empty() => {
                    return Ok(format!("{column}['{}']", rest.join(".").replace('\'', "''")));
                }
                Shape::StructList(_) => {
                    return Err(format!(
                        "field '{field}': '{}' is a list; Sigma matching on list members is not supported",
                        member.json_name
                    ));
                }
                _ if rest.is_empty() => return Ok(column),
                _ => return Err(format!("field '{field}': '{part}' has no members")),
            }
        }
        Ok(column)
    }
}

/// `json_extract_scalar(column, '$.a.b')`, quoting members that are not plain names.
fn json_path(column: &str, path: &[&str]) -> String {
    let mut text = String::from("$");
    for part in path {
        if part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            text.push('.');
            text.push_str(part);
        } else {
            text.push_str(&format!("[\"{}\"]", part.replace('"', "\\\"")));
        }
    }
    // A scalar's text, or the JSON text of an object or array (which Sigma may match too).
    let path = text.replace('\'', "''");
    format!("coalesce(json_extract_scalar({column}, '{path}'), json_extract({column}, '{path}'))")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigma_fields_become_lake_expressions() {
        let mapping = FieldMapping::default();
        let sql = |field: &str| mapping.sql(field).unwrap();
        assert_eq!(sql("eventSource"), "eventsource");
        assert_eq!(sql("userIdentity.arn"), "useridentity.arn");
        assert_eq!(
            sql("userIdentity.sessionContext.sessionIssuer.type"),
            "useridentity.sessioncontext.sessionissuer.type"
        );
        let json = |column: &str, path: &str| {
            format!(
                "coalesce(json_extract_scalar({column}, '{path}'), json_extract({column}, '{path}'))"
            )
        };
        assert_eq!(sql("requestParameters.bucketName"), json("requestparameters", "$.bucketName"));
        assert_eq!(
            sql("responseElements.ConsoleLogin"),
            json("responseelements", "$.ConsoleLogin")
        );
        assert_eq!(sql("additionalEventData.MFAUsed"), json("additionaleventdata", "$.MFAUsed"));
        assert_eq!(sql("someNewField.x"), json("unmapped", "$.someNewField.x"));
        assert!(mapping.sql("resources.ARN").unwrap_err().contains("is a list"));
        let custom = FieldMapping {
            overrides: HashMap::from([("actor".to_string(), "useridentity.arn".to_string())]),
        };
        assert_eq!(custom.sql("actor").unwrap(), "useridentity.arn");
    }
}
