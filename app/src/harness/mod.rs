//! What every case and run shares: its context, its result, TAP output and
//! timeouts. Nothing here knows which cases exist (that is `cases`).

pub mod hang;
pub mod tap;
pub mod timeouts;
pub mod watchdog;

use std::path::PathBuf;
use std::time::Duration;

pub use tap::Tap;
pub use timeouts::wait;

use crate::device::ModuleParams;

/// What every case needs.
#[derive(Clone)]
pub struct Context {
    pub device: PathBuf,
    pub pace: Duration,
    pub module: Option<PathBuf>,
    pub params: ModuleParams,
}

pub type CaseResult = Result<(), Box<dyn std::error::Error>>;
