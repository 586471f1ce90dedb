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

impl Value {
    /// The field read as DRF's `IntegerField` reads it: a JSON integer, or
    /// a number or text whose only fraction is zeros (`7`, `7.0`, `"7."`,
    /// `" 7 "`); `None` for anything else (`7.5`, `true`, `"x"`, a file).
    pub fn integer(&self) -> Option<i64> {
        match self {
            Value::Json(serde_json::Value::Number(n)) => n.as_i64().or_else(|| {
                // Python writes floats from 1e16 up with an exponent, which
                // `int()` then refuses: so does this.
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e16)
                    .map(|f| f as i64)
            }),
            Value::Text(text) => {
                let text = text.trim_end();
                let whole = match text.rfind('.') {
                    Some(dot) if text[dot + 1..].bytes().all(|b| b == b'0') => &text[..dot],
                    _ => text,
                };
                whole.trim().parse().ok()
            }
            _ => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::Value;
    use serde_json::json;

    #[test]
    fn integers_are_read_as_drf_reads_them() {
        let text = |t: &str| Value::Text(t.into()).integer();
        let number = |n: serde_json::Value| Value::Json(n).integer();
        assert_eq!(number(json!(7)), Some(7));
        assert_eq!(number(json!(-3)), Some(-3));
        assert_eq!(number(json!(7.0)), Some(7));
        assert_eq!(number(json!(1e2)), Some(100));
        assert_eq!(number(json!(7.5)), None);
        assert_eq!(number(json!(1e16)), None);
        assert_eq!(number(json!(true)), None);
        assert_eq!(number(json!(null)), None);
        assert_eq!(number(json!([7])), None);
        assert_eq!(text("7"), Some(7));
        assert_eq!(text(" 7 "), Some(7));
        assert_eq!(text("7.0"), Some(7));
        assert_eq!(text("7.00 "), Some(7));
        assert_eq!(text("7."), Some(7));
        assert_eq!(text("7.5"), None);
        assert_eq!(text("7.0.0"), None);
        assert_eq!(text("."), None);
        assert_eq!(text(""), None);
        assert_eq!(text("x"), None);
        assert_eq!(text("1e2"), None);
    }
}
