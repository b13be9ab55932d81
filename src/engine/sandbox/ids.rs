//! Ids and codes the sandbox hands out, shaped like WhatsApp's.

use base64::Engine as _;
use rand::Rng;

/// `3EB0` + 16 upper-case hex digits, like WhatsApp Web message ids.
pub fn message_id() -> String {
    let n: u64 = rand::rng().random();
    format!("3EB0{n:016X}")
}

/// A QR payload in WhatsApp's shape: `ref,noise-key,identity-key,adv-secret`.
pub fn qr_payload() -> String {
    let mut rng = rand::rng();
    let mut part = |len: usize| {
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    format!("2@{},{},{},{}", part(24), part(32), part(32), part(32))
}

/// Eight characters as WhatsApp shows them, `XXXX-XXXX`, without the
/// easily confused 0/O/1/I.
pub fn pair_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTVWXYZ23456789";
    let mut rng = rand::rng();
    let mut code: String = (0..8).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
    code.insert(4, '-');
    code
}

/// Group ids: `120363` + 12 digits, like current WhatsApp groups.
pub fn group_user() -> String {
    let n: u64 = rand::rng().random_range(100_000_000_000..1_000_000_000_000);
    format!("120363{n}")
}

/// Invite codes: 22 characters of URL-safe base64, like chat.whatsapp.com links.
pub fn invite_code() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Call ids: 32 upper-case hex digits, like WhatsApp's.
pub fn call_id() -> String {
    let n: u128 = rand::rng().random();
    format!("{n:032X}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        assert_eq!(super::message_id().len(), 20);
        let code = super::pair_code();
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        assert!(super::qr_payload().starts_with("2@"));
        assert_eq!(super::qr_payload().split(',').count(), 4);
        assert!(crate::wa::Jid::parse(&format!("{}@g.us", super::group_user())).is_ok());
        let invite = super::invite_code();
        assert_eq!(invite.len(), 22);
        assert_ne!(invite, super::invite_code());
    }
}
