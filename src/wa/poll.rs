//! How WhatsApp names a poll's options in a vote: by the SHA-256 of each
//! option's text, never by position (options are unique within a poll).

use sha2::{Digest, Sha256};

/// What a vote carries for `option`.
pub fn option_hash(option: &str) -> [u8; 32] {
    Sha256::digest(option.as_bytes()).into()
}

/// The options a vote's hashes choose, in the poll's order; hashes that
/// match no option (a poll edited elsewhere, a forged vote) are dropped.
pub fn chosen(options: &[String], hashes: &[[u8; 32]]) -> Vec<String> {
    options.iter().filter(|o| hashes.contains(&option_hash(o))).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256_of_the_text_and_pick_options_in_poll_order() {
        // SHA-256("Pizza"), as WhatsApp clients compute it.
        let pizza = option_hash("Pizza");
        assert_eq!(
            pizza.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "f12958816a49adfa2c6c8de8dd2144c163e92c5e375de964d533187c7d236c36"
        );
        let options = vec!["Pizza".to_owned(), "Sushi".to_owned(), "Tacos".to_owned()];
        let picked = chosen(&options, &[option_hash("Tacos"), option_hash("Pizza"), [0; 32]]);
        assert_eq!(picked, ["Pizza", "Tacos"]);
        assert!(chosen(&options, &[]).is_empty());
    }
}
