//! Registration modes (closed, invite-only) and invites: from the API and
//! the command line, their errors, expiry, and races for the last use.

use serde_json::{json, Value};

use crate::common::*;
use crate::{audit, post_as, try_login};

/// `POST /api/register/` of `name` with extra fields.
async fn register_with(app: &ApiClient, name: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let email = format!("{name}@example.com");
    let mut fields = vec![
        ("username", name),
        ("email", &email),
        ("password", PASSWORD),
    ];
    fields.extend_from_slice(extra);
    send(app.client.post(app.url("/api/register/")).form(&fields)).await
}

#[tokio::test]
async fn closed_registration_is_403_and_the_mode_is_published() {
    let app = spawn_app_with(|c| c.registration = chatd::config::Registration::Closed).await;
    assert_eq!(
        app.get_json("/api/config/").await,
        (200, json!({"registration": "closed"}))
    );
    assert_eq!(
        register_with(&app, "bob", &[]).await,
        (403, json!({"detail": "Registration is closed."}))
    );
    let open = spawn_app().await;
    assert_eq!(
        open.get_json("/api/config/").await,
        (200, json!({"registration": "open"}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_registration_takes_one_use_of_a_valid_code() {
    let app = spawn_app_with(|c| c.registration = chatd::config::Registration::Invite).await;
    assert_eq!(
        app.get_json("/api/config/").await.1,
        json!({"registration": "invite"})
    );
    // Bootstrapping: the first staff user comes from the command line.
    let dir = app.data_dir();
    let created = chatd(
        &[
            "user",
            "create",
            "root",
            "--email",
            "root@example.com",
            "--password",
            PASSWORD,
            "--staff",
        ],
        &dir,
    );
    assert!(created.status.success(), "{created:?}");
    let root = app.login("root").await.0;

    assert_eq!(
        register_with(&app, "bob", &[]).await,
        (400, json!({"invite": [REQUIRED]}))
    );
    // Every field error together.
    assert_eq!(
        register_with(&app, "b b", &[("invite", " ")]).await,
        (
            400,
            json!({
                "username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."],
                "email": ["Enter a valid email address."],
                "invite": ["This field may not be blank."]
            })
        )
    );
    let invalid = json!({"invite": ["Invalid or expired invite."]});
    assert_eq!(
        register_with(&app, "bob", &[("invite", "made-up")]).await,
        (400, invalid.clone())
    );

    let (status, invite) = post_as(
        &app,
        Some(&root),
        "/api/admin/invites/",
        json!({"uses": 2, "expires": "1h"}),
    )
    .await;
    assert_eq!(status, 201, "{invite}");
    assert_eq!(invite["uses_left"], 2);
    let code = invite["code"].as_str().unwrap().to_string();
    assert!(code.len() >= 22, "{code}");
    let expires =
        chrono::DateTime::parse_from_rfc3339(assert_timestamp(&invite["expires"])).unwrap();
    let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
    assert!(
        (in_an_hour - expires.with_timezone(&chrono::Utc))
            .num_seconds()
            .abs()
            < 60
    );

    assert_eq!(
        register_with(&app, "bob", &[("invite", &code)]).await.0,
        201
    );
    // A taken name does not use up the invite.
    let (status, body) = register_with(&app, "bob", &[("invite", &code)]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.get("username").is_some(), "{body}");
    assert_eq!(
        register_with(&app, "carol", &[("invite", &code)]).await.0,
        201
    );
    assert_eq!(
        register_with(&app, "dave", &[("invite", &code)]).await,
        (400, invalid.clone())
    );
    assert_eq!(try_login(&app, "carol").await.0, 200);

    // Defaults: one use, seven days.
    let (status, invite) = post_as(&app, Some(&root), "/api/admin/invites/", json!({})).await;
    assert_eq!((status, &invite["uses_left"]), (201, &json!(1)));
    let expires =
        chrono::DateTime::parse_from_rfc3339(invite["expires"].as_str().unwrap()).unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "{days}");
    assert_eq!(
        post_as(
            &app,
            Some(&root),
            "/api/admin/invites/",
            json!({"uses": 0, "expires": "soon"})
        )
        .await,
        (
            400,
            json!({
                "uses": ["Ensure this value is greater than or equal to 1."],
                "expires": ["Enter a duration like 3600, 90s, 15m, 24h or 7d."]
            })
        )
    );

    // Codes are kept only as hashes.
    let db = std::fs::read(dir.join("chat.db")).unwrap();
    let wal = std::fs::read(dir.join("chat.db-wal")).unwrap_or_default();
    let needle = invite["code"].as_str().unwrap().as_bytes();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    }
    let entries = audit(&app, &root).await;
    assert_eq!(entries[0]["action"], "invite.create");
    assert_eq!(entries[0]["actor"], "root");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_line_invites_work_and_expire() {
    let app = spawn_app_with(|c| c.registration = chatd::config::Registration::Invite).await;
    let dir = app.data_dir();
    let output = chatd(
        &["invite", "create", "--uses", "3", "--expires", "2s"],
        &dir,
    );
    assert!(output.status.success(), "{output:?}");
    let code = stdout(&output).trim().to_string();
    assert_eq!(code.len(), 24, "{code}");
    assert_eq!(
        register_with(&app, "bob", &[("invite", &code)]).await.0,
        201
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        register_with(&app, "carol", &[("invite", &code)]).await,
        (400, json!({"invite": ["Invalid or expired invite."]}))
    );
    assert!(!chatd(&["invite", "create", "--uses", "0"], &dir)
        .status
        .success());
    assert!(!chatd(&["invite", "create", "--expires", "366d"], &dir)
        .status
        .success());
    let printed = stdout(&chatd(&["audit"], &dir));
    assert!(
        printed.contains("(command line)\tinvite.create\tinvite 1\tuses 3, expires "),
        "{printed}"
    );
}

/// A bad invite is reported with every other field error of the request,
/// checked without taking a use: a valid code is used up only by a
/// registration that succeeds. A blank code is blank, a missing one
/// required.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_errors_come_with_the_other_field_errors() {
    let app = spawn_app_with(|c| {
        c.registration = chatd::config::Registration::Invite;
        c.rate_limit = false;
    })
    .await;
    let output = chatd(&["invite", "create", "--uses", "1"], &app.data_dir());
    assert!(output.status.success(), "{output:?}");
    let code = stdout(&output).trim().to_string();
    let bad_fields = |invite: &str| {
        let fields = [
            ("username", "bad name"),
            ("email", "x"),
            ("password", "1"),
            ("invite", invite),
        ];
        send(app.client.post(app.url("/api/register/")).form(&fields))
    };
    let field_errors = json!({
        "username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."],
        "email": ["Enter a valid email address."],
        "password": [
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
            "This password is entirely numeric."
        ]
    });
    let with_invite = |message: &str| {
        let mut body = field_errors.clone();
        body["invite"] = json!([message]);
        body
    };
    let invalid = "Invalid or expired invite.";

    assert_eq!(bad_fields("bogus").await, (400, with_invite(invalid)));
    // A valid code has nothing to report, and is not used up.
    assert_eq!(bad_fields(&code).await, (400, field_errors.clone()));
    assert_eq!(
        bad_fields("").await,
        (400, with_invite("This field may not be blank."))
    );

    // Blank in every encoding; missing is required.
    let blank = (400, json!({"invite": ["This field may not be blank."]}));
    assert_eq!(register_with(&app, "bob", &[("invite", "")]).await, blank);
    let json_body = json!({
        "username": "bob", "email": "bob@example.com", "password": PASSWORD, "invite": ""
    });
    let request = app.client.post(app.url("/api/register/")).json(&json_body);
    assert_eq!(send(request).await, blank);
    let multipart = text_form(&[
        ("username", "bob"),
        ("email", "bob@example.com"),
        ("password", PASSWORD),
        ("invite", ""),
    ]);
    let request = app
        .client
        .post(app.url("/api/register/"))
        .multipart(multipart);
    assert_eq!(send(request).await, blank);
    assert_eq!(
        register_with(&app, "bob", &[]).await,
        (400, json!({"invite": [REQUIRED]}))
    );

    // The code's one use is still there.
    assert_eq!(
        register_with(&app, "alice", &[("invite", &code)]).await.0,
        201
    );
    // Taken names and a bad code, together.
    assert_eq!(
        register_with(&app, "alice", &[("invite", "bogus")]).await,
        (
            400,
            json!({
                "username": ["A user with that username already exists."],
                "email": ["A user with that email already exists."],
                "invite": [invalid]
            })
        )
    );
    // Now the code is spent.
    assert_eq!(bad_fields(&code).await, (400, with_invite(invalid)));
}

/// As DRF reads them: `expires` as a JSON number is that many seconds (a
/// CharField takes numbers as text), `uses` as a string of digits is that
/// number (an IntegerField takes `"7"`, `7.0` and `"7."`, not `7.5`);
/// other JSON is not a string.
#[tokio::test]
async fn invite_expires_may_be_a_number_of_seconds_and_uses_a_string() {
    let app = spawn_app().await;
    let root = app.staff_user("root").await;
    let create = |body: Value| post_as(&app, Some(&root), "/api/admin/invites/", body);

    let (status, invite) = create(json!({"expires": 3600, "uses": "7"})).await;
    assert_eq!(status, 201, "{invite}");
    assert_eq!(invite["uses_left"], 7);
    let expires =
        chrono::DateTime::parse_from_rfc3339(assert_timestamp(&invite["expires"])).unwrap();
    let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
    let off = (in_an_hour - expires.with_timezone(&chrono::Utc)).num_seconds();
    assert!(off.abs() < 60, "{off}");

    for whole in [json!(2.0), json!("2."), json!(" 2 ")] {
        let (status, invite) = create(json!({ "uses": whole })).await;
        assert_eq!((status, &invite["uses_left"]), (201, &json!(2)), "{whole}");
    }
    for fraction in [json!(2.5), json!("2.5"), json!(true)] {
        assert_eq!(
            create(json!({ "uses": fraction })).await,
            (400, json!({"uses": ["A valid integer is required."]})),
            "{fraction}"
        );
    }

    assert_eq!(create(json!({"expires": 365 * 86_400})).await.0, 201);
    assert_eq!(
        create(json!({"expires": 365 * 86_400 + 1})).await,
        (
            400,
            json!({"expires": ["Ensure this duration is at most 365d."]})
        )
    );
    assert_eq!(
        create(json!({"expires": 0})).await,
        (
            400,
            json!({"expires": ["Enter a duration like 3600, 90s, 15m, 24h or 7d."]})
        )
    );
    for other in [json!(true), json!({"hours": 1}), json!([3600])] {
        assert_eq!(
            create(json!({ "expires": other })).await,
            (400, json!({"expires": ["Not a valid string."]})),
            "{other}"
        );
    }
    assert_eq!(
        create(json!({"uses": "seven", "expires": false})).await,
        (
            400,
            json!({
                "uses": ["A valid integer is required."],
                "expires": ["Not a valid string."]
            })
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_on_the_last_use_give_exactly_one_account() {
    let app = spawn_app_with(|c| {
        c.registration = chatd::config::Registration::Invite;
        c.rate_limit = false;
    })
    .await;
    let output = chatd(&["invite", "create"], &app.data_dir());
    let code = stdout(&output).trim().to_string();
    let attempts = (0..8).map(|n| {
        let (client, code) = (ApiClient::new(app.base.clone()), code.clone());
        tokio::spawn(async move {
            register_with(&client, &format!("racer{n}"), &[("invite", &code)]).await
        })
    });
    let mut outcomes = Vec::new();
    for attempt in attempts {
        outcomes.push(attempt.await.unwrap());
    }
    let created = outcomes.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(created, 1, "{outcomes:?}");
    for (status, body) in outcomes.iter().filter(|(status, _)| *status != 201) {
        assert_eq!(
            (*status, body),
            (400, &json!({"invite": ["Invalid or expired invite."]}))
        );
    }
    let listed = stdout(&chatd(&["user", "list"], &app.data_dir()));
    let accounts = listed.lines().filter(|line| line.contains("racer")).count();
    assert_eq!(accounts, 1, "{listed}");
}
