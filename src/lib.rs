//! envlock: lock conda and PyPI environments and render reproducible Dockerfiles.
//!
//! The pipeline runs one way: inputs → [`spec`] → [`conda`] solve → [`lock`] → render.
//! See `docs/ARCHITECTURE.md` for what each module owns.

pub mod check;
pub mod conda;
pub mod diff;
pub mod dockerfile;
pub mod error;
pub mod http;
pub mod lock;
pub mod oci;
pub mod pypi;
pub mod render;
pub mod resolve;
pub mod spec;
