//! Request bodies: JSON, `application/x-www-form-urlencoded` and
//! `multipart/form-data` (streamed through `multer`) all become one [`Form`],
//! so validation does not care how a client encoded its fields.
//!
//! Size limits are enforced while the body streams in; nothing larger than
//! the limit is ever buffered.

use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::domain::error::FieldErrors;
pub use crate::domain::form::{Form, Upload, Value};
use crate::http::error::ApiError;

/// A request body as warp hands it over, boxed so handlers can hold it.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, warp::Error>> + Send>>;

/// The largest JSON or urlencoded body, and the largest text part of a
/// multipart body. Far above any field's own limit (2,000 characters).
pub const MAX_TEXT_BODY: usize = 64 * 1024;

/// Most fields one body may have (Django's own limit is 1,000; no request of
/// this API has more than five).
pub const MAX_FIELDS: usize = 200;

fn too_many_fields() -> ApiError {
    ApiError::parse_error(format!("Too many fields: at most {MAX_FIELDS}."))
}

/// How much of an oversized body is read and thrown away before answering
/// 413, so that the client sees the answer instead of a reset connection.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Limits for one request's body.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest file part.
    pub max_file: usize,
}

/// Reads and decodes a request body according to its `Content-Type`.
///
/// No content type (or an empty body) gives an empty form, as DRF does.
pub async fn read_form(
    content_type: Option<&str>,
    body: BodyStream,
    limits: Limits,
) -> Result<Form, ApiError> {
    let Some(content_type) = content_type else {
        return Ok(Form::default());
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => parse_json(&read_all(body, MAX_TEXT_BODY).await?),
        "application/x-www-form-urlencoded" => {
            parse_urlencoded(&read_all(body, MAX_TEXT_BODY).await?)
        }
        "multipart/form-data" => read_multipart(content_type, body, limits).await,
        _ => Err(ApiError::unsupported_media_type(content_type)),
    }
}

/// Collects a whole body of at most `limit` bytes.
pub async fn read_all(mut body: BodyStream, limit: usize) -> Result<Bytes, ApiError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::parse_error(format!("Could not read the request body - {e}")))?;
        if buf.len() + chunk.len() > limit {
            drain(body, buf.len() + chunk.len()).await;
            return Err(ApiError::too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Reads and discards the rest of a body (up to [`DRAIN_LIMIT`]).
async fn drain(mut body: BodyStream, mut seen: usize) {
    while seen < DRAIN_LIMIT {
        match body.next().await {
            Some(Ok(chunk)) => seen += chunk.len(),
            _ => return,
        }
    }
}

/// Parses a JSON body; it must be an object.
pub fn parse_json(bytes: &[u8]) -> Result<Form, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Form::default());
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::parse_error(format!("JSON parse error - {e}")))?;
    let object = match value {
        serde_json::Value::Object(object) if object.len() > MAX_FIELDS => {
            return Err(too_many_fields())
        }
        serde_json::Value::Object(object) => object,
        other => {
            let kind = match other {
                serde_json::Value::Array(_) => "list",
                serde_json::Value::String(_) => "str",
                serde_json::Value::Bool(_) => "bool",
                serde_json::Value::Number(n) if n.is_f64() => "float",
                serde_json::Value::Number(_) => "int",
                _ => "NoneType",
            };
            let mut errors = FieldErrors::new();
            errors.add_non_field(format!(
                "Invalid data. Expected a dictionary, but got {kind}."
            ));
            return Err(errors.into());
        }
    };
    let mut form = Form::default();
    for (name, value) in object {
        let value = match value {
            serde_json::Value::String(text) => Value::Text(text),
            other => Value::Json(other),
        };
        form.insert(name, value);
    }
    Ok(form)
}

/// Parses an `application/x-www-form-urlencoded` body.
pub fn parse_urlencoded(bytes: &[u8]) -> Result<Form, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
        .map_err(|e| ApiError::parse_error(format!("Form parse error - {e}")))?;
    if pairs.len() > MAX_FIELDS {
        return Err(too_many_fields());
    }
    let mut form = Form::default();
    for (name, value) in pairs {
        form.insert(name, Value::Text(value));
    }
    Ok(form)
}

fn multipart_error(error: impl std::fmt::Display) -> ApiError {
    ApiError::parse_error(format!("Multipart form parse error - {error}"))
}

/// Streams a multipart body through `multer`, keeping text parts as text and
/// file parts (those with a filename) as [`Upload`]s.
async fn read_multipart(
    content_type: &str,
    body: BodyStream,
    limits: Limits,
) -> Result<Form, ApiError> {
    let boundary = multer::parse_boundary(content_type).map_err(multipart_error)?;
    // Box the stream into a shared cell so that the rest can be drained after
    // a limit is hit: multer owns it while parsing.
    let (body, rest) = shared_body(body);
    let mut multipart = multer::Multipart::new(body, boundary);
    let mut form = Form::default();
    let result: Result<(), ApiError> = async {
        let mut fields = 0;
        while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
            fields += 1;
            if fields > MAX_FIELDS {
                return Err(too_many_fields());
            }
            let name = field.name().unwrap_or_default().to_string();
            let filename = field.file_name().map(str::to_string);
            let limit = if filename.is_some() {
                limits.max_file
            } else {
                MAX_TEXT_BODY
            };
            let mut buf = BytesMut::new();
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                if buf.len() + chunk.len() > limit {
                    return Err(ApiError::too_large());
                }
                buf.extend_from_slice(&chunk);
            }
            if name.is_empty() {
                continue;
            }
            let value = match filename {
                Some(filename) => Value::File(Upload {
                    filename,
                    bytes: buf.freeze(),
                }),
                None => Value::Text(
                    String::from_utf8(buf.to_vec())
                        .map_err(|_| multipart_error("a text field is not valid UTF-8"))?,
                ),
            };
            form.insert(name, value);
        }
        Ok(())
    }
    .await;
    drop(multipart);
    if let Err(error) = result {
        if error.status() == warp::http::StatusCode::PAYLOAD_TOO_LARGE {
            if let Some(rest) = rest.take() {
                drain(rest, 0).await;
            }
        }
        return Err(error);
    }
    Ok(form)
}

/// Splits ownership of a body: multer reads it through the returned stream,
/// and once multer is dropped the remainder can be taken back to drain it.
fn shared_body(body: BodyStream) -> (BodyStream, SharedRest) {
    let cell = std::sync::Arc::new(std::sync::Mutex::new(Some(body)));
    let reader = cell.clone();
    let stream = futures_util::stream::poll_fn(move |cx| {
        let mut guard = match reader.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        match guard.as_mut() {
            Some(body) => body.as_mut().poll_next(cx),
            None => std::task::Poll::Ready(None),
        }
    });
    (Box::pin(stream), SharedRest(cell))
}

struct SharedRest(std::sync::Arc<std::sync::Mutex<Option<BodyStream>>>);

impl SharedRest {
    fn take(&self) -> Option<BodyStream> {
        match self.0.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_object_fields_become_values() {
        let form = parse_json(br#"{"title": "Hi", "n": 3, "x": null}"#).unwrap();
        assert_eq!(form.get("title"), Some(&Value::Text("Hi".into())));
        assert_eq!(form.get("n"), Some(&Value::Json(serde_json::json!(3))));
        assert_eq!(form.get("x"), Some(&Value::Json(serde_json::Value::Null)));
    }

    #[test]
    fn json_that_is_not_an_object_is_a_non_field_error() {
        let error = parse_json(b"[1]").unwrap_err();
        match error {
            ApiError::Fields(errors) => assert_eq!(
                errors.get("non_field_errors").unwrap(),
                ["Invalid data. Expected a dictionary, but got list."]
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn malformed_json_is_a_parse_error() {
        let error = parse_json(b"{\"title\": ").unwrap_err();
        assert_eq!(error.status(), warp::http::StatusCode::BAD_REQUEST);
        assert!(error.to_string().contains("JSON parse error - "), "{error}");
    }

    #[test]
    fn empty_json_body_is_an_empty_form() {
        assert_eq!(parse_json(b"  ").unwrap(), Form::default());
    }

    #[test]
    fn urlencoded_keeps_the_last_of_repeated_names() {
        let form = parse_urlencoded(b"title=a&title=b+c&room=films").unwrap();
        assert_eq!(form.get("title"), Some(&Value::Text("b c".into())));
        assert_eq!(form.names().count(), 3);
    }
}
