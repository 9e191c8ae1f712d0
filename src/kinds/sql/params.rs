//! `params`: JSON values bound to `$1`, `$2`… The statement is prepared with
//! a type per value (integer → `bigint`, float → `double precision`, boolean
//! → `boolean`, map → `jsonb`; strings, lists and null let the server infer
//! it from the query), then every value is sent as text, which the server
//! parses as the parameter's type: a string can fill a `timestamptz`, `uuid`
//! or `numeric` parameter, and a list a Postgres array (`id = ANY($1)`) as
//! well as a `jsonb` one.

use std::error::Error;

use bytes::BytesMut;
use postgres_types::{Format, IsNull, Kind, ToSql, Type, to_sql_checked};
use serde_json::Value;

/// One parameter value.
#[derive(Debug)]
pub struct Param(pub Value);

impl Param {
    /// The type the statement is prepared with for this value.
    pub fn declared_type(&self) -> Type {
        match &self.0 {
            Value::Bool(_) => Type::BOOL,
            Value::Number(n) if n.is_i64() => Type::INT8,
            Value::Number(n) if n.is_u64() => Type::NUMERIC,
            Value::Number(_) => Type::FLOAT8,
            Value::Object(_) => Type::JSONB,
            Value::String(_) | Value::Array(_) | Value::Null => Type::UNKNOWN,
        }
    }
}

/// The value as the text a parameter of type `ty` is parsed from.
fn text(value: &Value, ty: &Type) -> String {
    match (value, ty.kind()) {
        (Value::String(s), _) => s.clone(),
        (Value::Array(items), Kind::Array(_)) => array_literal(items),
        (other, _) => other.to_string(),
    }
}

/// A Postgres array literal: `{1,"a b",NULL,{2,3}}`.
fn array_literal(items: &[Value]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|item| match item {
            Value::Null => "NULL".to_owned(),
            Value::Array(inner) => array_literal(inner),
            Value::String(s) => quote_element(s),
            other => quote_element(&other.to_string()),
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn quote_element(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

impl ToSql for Param {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        if self.0.is_null() {
            return Ok(IsNull::Yes);
        }
        let text = text(&self.0, ty);
        if text.contains('\0') {
            return Err(
                "a parameter holds a NUL character, which PostgreSQL text can't store".into(),
            );
        }
        out.extend_from_slice(text.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn declared_types() {
        let types: Vec<Type> = [
            json!(1),
            json!(u64::MAX),
            json!(1.5),
            json!(true),
            json!({}),
            json!("x"),
            json!([1]),
            json!(null),
        ]
        .into_iter()
        .map(|v| Param(v).declared_type())
        .collect();
        assert_eq!(
            types,
            [
                Type::INT8,
                Type::NUMERIC,
                Type::FLOAT8,
                Type::BOOL,
                Type::JSONB,
                Type::UNKNOWN,
                Type::UNKNOWN,
                Type::UNKNOWN
            ]
        );
    }

    #[test]
    fn texts() {
        assert_eq!(text(&json!("a'b"), &Type::TEXT), "a'b");
        assert_eq!(
            text(&json!([1, "x y", null, [2, "q\"\\"]]), &Type::TEXT_ARRAY),
            r#"{"1","x y",NULL,{"2","q\"\\"}}"#
        );
        assert_eq!(text(&json!([1, 2]), &Type::JSONB), "[1,2]");
        assert_eq!(text(&json!({"a": 1}), &Type::JSONB), r#"{"a":1}"#);
        assert_eq!(text(&json!(2.5), &Type::FLOAT8), "2.5");
    }
}
