//! What the integration tests share.
#![allow(dead_code)]

pub mod app;
pub mod common;
pub mod compile;
pub mod net;
pub mod pg;
pub mod serve;
