//! PyPI: the index client, wheel tags, and the resolver that runs after the conda solve.

pub mod index;
pub mod mapping;
pub mod metadata;
pub mod resolver;
pub mod tags;
