//! The commands: each runs the stages for one `envlock` subcommand and does its I/O (network,
//! reading and writing files). The CLI maps flags onto these requests and prints the outcomes.

pub mod check;
pub mod diff;
pub mod dockerfile;
pub mod recorded;
pub mod resolve;
