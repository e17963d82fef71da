//! Placeholder: wheel tags and marker environments (being written).
