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

/// The WhatsApp id a gateway message is sent with: `3EB0` + 16 hex digits of
/// SHA-256(message id), the shape WhatsApp Web uses. Deterministic, so every
/// attempt of one message carries the same id and WhatsApp treats a repeat
/// as the same message.
pub fn wa_id_for(message_id: &str) -> String {
    let digest = Sha256::digest(message_id.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02X}")).collect();
    format!("3EB0{hex}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn wa_ids_are_stable_and_distinct() {
        let a = super::wa_id_for("msg_1");
        assert_eq!(a, super::wa_id_for("msg_1"));
        assert_ne!(a, super::wa_id_for("msg_2"));
        assert_eq!(a.len(), 20);
        assert!(
            a.starts_with("3EB0") && a[4..].chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        );
        assert!(super::new_message_id().starts_with("msg_"));
    }
}
