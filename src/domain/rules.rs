//! Domain rules, kept apart from HTTP so they can be tested directly:
//! how each field is validated (with DRF's wording), what a chat create or
//! change and a message may contain, and who may change a chat or message.
//! Account rules (registration, passwords) are in [`super::accounts`].

use crate::domain::error::{messages, Error, FieldErrors};
use crate::domain::form::{Form, Upload, Value};
use crate::rooms::Room;

pub const TITLE_MAX: usize = 70;
pub const DESCRIPTION_MAX: usize = 400;

pub use messages::{
    too_long, BLANK, EMPTY_FILE, INVALID_IMAGE, NOT_A_FILE, NOT_A_STRING, NOT_NULL, NO_FILE,
    ONLY_DESCRIPTION_AND_IMAGE, REQUIRED, UNIQUE_TITLE,
};

/// How a string field treats absent, null and blank input.
#[derive(Debug, Clone, Copy)]
pub struct TextRule {
    pub required: bool,
    pub allow_null: bool,
    pub allow_blank: bool,
    pub max_chars: Option<usize>,
    /// Passwords keep their surrounding whitespace; everything else is trimmed.
    pub trim: bool,
}

impl TextRule {
    pub const fn required(max_chars: usize) -> TextRule {
        TextRule {
            required: true,
            allow_null: false,
            allow_blank: false,
            max_chars: Some(max_chars),
            trim: true,
        }
    }
}

/// Passwords: required, kept exactly as typed (no trimming), bounded only
/// against abuse.
pub const PASSWORD_RULE: TextRule = TextRule {
    required: true,
    allow_null: false,
    allow_blank: false,
    max_chars: Some(4096),
    trim: false,
};

/// Validates the string field `name` of `form`, adding messages to `errors`.
///
/// `None`: absent or invalid. `Some(None)`: null or blank where allowed.
pub fn text_field(
    form: &Form,
    name: &str,
    rule: TextRule,
    errors: &mut FieldErrors,
) -> Option<Option<String>> {
    text_value(form.get(name), name, rule, errors)
}

/// Validates one submitted value (absent: `None`) as the string field
/// `name`; what [`text_field`] does once the value is found.
pub fn text_value(
    value: Option<&Value>,
    name: &str,
    rule: TextRule,
    errors: &mut FieldErrors,
) -> Option<Option<String>> {
    let text = match value {
        None => {
            if rule.required {
                errors.add(name, REQUIRED);
            }
            return None;
        }
        Some(Value::Json(serde_json::Value::Null)) => {
            if rule.allow_null {
                return Some(None);
            }
            errors.add(name, NOT_NULL);
            return None;
        }
        Some(Value::Json(serde_json::Value::Number(n))) => n.to_string(),
        Some(Value::Json(_)) | Some(Value::File(_)) => {
            errors.add(name, NOT_A_STRING);
            return None;
        }
        Some(Value::Text(text)) => text.clone(),
    };
    let text = if rule.trim {
        text.trim().to_string()
    } else {
        text
    };
    if text.is_empty() {
        if rule.allow_blank {
            return Some(None);
        }
        errors.add(name, BLANK);
        return None;
    }
    // Like DRF's CharField, every validator runs and reports: length first,
    // then NUL characters (which SQLite and most clients mishandle).
    let mut valid = true;
    if let Some(max) = rule.max_chars {
        if text.chars().count() > max {
            errors.add(name, too_long(max));
            valid = false;
        }
    }
    if text.contains('\0') {
        errors.add(name, messages::NULL_CHARACTERS);
        valid = false;
    }
    valid.then_some(Some(text))
}

/// What an image field asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageInput {
    /// A verified image to store.
    Upload(Upload, crate::storage::media::ImageKind),
    /// JSON `null`: go back to no image.
    Clear,
}

/// Validates the optional image field `name`. An empty text value or an empty
/// file input (no filename, no bytes) counts as not sent.
pub fn image_field(form: &Form, name: &str, errors: &mut FieldErrors) -> Option<ImageInput> {
    match form.get(name)? {
        Value::Json(serde_json::Value::Null) => Some(ImageInput::Clear),
        Value::Text(text) if text.is_empty() => None,
        Value::Text(_) | Value::Json(_) => {
            errors.add(name, NOT_A_FILE);
            None
        }
        Value::File(upload) if upload.filename.is_empty() && upload.bytes.is_empty() => None,
        Value::File(upload) if upload.bytes.is_empty() => {
            errors.add(name, EMPTY_FILE);
            None
        }
        Value::File(upload) => match crate::storage::media::verify_image(&upload.bytes) {
            Some(kind) => Some(ImageInput::Upload(upload.clone(), kind)),
            None => {
                errors.add(name, INVALID_IMAGE);
                None
            }
        },
    }
}

/// A validated request to create a chat.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatInput {
    pub title: String,
    pub room: Room,
    pub description: Option<String>,
    pub img: Option<(Upload, crate::storage::media::ImageKind)>,
}

const DESCRIPTION_RULE: TextRule = TextRule {
    required: false,
    allow_null: true,
    allow_blank: true,
    max_chars: Some(DESCRIPTION_MAX),
    trim: true,
};

/// Validates a create request. `path_room` is the room of
/// `POST /api/chat/<room>/`, which takes the place of the `room` field.
/// All field errors are reported together.
pub fn chat_input(form: &Form, path_room: Option<Room>) -> Result<ChatInput, FieldErrors> {
    let mut errors = FieldErrors::new();
    // Field order follows the seed's error examples: description, title, room.
    let description = text_field(form, "description", DESCRIPTION_RULE, &mut errors);
    let title = text_field(form, "title", TextRule::required(TITLE_MAX), &mut errors);
    let room = match path_room {
        Some(room) => Some(room),
        None => room_field(form, &mut errors),
    };
    let img = match image_field(form, "img", &mut errors) {
        Some(ImageInput::Upload(upload, kind)) => Some((upload, kind)),
        // A new chat has no image to clear; DRF refuses null here.
        Some(ImageInput::Clear) => {
            errors.add("img", NOT_NULL);
            None
        }
        None => None,
    };
    match (title, room) {
        (Some(Some(title)), Some(room)) if errors.is_empty() => Ok(ChatInput {
            title,
            room,
            description: description.flatten(),
            img,
        }),
        _ => Err(errors),
    }
}

fn room_field(form: &Form, errors: &mut FieldErrors) -> Option<Room> {
    let raw = match form.get("room") {
        None => {
            errors.add("room", REQUIRED);
            return None;
        }
        Some(Value::Json(serde_json::Value::Null)) => {
            errors.add("room", NOT_NULL);
            return None;
        }
        Some(Value::Text(text)) => text.trim().to_string(),
        Some(Value::Json(value)) => value.to_string(),
        Some(Value::File(_)) => {
            errors.add("room", NOT_A_STRING);
            return None;
        }
    };
    let room = Room::parse(&raw);
    if room.is_none() {
        errors.add("room", format!("\"{raw}\" is not a valid choice."));
    }
    room
}

/// A validated PATCH of a chat.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatPatch {
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub img: Option<ImageInput>,
}

/// Validates a PATCH: only `description` and `img` may be sent.
/// As in DRF, the fields are validated first; only when they are valid is
/// the request as a whole checked for other fields.
pub fn chat_patch(form: &Form) -> Result<ChatPatch, FieldErrors> {
    let mut errors = FieldErrors::new();
    let description = text_field(form, "description", DESCRIPTION_RULE, &mut errors);
    let img = image_field(form, "img", &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    if form
        .names()
        .any(|name| name != "description" && name != "img")
    {
        return Err(FieldErrors::single(
            "non_field_errors",
            ONLY_DESCRIPTION_AND_IMAGE,
        ));
    }
    Ok(ChatPatch { description, img })
}

/// A message's text: 1 to `max` characters after trimming. REST and
/// sockets both check texts here.
pub fn message_text(value: Option<&Value>, max: usize) -> Result<String, Error> {
    let mut errors = FieldErrors::new();
    match text_value(value, "text", TextRule::required(max), &mut errors) {
        Some(Some(text)) => Ok(text),
        _ => Err(Error::Fields(errors)),
    }
}

/// Who is acting, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub id: i64,
    pub is_staff: bool,
}

impl Actor {
    pub fn of(user: &crate::storage::users::User) -> Actor {
        Actor {
            id: user.id,
            is_staff: user.is_staff,
        }
    }
}

/// On what grounds a change is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The actor's own chat or message.
    Owner,
    /// Someone else's, changed by staff: a moderation action, recorded in
    /// the audit log.
    Staff,
}

/// A chat's creator, and staff, may change or delete it.
pub fn check_chat_change(actor: Actor, creator_id: i64) -> Result<Access, Error> {
    if actor.id == creator_id {
        Ok(Access::Owner)
    } else if actor.is_staff {
        Ok(Access::Staff)
    } else {
        Err(Error::PermissionDenied)
    }
}

/// A message's author, and staff, may edit or delete it.
pub fn check_message_change(actor: Actor, author_id: i64) -> Result<Access, Error> {
    check_chat_change(actor, author_id)
}

#[cfg(test)]
mod tests;
