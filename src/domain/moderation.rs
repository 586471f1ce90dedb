//! Moderation rules: who may be suspended, what an invite request may ask
//! for, and invite codes (random, shown once, stored only as a hash).
//! Who may change a chat or message is in [`super::rules`].

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::error::{messages, Error, FieldErrors};
use super::form::{Form, Value};
use super::rules::{text_field, TextRule};
use crate::storage::users::User;

/// Longest suspension reason, in characters.
pub const REASON_MAX: usize = 400;
/// Uses one invite may have at most.
pub const INVITE_USES_MAX: u32 = 10_000;
/// Longest an invite may stay valid.
pub const INVITE_EXPIRES_MAX: Duration = Duration::from_secs(365 * 86_400);
/// An invite's lifetime when none is given.
pub const INVITE_EXPIRES_DEFAULT: Duration = Duration::from_secs(7 * 86_400);

/// Whether `target` may be suspended (`suspend`) or let back in by
/// `actor_id` (`None`: the command line), when `active_staff` users are
/// staff and active. Nobody suspends themselves, and the last active staff
/// user stays, so the instance is never left without a moderator.
pub fn check_suspension(
    actor_id: Option<i64>,
    target: &User,
    suspend: bool,
    active_staff: u64,
) -> Result<(), Error> {
    if suspend && actor_id == Some(target.id) {
        return Err(Error::Refused(messages::CANNOT_SUSPEND_SELF));
    }
    if suspend {
        check_keeps_staff(target, active_staff)?;
    }
    Ok(())
}

/// Whether `target` may gain (`staff`) or lose staff status.
pub fn check_staff_change(target: &User, staff: bool, active_staff: u64) -> Result<(), Error> {
    if !staff {
        check_keeps_staff(target, active_staff)?;
    }
    Ok(())
}

/// Refuses to take away the last active staff user.
fn check_keeps_staff(target: &User, active_staff: u64) -> Result<(), Error> {
    if target.is_staff && target.is_active && active_staff <= 1 {
        return Err(Error::Refused(messages::LAST_ACTIVE_STAFF));
    }
    Ok(())
}

/// The optional `reason` of a suspension: trimmed, at most [`REASON_MAX`]
/// characters; blank means none.
pub fn reason(form: &Form) -> Result<Option<String>, FieldErrors> {
    let rule = TextRule {
        required: false,
        allow_null: true,
        allow_blank: true,
        max_chars: Some(REASON_MAX),
        trim: true,
    };
    let mut errors = FieldErrors::new();
    let reason = text_field(form, "reason", rule, &mut errors).flatten();
    if errors.is_empty() {
        Ok(reason)
    } else {
        Err(errors)
    }
}

/// A validated request for an invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InviteRequest {
    pub uses: u32,
    pub expires: Duration,
}

/// Validates `{"uses": N, "expires": "7d"}` (defaults 1 and 7 days).
pub fn invite_request(form: &Form) -> Result<InviteRequest, FieldErrors> {
    let mut errors = FieldErrors::new();
    let uses = match form.get("uses") {
        None => Some(1),
        Some(value) => match value.integer() {
            None => {
                errors.add("uses", messages::NOT_AN_INTEGER);
                None
            }
            Some(n) if n < 1 => {
                errors.add("uses", "Ensure this value is greater than or equal to 1.");
                None
            }
            Some(n) if n > i64::from(INVITE_USES_MAX) => {
                errors.add(
                    "uses",
                    format!("Ensure this value is less than or equal to {INVITE_USES_MAX}."),
                );
                None
            }
            Some(n) => u32::try_from(n).ok(),
        },
    };
    let expires = match form.get("expires") {
        None => Some(INVITE_EXPIRES_DEFAULT),
        Some(Value::Text(text)) => expires(text, &mut errors),
        // DRF's CharField takes a number as its text, and a bare number is
        // seconds: `{"expires": 3600}` is an hour, bounded as "3600" is.
        Some(Value::Json(serde_json::Value::Number(n))) => expires(&n.to_string(), &mut errors),
        Some(_) => {
            errors.add("expires", messages::NOT_A_STRING);
            None
        }
    };
    match (uses, expires) {
        (Some(uses), Some(expires)) if errors.is_empty() => Ok(InviteRequest { uses, expires }),
        _ => Err(errors),
    }
}

/// An invite's lifetime from the text of `expires`: a duration of at most
/// [`INVITE_EXPIRES_MAX`], else its error.
fn expires(text: &str, errors: &mut FieldErrors) -> Option<Duration> {
    match parse_duration(text) {
        Ok(expires) if expires <= INVITE_EXPIRES_MAX => Some(expires),
        Ok(_) => {
            errors.add("expires", "Ensure this duration is at most 365d.");
            None
        }
        Err(_) => {
            errors.add(
                "expires",
                "Enter a duration like 3600, 90s, 15m, 24h or 7d.",
            );
            None
        }
    }
}

/// Parses `3600`, `90s`, `15m`, `24h` or `1d` (at least one second).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 3600, 90s, 15m, 24h or 1d"))?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => return Err(format!("unknown unit `{unit}`: use s, m, h or d")),
    }
    .ok_or_else(|| format!("`{text}` is too long a duration"))?;
    if secs == 0 {
        return Err("a duration must be at least one second".into());
    }
    Ok(Duration::from_secs(secs))
}

/// A new invite code: 144 random bits, URL-safe (24 characters).
pub fn new_invite_code() -> anyhow::Result<String> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored of a code: its SHA-256, in hex. Surrounding whitespace
/// (a pasted code) does not count.
pub fn invite_hash(code: &str) -> String {
    Sha256::digest(code.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, is_staff: bool, is_active: bool) -> User {
        User {
            id,
            username: format!("u{id}"),
            email: format!("u{id}@example.com"),
            password_hash: String::new(),
            avatar: None,
            token_version: 0,
            is_staff,
            is_active,
            suspension_reason: None,
        }
    }

    #[test]
    fn nobody_suspends_themselves_or_the_last_active_staff_user() {
        let staff = user(1, true, true);
        assert!(matches!(
            check_suspension(Some(1), &staff, true, 2),
            Err(Error::Refused(messages::CANNOT_SUSPEND_SELF))
        ));
        assert!(matches!(
            check_suspension(None, &staff, true, 1),
            Err(Error::Refused(messages::LAST_ACTIVE_STAFF))
        ));
        assert!(check_suspension(Some(2), &staff, true, 2).is_ok());
        assert!(check_suspension(Some(2), &user(3, false, true), true, 1).is_ok());
        // Letting someone back in is always fine.
        assert!(check_suspension(Some(1), &staff, false, 1).is_ok());
        assert!(check_staff_change(&staff, false, 1).is_err());
        assert!(check_staff_change(&staff, false, 2).is_ok());
        assert!(check_staff_change(&user(3, false, true), true, 0).is_ok());
        // A suspended staff user is no moderator to keep.
        assert!(check_staff_change(&user(4, true, false), false, 1).is_ok());
    }

    /// A JSON body as the body parser hands it over: strings as text.
    fn form(pairs: &[(&str, serde_json::Value)]) -> Form {
        let mut form = Form::default();
        for (name, value) in pairs {
            let value = match value {
                serde_json::Value::String(text) => Value::Text(text.clone()),
                other => Value::Json(other.clone()),
            };
            form.insert(*name, value);
        }
        form
    }

    #[test]
    fn invite_requests_have_defaults_and_bounds() {
        assert_eq!(
            invite_request(&Form::default()).unwrap(),
            InviteRequest {
                uses: 1,
                expires: INVITE_EXPIRES_DEFAULT
            }
        );
        let mut text = Form::default();
        text.insert("uses", Value::Text("3".into()));
        text.insert("expires", Value::Text("2h".into()));
        assert_eq!(
            invite_request(&text).unwrap(),
            InviteRequest {
                uses: 3,
                expires: Duration::from_secs(7200)
            }
        );
        let errors = invite_request(&form(&[
            ("uses", serde_json::json!(0)),
            ("expires", serde_json::json!("soon")),
        ]))
        .unwrap_err();
        assert_eq!(
            serde_json::to_value(&errors).unwrap(),
            serde_json::json!({
                "uses": ["Ensure this value is greater than or equal to 1."],
                "expires": ["Enter a duration like 3600, 90s, 15m, 24h or 7d."]
            })
        );
        assert!(invite_request(&form(&[("expires", serde_json::json!("366d"))])).is_err());
        assert!(invite_request(&form(&[("uses", serde_json::json!("x"))])).is_err());
    }

    #[test]
    fn invite_numbers_and_strings_are_taken_as_drf_takes_them() {
        use serde_json::json;
        let request = |pairs: &[(&str, serde_json::Value)]| {
            invite_request(&form(pairs)).map_err(|errors| serde_json::to_value(errors).unwrap())
        };
        // `expires` as a number is that many seconds (DRF's CharField reads
        // it as text); `uses` as a string of digits is that number (as
        // DRF's IntegerField reads it).
        assert_eq!(
            request(&[("uses", json!("7")), ("expires", json!(3600))]),
            Ok(InviteRequest {
                uses: 7,
                expires: Duration::from_secs(3600)
            })
        );
        assert_eq!(
            request(&[("expires", json!(365 * 86_400))]).map(|r| r.expires),
            Ok(INVITE_EXPIRES_MAX)
        );
        let at_most = json!({"expires": ["Ensure this duration is at most 365d."]});
        assert_eq!(
            request(&[("expires", json!(365 * 86_400 + 1))]),
            Err(at_most)
        );
        let not_a_duration =
            json!({"expires": ["Enter a duration like 3600, 90s, 15m, 24h or 7d."]});
        for number in [json!(0), json!(-60), json!(1.5)] {
            assert_eq!(
                request(&[("expires", number.clone())]),
                Err(not_a_duration.clone()),
                "{number}"
            );
        }
        for other in [json!(true), json!(false), json!({"s": 60}), json!([3600])] {
            assert_eq!(
                request(&[("expires", other.clone())]),
                Err(json!({"expires": [messages::NOT_A_STRING]})),
                "{other}"
            );
        }
    }

    #[test]
    fn codes_are_long_random_and_hashed() {
        let (a, b) = (new_invite_code().unwrap(), new_invite_code().unwrap());
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
        assert_eq!(invite_hash(&a), invite_hash(&format!(" {a}\n")));
        assert_ne!(invite_hash(&a), invite_hash(&b));
        assert_eq!(invite_hash(&a).len(), 64);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("99999999999999999d").is_err());
    }
}
