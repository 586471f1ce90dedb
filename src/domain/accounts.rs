//! Account rules: what a registration may contain (Django's username,
//! e-mail and password validators, with their wording) and the messages for
//! names that are taken. Plain functions, tested directly.

use super::error::{messages, FieldErrors};
use super::form::{Form, Value};
use super::rules::{text_value, TextRule, PASSWORD_RULE};

pub const USERNAME_MAX: usize = 150;
pub const EMAIL_MAX: usize = 254;
pub const PASSWORD_MIN: usize = 8;

/// The field errors for names that are taken.
pub fn taken_errors(taken: crate::storage::users::Taken) -> FieldErrors {
    let mut errors = FieldErrors::new();
    if taken.username {
        errors.add("username", messages::USERNAME_TAKEN);
    }
    if taken.email {
        errors.add("email", messages::EMAIL_TAKEN);
    }
    errors
}

/// A validated registration.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub username: String,
    pub email: String,
    pub password: String,
}

/// Validates `POST /api/register/`: username, e-mail and password rules.
/// (Uniqueness is checked against the database afterwards.)
pub fn registration(form: &Form) -> Result<Registration, FieldErrors> {
    account(
        form.get("username"),
        form.get("email"),
        form.get("password"),
    )
}

/// The `invite` code a registration needs in invite mode: required, not
/// blank (whether it can be used is the database's to say).
pub fn invite(form: &Form) -> Result<Option<String>, Vec<String>> {
    let mut errors = FieldErrors::new();
    match text_value(
        form.get("invite"),
        "invite",
        TextRule::required(200),
        &mut errors,
    ) {
        Some(code) => Ok(code),
        None => Err(errors.get("invite").unwrap_or_default().to_vec()),
    }
}

/// The same rules for an account made on the command line
/// (`chatd user create`).
pub fn new_account(
    username: &str,
    email: &str,
    password: &str,
) -> Result<Registration, FieldErrors> {
    let text = |s: &str| Value::Text(s.to_string());
    account(
        Some(&text(username)),
        Some(&text(email)),
        Some(&text(password)),
    )
}

fn account(
    username: Option<&Value>,
    email: Option<&Value>,
    password: Option<&Value>,
) -> Result<Registration, FieldErrors> {
    let mut errors = FieldErrors::new();
    let username = text_value(
        username,
        "username",
        TextRule::required(USERNAME_MAX),
        &mut errors,
    )
    .flatten()
    .map(|name| normalize_username(&name));
    if let Some(name) = &username {
        if !valid_username(name) {
            errors.add(
                "username",
                "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
            );
        }
    }
    let email = text_value(email, "email", TextRule::required(EMAIL_MAX), &mut errors)
        .flatten()
        .and_then(|email| match normalize_email(&email) {
            Some(email) => Some(email),
            None => {
                errors.add("email", "Enter a valid email address.");
                None
            }
        });
    let password = text_value(password, "password", PASSWORD_RULE, &mut errors).flatten();
    if let Some(password) = &password {
        for message in password_problems(password, username.as_deref(), email.as_deref()) {
            errors.add("password", message);
        }
    }
    match (username, email, password) {
        (Some(username), Some(email), Some(password)) if errors.is_empty() => Ok(Registration {
            username,
            email,
            password,
        }),
        _ => Err(errors),
    }
}

/// NFKC, as Django normalizes usernames: fullwidth `ｆｕｌｌ` and `full`
/// are one name, so nobody can register a look-alike of another.
pub fn normalize_username(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.nfkc().collect()
}

/// Letters, digits and `@.+-_`, as Django's username validator allows.
pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
}

/// A valid address with its domain lower-cased (as Django normalizes it),
/// or `None`. Follows Django's `EmailValidator`: a dot-atom local part and a
/// domain of dot-separated labels with a top-level part of 2+ characters.
pub fn normalize_email(email: &str) -> Option<String> {
    let (local, domain) = email.rsplit_once('@')?;
    let atom_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let local_ok = !local.is_empty()
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atom_char));
    let domain = domain.to_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.chars().count() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    let domain_ok = domain == "localhost"
        || (labels.len() >= 2
            && labels.iter().all(label_ok)
            && labels.last().is_some_and(|tld| {
                tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit())
            }));
    (local_ok && domain_ok).then(|| format!("{local}@{domain}"))
}

/// Django's default password validators, in its order: similarity to the
/// username or e-mail, minimum length, common passwords, all digits.
pub fn password_problems(
    password: &str,
    username: Option<&str>,
    email: Option<&str>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let attributes = [(username, "username"), (email, "email address")];
    if let Some(name) = attributes
        .iter()
        .find(|(value, _)| value.is_some_and(|value| too_similar(password, value)))
        .map(|(_, name)| name)
    {
        problems.push(format!("The password is too similar to the {name}."));
    }
    if password.chars().count() < PASSWORD_MIN {
        problems.push(format!(
            "This password is too short. It must contain at least {PASSWORD_MIN} characters."
        ));
    }
    if is_common_password(password) {
        problems.push("This password is too common.".to_string());
    }
    if password.chars().all(|c| c.is_ascii_digit()) {
        problems.push("This password is entirely numeric.".to_string());
    }
    problems
}

/// Django's `UserAttributeSimilarityValidator` with its 0.7 threshold: the
/// attribute and each of its word parts are compared with
/// `SequenceMatcher.quick_ratio`.
fn too_similar(password: &str, attribute: &str) -> bool {
    const MAX_SIMILARITY: f64 = 0.7;
    let password: Vec<char> = password.to_lowercase().chars().collect();
    let value = attribute.to_lowercase();
    let mut parts: Vec<&str> = value
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .collect();
    parts.push(&value);
    parts.into_iter().any(|part| {
        let part: Vec<char> = part.chars().collect();
        // Django skips parts too short to matter against a long password.
        let skip = password.len() >= 10 * part.len()
            && (part.len() as f64) < MAX_SIMILARITY / 2.0 * password.len() as f64;
        !skip && quick_ratio(&password, &part) >= MAX_SIMILARITY
    })
}

/// Python's `difflib.SequenceMatcher(a, b).quick_ratio()`: twice the number
/// of characters the two share (as multisets) over their total length.
fn quick_ratio(a: &[char], b: &[char]) -> f64 {
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    let mut available = std::collections::HashMap::<char, usize>::new();
    for &c in b {
        *available.entry(c).or_default() += 1;
    }
    let mut matches = 0;
    for c in a {
        if let Some(count) = available.get_mut(c) {
            if *count > 0 {
                *count -= 1;
                matches += 1;
            }
        }
    }
    2.0 * matches as f64 / total as f64
}

/// The 19,640 most common passwords of public breach lists, one per line:
/// Django's own list (compiled by Royce Williams), so that "too common"
/// means exactly what it meant on the original server.
const COMMON_PASSWORDS: &str = include_str!("../common-passwords.txt");

/// A linear scan: about 0.1 ms, next to ~20 ms of argon2 per registration,
/// and no memory held between registrations.
fn is_common_password(password: &str) -> bool {
    let candidate = password.trim().to_lowercase();
    COMMON_PASSWORDS.lines().any(|line| line == candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules_match_django() {
        assert_eq!(
            password_problems("1234", None, None),
            [
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
                "This password is entirely numeric."
            ]
        );
        assert_eq!(
            password_problems("password", None, None),
            ["This password is too common."]
        );
        assert_eq!(
            password_problems("alice1234", Some("alice123"), None),
            ["The password is too similar to the username."]
        );
        assert!(password_problems(
            "correct horse battery",
            Some("alice"),
            Some("alice@example.com")
        )
        .is_empty());
    }

    #[test]
    fn quick_ratio_matches_python() {
        // difflib.SequenceMatcher(a="abcd", b="bcde").quick_ratio() == 0.75
        let a: Vec<char> = "abcd".chars().collect();
        let b: Vec<char> = "bcde".chars().collect();
        assert!((quick_ratio(&a, &b) - 0.75).abs() < 1e-9);
    }

    #[test]
    fn usernames_and_emails() {
        assert!(valid_username("nik.o+test@x_y-z"));
        assert!(!valid_username("has space"));
        assert!(!valid_username("semi;colon"));
        assert_eq!(
            normalize_email("Nik@Example.COM").as_deref(),
            Some("Nik@example.com")
        );
        for bad in [
            "nik",
            "nik@",
            "@example.com",
            "nik@example",
            "a b@example.com",
            "nik@exa_mple.com",
            "nik@-x.com",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }
}
