//! Message ids: the gateway's (`msg_…`) and the WhatsApp id derived from it.

use sha2::{Digest, Sha256};

/// `msg_` + UUIDv7: unique and time-ordered.
pub fn new_message_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

/// The id of the `index`-th message of a batch: derived, so a batch created
/// again under the same Idempotency-Key names the same messages.
pub fn batch_message_id(batch_id: &str, index: usize) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{batch_id}:{index}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

/// The WhatsApp id a gateway message is sent with: `3EB0` + 18 upper-case
/// hex digits, the shape WhatsApp Web uses. Deterministic, so every attempt
/// of one message carries the same id and WhatsApp treats a repeat as the
/// same message.
///
/// The first 10 digits are the message's creation time (the low 40 bits of
/// its UUIDv7's milliseconds), the last 8 come from SHA-256(message id).
/// The log's index on WhatsApp ids then grows at its right edge like the
/// other time-ordered keys: with a random id every accepted message wrote
/// one more page at a random place in it, about a quarter of the pages an
/// accept batch wrote. Ids not made by [`new_message_id`] (batch messages)
/// take the time digits from the hash too.
pub fn wa_id_for(message_id: &str) -> String {
    let digest = Sha256::digest(message_id.as_bytes());
    let hashed = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    let millis = v7_millis(message_id).unwrap_or(hashed >> 24);
    format!("3EB0{:010X}{:08X}", millis & 0xFF_FFFF_FFFF, hashed & 0xFFFF_FFFF)
}

/// The milliseconds of a `msg_` + UUIDv7 id.
fn v7_millis(message_id: &str) -> Option<u64> {
    let hex = message_id.strip_prefix("msg_")?;
    let uuid = uuid::Uuid::try_parse(hex).ok()?;
    let (secs, nanos) = match uuid.get_version() {
        Some(uuid::Version::SortRand) => uuid.get_timestamp()?.to_unix(),
        _ => return None,
    };
    Some(secs * 1000 + u64::from(nanos) / 1_000_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn wa_ids_are_stable_and_distinct() {
        let a = super::wa_id_for("msg_1");
        assert_eq!(a, super::wa_id_for("msg_1"));
        assert_ne!(a, super::wa_id_for("msg_2"));
        for id in [
            a,
            super::wa_id_for(&super::new_message_id()),
            super::wa_id_for(&super::batch_message_id("b", 3)),
        ] {
            assert_eq!(id.len(), 22, "{id}");
            assert!(
                id.starts_with("3EB0")
                    && id[4..].chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()),
                "{id}"
            );
        }
        assert!(super::new_message_id().starts_with("msg_"));
    }

    #[test]
    fn wa_ids_of_later_messages_sort_after_earlier_ones() {
        let earlier: Vec<String> = (0..50).map(|_| super::wa_id_for(&super::new_message_id())).collect();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = super::wa_id_for(&super::new_message_id());
        assert!(earlier.iter().all(|e| *e < later), "{earlier:?} < {later}");
        // Messages of the same millisecond still get distinct ids.
        let distinct: std::collections::HashSet<&String> = earlier.iter().collect();
        assert_eq!(distinct.len(), earlier.len());
        // The time digits are the message id's own, not the clock's.
        let id = "msg_0190a1b2c3d47000800000000000abcd";
        assert_eq!(&super::wa_id_for(id)[4..14], "90A1B2C3D4");
    }
}
