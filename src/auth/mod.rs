//! Authentication: argon2 password hashes, HS256 JSON Web Tokens (access and
//! refresh, in the shape of djangorestframework-simplejwt) and the signing
//! secret, plus reading `Authorization: Bearer` headers.
//!
//! Only HS256 is ever accepted: a token's header must say exactly that, so
//! `alg: none` and algorithm-confusion tricks fail before any signature check.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use argon2::password_hash::PasswordHash;
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::http::error::ApiError;

/// argon2id with its 19 MiB work area kept between runs.
///
/// Allocating and freeing that area per run is what makes memory balloon:
/// glibc raises its mmap threshold after freeing a large mapping, so later
/// areas come from thread arenas that keep them. A [`Hasher`] thread keeps
/// one `Kdf` for the server's lifetime, so the area is allocated once.
#[derive(Default)]
pub struct Kdf {
    blocks: Vec<argon2::Block>,
}

impl Kdf {
    fn compute(
        &mut self,
        params: argon2::Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> anyhow::Result<()> {
        if self.blocks.len() != params.block_count() {
            self.blocks = vec![argon2::Block::default(); params.block_count()];
        }
        Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password_into_with_memory(password, salt, out, &mut self.blocks)
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) for
    /// `password` with a random salt and argon2's default (OWASP) costs.
    pub fn hash(&mut self, password: &str) -> anyhow::Result<String> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let params = argon2::Params::default();
        let mut out = [0u8; 32];
        self.compute(params.clone(), password.as_bytes(), &salt, &mut out)?;
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            b64.encode(salt),
            b64.encode(out)
        ))
    }

    /// True when `password` matches the PHC string `hash`.
    pub fn verify(&mut self, password: &str, hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        if parsed.algorithm != argon2::ARGON2ID_IDENT {
            return false;
        }
        let (Ok(params), Some(salt), Some(expected)) =
            (argon2::Params::try_from(&parsed), parsed.salt, parsed.hash)
        else {
            return false;
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let mut out = vec![0u8; expected.len()];
        if self
            .compute(params, password.as_bytes(), salt, &mut out)
            .is_err()
        {
            return false;
        }
        // Output's equality is constant-time.
        argon2::password_hash::Output::new(&out).is_ok_and(|computed| computed == expected)
    }
}

/// Hashes a password (one-off, e.g. from a command; servers use [`Hasher`]).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    Kdf::default().hash(password)
}

/// Checks a password against a stored hash (one-off; servers use [`Hasher`]).
pub fn verify_password(password: &str, hash: &str) -> bool {
    Kdf::default().verify(password, hash)
}

/// A hash of a password nobody knows, verified against when a login names no
/// user, so that a login takes as long whether or not the user exists.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        // A fixed, valid hash: computing one here would cost a work area.
        "$argon2id$v=19$m=19456,t=2,p=1$bm8tdXNlci1oYXMtdGhpcw$Z2OzvBDy8GZdxDZbTj4H0q8s4GQ6mDtVDsV4cV4J3kI".to_string()
    })
}

/// Runs every argon2 hash and verification of a server on one thread.
///
/// Each argon2 run needs 19 MiB. On tokio's blocking pool, runs land on
/// many threads, and the allocator keeps each thread's freed 19 MiB: a soak
/// test of 60 logins left the server at ~500 MiB. One thread reuses one
/// block, bounds the memory to that, and bounds the CPU that a burst of
/// logins can take (they queue; throttling keeps the queue short).
#[derive(Clone)]
pub struct Hasher {
    jobs: std::sync::mpsc::Sender<Job>,
}

type Job = Box<dyn FnOnce(&mut Kdf) + Send>;

impl Hasher {
    /// Starts the thread; it ends when the last handle is dropped.
    pub fn start() -> anyhow::Result<Hasher> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("chatd-argon2".into())
            .spawn(move || {
                let mut kdf = Kdf::default();
                queue.into_iter().for_each(|job| job(&mut kdf));
            })?;
        Ok(Hasher { jobs })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Kdf) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |kdf: &mut Kdf| {
                let _ = done.send(work(kdf));
            }))
            .map_err(|_| anyhow::anyhow!("the password hasher has stopped"))?;
        result
            .await
            .map_err(|_| anyhow::anyhow!("the password hasher has stopped"))
    }

    /// [`hash_password`] on the hasher thread.
    pub async fn hash(&self, password: String) -> anyhow::Result<String> {
        self.run(move |kdf| kdf.hash(&password)).await?
    }

    /// [`Hasher::hash`] for synchronous code (seeding), blocking the caller.
    pub fn hash_blocking(&self, password: &str) -> anyhow::Result<String> {
        let (done, result) = std::sync::mpsc::channel();
        let password = password.to_string();
        self.jobs
            .send(Box::new(move |kdf: &mut Kdf| {
                let _ = done.send(kdf.hash(&password));
            }))
            .map_err(|_| anyhow::anyhow!("the password hasher has stopped"))?;
        result
            .recv()
            .map_err(|_| anyhow::anyhow!("the password hasher has stopped"))?
    }

    /// [`verify_password`] on the hasher thread; `None` as the hash checks
    /// against [`dummy_hash`], so an unknown user costs the same time.
    pub async fn verify(&self, password: String, hash: Option<String>) -> anyhow::Result<bool> {
        self.run(move |kdf| kdf.verify(&password, hash.as_deref().unwrap_or_else(|| dummy_hash())))
            .await
    }
}

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
pub fn credentials(header: Option<&str>) -> Result<Credentials, ApiError> {
    let Some(header) = header else {
        return Ok(Credentials::None);
    };
    let parts: Vec<&str> = header.split_whitespace().collect();
    match parts.as_slice() {
        ["Bearer", token] => Ok(Credentials::Bearer(token.to_string())),
        ["Bearer", ..] => Err(ApiError::bad_authorization_header()),
        _ => Ok(Credentials::None),
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
    fn our_hashes_are_standard_phc_argon2id() {
        use argon2::password_hash::PasswordVerifier;
        let hash = hash_password("correct horse").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"wrong", &parsed)
            .is_err());
        // The dummy hash parses, so an unknown user costs a full argon2 run.
        let dummy = PasswordHash::new(dummy_hash()).unwrap();
        assert!(argon2::Params::try_from(&dummy).is_ok());
        assert!(!verify_password("anything", dummy_hash()));
    }

    #[test]
    fn the_hasher_thread_hashes_and_verifies() {
        let hasher = Hasher::start().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let hash = hasher.hash("a long passphrase".into()).await.unwrap();
            assert!(hasher
                .verify("a long passphrase".into(), Some(hash.clone()))
                .await
                .unwrap());
            assert!(!hasher.verify("another".into(), Some(hash)).await.unwrap());
            assert!(!hasher.verify("x".into(), None).await.unwrap());
        });
        assert!(verify_password(
            "sync",
            &hasher.hash_blocking("sync").unwrap()
        ));
    }

    #[test]
    fn passwords_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

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
