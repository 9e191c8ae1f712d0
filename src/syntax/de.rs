//! serde deserialization from [`Node`]s that reports every error with its span.
//!
//! Two things make a file's errors come out all at once instead of one per
//! run: unknown keys are found up front for every struct (serde passes the
//! known field names) and skipped, so one typo doesn't hide the next; and a
//! [`Lenient`] field swallows its own failure after the error was recorded, so
//! a broken step doesn't hide the steps after it. Every error is recorded
//! where it first crosses this deserializer, with that node's position.

use std::cell::RefCell;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

pub use error::{DeError, DeErrorKind, Error};

use super::yaml::{Node, NodeValue, ScalarStyle, is_null_text};
use crate::diagnostic::Span;

/// Deserializes `T` from `node`, returning the value if it could be built
/// and every problem found on the way. A value with problems is not valid.
pub fn from_node<T: DeserializeOwned>(node: &Node) -> (Option<T>, Vec<DeError>) {
    let errors = RefCell::new(Vec::new());
    let value = T::deserialize(NodeDe {
        node,
        errors: &errors,
    })
    .ok();
    (value, errors.into_inner())
}

/// The name under which [`super::Spanned`] asks for a node's position.
pub(crate) const SPANNED: &str = "$__steward_spanned";
/// The name under which [`Lenient`] asks to swallow a recorded failure.
pub(crate) const LENIENT: &str = "$__steward_lenient";
/// The name under which [`super::OneOrMany`] accepts one value or a list.
pub(crate) const ONE_OR_MANY: &str = "$__steward_one_or_many";
pub(crate) const SPAN_FIELDS: &[&str] = &["$__line", "$__col", "$__len", "$__value"];

/// A deserializer over one node.
#[derive(Clone, Copy)]
pub struct NodeDe<'a> {
    node: &'a Node,
    errors: &'a RefCell<Vec<DeError>>,
}

impl<'a> NodeDe<'a> {
    fn child(&self, node: &'a Node) -> NodeDe<'a> {
        NodeDe {
            node,
            errors: self.errors,
        }
    }

    fn record(&self, span: Span, kind: DeErrorKind) {
        self.errors.borrow_mut().push(DeError { span, kind });
    }

    /// Records an error the first time it crosses a node, at that node.
    fn settle<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        result.map_err(|mut e| {
            if !e.recorded {
                self.record(self.node.span, e.kind.clone());
                e.recorded = true;
            }
            e
        })
    }

    fn fail<T>(&self, message: String) -> Result<T, Error> {
        self.settle(Err(de::Error::custom(message)))
    }

    fn invalid<T>(&self, expected: &str) -> Result<T, Error> {
        let found = match &self.node.value {
            NodeValue::Scalar(s, _) if self.node.is_null() => format!("null `{s}`"),
            NodeValue::Scalar(s, _) => format!("`{}`", clip(s)),
            _ => self.node.kind_name().to_owned(),
        };
        self.fail(format!("expected {expected}, found {found}"))
    }

    fn plain(&self) -> Option<&'a str> {
        match &self.node.value {
            NodeValue::Scalar(s, ScalarStyle::Plain) => Some(s),
            _ => None,
        }
    }
}

fn clip(s: &str) -> String {
    let first = s.lines().next().unwrap_or_default();
    if first.chars().count() > 40 || first.len() < s.len() {
        format!("{}…", first.chars().take(40).collect::<String>())
    } else {
        first.to_owned()
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn parse_int(s: &str) -> Option<i128> {
    let s = s.replace('_', "");
    if let Some(hex) = s.strip_prefix("0x") {
        return i128::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = s.strip_prefix("0o") {
        return i128::from_str_radix(oct, 8).ok();
    }
    s.parse().ok()
}

fn parse_float(s: &str) -> Option<f64> {
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" => Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Some(f64::NAN),
        _ if s.chars().any(|c| c.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    }
}

macro_rules! deserialize_int {
    ($($method:ident => $visit:ident : $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.plain().and_then(parse_int) {
                Some(n) => match <$ty>::try_from(n) {
                    Ok(n) => self.settle(visitor.$visit(n)),
                    Err(_) => self.fail(format!("{n} is out of range here")),
                },
                None => self.invalid("an integer"),
            }
        }
    )*};
}

impl<'a> de::Deserializer<'a> for NodeDe<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        let result = match &self.node.value {
            NodeValue::Scalar(s, ScalarStyle::Plain) => {
                if is_null_text(s) {
                    visitor.visit_unit()
                } else if let Some(b) = parse_bool(s) {
                    visitor.visit_bool(b)
                } else if let Some(n) = parse_int(s) {
                    match i64::try_from(n) {
                        Ok(n) => visitor.visit_i64(n),
                        Err(_) => visitor.visit_borrowed_str(s),
                    }
                } else if let Some(f) = parse_float(s) {
                    visitor.visit_f64(f)
                } else {
                    visitor.visit_borrowed_str(s)
                }
            }
            NodeValue::Scalar(s, _) => visitor.visit_borrowed_str(s),
            NodeValue::Seq(items) => visitor.visit_seq(SeqDe {
                de: self,
                items: items.iter(),
            }),
            NodeValue::Map(entries) => visitor.visit_map(MapDe {
                de: self,
                entries: entries.iter().collect::<Vec<_>>().into_iter(),
                value: None,
            }),
        };
        self.settle(result)
    }

    fn deserialize_bool<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.plain().and_then(parse_bool) {
            Some(b) => self.settle(visitor.visit_bool(b)),
            None => self.invalid("`true` or `false`"),
        }
    }

    deserialize_int! {
        deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32, deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8, deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32, deserialize_u64 => visit_u64: u64,
    }

    fn deserialize_f32<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.plain().and_then(parse_float) {
            Some(f) => self.settle(visitor.visit_f64(f)),
            None => self.invalid("a number"),
        }
    }

    fn deserialize_char<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    /// A plain scalar is a string when a string is wanted: `version: 1.4`
    /// reads as "1.4", as an operator means it.
    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.value {
            NodeValue::Scalar(s, _) if !self.node.is_null() => {
                self.settle(visitor.visit_borrowed_str(s))
            }
            _ => self.invalid("a string"),
        }
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            self.settle(visitor.visit_none())
        } else {
            self.settle(visitor.visit_some(self))
        }
    }

    fn deserialize_unit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.node.is_null() {
            self.settle(visitor.visit_unit())
        } else {
            self.invalid("null")
        }
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == LENIENT {
            // The visitor swallows the failure; it is recorded already.
            return visitor.visit_newtype_struct(self);
        }
        if name == ONE_OR_MANY {
            if let NodeValue::Seq(items) = &self.node.value {
                let result = visitor.visit_seq(SeqDe {
                    de: self,
                    items: items.iter(),
                });
                return self.settle(result);
            }
        }
        self.settle(visitor.visit_newtype_struct(self))
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.value {
            NodeValue::Seq(items) => {
                let result = visitor.visit_seq(SeqDe {
                    de: self,
                    items: items.iter(),
                });
                self.settle(result)
            }
            _ => self.invalid("a list"),
        }
    }

    fn deserialize_tuple<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.value {
            NodeValue::Map(entries) => {
                let result = visitor.visit_map(MapDe {
                    de: self,
                    entries: entries.iter().collect::<Vec<_>>().into_iter(),
                    value: None,
                });
                self.settle(result)
            }
            _ => self.invalid("a mapping"),
        }
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == SPANNED {
            let result = visitor.visit_map(SpanDe { de: self, next: 0 });
            return self.settle(result);
        }
        let NodeValue::Map(entries) = &self.node.value else {
            return self.invalid("a mapping");
        };
        let mut known = Vec::with_capacity(entries.len());
        for entry in entries {
            match entry.0.as_str() {
                Some(key) if !fields.contains(&key) => self.record(
                    entry.0.span,
                    DeErrorKind::UnknownField {
                        field: key.to_owned(),
                        expected: fields,
                    },
                ),
                _ => known.push(entry),
            }
        }
        let result = visitor.visit_map(MapDe {
            de: self,
            entries: known.into_iter(),
            value: None,
        });
        self.settle(result)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let result = match &self.node.value {
            NodeValue::Scalar(s, _) => visitor.visit_enum(s.as_str().into_deserializer()),
            NodeValue::Map(entries) if entries.len() == 1 => visitor.visit_enum(EnumDe {
                de: self,
                key: &entries[0].0,
                value: &entries[0].1,
            }),
            _ => return self.invalid("one of the listed names"),
        };
        self.settle(result)
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

mod access;
mod error;

use access::{EnumDe, MapDe, SeqDe, SpanDe};
