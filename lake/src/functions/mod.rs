//! SQL functions trailhound adds to DataFusion so Athena (Trino) CloudTrail queries run
//! unchanged, in rules and in hunting alike.

mod json;
pub mod json_path;

use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

/// Registers every trailhound function on a session.
pub fn register_all(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(json::JsonExtract::scalar()));
    ctx.register_udf(ScalarUDF::new_from_impl(json::JsonExtract::json()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;

    async fn query_strings(sql: &str) -> Vec<Option<String>> {
        let ctx = SessionContext::new();
        register_all(&ctx);
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        batches
            .iter()
            .flat_map(|batch| {
                let column =
                    arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)
                        .unwrap();
                column.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect::<Vec<_>>()
            })
            .collect()
    }

    #[tokio::test]
    async fn json_extract_scalar_follows_trino() {
        // Trino documentation examples.
        let json = r#"'{"store": {"book": [{"author": "Nigel Rees", "price": 8.95}], "open": true, "tags": null}}'"#;
        let cases = [
            ("$.store.book[0].author", Some("Nigel Rees")),
            ("$.store.book[0].price", Some("8.95")),
            ("$.store.open", Some("true")),
            ("$.store.tags", None),
            ("$.store.book", None),
            ("$.store.missing", None),
        ];
        for (path, expected) in cases {
            let got = query_strings(&format!("SELECT json_extract_scalar({json}, '{path}')")).await;
            assert_eq!(got, vec![expected.map(str::to_string)], "path {path}");
        }
        let got = query_strings("SELECT json_extract_scalar('not json', '$.a')").await;
        assert_eq!(got, vec![None]);
    }

    #[tokio::test]
    async fn json_extract_returns_json_text() {
        let got = query_strings(r#"SELECT json_extract('{"a": {"b": [1, 2]}}', '$.a')"#).await;
        assert_eq!(got, vec![Some(r#"{"b":[1,2]}"#.to_string())]);
        let got = query_strings(r#"SELECT json_extract('{"a": "x"}', '$.a')"#).await;
        assert_eq!(got, vec![Some(r#""x""#.to_string())]);
    }

    #[tokio::test]
    async fn invalid_paths_are_errors() {
        let ctx = SessionContext::new();
        register_all(&ctx);
        let error = ctx
            .sql("SELECT json_extract_scalar('{}', 'a.b')")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_err();
        assert!(error.to_string().contains("must start with '$'"), "{error}");
    }
}
