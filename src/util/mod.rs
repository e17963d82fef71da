//! The ground floor every stage stands on: credential redaction, atomic file writes, shell-word
//! splitting and panic-free PEP 508 parsing. Nothing here knows about conda, PyPI or lockfiles.

pub mod error;
pub mod fs;
pub mod pep508;
pub mod redact;
pub mod shell;
