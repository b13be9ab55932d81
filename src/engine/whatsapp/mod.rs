//! The real WhatsApp engine on `whatsapp-rust`, behind the engine seam.
//!
//! Every whatsapp-rust type stays inside this module: the rest of the
//! gateway speaks `crate::wa`. The translations between the two vocabularies
//! are pure functions, tested offline by building the crate's own types.
//!
//! - `outgoing.rs` gateway message → protocol message (pure);
//! - `incoming.rs` protocol event → gateway events (pure);
//! - `groups.rs`   group answers → gateway group types (pure);
//! - `calls.rs`    call events → gateway call events, reject routes (pure);
//! - `keys/`       the crate's storage traits on the gateway's pool (`wa_keys`);
//! - `media.rs`    received media handles (download later);
//! - `net.rs`      the HTTP client and WebSocket factory the crate asks for;
//! - `connection.rs` one client's life: build, run, forward events, close;
//! - `engine.rs`   the `Engine` implementation and its factory.

pub mod calls;
mod connection;
mod engine;
pub mod groups;
pub mod incoming;
pub mod keys;
mod media;
mod net;
pub mod outgoing;
pub mod polls;

pub use connection::Settings;
pub use engine::{WhatsAppEngine, WhatsAppFactory};
