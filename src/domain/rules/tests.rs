use super::*;

fn form(pairs: &[(&str, &str)]) -> Form {
    let mut form = Form::default();
    for (name, value) in pairs {
        form.insert(*name, Value::Text(value.to_string()));
    }
    form
}

#[test]
fn create_reports_every_field_error_together() {
    let errors = chat_input(
        &form(&[
            ("description", &"d".repeat(401)),
            ("title", &"t".repeat(71)),
        ]),
        None,
    )
    .unwrap_err();
    assert_eq!(
        serde_json::to_value(&errors).unwrap(),
        serde_json::json!({
            "description": ["Ensure this field has no more than 400 characters."],
            "title": ["Ensure this field has no more than 70 characters."],
            "room": ["This field is required."]
        })
    );
}

#[test]
fn titles_are_trimmed_and_bounded_in_characters() {
    let ok = chat_input(
        &form(&[
            ("title", &format!("  {}  ", "é".repeat(70))),
            ("room", "films"),
        ]),
        None,
    )
    .unwrap();
    assert_eq!(ok.title.chars().count(), 70);
    let blank = chat_input(&form(&[("title", "   "), ("room", "films")]), None).unwrap_err();
    assert_eq!(blank.get("title").unwrap(), [BLANK]);
}

#[test]
fn unknown_room_is_named() {
    let errors = chat_input(&form(&[("title", "x"), ("room", "movie")]), None).unwrap_err();
    assert_eq!(
        errors.get("room").unwrap(),
        ["\"movie\" is not a valid choice."]
    );
}

#[test]
fn image_as_plain_text_is_not_a_file() {
    let errors = chat_input(
        &form(&[("title", "x"), ("room", "films"), ("img", "file.jpeg")]),
        None,
    )
    .unwrap_err();
    assert_eq!(errors.get("img").unwrap(), [NOT_A_FILE]);
}

#[test]
fn patch_accepts_only_description_and_img() {
    assert!(chat_patch(&form(&[("description", "new")])).is_ok());
    let errors = chat_patch(&form(&[("title", "new")])).unwrap_err();
    assert_eq!(
        errors.get("non_field_errors").unwrap(),
        [ONLY_DESCRIPTION_AND_IMAGE]
    );
}

#[test]
fn only_the_creator_or_staff_may_change_a_chat_or_message() {
    let (user, staff) = (
        |id| Actor {
            id,
            is_staff: false,
        },
        |id| Actor { id, is_staff: true },
    );
    assert_eq!(check_chat_change(user(1), 1).unwrap(), Access::Owner);
    assert!(matches!(
        check_chat_change(user(2), 1).unwrap_err(),
        Error::PermissionDenied
    ));
    assert_eq!(check_chat_change(staff(2), 1).unwrap(), Access::Staff);
    assert_eq!(check_chat_change(staff(1), 1).unwrap(), Access::Owner);
    assert!(check_message_change(user(2), 1).is_err());
    assert_eq!(check_message_change(staff(2), 1).unwrap(), Access::Staff);
}
