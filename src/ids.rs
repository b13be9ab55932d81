//! Validated identifiers, parsed once at the edge and trusted afterwards.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A session's id: chosen by the caller, 1–64 of `[A-Za-z0-9_-]`, so it is
/// safe in URLs, file names, log lines and Redis keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SessionId(String);

impl SessionId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err("must be 1 to 64 characters");
        }
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err("may only contain A-Z a-z 0-9 _ -");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SessionId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        SessionId::parse(&raw).map_err(|e| serde::de::Error::custom(format!("session id {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids() {
        assert!(SessionId::parse("sales-team_01").is_ok());
        assert!(SessionId::parse("").is_err());
        assert!(SessionId::parse(&"a".repeat(65)).is_err());
        for bad in ["../etc", "a b", "a/b", "ünï", "a:b", "a.b"] {
            assert!(SessionId::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
