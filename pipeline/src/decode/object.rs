//! A JSON object read as its members' raw text, in order, without building a tree.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// An object's members as (name, raw JSON value) pairs, in the order written.
pub struct JsonObject<'a> {
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> JsonObject<'a> {
    /// Parses JSON text that must be an object; `Err` carries serde's reason.
    pub fn from_text(text: &'a str) -> Result<Self, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let object = deserializer.deserialize_map(ObjectVisitor)?;
        deserializer.end()?;
        Ok(object)
    }

    /// Reads a raw value as an object; `None` when it is not one.
    pub fn parse(raw: &'a RawValue) -> Option<Self> {
        let text = raw.get();
        if !text.starts_with('{') {
            return None;
        }
        Self::from_text(text).ok()
    }

    /// The members in order.
    pub fn members(&self) -> impl Iterator<Item = (&str, &'a RawValue)> {
        self.members.iter().map(|(key, value)| (key.as_ref(), *value))
    }

    /// The first member called `name`.
    pub fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.members.iter().find(|(key, _)| key == name).map(|(_, value)| *value)
    }

    /// The first member called `name`, when it is a JSON string.
    pub fn get_str(&self, name: &str) -> Option<Cow<'a, str>> {
        let raw = self.get(name)?;
        serde_json::from_str::<Cow<'a, str>>(raw.get()).ok()
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = JsonObject<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(24));
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let value: &'de RawValue = map.next_value()?;
            members.push((key, value));
        }
        Ok(JsonObject { members })
    }
}

/// `text` as a JSON string literal.
pub fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_members_in_order_with_raw_values() {
        let object =
            JsonObject::from_text(r#"{"b": {"x": [1, 2]}, "a\"q": "s\n", "n": null}"#).unwrap();
        let members: Vec<(&str, &str)> = object.members().map(|(k, v)| (k, v.get())).collect();
        assert_eq!(members, [("b", r#"{"x": [1, 2]}"#), ("a\"q", r#""s\n""#), ("n", "null")]);
        assert_eq!(object.get_str("a\"q").as_deref(), Some("s\n"));
        assert!(object.get_str("b").is_none());
    }

    #[test]
    fn rejects_non_objects_and_trailing_text() {
        assert!(JsonObject::from_text("[1]").is_err());
        assert!(JsonObject::from_text("{} x").is_err());
        assert!(JsonObject::from_text(r#"{"a": }"#).is_err());
    }
}
