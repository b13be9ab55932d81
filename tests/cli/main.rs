//! The `wa-gateway` binary itself: startup checks, subcommands, signals.

#[path = "../support/mod.rs"]
mod support;

mod binary;
mod commands;
mod crash;
mod logs;
mod serve;
