//! Correlations: stateful detections over rule matches in event time (thresholds, distinct
//! counts, sets and sequences of rules, first-seen values), chained, checkpointed.

pub mod bootstrap;
mod engine;
pub mod import;
mod last_seen;
mod signal;
pub mod spec;
mod windows;

pub use engine::{CorrelationEngine, CorrelationStats, EngineState};
pub use signal::{Evidence, MatchedRow, Rendered, Signal};
pub use spec::{CorrelationKind, CorrelationRule, CorrelationSpec};
