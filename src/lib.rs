//! envlock: lock conda and PyPI environments and render reproducible Dockerfiles.
//!
//! The pipeline runs one way, each stage a module that only uses the ones before it:
//!
//! [`inputs`] (files and options → [`inputs::Prepared`]) → [`solve`] (conda, then PyPI →
//! per-platform solutions) → [`lock`] (solutions → conda-lock v1, read and written; diff) →
//! [`render`] (lock + options → files, pure) → [`check`] (inputs ↔ lock ↔ render, pure
//! comparisons) → [`commands`] (each subcommand's I/O). [`util`] and [`net`] are the ground
//! floor every stage may use. `docs/ARCHITECTURE.md` is the map.

#![deny(missing_docs)]

pub mod check;
pub mod commands;
pub mod inputs;
pub mod lock;
pub mod net;
pub mod render;
pub mod solve;
pub mod util;
