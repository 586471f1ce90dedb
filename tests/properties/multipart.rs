//! Multipart bodies streamed in any chunks: well-formed ones round trip,
//! broken ones fail as documented, parts over their limits are a 413.

use chatd::http::body::{self, Upload, Value};
use proptest::prelude::*;

use crate::strategies::{cuts, field_text, file_bytes, FIELDS};
use crate::{assert_documented_body_error, config, read, render, MAX_FILE};

/// One well-formed multipart part.
#[derive(Debug, Clone)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    bytes: Vec<u8>,
}

fn arb_part() -> impl Strategy<Value = Part> {
    let name = prop_oneof![
        prop::sample::select(FIELDS.to_vec()).prop_map(str::to_string),
        "[a-zA-Z0-9_-]{1,12}",
    ];
    let text = prop_oneof![
        any::<String>().prop_map(String::into_bytes),
        field_text().prop_map(String::into_bytes)
    ];
    let file = prop_oneof![
        file_bytes(),
        prop::collection::vec(any::<u8>(), 0..(MAX_FILE + 200))
    ];
    (
        name,
        prop::option::of("[a-zA-Z0-9 ._-]{0,16}"),
        prop::option::of(prop::sample::select(vec![
            "image/png",
            "text/plain",
            "application/octet-stream",
        ])),
        text,
        file,
    )
        .prop_map(|(name, filename, content_type, text, file)| {
            let bytes = if filename.is_some() { file } else { text };
            Part {
                name,
                filename,
                content_type: content_type.map(str::to_string),
                bytes,
            }
        })
}

fn multipart_body(boundary: &str, parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
        if let Some(filename) = &part.filename {
            disposition.push_str(&format!("; filename=\"{filename}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(content_type) = &part.content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&part.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

proptest! {
    #![proptest_config(config(128))]

    /// Well-formed multipart bodies, streamed in arbitrary chunks: every
    /// text part comes back as text and every file part as a file (the last
    /// of a repeated name winning), or a file over the limit is a 413.
    #[test]
    fn multipart_bodies_round_trip(
        boundary in "[a-zA-Z0-9'()+_,./:=?-]{1,69}[a-zA-Z0-9]",
        parts in prop::collection::vec(arb_part(), 0..5),
        cuts in cuts(),
    ) {
        for part in &parts {
            prop_assume!(!contains(&part.bytes, format!("--{boundary}").as_bytes()));
        }
        let body = multipart_body(&boundary, &parts);
        let content_type = format!("multipart/form-data; boundary=\"{boundary}\"");
        let too_big = parts.iter().any(|p| p.filename.is_some() && p.bytes.len() > MAX_FILE);
        let not_utf8 = parts.iter().any(|p| p.filename.is_none() && std::str::from_utf8(&p.bytes).is_err());
        match read(Some(&content_type), body, &cuts) {
            Ok(form) => {
                prop_assert!(!too_big && !not_utf8, "should have failed");
                for part in &parts {
                    let last = parts.iter().rev().find(|p| p.name == part.name).unwrap();
                    let expected = match &last.filename {
                        Some(filename) => Value::File(Upload {
                            filename: filename.clone(),
                            bytes: last.bytes.clone().into(),
                        }),
                        None => Value::Text(String::from_utf8(last.bytes.clone()).unwrap()),
                    };
                    prop_assert_eq!(form.get(&part.name), Some(&expected));
                }
            }
            Err(error) => {
                let status = assert_documented_body_error(error)?;
                if too_big && !not_utf8 {
                    prop_assert_eq!(status, 413);
                } else {
                    prop_assert!(too_big || not_utf8, "a well-formed body failed with {status}");
                }
            }
        }
    }

    /// Broken multipart bodies (cut short, bytes changed, bytes inserted,
    /// a wrong boundary) are a form, a 400 or a 413, never a panic.
    #[test]
    fn malformed_multipart_bodies_fail_as_documented(
        parts in prop::collection::vec(arb_part(), 0..4),
        cut in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..6),
        header_boundary in prop_oneof![Just("b0undary".to_string()), "[ -~]{0,80}"],
        chunking in cuts(),
    ) {
        let mut body = multipart_body("b0undary", &parts);
        for (at, byte, kind) in edits {
            let at = at.index(body.len() + 1);
            match kind {
                0 if at < body.len() => body[at] = byte,
                1 => body.insert(at, byte),
                _ => body.extend_from_slice(b"\r\n--b0undary\r\n"),
            }
        }
        body.truncate(cut.index(body.len() + 1));
        let content_type = format!("multipart/form-data; boundary={header_boundary}");
        if let Err(error) = read(Some(&content_type), body, &chunking) {
            let status = assert_documented_body_error(error)?;
            prop_assert!(status == 400 || status == 413, "{}", status);
        }
    }
}

// ------------------------------------------------- edges worth one case

/// A multipart text part over 64 KiB is a 413; a file part over the upload
/// limit too.
#[test]
fn multipart_parts_over_their_limits_are_413() {
    let text = Part {
        name: "description".into(),
        filename: None,
        content_type: None,
        bytes: vec![b'a'; body::MAX_TEXT_BODY + 1],
    };
    let file = Part {
        name: "img".into(),
        filename: Some("big.png".into()),
        content_type: Some("image/png".into()),
        bytes: vec![0; MAX_FILE + 1],
    };
    for part in [text, file] {
        let body = multipart_body("xyz", &[part]);
        let error = read(Some("multipart/form-data; boundary=xyz"), body, &[4096; 40]).unwrap_err();
        assert_eq!(render(error).status, 413);
    }
}
