//! The real WhatsApp engine on `whatsapp-rust`, behind the engine seam.
//!
//! Every whatsapp-rust type stays inside this module: the rest of the
//! gateway speaks `crate::wa`. The translations between the two vocabularies
//! are pure functions, tested offline by building the crate's own types.
//!
//! State: the outgoing translation (`outgoing.rs`) is built; the storage
//! backend on the gateway's pool, the event translation and the connection
//! itself are not yet (the session manager refuses `engine = "whatsapp"`
//! until they are).

pub mod outgoing;
