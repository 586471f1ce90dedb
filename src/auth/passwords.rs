//! Password hashes: argon2id in the standard PHC string format, run on one
//! thread of their own with a work area allocated once (see [`Kdf`]).

use argon2::password_hash::PasswordHash;
use argon2::Argon2;
use base64::Engine;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
