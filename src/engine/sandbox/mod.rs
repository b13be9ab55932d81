//! The sandbox: a simulated WhatsApp network inside the process.
//!
//! It behaves like WhatsApp as seen through the engine seam: unlinked
//! sessions get rotating QR codes (or a pairing code) until the "phone"
//! links them through the control API; linked sessions message each other
//! and virtual contacts (any other valid number, except those starting with
//! `999`, which are "not on WhatsApp"); receipts arrive after configurable
//! delays; groups exist; people call; faults happen on demand.
//!
//! Layout: `network.rs` the shared world and its control operations;
//! `engine.rs` the per-session `Engine` over it; `ids.rs` generated ids and
//! codes.

mod engine;
mod ids;
mod network;

pub use engine::SandboxFactory;
pub use network::{
    CallEndKind, CallRequest, CallState, EndCall, Fault, FaultKind, Inbound, InboundMedia, InboundPoll,
    LinkRequest, SandboxCall, SandboxNetwork, VoteRequest,
};
