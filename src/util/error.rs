//! User-facing errors.
//!
//! Every failure envlock reports is an [`anyhow::Error`]; the ones we raise ourselves are a
//! [`Failure`], which carries a one-line message and, where there is one, a hint that says what
//! to do. `main` prints the message, the chain of causes, then the hint, and exits with 2.

use std::fmt;

/// A failure with an optional hint telling the user how to fix it.
#[derive(Debug)]
pub struct Failure {
    /// The one-line message.
    pub message: String,
    /// What to do about it, when there is something to do.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure with `message` and no hint.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Shorthand for `Err(Failure::new(..).into())`.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::util::error::Failure::new(format!($($arg)*)).into())
    };
}
pub(crate) use fail;
