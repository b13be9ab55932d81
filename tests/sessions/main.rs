//! Sessions end to end on the sandbox engine: lifecycle, QR and pairing,
//! reconnection with backoff, the breaker, restore after a restart, and the
//! simulated network itself.

#[path = "../support/mod.rs"]
mod support;

mod helpers;
mod lifecycle;
mod network;
mod pairing;
mod reconnect;
mod restore;
mod whatsapp;
