//! A submitted form: the fields of a request body, whatever its encoding
//! (JSON, urlencoded or multipart), as the validation rules read them.

use bytes::Bytes;

/// One submitted field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A form field, a multipart text part or a JSON string.
    Text(String),
    /// Any other JSON value (number, bool, null, array, object).
    Json(serde_json::Value),
    /// A multipart file part.
    File(Upload),
}

/// An uploaded file, held in memory (bounded by the upload limit).
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub filename: String,
    pub bytes: Bytes,
}

/// The fields of a request body, in the order sent. A repeated name keeps
/// its last value, as Django's `QueryDict` does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Form {
    fields: Vec<(String, Value)>,
}

impl Form {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(name, _)| name.as_str())
    }

    pub fn insert(&mut self, name: impl Into<String>, value: Value) {
        self.fields.push((name.into(), value));
    }
}
