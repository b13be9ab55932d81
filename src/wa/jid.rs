//! Addresses on WhatsApp, parsed once at the edge.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A phone number in international form without the `+`: 7–15 digits, the
/// first not 0. Spaces, dashes, dots, parentheses and a leading `+` are
/// accepted on input and dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let mut digits = String::with_capacity(body.len());
        for c in body.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err("must be an international phone number, digits only"),
            }
        }
        if !(7..=15).contains(&digits.len()) {
            return Err("must have 7 to 15 digits including the country code");
        }
        if digits.starts_with('0') {
            return Err("must start with the country code, not 0");
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The account's chat address.
    pub fn to_jid(&self) -> Jid {
        Jid { user: self.0.clone(), server: Server::User }
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kind of address after the `@`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Server {
    /// `s.whatsapp.net`: a person, addressed by phone number.
    User,
    /// `lid`: a person, addressed by their privacy id.
    Lid,
    /// `g.us`: a group.
    Group,
    /// `broadcast`: status updates and broadcast lists.
    Broadcast,
    /// `newsletter`: a channel.
    Newsletter,
}

impl Server {
    pub fn as_str(self) -> &'static str {
        match self {
            Server::User => "s.whatsapp.net",
            Server::Lid => "lid",
            Server::Group => "g.us",
            Server::Broadcast => "broadcast",
            Server::Newsletter => "newsletter",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "s.whatsapp.net" | "c.us" => Server::User,
            "lid" => Server::Lid,
            "g.us" => Server::Group,
            "broadcast" => Server::Broadcast,
            "newsletter" => Server::Newsletter,
            _ => return None,
        })
    }
}

/// A chat address: `<user>@<server>`. Device suffixes (`:12`) and agent
/// parts (`.0`) are dropped because a chat is the account, not its phone.
/// A bare phone number parses as that person's chat.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jid {
    user: String,
    server: Server,
}

impl Jid {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        let Some((user, server)) = raw.split_once('@') else {
            return PhoneNumber::parse(raw)
                .map(|p| p.to_jid())
                .map_err(|_| "must be a JID like 491701234567@s.whatsapp.net or a phone number");
        };
        let server = Server::parse(server).ok_or("has an unknown server after @")?;
        let user = user.split(':').next().unwrap_or_default();
        let user = match server {
            Server::User | Server::Lid => user.split('.').next().unwrap_or_default(),
            _ => user,
        };
        let valid = match server {
            Server::User => PhoneNumber::parse(user).is_ok(),
            Server::Lid => !user.is_empty() && user.len() <= 20 && user.bytes().all(|b| b.is_ascii_digit()),
            Server::Group => {
                // Current groups are `<digits>`; legacy ones `<creator>-<timestamp>`.
                !user.is_empty() && user.len() <= 40 && user.bytes().all(|b| b.is_ascii_digit() || b == b'-')
            }
            Server::Broadcast => {
                user == "status" || (!user.is_empty() && user.bytes().all(|b| b.is_ascii_digit()))
            }
            Server::Newsletter => {
                !user.is_empty() && user.len() <= 30 && user.bytes().all(|b| b.is_ascii_digit())
            }
        };
        if !valid {
            return Err("has an invalid user part before @");
        }
        Ok(Self { user: user.to_owned(), server })
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn server(&self) -> Server {
        self.server
    }

    pub fn is_group(&self) -> bool {
        self.server == Server::Group
    }

    /// The phone number of a person's chat.
    pub fn phone(&self) -> Option<PhoneNumber> {
        match self.server {
            Server::User => Some(PhoneNumber(self.user.clone())),
            _ => None,
        }
    }

    /// For engines building ids they received from the network.
    pub fn new_unchecked(user: impl Into<String>, server: Server) -> Self {
        Self { user: user.into(), server }
    }
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.user, self.server.as_str())
    }
}

impl FromStr for Jid {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Jid::parse(s)
    }
}

/// A message id as WhatsApp knows it (engine-assigned, opaque, ≤ 128 chars).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(pub String);

impl MessageId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! serde_via_str {
    ($ty:ty, $what:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                <$ty>::parse(&raw).map_err(|e| serde::de::Error::custom(format!(concat!($what, " {}"), e)))
            }
        }
    };
}
serde_via_str!(PhoneNumber, "phone number");
serde_via_str!(Jid, "jid");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_normalised_and_checked() {
        assert_eq!(PhoneNumber::parse("+49 170 123-4567").unwrap().as_str(), "491701234567");
        assert_eq!(PhoneNumber::parse("(1) 555.010.9999").unwrap().as_str(), "15550109999");
        for bad in ["", "123", "0049170123456", "+49abc1234567", "1234567890123456", "++491701234567"] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn jids_parse_normalise_and_render() {
        let cases = [
            ("491701234567@s.whatsapp.net", "491701234567@s.whatsapp.net"),
            ("491701234567@c.us", "491701234567@s.whatsapp.net"),
            ("491701234567:12@s.whatsapp.net", "491701234567@s.whatsapp.net"),
            ("491701234567.0:3@s.whatsapp.net", "491701234567@s.whatsapp.net"),
            ("+49 170 1234567", "491701234567@s.whatsapp.net"),
            ("120363025246125486@g.us", "120363025246125486@g.us"),
            ("491701234567-1612345678@g.us", "491701234567-1612345678@g.us"),
            ("status@broadcast", "status@broadcast"),
            ("123456789012345@lid", "123456789012345@lid"),
        ];
        for (raw, want) in cases {
            assert_eq!(Jid::parse(raw).unwrap().to_string(), want, "{raw}");
        }
        assert!(Jid::parse("120363025246125486@g.us").unwrap().is_group());
        for bad in ["", "abc", "@s.whatsapp.net", "49170@s.whatsapp.net", "x@g.us", "1@example.com", "a@lid"]
        {
            assert!(Jid::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn serde_round_trips_and_rejects() {
        let jid: Jid = serde_json::from_str("\"491701234567@c.us\"").unwrap();
        assert_eq!(serde_json::to_string(&jid).unwrap(), "\"491701234567@s.whatsapp.net\"");
        let err = serde_json::from_str::<PhoneNumber>("\"12\"").unwrap_err().to_string();
        assert!(err.contains("phone number must have 7 to 15 digits"), "{err}");
    }
}
