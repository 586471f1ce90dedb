//! Any form through the validators: creating a chat, changing one,
//! registering; a valid input that keeps every rule, or field errors.

use chatd::domain::error::FieldErrors;
use chatd::domain::{accounts, rules};
use chatd::http::body::{Form, Upload, Value};
use chatd::http::error::ApiError;
use chatd::rooms::Room;
use proptest::prelude::*;

use crate::strategies::{arb_json, field_name, field_text, file_bytes};
use crate::{config, is_field_errors, render};

/// Field errors as the client sees them, checked against the fields the
/// validator may name.
fn assert_field_errors(errors: FieldErrors, fields: &[&str]) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty(), "a failure names what failed");
    let rendered = render(ApiError::Fields(errors));
    prop_assert_eq!(rendered.status, 400);
    prop_assert!(is_field_errors(&rendered.body), "{}", rendered.body);
    for name in rendered.body.as_object().into_iter().flat_map(|o| o.keys()) {
        prop_assert!(
            fields.contains(&name.as_str()),
            "unexpected field {} in {}",
            name,
            rendered.body
        );
    }
    Ok(())
}

fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => field_text().prop_map(Value::Text),
        2 => arb_json().prop_map(Value::Json),
        2 => (prop_oneof![Just(String::new()), "[a-z]{1,8}\\.(png|jpg|txt)", any::<String>()], file_bytes())
            .prop_map(|(filename, bytes)| Value::File(Upload { filename, bytes: bytes.into() })),
    ]
}

fn arb_form() -> impl Strategy<Value = Form> {
    prop::collection::vec((field_name(), field_value()), 0..7).prop_map(|fields| {
        let mut form = Form::default();
        for (name, value) in fields {
            form.insert(name, value);
        }
        form
    })
}

fn arb_room() -> impl Strategy<Value = Option<Room>> {
    prop::option::of(prop::sample::select(Room::ALL.to_vec()))
}

proptest! {
    #![proptest_config(config(256))]
    /// Creating a chat: a valid input that keeps every rule, or field errors
    /// that name only the create fields.
    #[test]
    fn chat_input_validates_any_form(form in arb_form(), path_room in arb_room()) {
        match rules::chat_input(&form, path_room) {
            Ok(input) => {
                prop_assert_eq!(input.title.trim(), input.title.as_str());
                prop_assert!((1..=rules::TITLE_MAX).contains(&input.title.chars().count()));
                if let Some(description) = &input.description {
                    prop_assert_eq!(description.trim(), description.as_str());
                    prop_assert!((1..=rules::DESCRIPTION_MAX).contains(&description.chars().count()));
                }
                match path_room {
                    Some(room) => prop_assert_eq!(input.room, room),
                    None => prop_assert!(matches!(
                        form.get("room"),
                        Some(Value::Text(text)) if Room::parse(text.trim()) == Some(input.room)
                    )),
                }
                if let Some((upload, _)) = &input.img {
                    prop_assert!(chatd::storage::media::verify_image(&upload.bytes).is_some());
                }
            }
            Err(errors) => assert_field_errors(errors, &["title", "room", "description", "img"])?,
        }
    }

    /// Changing a chat: only `description` and `img`, else the seed's
    /// non-field error; as in DRF, errors of those two fields come first
    /// and alone.
    #[test]
    fn chat_patch_validates_any_form(form in arb_form()) {
        let only_allowed = form.names().all(|n| n == "description" || n == "img");
        match rules::chat_patch(&form) {
            Ok(patch) => {
                prop_assert!(only_allowed);
                if let Some(Some(description)) = &patch.description {
                    prop_assert!((1..=rules::DESCRIPTION_MAX).contains(&description.chars().count()));
                }
            }
            Err(errors) => {
                let field_errors = errors.get("description").is_some() || errors.get("img").is_some();
                if field_errors {
                    prop_assert_eq!(errors.get("non_field_errors"), None);
                } else {
                    prop_assert!(!only_allowed);
                    prop_assert_eq!(
                        errors.get("non_field_errors"),
                        Some(&[rules::ONLY_DESCRIPTION_AND_IMAGE.to_string()][..])
                    );
                }
                assert_field_errors(errors, &["description", "img", "non_field_errors"])?;
            }
        }
    }

    /// Registering: an account that keeps the username, e-mail and password
    /// rules, or field errors on those three fields only.
    #[test]
    fn registration_validates_any_form(form in arb_form()) {
        match accounts::registration(&form) {
            Ok(registration) => {
                prop_assert!(accounts::valid_username(&registration.username));
                prop_assert!(registration.username.chars().count() <= accounts::USERNAME_MAX);
                prop_assert_eq!(
                    accounts::normalize_email(&registration.email),
                    Some(registration.email.clone())
                );
                prop_assert!(accounts::password_problems(
                    &registration.password,
                    Some(&registration.username),
                    Some(&registration.email)
                )
                .is_empty());
            }
            Err(errors) => assert_field_errors(errors, &["username", "email", "password"])?,
        }
    }

    /// A registration built from valid parts passes.
    #[test]
    fn valid_registrations_pass(
        username in "[a-z]{3,10}[0-9]{0,3}",
        domain in "[a-z]{2,10}\\.(org|com|net)",
        password in "[a-z]{4,8} [a-z]{4,8} [a-z]{4,8}",
    ) {
        let mut form = Form::default();
        form.insert("username", Value::Text(username.clone()));
        form.insert("email", Value::Text(format!("{username}@{domain}")));
        form.insert("password", Value::Text(password.clone()));
        let similar = !accounts::password_problems(&password, Some(&username), Some(&format!("{username}@{domain}"))).is_empty();
        prop_assume!(!similar);
        prop_assert!(accounts::registration(&form).is_ok());
    }
}
