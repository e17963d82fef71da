//! `envlock check`: prepare the inputs as `resolve` would, then compare them with the lock and
//! the rendered files ([`crate::check`]). No solve, no network.

use anyhow::Result;

use crate::{
    check::{self, Report},
    inputs::{InputOptions, prepare},
};

/// Checks the lock `options` point at against the inputs and the rendered files.
pub fn check(options: &InputOptions) -> Result<Report> {
    check::check(&prepare(options)?)
}
