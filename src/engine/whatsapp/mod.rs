//! The real WhatsApp engine on `whatsapp-rust`, behind the engine seam.
//!
//! Every whatsapp-rust type stays inside this module: the rest of the
//! gateway speaks `crate::wa`. The translations between the two vocabularies
//! are pure functions, tested offline by building the crate's own types.
//!
//! - `outgoing.rs` gateway message → protocol message;
//! - `keys/` the crate's storage traits on the gateway's pool (`wa_keys`).
//!
//! State: the event translation and the connection itself are not built yet
//! (the session manager refuses `engine = "whatsapp"` until they are).

pub mod incoming;
pub mod keys;
pub mod outgoing;
