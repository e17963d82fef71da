//! The ground floor every stage stands on: credential redaction, atomic file writes, shell-word
//! splitting, panic-free PEP 508 parsing and quiet panic containment. Nothing here knows about conda, PyPI or lockfiles.

pub mod error;
pub mod fs;
pub mod panic;
pub mod pep508;
pub mod redact;
pub mod shell;
