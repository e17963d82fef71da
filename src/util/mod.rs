//! The ground floor every stage stands on: credential redaction, atomic file writes and
//! shell-word splitting. Nothing here knows about conda, PyPI or lockfiles.

pub mod error;
pub mod fs;
pub mod redact;
pub mod shell;
