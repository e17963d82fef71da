//! Placeholder: requirements.txt parsing (being written).
