//! The gateway's own WhatsApp vocabulary: validated addresses, the messages
//! it sends, the events it receives. Engines translate to and from these;
//! nothing engine-specific leaks past them.
//!
//! Layout:
//! - `jid.rs`      `PhoneNumber`, `Jid`, `MessageId`;
//! - `call.rs`     incoming calls;
//! - `chat.rs`     per-chat settings (archived, pinned, muted);
//! - `label.rs`    labels on chats;
//! - `message.rs`  what can be sent (`OutgoingMessage`) and what was sent;
//! - `poll.rs`     how votes name a poll's options;
//! - `text.rs`     text the databases can store (no NUL);
//! - `event.rs`    what an engine reports (`EngineEvent`), in order.

pub mod call;
pub mod chat;
pub mod event;
pub mod jid;
pub mod label;
pub mod message;
pub mod poll;
pub mod text;

pub use call::*;
pub use chat::*;
pub use event::*;
pub use jid::*;
pub use label::*;
pub use message::*;
