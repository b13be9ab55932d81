//! Sessions: the registry of linked (and linking) WhatsApp accounts and the
//! lifecycle of each — start, QR or pairing code, connected, reconnection
//! with backoff and a circuit breaker, stop, logout — plus restore at startup.
//!
//! Layout:
//! - `status.rs`   the status vocabulary and its transitions;
//! - `backoff.rs`  the reconnection schedule and breaker (pure);
//! - `runtime.rs`  the in-memory state `GET /sessions/{id}` reports;
//! - `manager.rs`  the registry and the operations the API calls;
//! - `actor.rs`    one task per running session, owning its status;
//! - `events.rs`   the event stream webhooks subscribe to;
//! - `calls.rs`    ringing calls and the reject policy;
//! - `qr.rs`       QR rendering (PNG, SVG, text).

mod actor;
pub mod backoff;
pub mod calls;
pub mod events;
mod manager;
pub mod qr;
pub mod runtime;
pub mod status;

pub use backoff::{Backoff, BreakerState};
pub use events::{DurableEvents, EventHub, GatewayEvent, MessageSink};
pub use manager::{Handle, RestoreReport, SessionError, SessionManager, SessionResult};
pub use runtime::Runtime;
pub use status::Status;
