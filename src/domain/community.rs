//! Rules of the community features (API.md, "Community features"): what an
//! emoji may be, which words of a text are `@mentions`, how a search query
//! is cut into words, and what a read marker or an image message may say.

use crate::domain::error::{messages, Error, FieldErrors};
use crate::domain::form::{Form, Upload, Value};
use crate::domain::rules::{self, ImageInput};
use crate::storage::media::ImageKind;

/// Longest emoji, in bytes.
pub const EMOJI_MAX_BYTES: usize = 32;
/// Most distinct emoji on one message.
pub const MAX_DISTINCT_EMOJI: usize = 20;
/// Most words of a search query that are searched; the rest are ignored,
/// so a 10,000-character query costs what a short one does.
pub const MAX_SEARCH_WORDS: usize = 12;
/// Longest search word, in characters (longer ones are cut).
pub const MAX_WORD_CHARS: usize = 64;
/// Most users one message mentions.
pub const MAX_MENTIONS: usize = 50;

pub const NEEDS_TEXT_OR_IMAGE: &str = "A message needs text or an image.";
pub const INVALID_EMOJI: &str =
    "Enter a valid emoji: 1 to 32 bytes, no whitespace, no ASCII letters or digits.";

/// DRF's wording for the cap on distinct reactions.
pub fn too_many_emoji() -> String {
    format!("Ensure this field has no more than {MAX_DISTINCT_EMOJI} distinct values.")
}

/// DRF's wording for a primary key that names nothing (usable here).
pub fn no_such_message(id: i64) -> String {
    format!("{NO_SUCH_BEFORE}{id}{NO_SUCH_AFTER}")
}

const NO_SUCH_BEFORE: &str = "Invalid pk \"";
const NO_SUCH_AFTER: &str = "\" - object does not exist.";

/// Whether a field error is [`no_such_message`]'s (a socket hears it as
/// `not_found`).
pub fn names_no_message(message: &str) -> bool {
    message
        .strip_prefix(NO_SUCH_BEFORE)
        .and_then(|rest| rest.strip_suffix(NO_SUCH_AFTER))
        .is_some_and(|id| id.parse::<i64>().is_ok())
}

/// An emoji as reactions take it: 1 to 32 bytes, no whitespace, no ASCII
/// letter or digit.
pub fn emoji(text: &str) -> Result<String, Error> {
    let valid = !text.is_empty()
        && text.len() <= EMOJI_MAX_BYTES
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_ascii_alphanumeric() || c.is_control());
    if valid {
        Ok(text.to_string())
    } else {
        Err(Error::field("emoji", INVALID_EMOJI))
    }
}

/// A username character (API.md, "Accounts").
fn username_char(c: char) -> bool {
    c.is_alphanumeric() || "@.+-_".contains(c)
}

/// The `@names` of `text`, each as the names to try in turn: the longest
/// run of username characters after the `@`, then shorter ones without
/// trailing punctuation (`@nik.` at the end of a sentence names `nik`).
/// An `@` inside a word (an e-mail address) names nobody.
pub fn mention_candidates(text: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    let mut i = 0;
    while i < chars.len() && found.len() < MAX_MENTIONS {
        let starts = chars[i] == '@' && (i == 0 || !username_char(chars[i - 1]));
        if !starts {
            i += 1;
            continue;
        }
        let end = (i + 1..chars.len())
            .find(|&j| !username_char(chars[j]))
            .unwrap_or(chars.len());
        let mut name: String = chars[i + 1..end].iter().take(150).collect();
        let mut candidates = Vec::new();
        while !name.is_empty() {
            candidates.push(name.clone());
            match name.pop() {
                Some(c) if ".+-_@".contains(c) => {}
                _ => break,
            }
        }
        if !candidates.is_empty() && !found.contains(&candidates) {
            found.push(candidates);
        }
        i = end.max(i + 1);
    }
    found
}

/// The words of a search query: runs of letters and digits (what SQLite's
/// `unicode61` tokenizer indexes), at most [`MAX_SEARCH_WORDS`] of at most
/// [`MAX_WORD_CHARS`] characters. Everything else separates words, so no
/// query syntax survives.
pub fn search_words(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(MAX_SEARCH_WORDS)
        .map(|word| word.chars().take(MAX_WORD_CHARS).collect())
        .collect()
}

/// `?q=`: required and not blank.
pub fn search_query(q: Option<&str>) -> Result<Vec<String>, Error> {
    match q {
        None => Err(Error::field("q", messages::REQUIRED)),
        Some(q) if q.trim().is_empty() => Err(Error::field("q", messages::BLANK)),
        Some(q) => Ok(search_words(q)),
    }
}

/// A message posted over REST: text (1 to `max` characters after
/// trimming) and/or an image.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub text: String,
    pub image: Option<(Upload, ImageKind)>,
}

/// Validates `POST …/messages/`: `text` and `image` are both optional,
/// one of them is required; all field errors together.
pub fn new_message(form: &Form, max: usize) -> Result<NewMessage, FieldErrors> {
    let mut errors = FieldErrors::new();
    let text_sent = match form.get("text") {
        None | Some(Value::Json(serde_json::Value::Null)) => false,
        Some(Value::Text(text)) => !text.trim().is_empty(),
        Some(_) => true,
    };
    let text = if text_sent {
        match rules::message_text(form.get("text"), max) {
            Ok(text) => text,
            Err(Error::Fields(field)) => {
                merge(&mut errors, field);
                String::new()
            }
            Err(_) => String::new(),
        }
    } else {
        String::new()
    };
    let image = match rules::image_field(form, "image", &mut errors) {
        Some(ImageInput::Upload(upload, kind)) => Some((upload, kind)),
        Some(ImageInput::Clear) | None => None,
    };
    if errors.is_empty() && !text_sent && image.is_none() {
        errors.add_non_field(NEEDS_TEXT_OR_IMAGE);
    }
    if errors.is_empty() {
        Ok(NewMessage { text, image })
    } else {
        Err(errors)
    }
}

fn merge(into: &mut FieldErrors, from: FieldErrors) {
    for field in ["text", "non_field_errors"] {
        for message in from.get(field).unwrap_or_default() {
            into.add(field, message.clone());
        }
    }
}

/// `last_read` of `POST …/read/`: a required integer.
pub fn last_read(form: &Form) -> Result<i64, Error> {
    let parsed = match form.get("last_read") {
        None | Some(Value::Json(serde_json::Value::Null)) => {
            return Err(Error::field("last_read", messages::REQUIRED))
        }
        Some(value) => value.integer(),
    };
    parsed.ok_or_else(|| Error::field("last_read", messages::NOT_AN_INTEGER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_marker_naming_no_message_is_not_found_on_a_socket() {
        let said = no_such_message(42);
        assert_eq!(said, "Invalid pk \"42\" - object does not exist.");
        assert!(names_no_message(&said));
        assert!(!names_no_message(
            "Invalid pk \"x\" - object does not exist."
        ));
        assert_eq!(Error::field("last_read", said).code(), "not_found");
        assert_eq!(
            Error::field("emoji", "Enter a valid emoji.").code(),
            "invalid"
        );
    }

    #[test]
    fn emoji_rules() {
        for good in ["👍", "🎉", "❤️", "👨‍👩‍👧‍👦", ":)", "+!"] {
            assert!(emoji(good).is_ok(), "{good}");
        }
        for bad in ["", "a", "👍a", "1", "👍 ", " ", "\u{0}", &"👍".repeat(9)] {
            assert!(emoji(bad).is_err(), "{bad:?}");
        }
        assert!(emoji(&"👍".repeat(8)).is_ok(), "32 bytes is the limit");
    }

    #[test]
    fn mentions_are_words_starting_with_at() {
        assert_eq!(
            mention_candidates("hi @nik. and @ann, mail a@b.com @@x"),
            vec![
                vec!["nik.".to_string(), "nik".to_string()],
                vec!["ann".to_string()],
                vec!["@x".to_string()],
            ]
        );
        assert!(mention_candidates("@ alone, and @").is_empty());
    }

    #[test]
    fn search_words_drop_all_syntax_and_are_bounded() {
        assert_eq!(
            search_words(r#"  "unbalanced NEAR(a b) -x* OR y^ ""#),
            ["unbalanced", "NEAR", "a", "b", "x", "OR", "y"]
        );
        assert_eq!(search_words("Crème brûlée"), ["Crème", "brûlée"]);
        assert_eq!(search_words(&"word ".repeat(2000)).len(), MAX_SEARCH_WORDS);
        assert_eq!(search_words(&"x".repeat(10_000))[0].len(), MAX_WORD_CHARS);
        assert!(search_words("*** ()").is_empty());
    }
}
