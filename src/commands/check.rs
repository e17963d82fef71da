//! `envlock check`: prepare the inputs as `resolve` would (options not given take the values the
//! lock records, [`super::recorded`]), then compare them with the lock and the rendered files
//! ([`crate::check`]). No solve, no network: a recorded URL is only compared, never fetched.

use anyhow::Result;

use crate::{
    check::{self, Report},
    inputs::{InputOptions, prepare_with},
};

/// Checks the lock `options` point at against the inputs and the rendered files, taking what
/// the options leave open from the lock.
pub fn check(options: &InputOptions) -> Result<Report> {
    check::check(&prepare_with(options, super::recorded::read)?)
}
