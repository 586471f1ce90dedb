//! Authentication: who is asking. Password hashes ([`passwords`]), signed
//! tokens ([`tokens`]), reading `Authorization: Bearer` headers, and the
//! user an access token names (revoked when their password changed).

pub mod passwords;
pub mod tokens;

use std::fmt;

pub use passwords::{dummy_hash, hash_password, verify_password, Hasher, Kdf};
pub use tokens::{load_secret, Claims, TokenType, Tokens};

use crate::storage::users::User;
use crate::storage::{Db, StorageError};

/// Why a request's credentials were refused.
#[derive(Debug)]
pub enum AuthError {
    /// `Authorization: Bearer` without exactly one token.
    BadAuthorizationHeader,
    /// Not signed by us, expired, of the wrong type, or revoked.
    InvalidToken,
    /// The token's user no longer exists.
    UserNotFound,
    /// The token's user is suspended.
    UserInactive,
    /// The user could not be read.
    Storage(StorageError),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::BadAuthorizationHeader => f.write_str("malformed Authorization header"),
            AuthError::InvalidToken => f.write_str("invalid token"),
            AuthError::UserNotFound => f.write_str("the token's user is gone"),
            AuthError::UserInactive => f.write_str("the token's user is suspended"),
            AuthError::Storage(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for AuthError {}

impl From<StorageError> for AuthError {
    fn from(error: StorageError) -> AuthError {
        AuthError::Storage(error)
    }
}

/// The credentials a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// No `Authorization: Bearer` header (other schemes are ignored).
    None,
    /// The raw token of a well-formed Bearer header.
    Bearer(String),
}

/// Reads the `Authorization` header as simplejwt does: a header of another
/// scheme counts as no credentials; `Bearer` must be followed by exactly
/// one token.
pub fn credentials(header: Option<&str>) -> Result<Credentials, AuthError> {
    let Some(header) = header else {
        return Ok(Credentials::None);
    };
    let parts: Vec<&str> = header.split_whitespace().collect();
    match parts.as_slice() {
        ["Bearer", token] => Ok(Credentials::Bearer(token.to_string())),
        ["Bearer", ..] => Err(AuthError::BadAuthorizationHeader),
        _ => Ok(Credentials::None),
    }
}

/// The user an access token names. The user is read afresh for every
/// token, so a suspension or password change (also from the command line)
/// counts at once.
pub async fn user_for_token(tokens: &Tokens, db: &Db, token: &str) -> Result<User, AuthError> {
    let claims = tokens
        .decode(token, TokenType::Access)
        .ok_or(AuthError::InvalidToken)?;
    let user = db
        .user(claims.user_id)
        .await?
        .ok_or(AuthError::UserNotFound)?;
    check_claims(user, &claims)
}

/// The user a validly signed token's `claims` name, if the token still
/// counts: a suspended user is told so (before the version check, since a
/// suspension also bumps the version); a password change or suspension
/// since the token was issued revokes it.
pub fn check_claims(user: User, claims: &Claims) -> Result<User, AuthError> {
    if !user.is_active {
        return Err(AuthError::UserInactive);
    }
    if user.token_version != claims.ver {
        return Err(AuthError::InvalidToken);
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_headers() {
        assert_eq!(credentials(None).unwrap(), Credentials::None);
        assert_eq!(credentials(Some("Basic abc")).unwrap(), Credentials::None);
        assert_eq!(
            credentials(Some("Bearer abc")).unwrap(),
            Credentials::Bearer("abc".into())
        );
        assert!(credentials(Some("Bearer")).is_err());
        assert!(credentials(Some("Bearer a b")).is_err());
    }
}
