//! Tokens (arbitrary, tampered with, signed with any claims or algorithm)
//! and `Authorization` headers: accepted only when right, else the documented 401.

use std::time::Duration;

use chatd::auth::{self, Claims, Credentials, TokenType, Tokens};
use proptest::prelude::*;

use crate::{config, render};

fn tokens() -> Tokens {
    Tokens::new(
        b"property-test-secret".to_vec(),
        Duration::from_secs(60),
        Duration::from_secs(600),
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(signing_input: &str, secret: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(signing_input.as_bytes());
    b64(&mac.finalize().into_bytes())
}

proptest! {
    #![proptest_config(config(256))]
    /// Any string as a token is rejected (it is not signed with our secret).
    #[test]
    fn arbitrary_tokens_are_rejected(token in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,50}",
        "[A-Za-z0-9_.-]{0,200}",
    ]) {
        let tokens = tokens();
        prop_assert!(tokens.decode(&token, TokenType::Access).is_none());
        prop_assert!(tokens.decode(&token, TokenType::Refresh).is_none());
    }

    /// Any change to a valid token (a character replaced, inserted or
    /// removed, or the token cut short) makes it invalid.
    #[test]
    fn tampered_tokens_are_rejected(
        at in any::<prop::sample::Index>(),
        replacement in prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ".chars().collect::<Vec<_>>()
        ),
        kind in 0u8..4,
    ) {
        let tokens = tokens();
        let token = tokens.issue(TokenType::Access, 7, 0).unwrap();
        let mut chars: Vec<char> = token.chars().collect();
        let at = at.index(chars.len());
        match kind {
            0 => chars[at] = replacement,
            1 => chars.insert(at, replacement),
            2 => { chars.remove(at); }
            _ => chars.truncate(at),
        }
        let tampered: String = chars.into_iter().collect();
        prop_assume!(tampered != token);
        prop_assert!(tokens.decode(&tampered, TokenType::Access).is_none(), "{}", tampered);
    }

    /// Correctly signed claims decode only as their own type and only
    /// before they expire.
    #[test]
    fn signed_claims_decode_by_type_and_expiry(
        refresh in any::<bool>(),
        expected_refresh in any::<bool>(),
        exp in prop_oneof![Just(0u64), Just(u64::MAX), 0u64..1_000_000, (10u64..100_000).prop_map(|d| now() + d), (10u64..100_000).prop_map(|d| now() - d)],
        iat in any::<u64>(),
        jti in any::<String>(),
        user_id in any::<i64>(),
        ver in any::<i64>(),
    ) {
        let kind = |refresh| if refresh { TokenType::Refresh } else { TokenType::Access };
        let tokens = tokens();
        let claims = Claims { token_type: kind(refresh), exp, iat, jti, user_id, ver };
        let token = tokens.encode(&claims).unwrap();
        let decoded = tokens.decode(&token, kind(expected_refresh));
        if refresh == expected_refresh && exp > now() {
            prop_assert_eq!(decoded, Some(claims));
        } else {
            prop_assert!(decoded.is_none());
        }
    }

    /// A token signed with our secret but naming another algorithm (or
    /// carrying a header or payload that is not what we issue) is refused.
    #[test]
    fn only_hs256_headers_are_accepted(
        alg in prop_oneof![Just("HS256".to_string()), Just("none".to_string()), Just("HS512".to_string()), Just("RS256".to_string()), any::<String>()],
        header_extra in prop_oneof![Just(String::new()), Just(",\"typ\":\"JWT\"".to_string()), Just(",\"typ\":7".to_string())],
        payload in prop_oneof![
            Just(None),
            any::<String>().prop_map(Some),
        ],
    ) {
        let secret = b"property-test-secret";
        let header = format!("{{\"alg\":{}{header_extra}}}", serde_json::to_string(&alg).unwrap());
        let claims = Claims {
            token_type: TokenType::Access,
            exp: now() + 3600,
            iat: now(),
            jti: "x".into(),
            user_id: 1,
            ver: 0,
        };
        let payload_bytes = match &payload {
            Some(text) => text.clone().into_bytes(),
            None => serde_json::to_vec(&claims).unwrap(),
        };
        let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(&payload_bytes));
        let token = format!("{signing_input}.{}", sign(&signing_input, secret));
        let decoded = tokens().decode(&token, TokenType::Access);
        let well_formed = alg == "HS256" && !header_extra.contains('7') && payload.is_none();
        if well_formed {
            prop_assert_eq!(decoded, Some(claims));
        } else {
            prop_assert!(decoded.is_none());
        }
    }

    /// Any `Authorization` header: no credentials, exactly one Bearer
    /// token, or the documented 401.
    #[test]
    fn authorization_headers_are_read_or_refused_as_documented(header in prop::option::of(prop_oneof![
        any::<String>(),
        "Bearer( {1,2}[!-~]{0,12}){0,3} ?",
        "(Basic|Token|bearer) [!-~]{0,12}",
    ])) {
        match auth::credentials(header.as_deref()) {
            Ok(Credentials::None) => {
                if let Some(header) = &header {
                    prop_assert_ne!(header.split_whitespace().next(), Some("Bearer"));
                }
            }
            Ok(Credentials::Bearer(token)) => {
                let parts: Vec<&str> = header.as_deref().unwrap_or_default().split_whitespace().collect();
                prop_assert_eq!(parts, vec!["Bearer", token.as_str()]);
            }
            Err(error) => {
                let rendered = render(error.into());
                prop_assert_eq!(rendered.status, 401);
                prop_assert_eq!(
                    rendered.headers.get("www-authenticate").map(|v| v.to_str().unwrap().to_string()),
                    Some("Bearer realm=\"api\"".to_string())
                );
                prop_assert_eq!(
                    rendered.body,
                    serde_json::json!({
                        "detail": "Authorization header must contain two space-delimited values",
                        "code": "bad_authorization_header"
                    })
                );
            }
        }
    }
}
