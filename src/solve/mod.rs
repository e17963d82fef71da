//! The second stage: [`crate::inputs::Prepared`] → per-platform solutions. The conda solve
//! ([`conda`]) runs first; PyPI resolution ([`pypi`]) then runs against the python and the
//! Python packages each platform's conda solution installs.

pub mod conda;
pub mod pypi;
