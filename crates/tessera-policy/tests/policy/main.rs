//! Integration tests of tessera-policy (one binary: cedar makes every test binary slow to link).

#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod approvals;
mod bundles;
mod common;
mod effects;
mod engine;
mod modes;
mod templates;
mod velocity;
