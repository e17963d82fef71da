//! PyPI: requirements files, the index client, and the resolver.
//!
//! Work in progress; see the submodules.

pub mod index;
pub mod metadata;
pub mod requirements;
pub mod resolver;
pub mod tags;
