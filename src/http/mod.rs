//! HTTP plumbing shared by every route: request ids, error rendering, auth,
//! extractors whose rejections use the gateway's error shape.

pub mod auth;
pub mod extract;
pub mod request_id;
