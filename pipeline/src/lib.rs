//! trailhound's streaming pipeline: sources, decoding, detection, alerts and sinks.

pub mod alert;
pub mod backtest;
pub mod config;
pub mod correlate;
pub mod decode;
pub mod detect;
pub mod enrich;
pub mod error;
pub mod exceptions;
pub mod hunt;
pub mod internal_events;
pub mod maxmind;
pub mod ops;
pub mod process;
pub mod remote;
pub mod run;
pub mod secrets;
pub mod sigma;
pub mod sinks;
pub mod sources;
pub mod state;

pub use error::{PipelineError, Result};
