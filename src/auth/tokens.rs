//! HS256 JSON Web Tokens (access and refresh, in the shape of
//! djangorestframework-simplejwt) and the signing secret.
//!
//! Only HS256 is ever accepted: a token's header must say exactly that, so
//! `alg: none` and algorithm-confusion tricks fail before any signature check.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The two kinds of token; an access token is never accepted as a refresh
/// token or the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// Claims of our tokens (simplejwt's names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: TokenType,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
    pub user_id: i64,
    /// The user's token version when issued (see `users.token_version`).
    #[serde(default)]
    pub ver: i64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
}

/// Signs and checks tokens with one HMAC-SHA256 secret.
#[derive(Clone)]
pub struct Tokens {
    secret: Vec<u8>,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

impl Tokens {
    pub fn new(secret: impl Into<Vec<u8>>, access_ttl: Duration, refresh_ttl: Duration) -> Tokens {
        Tokens {
            secret: secret.into(),
            access_ttl,
            refresh_ttl,
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC accepts any key length")
    }

    /// A new token of `token_type` for `user_id`, valid while the user's
    /// token version stays `ver`.
    pub fn issue(&self, token_type: TokenType, user_id: i64, ver: i64) -> anyhow::Result<String> {
        let iat = now_secs();
        let ttl = match token_type {
            TokenType::Access => self.access_ttl,
            TokenType::Refresh => self.refresh_ttl,
        };
        self.encode(&Claims {
            token_type,
            exp: iat + ttl.as_secs(),
            iat,
            jti: random_hex(16)?,
            user_id,
            ver,
        })
    }

    /// Signs arbitrary claims (tests use this to make expired tokens).
    pub fn encode(&self, claims: &Claims) -> anyhow::Result<String> {
        let header = Header {
            alg: "HS256".into(),
            typ: Some("JWT".into()),
        };
        let mut token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?));
        let mut mac = self.mac();
        mac.update(token.as_bytes());
        let signature = mac.finalize().into_bytes();
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(token)
    }

    /// The claims of `token` if it is an unexpired HS256 token of
    /// `expected` type signed with our secret.
    pub fn decode(&self, token: &str, expected: TokenType) -> Option<Claims> {
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (header, payload) = signing_input.split_once('.')?;
        if payload.contains('.') {
            return None;
        }
        let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.alg != "HS256" {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        mac.verify_slice(&signature).ok()?;
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (claims.token_type == expected && claims.exp > now_secs()).then_some(claims)
    }
}

/// The signing secret: from configuration, else from `secret.key` in the
/// data directory, created (mode 0600) on first start.
pub fn load_secret(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = configured {
        anyhow::ensure!(
            secret.len() >= 16,
            "the secret must be at least 16 characters long"
        );
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join("secret.key");
    match std::fs::read_to_string(&path) {
        Ok(secret) if secret.trim().len() >= 16 => return Ok(secret.trim().as_bytes().to_vec()),
        Ok(_) => anyhow::bail!(
            "{} is too short; remove it to generate a new one",
            path.display()
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
    let secret = random_hex(32)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    std::io::Write::write_all(&mut file, secret.as_bytes())?;
    file.sync_all()?;
    Ok(secret.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(
            b"test-secret-test-secret".to_vec(),
            Duration::from_secs(60),
            Duration::from_secs(600),
        )
    }

    #[test]
    fn issued_tokens_decode_only_as_their_type() {
        let t = tokens();
        let access = t.issue(TokenType::Access, 7, 0).unwrap();
        assert_eq!(t.decode(&access, TokenType::Access).unwrap().user_id, 7);
        assert!(t.decode(&access, TokenType::Refresh).is_none());
    }

    #[test]
    fn tampered_expired_and_foreign_tokens_fail() {
        let t = tokens();
        let access = t.issue(TokenType::Access, 7, 0).unwrap();
        let mut tampered = access.clone();
        tampered.pop();
        tampered.push(if access.ends_with('A') { 'B' } else { 'A' });
        assert!(t.decode(&tampered, TokenType::Access).is_none());
        let other = Tokens::new(
            b"another-secret-entirely".to_vec(),
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        assert!(other.decode(&access, TokenType::Access).is_none());
        let expired = t
            .encode(&Claims {
                token_type: TokenType::Access,
                exp: 1,
                iat: 0,
                jti: "x".into(),
                user_id: 7,
                ver: 0,
            })
            .unwrap();
        assert!(t.decode(&expired, TokenType::Access).is_none());
        assert!(t.decode("not.a.token", TokenType::Access).is_none());
        assert!(t.decode("", TokenType::Access).is_none());
    }

    #[test]
    fn alg_none_is_rejected() {
        let t = tokens();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = Claims {
            token_type: TokenType::Access,
            exp: u64::MAX / 2,
            iat: 0,
            jti: "x".into(),
            user_id: 1,
            ver: 0,
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        assert!(t
            .decode(&format!("{header}.{payload}."), TokenType::Access)
            .is_none());
    }

    #[test]
    fn secret_is_generated_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_secret(None, dir.path()).unwrap();
        let second = load_secret(None, dir.path()).unwrap();
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
