//! Outbound HTTP the gateway makes on a user's behalf (media URLs now,
//! webhook deliveries next), behind an SSRF guard: a URL cannot make the
//! gateway reach its own host, the private network or cloud metadata.
//!
//! Layout: `guard.rs` which addresses are public; `client.rs` the guarded
//! client (resolver filter, redirect check, size-capped downloads).

mod client;
pub mod guard;

pub use client::{FetchError, Fetched, Outbound, describe};
