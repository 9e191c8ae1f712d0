//! The serde access types over nodes: lists, mappings, spans, enums.

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::{Error, NodeDe, SPAN_FIELDS};
use crate::syntax::yaml::Node;

pub(super) struct SeqDe<'a> {
    pub(super) de: NodeDe<'a>,
    pub(super) items: std::slice::Iter<'a, Node>,
}

impl<'a> de::SeqAccess<'a> for SeqDe<'a> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'a>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some(node) => seed.deserialize(self.de.child(node)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

pub(super) struct MapDe<'a> {
    pub(super) de: NodeDe<'a>,
    pub(super) entries: std::vec::IntoIter<&'a (Node, Node)>,
    pub(super) value: Option<&'a Node>,
}

impl<'a> de::MapAccess<'a> for MapDe<'a> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(self.de.child(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(node) => seed.deserialize(self.de.child(node)),
            None => Err(de::Error::custom("value asked before key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// Feeds a [`super::Spanned`] its position, then its value.
pub(super) struct SpanDe<'a> {
    pub(super) de: NodeDe<'a>,
    pub(super) next: usize,
}

impl<'a> de::MapAccess<'a> for SpanDe<'a> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match SPAN_FIELDS.get(self.next) {
            Some(field) => seed.deserialize(field.into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let span = self.de.node.span;
        self.next += 1;
        match self.next {
            1 => seed.deserialize(span.line.into_deserializer()),
            2 => seed.deserialize(span.col.into_deserializer()),
            3 => seed.deserialize(span.len.into_deserializer()),
            _ => seed.deserialize(self.de),
        }
    }
}

pub(super) struct EnumDe<'a> {
    pub(super) de: NodeDe<'a>,
    pub(super) key: &'a Node,
    pub(super) value: &'a Node,
}

impl<'a> de::EnumAccess<'a> for EnumDe<'a> {
    type Error = Error;
    type Variant = NodeDe<'a>;

    fn variant_seed<V: DeserializeSeed<'a>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDe<'a>), Error> {
        let variant = seed.deserialize(self.de.child(self.key))?;
        Ok((variant, self.de.child(self.value)))
    }
}

impl<'a> de::VariantAccess<'a> for NodeDe<'a> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'a>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'a>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}
