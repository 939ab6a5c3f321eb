//! The one definition of the lake's CloudTrail schema.
//!
//! Everything else is generated from [`CLOUDTRAIL_FIELDS`] and [`EXTRA_COLUMNS`]: the Arrow
//! schema, the Parquet files, the Athena DDL, the decoder's JSON-to-column mapping and the
//! schema table in the docs. Column names and shapes follow Athena's official CloudTrail
//! table, all lowercase; the typed extras come after them.

use std::sync::{Arc, LazyLock};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Field, Fields, Schema, SchemaRef, TimeUnit, TimestampMillisecondType,
};

/// How a CloudTrail JSON value is stored in the lake.
#[derive(Debug)]
pub enum Shape {
    /// A string column. JSON numbers and booleans are stored as their JSON text
    /// (`true`, `1.08`); an object or array is stored as compact JSON text.
    Text,
    /// A JSON boolean (`readOnly`), stored as the text `true`/`false` like Athena's table.
    BoolText,
    /// Free-form JSON (request parameters and the like), stored as the exact JSON text
    /// CloudTrail wrote.
    Json,
    /// A JSON object with known members. Members not listed here are kept in `unmapped`.
    Struct(&'static [SchemaField]),
    /// A JSON array of objects with known members.
    StructList(&'static [SchemaField]),
    /// A JSON object of arbitrary keys; non-string values are stored as JSON text.
    StringMap,
}

/// One field of a CloudTrail record: its JSON member name, its lake column name and shape.
#[derive(Debug)]
pub struct SchemaField {
    /// Member name in CloudTrail's JSON (camelCase).
    pub json_name: &'static str,
    /// Column (or struct member) name in the lake: lowercase, as in Athena's table.
    pub column: &'static str,
    /// Storage shape.
    pub shape: Shape,
    /// One line for the schema docs.
    pub doc: &'static str,
}

const fn text(json_name: &'static str, column: &'static str, doc: &'static str) -> SchemaField {
    SchemaField { json_name, column, shape: Shape::Text, doc }
}

const fn json(json_name: &'static str, column: &'static str, doc: &'static str) -> SchemaField {
    SchemaField { json_name, column, shape: Shape::Json, doc }
}

const ATTRIBUTES: &[SchemaField] = &[
    text(
        "mfaAuthenticated",
        "mfaauthenticated",
        "Whether the session was MFA-authenticated ('true'/'false').",
    ),
    text("creationDate", "creationdate", "When the temporary credentials were issued."),
];

const SESSION_ISSUER: &[SchemaField] = &[
    text("type", "type", "Kind of issuer: Root, IAMUser or Role."),
    text("principalId", "principalid", "Issuer's principal id."),
    text("arn", "arn", "Issuer's ARN (the role for assumed-role sessions)."),
    text("accountId", "accountid", "Account owning the issuer."),
    text("userName", "username", "Issuer's friendly name."),
];

const WEB_ID_FEDERATION_DATA: &[SchemaField] = &[
    text("federatedProvider", "federatedprovider", "Identity provider of a web-identity session."),
    SchemaField {
        json_name: "attributes",
        column: "attributes",
        shape: Shape::StringMap,
        doc: "Provider attributes.",
    },
];

const SESSION_CONTEXT: &[SchemaField] = &[
    SchemaField {
        json_name: "attributes",
        column: "attributes",
        shape: Shape::Struct(ATTRIBUTES),
        doc: "Session attributes.",
    },
    SchemaField {
        json_name: "sessionIssuer",
        column: "sessionissuer",
        shape: Shape::Struct(SESSION_ISSUER),
        doc: "Who issued the temporary credentials.",
    },
    text("ec2RoleDelivery", "ec2roledelivery", "IMDS version that delivered EC2 role credentials."),
    text("sourceIdentity", "sourceidentity", "Source identity set when the role was assumed."),
    SchemaField {
        json_name: "webIdFederationData",
        column: "webidfederationdata",
        shape: Shape::Struct(WEB_ID_FEDERATION_DATA),
        doc: "Web identity federation details.",
    },
];

const ON_BEHALF_OF: &[SchemaField] = &[
    text("userId", "userid", "IAM Identity Center user id."),
    text("identityStoreArn", "identitystorearn", "Identity store ARN."),
];

const USER_IDENTITY: &[SchemaField] = &[
    text(
        "type",
        "type",
        "Identity type: Root, IAMUser, AssumedRole, FederatedUser, AWSService, AWSAccount, IdentityCenterUser, Unknown.",
    ),
    text("principalId", "principalid", "Unique principal id."),
    text("arn", "arn", "Principal ARN."),
    text("accountId", "accountid", "Account owning the principal (string: leading zeros kept)."),
    text("invokedBy", "invokedby", "AWS service that made the call on the principal's behalf."),
    text("accessKeyId", "accesskeyid", "Access key used to sign the request."),
    text("userName", "username", "Friendly name of the principal."),
    SchemaField {
        json_name: "onBehalfOf",
        column: "onbehalfof",
        shape: Shape::Struct(ON_BEHALF_OF),
        doc: "Identity Center user the call was made for.",
    },
    SchemaField {
        json_name: "sessionContext",
        column: "sessioncontext",
        shape: Shape::Struct(SESSION_CONTEXT),
        doc: "Temporary-credential session details.",
    },
];

const RESOURCE: &[SchemaField] = &[
    text("ARN", "arn", "Resource ARN."),
    text("accountId", "accountid", "Account owning the resource."),
    text("type", "type", "Resource type, for example AWS::S3::Object."),
];

const ADDENDUM: &[SchemaField] = &[
    text("reason", "reason", "Why the event was re-delivered."),
    text("updatedFields", "updatedfields", "Fields changed by the re-delivery."),
    text("originalRequestID", "originalrequestid", "Request id of the original event."),
    text("originalEventID", "originaleventid", "Event id of the original event."),
];

const TLS_DETAILS: &[SchemaField] = &[
    text("tlsVersion", "tlsversion", "TLS version of the request."),
    text("cipherSuite", "ciphersuite", "TLS cipher suite."),
    text("clientProvidedHostHeader", "clientprovidedhostheader", "Host header sent by the client."),
];

/// The CloudTrail record fields, in Athena's column order.
pub const CLOUDTRAIL_FIELDS: &[SchemaField] = &[
    text("eventVersion", "eventversion", "Log format version."),
    SchemaField {
        json_name: "userIdentity",
        column: "useridentity",
        shape: Shape::Struct(USER_IDENTITY),
        doc: "Who made the request.",
    },
    text("eventTime", "eventtime", "Event time exactly as CloudTrail wrote it (see event_ts)."),
    text("eventSource", "eventsource", "Service endpoint, for example iam.amazonaws.com."),
    text("eventName", "eventname", "API action."),
    text(
        "awsRegion",
        "awsregion",
        "Region the request was made to (kept as written, even if unknown).",
    ),
    text("sourceIPAddress", "sourceipaddress", "Caller IP address or AWS service name."),
    text("userAgent", "useragent", "Caller's user agent."),
    text("errorCode", "errorcode", "AWS error code; NULL when the call succeeded."),
    text("errorMessage", "errormessage", "Error description."),
    json("requestParameters", "requestparameters", "Request parameters (JSON text)."),
    json("responseElements", "responseelements", "Response elements (JSON text)."),
    json("additionalEventData", "additionaleventdata", "Additional event data (JSON text)."),
    text("requestID", "requestid", "Request id."),
    text("eventID", "eventid", "Globally unique event id."),
    SchemaField {
        json_name: "readOnly",
        column: "readonly",
        shape: Shape::BoolText,
        doc: "'true' for read-only calls.",
    },
    SchemaField {
        json_name: "resources",
        column: "resources",
        shape: Shape::StructList(RESOURCE),
        doc: "Resources accessed.",
    },
    text(
        "eventType",
        "eventtype",
        "AwsApiCall, AwsServiceEvent, AwsConsoleSignIn, AwsConsoleAction...",
    ),
    text("apiVersion", "apiversion", "API version of the call."),
    SchemaField {
        json_name: "managementEvent",
        column: "managementevent",
        shape: Shape::BoolText,
        doc: "'true' for management events, 'false' for data and network activity events.",
    },
    text("recipientAccountId", "recipientaccountid", "Account that received the event."),
    json("serviceEventDetails", "serviceeventdetails", "Service event details (JSON text)."),
    text("sharedEventID", "sharedeventid", "Id shared by the events of a cross-account call."),
    text("vpcEndpointId", "vpcendpointid", "VPC endpoint the request went through."),
    text("vpcEndpointAccountId", "vpcendpointaccountid", "Account owning the VPC endpoint."),
    text("eventCategory", "eventcategory", "Management, Data, NetworkActivity or Insight."),
    SchemaField {
        json_name: "addendum",
        column: "addendum",
        shape: Shape::Struct(ADDENDUM),
        doc: "Re-delivery details.",
    },
    text(
        "sessionCredentialFromConsole",
        "sessioncredentialfromconsole",
        "'true' when credentials came from a console session.",
    ),
    json("edgeDeviceDetails", "edgedevicedetails", "Edge device details (JSON text)."),
    SchemaField {
        json_name: "tlsDetails",
        column: "tlsdetails",
        shape: Shape::Struct(TLS_DETAILS),
        doc: "TLS details of the request.",
    },
];

/// Column holding the event time parsed from `eventTime`.
pub const EVENT_TS: &str = "event_ts";
/// The event times (milliseconds since the epoch) of a lake-schema batch's rows.
///
/// # Panics
///
/// When `batch` has no `event_ts` column of the lake's type: every lake batch has one.
pub fn event_times(batch: &RecordBatch) -> &[i64] {
    batch
        .column_by_name(EVENT_TS)
        .expect("lake batches carry event_ts")
        .as_primitive::<TimestampMillisecondType>()
        .values()
}

/// Column holding, as a JSON object, every member of the record that has no typed column.
pub const UNMAPPED: &str = "unmapped";
/// Column naming the source object or file the row came from.
pub const SOURCE_URI: &str = "source_uri";
/// Column holding the 0-based position of the record in its source.
pub const SOURCE_RECORD: &str = "source_record";

/// The typed columns trailhound adds after CloudTrail's own, with their docs.
pub const EXTRA_COLUMNS: &[(&str, &str)] = &[
    (
        EVENT_TS,
        "Event time parsed from eventTime: TIMESTAMP(ms, UTC); partitions and windows use it.",
    ),
    (
        UNMAPPED,
        "JSON object of every record member without a typed column (new CloudTrail fields, unexpected shapes); NULL when none.",
    ),
    (SOURCE_URI, "Object or file the record was read from."),
    (SOURCE_RECORD, "0-based position of the record in its source."),
];

/// Hive partition columns, derived from `event_ts` in UTC; they live in the path, not the files.
pub const PARTITION_COLUMNS: &[&str] = &["dt", "hour"];

/// Arrow type of the event time column.
pub fn event_ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// Arrow data type of a field shape.
pub fn data_type(shape: &Shape) -> DataType {
    match shape {
        Shape::Text | Shape::BoolText | Shape::Json => DataType::Utf8,
        Shape::Struct(members) => DataType::Struct(struct_fields(members)),
        Shape::StructList(members) => DataType::List(Arc::new(Field::new(
            "element",
            DataType::Struct(struct_fields(members)),
            true,
        ))),
        Shape::StringMap => DataType::Map(Arc::new(map_entries_field()), false),
    }
}

/// The entries field of a string-to-string map, named as Parquet's MAP logical type expects.
pub fn map_entries_field() -> Field {
    Field::new(
        "key_value",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, true),
        ])),
        false,
    )
}

/// Arrow fields of a struct's members.
pub fn struct_fields(members: &[SchemaField]) -> Fields {
    members.iter().map(|member| Field::new(member.column, data_type(&member.shape), true)).collect()
}

/// The schema of the `cloudtrail` table as written to Parquet (no partition columns).
pub fn cloudtrail_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let mut fields: Vec<Field> = CLOUDTRAIL_FIELDS
            .iter()
            .map(|field| Field::new(field.column, data_type(&field.shape), true))
            .collect();
        fields.push(Field::new(EVENT_TS, event_ts_type(), false));
        fields.push(Field::new(UNMAPPED, DataType::Utf8, true));
        fields.push(Field::new(SOURCE_URI, DataType::Utf8, false));
        fields.push(Field::new(SOURCE_RECORD, DataType::Int64, false));
        Arc::new(Schema::new(fields))
    });
    SCHEMA.clone()
}

/// Finds a top-level field by its JSON member name.
pub fn field_by_json_name(json_name: &str) -> Option<&'static SchemaField> {
    CLOUDTRAIL_FIELDS.iter().find(|field| field.json_name == json_name)
}

/// The schema as a Markdown table, for the docs: one row per column and struct member.
pub fn markdown_table() -> String {
    fn rows(out: &mut String, prefix: &str, json_prefix: &str, fields: &[SchemaField]) {
        for field in fields {
            let column = format!("{prefix}{}", field.column);
            let json_path = format!("{json_prefix}{}", field.json_name);
            let kind = match &field.shape {
                Shape::Text | Shape::BoolText => "string",
                Shape::Json => "string (JSON)",
                Shape::Struct(_) => "struct",
                Shape::StructList(_) => "array<struct>",
                Shape::StringMap => "map<string,string>",
            };
            out.push_str(&format!("| `{column}` | `{json_path}` | {kind} | {} |\n", field.doc));
            match &field.shape {
                Shape::Struct(members) => {
                    rows(out, &format!("{column}."), &format!("{json_path}."), members)
                }
                Shape::StructList(members) => {
                    rows(out, &format!("{column}[]."), &format!("{json_path}[]."), members)
                }
                _ => {}
            }
        }
    }
    let mut out =
        String::from("| column | CloudTrail JSON | type | meaning |\n|---|---|---|---|\n");
    rows(&mut out, "", "", CLOUDTRAIL_FIELDS);
    for (column, doc) in EXTRA_COLUMNS {
        let kind = match *column {
            EVENT_TS => "timestamp(ms, UTC)",
            SOURCE_RECORD => "bigint",
            UNMAPPED => "string (JSON)",
            _ => "string",
        };
        out.push_str(&format!("| `{column}` | | {kind} | {doc} |\n"));
    }
    for partition in PARTITION_COLUMNS {
        out.push_str(&format!(
            "| `{partition}` | | string (partition) | Hive partition from event_ts in UTC (`dt=YYYY-MM-DD`, `hour=HH`). |\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_athena_columns_then_extras() {
        let schema = cloudtrail_schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names.first(), Some(&"eventversion"));
        assert_eq!(names[names.len() - 4..], [EVENT_TS, UNMAPPED, SOURCE_URI, SOURCE_RECORD]);
        assert!(names.iter().all(|name| *name == name.to_lowercase()));
        assert_eq!(names.len(), CLOUDTRAIL_FIELDS.len() + EXTRA_COLUMNS.len());
    }

    #[test]
    fn nested_shapes_match_athena() {
        let schema = cloudtrail_schema();
        let identity = schema.field_with_name("useridentity").unwrap();
        let DataType::Struct(members) = identity.data_type() else {
            panic!("useridentity is a struct")
        };
        let session = members.iter().find(|f| f.name() == "sessioncontext").unwrap();
        let DataType::Struct(session_members) = session.data_type() else { panic!("struct") };
        let names: Vec<&str> = session_members.iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "attributes",
                "sessionissuer",
                "ec2roledelivery",
                "sourceidentity",
                "webidfederationdata"
            ]
        );
        let resources = schema.field_with_name("resources").unwrap();
        assert!(matches!(resources.data_type(), DataType::List(_)));
    }
}
