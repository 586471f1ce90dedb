//! The generators several property modules share: field names and texts
//! near the validators' edges, file contents, any JSON, chunkings.

use proptest::prelude::*;
use serde_json::Value as Json;

/// Any JSON value, a few levels deep.
pub(crate) fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        // Binary fractions, which survive a JSON round trip exactly.
        any::<i32>().prop_map(|n| Json::from(f64::from(n) / 4.0)),
        any::<String>().prop_map(Json::String),
        Just(Json::String("films".into())),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
            prop::collection::vec((field_name(), inner), 0..5)
                .prop_map(|pairs| Json::Object(pairs.into_iter().collect())),
        ]
    })
}

pub(crate) const FIELDS: [&str; 9] = [
    "title",
    "room",
    "description",
    "img",
    "username",
    "email",
    "password",
    "text",
    "avatar",
];

/// Mostly the names the validators look at, sometimes anything.
pub(crate) fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(FIELDS.to_vec()).prop_map(str::to_string),
        1 => "[a-z_]{1,10}",
        1 => any::<String>(),
    ]
}

/// Text near the validators' edges: blanks, padding, lengths around the
/// limits, rooms, e-mail-like and password-like strings, and anything.
pub(crate) fn field_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \t\n]{0,3}",
        "[ \t]{0,2}[a-zA-Z0-9é_@.+-]{0,75}[ \t]{0,2}",
        "[a-z]{395,405}",
        prop::sample::select(vec![
            "films", "music", "books", "games", "Films", "movie", " films "
        ])
        .prop_map(str::to_string),
        "[a-zA-Z0-9.+_-]{1,12}@[a-z0-9-]{1,10}\\.[a-z]{1,4}",
        "[a-z]{0,4}[0-9]{0,10}",
        prop::sample::select(vec![
            "password",
            "12345678",
            "correct horse battery",
            "nik12345"
        ])
        .prop_map(str::to_string),
    ]
}

const PNG: &[u8] = include_bytes!("../fixtures/red.png");
const JPEG: &[u8] = include_bytes!("../fixtures/red.jpg");
const GIF: &[u8] = include_bytes!("../fixtures/red.gif");
const WEBP: &[u8] = include_bytes!("../fixtures/red.webp");

/// File contents: real images, cut-off images, and noise.
pub(crate) fn file_bytes() -> impl Strategy<Value = Vec<u8>> {
    let image = prop::sample::select(vec![PNG, JPEG, GIF, WEBP]);
    prop_oneof![
        image.clone().prop_map(<[u8]>::to_vec),
        (image, any::<prop::sample::Index>())
            .prop_map(|(image, cut)| image[..cut.index(image.len())].to_vec()),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

pub(crate) fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..300, 0..8)
}
