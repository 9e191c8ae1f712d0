//! Result rows as JSON: one map per row, column name → value.
//!
//! | PostgreSQL | JSON |
//! | --- | --- |
//! | `smallint`, `integer`, `bigint`, `oid` | number |
//! | `real`, `double precision` | number (`"NaN"`, `"Infinity"`, `"-Infinity"` as strings) |
//! | `numeric` | number: whole when it has no fraction and fits 64 bits, else a float (cast to `text` for every digit); `NaN` and infinities as strings |
//! | `text`, `varchar`, `char(n)`, `name`, `"char"`, `citext`, enums | string |
//! | `boolean` | `true` / `false` |
//! | `timestamptz` | RFC 3339 string in UTC: `2024-05-01T12:00:00Z` |
//! | `timestamp` | ISO 8601 without offset: `2024-05-01T12:00:00` |
//! | `date`, `time` | `2024-05-01`, `12:00:00` |
//! | `uuid` | string |
//! | `json`, `jsonb` | the JSON value |
//! | `bytea` | string `\x…` (hex, as psql shows it) |
//! | arrays of those | list |
//! | `NULL` | `null` |
//!
//! Any other type is an error naming the column and the type.

use std::error::Error;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use postgres_types::{FromSql, Kind, Type};
use serde_json::{Map, Number, Value};
use tokio_postgres::Row;

use super::error::SqlError;

type BoxError = Box<dyn Error + Sync + Send>;

/// A row as a JSON map.
pub fn row_to_json(row: &Row) -> Result<Map<String, Value>, SqlError> {
    let mut map = Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let convert_error = |reason: Option<String>| SqlError::Convert {
            column: column.name().to_owned(),
            type_name: ty.name().to_owned(),
            reason,
        };
        if !Cell::accepts(ty) {
            return Err(convert_error(None));
        }
        let cell: Cell = row.try_get(i).map_err(|e| {
            convert_error(Some(
                e.source().map_or_else(|| e.to_string(), |s| s.to_string()),
            ))
        })?;
        map.insert(column.name().to_owned(), cell.0);
    }
    Ok(map)
}

/// One value of a row, as JSON.
struct Cell(Value);

fn float(x: f64) -> Value {
    match Number::from_f64(x) {
        Some(n) => Value::Number(n),
        None if x.is_nan() => Value::from("NaN"),
        None if x > 0.0 => Value::from("Infinity"),
        None => Value::from("-Infinity"),
    }
}

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let value = match *ty {
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::INT2 => i16::from_sql(ty, raw)?.into(),
            Type::INT4 => i32::from_sql(ty, raw)?.into(),
            Type::INT8 => i64::from_sql(ty, raw)?.into(),
            Type::OID => u32::from_sql(ty, raw)?.into(),
            Type::FLOAT4 => float(f64::from(f32::from_sql(ty, raw)?)),
            Type::FLOAT8 => float(f64::from_sql(ty, raw)?),
            Type::NUMERIC => numeric(raw)?,
            Type::CHAR => Value::from(char::from(i8::from_sql(ty, raw)? as u8).to_string()),
            Type::TIMESTAMP => Value::from(
                NaiveDateTime::from_sql(ty, raw)?
                    .format("%Y-%m-%dT%H:%M:%S%.f")
                    .to_string(),
            ),
            Type::TIMESTAMPTZ => Value::from(
                DateTime::<Utc>::from_sql(ty, raw)?
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ),
            Type::DATE => Value::from(NaiveDate::from_sql(ty, raw)?.format("%Y-%m-%d").to_string()),
            Type::TIME => Value::from(
                NaiveTime::from_sql(ty, raw)?
                    .format("%H:%M:%S%.f")
                    .to_string(),
            ),
            Type::UUID => Value::from(uuid::Uuid::from_sql(ty, raw)?.to_string()),
            Type::JSON | Type::JSONB => Value::from_sql(ty, raw)?,
            Type::BYTEA => Value::from(format!("\\x{}", hex::encode(raw))),
            ref other => match other.kind() {
                Kind::Array(_) => Value::Array(
                    Vec::<Cell>::from_sql(ty, raw)?
                        .into_iter()
                        .map(|c| c.0)
                        .collect(),
                ),
                Kind::Enum(_) => Value::from(std::str::from_utf8(raw)?),
                Kind::Domain(base) => Cell::from_sql(base, raw)?.0,
                _ => Value::from(<&str>::from_sql(ty, raw)?),
            },
        };
        Ok(Cell(value))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
        Ok(Cell(Value::Null))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::BOOL
                | Type::INT2
                | Type::INT4
                | Type::INT8
                | Type::OID
                | Type::FLOAT4
                | Type::FLOAT8
                | Type::NUMERIC
                | Type::CHAR
                | Type::TIMESTAMP
                | Type::TIMESTAMPTZ
                | Type::DATE
                | Type::TIME
                | Type::UUID
                | Type::JSON
                | Type::JSONB
                | Type::BYTEA
        ) || <&str>::accepts(ty)
            || match ty.kind() {
                Kind::Array(member) | Kind::Domain(member) => Cell::accepts(member),
                Kind::Enum(_) => true,
                _ => false,
            }
    }
}

/// Decodes PostgreSQL's binary `numeric`: digit count, weight (of the first
/// base-10000 digit), sign, display scale, then the base-10000 digits.
fn numeric(raw: &[u8]) -> Result<Value, BoxError> {
    let word = |i: usize| -> Result<u16, BoxError> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "truncated numeric".into())
    };
    let (ndigits, weight, sign, scale) = (
        word(0)? as usize,
        word(1)? as i16,
        word(2)?,
        word(3)? as usize,
    );
    match sign {
        0xC000 => return Ok(Value::from("NaN")),
        0xD000 => return Ok(Value::from("Infinity")),
        0xF000 => return Ok(Value::from("-Infinity")),
        _ => {}
    }
    let digits = (0..ndigits)
        .map(|i| word(4 + i))
        .collect::<Result<Vec<_>, _>>()?;
    let digit = |k: i32| -> u16 {
        usize::try_from(k)
            .ok()
            .and_then(|k| digits.get(k).copied())
            .unwrap_or(0)
    };
    let mut text = String::new();
    if sign == 0x4000 {
        text.push('-');
    }
    if weight < 0 {
        text.push('0');
    } else {
        text.push_str(&digit(0).to_string());
        for k in 1..=i32::from(weight) {
            text.push_str(&format!("{:04}", digit(k)));
        }
    }
    if scale > 0 {
        let mut fraction = String::new();
        let mut k = i32::from(weight) + 1;
        while fraction.len() < scale {
            fraction.push_str(&format!("{:04}", digit(k)));
            k += 1;
        }
        fraction.truncate(scale);
        text.push('.');
        text.push_str(&fraction);
    }
    if scale == 0 {
        if let Ok(n) = text.parse::<i64>() {
            return Ok(n.into());
        }
    }
    Ok(float(text.parse::<f64>()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(ndigits: u16, weight: i16, sign: u16, scale: u16, digits: &[u16]) -> Vec<u8> {
        let mut raw = Vec::new();
        for w in [ndigits, weight as u16, sign, scale].iter().chain(digits) {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        raw
    }

    #[test]
    fn numerics() {
        assert_eq!(
            numeric(&encode(2, 1, 0, 0, &[12, 3456])).unwrap(),
            Value::from(123456)
        );
        assert_eq!(
            numeric(&encode(2, 0, 0x4000, 2, &[12, 5000])).unwrap(),
            Value::from(-12.5)
        );
        assert_eq!(
            numeric(&encode(1, -1, 0, 4, &[42])).unwrap(),
            Value::from(0.0042)
        );
        assert_eq!(numeric(&encode(0, 0, 0, 0, &[])).unwrap(), Value::from(0));
        assert_eq!(
            numeric(&encode(1, 2, 0, 0, &[7])).unwrap(),
            Value::from(700000000)
        );
        assert_eq!(
            numeric(&encode(0, 0, 0xC000, 0, &[])).unwrap(),
            Value::from("NaN")
        );
        assert!(numeric(&[0, 1]).is_err());
    }
}
