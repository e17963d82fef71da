//! The ground floor every stage stands on: credential redaction, atomic file writes, shell-word
//! splitting, panic-free PEP 508 parsing, quiet panic containment and child processes that end with
//! envlock's. Nothing here knows about conda, PyPI or lockfiles.

pub mod error;
pub mod fs;
pub mod panic;
pub mod pep508;
pub mod process;
pub mod redact;
pub mod shell;

/// The sha256 of `bytes`, as lowercase hex: how locks, caches and records name content.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(rattler_digest::compute_bytes_digest::<rattler_digest::Sha256>(bytes))
}
