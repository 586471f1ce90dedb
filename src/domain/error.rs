//! The domain's error: every way an operation can be refused, apart from
//! how it is told. The HTTP edge renders it in DRF's shapes
//! (`http::error`), a socket as an `error` frame (`live::protocol`); both
//! take their words from here, so each user-facing message is written once.

use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::storage::StorageError;

/// Every user-facing message that more than one place shows.
pub mod messages {
    pub const NOT_FOUND: &str = "Not found.";
    pub const INVALID_PAGE: &str = "Invalid page.";
    pub const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";
    pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
    pub const SERVER_ERROR: &str = "A server error occurred.";
    pub const OUT_OF_SPACE: &str = "The server is out of storage space.";
    pub const BUSY: &str = "The server is busy, try again.";

    pub const REQUIRED: &str = "This field is required.";
    pub const BLANK: &str = "This field may not be blank.";
    pub const NOT_NULL: &str = "This field may not be null.";
    pub const NOT_A_STRING: &str = "Not a valid string.";
    pub const NULL_CHARACTERS: &str = "Null characters are not allowed.";
    pub const NOT_AN_INTEGER: &str = "A valid integer is required.";
    pub const NOT_A_FILE: &str =
        "The submitted data was not a file. Check the encoding type on the form.";
    pub const INVALID_IMAGE: &str =
        "Upload a valid image. The file you uploaded was either not an image or a corrupted image.";
    pub const EMPTY_FILE: &str = "The submitted file is empty.";
    pub const NO_FILE: &str = "No file was submitted.";
    pub const UNIQUE_TITLE: &str = "The fields room, title must make a unique set.";
    pub const ONLY_DESCRIPTION_AND_IMAGE: &str =
        "Only the chat description and image can be changed.";
    pub const USERNAME_TAKEN: &str = "A user with that username already exists.";
    pub const EMAIL_TAKEN: &str = "A user with that email already exists.";

    pub const USER_INACTIVE: &str = "User is inactive";
    pub const BAD_CREDENTIALS: &str = "No active account found with the given credentials";
    pub const REGISTRATION_CLOSED: &str = "Registration is closed.";
    pub const INVALID_INVITE: &str = "Invalid or expired invite.";
    pub const CANNOT_SUSPEND_SELF: &str = "You cannot suspend yourself.";
    pub const LAST_ACTIVE_STAFF: &str =
        "The last active staff user cannot be suspended or lose staff status.";

    /// DRF's length message.
    pub fn too_long(max: usize) -> String {
        format!("Ensure this field has no more than {max} characters.")
    }

    /// DRF's throttling message: "Expected available in 1 second." / "N seconds."
    pub fn throttled(wait_secs: u64) -> String {
        let unit = if wait_secs == 1 { "second" } else { "seconds" };
        format!("Request was throttled. Expected available in {wait_secs} {unit}.")
    }
}

/// Field validation errors, kept in the order they were found so the body
/// lists fields in a stable, serializer-like order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors {
    entries: Vec<(String, Vec<String>)>,
}

impl FieldErrors {
    pub fn new() -> FieldErrors {
        FieldErrors::default()
    }

    /// Adds `message` to the list of `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.entries.iter_mut().find(|(name, _)| name == field) {
            Some((_, messages)) => messages.push(message),
            None => self.entries.push((field.to_string(), vec![message])),
        }
    }

    /// Adds an error that belongs to no single field.
    pub fn add_non_field(&mut self, message: impl Into<String>) {
        self.add("non_field_errors", message);
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `Ok(())` when nothing was added, else the errors as an [`Error`].
    pub fn into_result(self) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Fields(self))
        }
    }

    /// The messages of one field, for tests and callers that combine errors.
    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, messages)| messages.as_slice())
    }

    /// The first message of all, for channels that show one (socket frames).
    pub fn first(&self) -> Option<(&str, &str)> {
        self.entries
            .first()
            .and_then(|(field, messages)| Some((field.as_str(), messages.first()?.as_str())))
    }

    /// A single error on one field.
    pub fn single(field: &str, message: impl Into<String>) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        errors
    }
}

impl Serialize for FieldErrors {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (field, messages) in &self.entries {
            map.serialize_entry(field, messages)?;
        }
        map.end()
    }
}

/// Why an operation was refused or failed.
#[derive(Debug)]
pub enum Error {
    /// Per-field validation messages.
    Fields(FieldErrors),
    /// The seed's `{"Error": "wrong room"}`.
    WrongRoom,
    /// No such chat, message or user (or not visible to the caller).
    NotFound,
    /// A page number past the end or not a number.
    InvalidPage,
    /// Someone else's chat or message.
    PermissionDenied,
    /// A write without credentials.
    NotAuthenticated,
    /// A request refused as a whole, with this reason (400 `{"detail"}`).
    Refused(&'static str),
    /// Too many requests: come back in this many seconds.
    Throttled(u64),
    /// Storage failed (full, busy, or a bug).
    Storage(StorageError),
}

impl Error {
    /// 400 with one field error.
    pub fn field(field: &str, message: impl Into<String>) -> Error {
        Error::Fields(FieldErrors::single(field, message))
    }

    /// A failure that is nobody's input: a bug or the environment.
    pub fn internal(error: impl Into<anyhow::Error>) -> Error {
        Error::Storage(StorageError::Other(error.into()))
    }

    /// The machine-readable code a socket's `error` frame carries.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Fields(errors) => match errors.first() {
                Some((_, message)) if message == messages::BLANK => "blank",
                Some((_, message)) if message == messages::REQUIRED => "blank",
                Some((_, message)) if message.starts_with("Ensure this field") => "max_length",
                Some((_, message)) if message == messages::NOT_A_STRING => "invalid_json",
                Some((_, message)) if super::community::names_no_message(message) => "not_found",
                _ => "invalid",
            },
            Error::WrongRoom | Error::NotFound | Error::InvalidPage => "not_found",
            Error::PermissionDenied => "permission_denied",
            Error::NotAuthenticated => "not_authenticated",
            Error::Refused(_) => "invalid",
            Error::Throttled(_) => "throttled",
            Error::Storage(StorageError::Full) | Error::Storage(StorageError::Busy) => {
                "unavailable"
            }
            Error::Storage(StorageError::Other(_)) => "server_error",
        }
    }

    /// The human-readable text.
    pub fn detail(&self) -> String {
        match self {
            Error::Fields(errors) => errors
                .first()
                .map_or_else(String::new, |(_, message)| message.to_string()),
            Error::WrongRoom => "wrong room".to_string(),
            Error::NotFound => messages::NOT_FOUND.to_string(),
            Error::InvalidPage => messages::INVALID_PAGE.to_string(),
            Error::PermissionDenied => messages::PERMISSION_DENIED.to_string(),
            Error::NotAuthenticated => messages::NOT_AUTHENTICATED.to_string(),
            Error::Refused(reason) => reason.to_string(),
            Error::Throttled(wait) => messages::throttled(*wait),
            Error::Storage(StorageError::Full) => messages::OUT_OF_SPACE.to_string(),
            Error::Storage(StorageError::Busy) => messages::BUSY.to_string(),
            Error::Storage(StorageError::Other(_)) => messages::SERVER_ERROR.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Fields(errors) => write!(f, "validation failed: {errors:?}"),
            Error::Storage(error) => write!(f, "{error}"),
            other => f.write_str(&other.detail()),
        }
    }
}

impl std::error::Error for Error {}

impl From<FieldErrors> for Error {
    fn from(errors: FieldErrors) -> Error {
        Error::Fields(errors)
    }
}

impl From<StorageError> for Error {
    fn from(error: StorageError) -> Error {
        Error::Storage(error)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Error {
        Error::Storage(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_keep_insertion_order_and_group_messages() {
        let mut errors = FieldErrors::new();
        errors.add("title", "a");
        errors.add("room", "b");
        errors.add("title", "c");
        assert_eq!(
            serde_json::to_string(&errors).unwrap(),
            r#"{"title":["a","c"],"room":["b"]}"#
        );
    }

    #[test]
    fn socket_codes_follow_the_first_field_message() {
        assert_eq!(Error::field("text", messages::BLANK).code(), "blank");
        assert_eq!(
            Error::field("text", messages::too_long(5)).code(),
            "max_length"
        );
        assert_eq!(Error::NotFound.code(), "not_found");
        assert_eq!(Error::Storage(StorageError::Full).code(), "unavailable");
    }
}
