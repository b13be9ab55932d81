//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>`
//! keyed with the bytes of a `whsec_<base64>` secret. Several secrets (during
//! a rotation) give several space-separated signatures.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// A decoded signing secret.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub const PREFIX: &'static str = "whsec_";

    /// `whsec_` + base64 of at least 16 bytes (the prefix is optional on input).
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let b64 = raw.strip_prefix(Self::PREFIX).unwrap_or(raw);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| "is not base64 after whsec_")?;
        if bytes.len() < 16 {
            return Err("must hold at least 16 bytes");
        }
        Ok(Self(bytes))
    }

    /// A new random secret in its text form.
    pub fn generate() -> String {
        let bytes: [u8; 32] = rand::random();
        format!("{}{}", Self::PREFIX, base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

/// The `webhook-signature` value for one secret.
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret.0).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// The header value for every secret in `secrets` (space-separated in storage).
pub fn sign_all(secrets: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, &'static str> {
    let parsed: Vec<Secret> = secrets.split_whitespace().map(Secret::parse).collect::<Result<_, _>>()?;
    if parsed.is_empty() {
        return Err("no secret");
    }
    Ok(parsed.iter().map(|s| sign(s, id, timestamp, body)).collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example published with the Standard Webhooks specification.
    #[test]
    fn pins_the_specification_example() {
        let secret = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        assert_eq!(
            sign(&secret, "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553, body),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn rotation_signs_with_every_secret() {
        let a = Secret::generate();
        let b = Secret::generate();
        let both = sign_all(&format!("{a} {b}"), "evt_1", 1, b"{}").unwrap();
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(&Secret::parse(&a).unwrap(), "evt_1", 1, b"{}"));
        assert!(sign_all("", "x", 1, b"").is_err());
        assert!(Secret::parse("whsec_short").is_err());
        assert!(Secret::parse("whsec_!!!").is_err());
    }
}
