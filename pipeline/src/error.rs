//! The pipeline crate's error type: one enum, each variant naming what failed and where.

use std::path::PathBuf;

use thiserror::Error;

/// Errors raised by the pipeline.
#[derive(Debug, Error)]
pub enum PipelineError {
    /// A rule file could not be read, parsed or validated. Rules fail loudly at load time.
    #[error("rule {file}:{line}: {reason}")]
    Rule { file: PathBuf, line: usize, reason: String },

    /// Two rules share an id.
    #[error("duplicate rule id '{id}' in {first} and {second}")]
    DuplicateRule { id: String, first: PathBuf, second: PathBuf },

    /// An input file could not be read at all.
    #[error("cannot read {path}: {source}")]
    Input {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The lake refused an operation.
    #[error(transparent)]
    Lake(#[from] lake::LakeError),

    /// DataFusion failed while evaluating a rule.
    #[error("rule '{rule_id}' failed on a batch: {source}")]
    RuleEvaluation {
        rule_id: String,
        #[source]
        source: datafusion::error::DataFusionError,
    },

    /// An Arrow computation failed.
    #[error("arrow error while {context}: {source}")]
    Arrow {
        context: &'static str,
        #[source]
        source: arrow::error::ArrowError,
    },

    /// A settings file or value is invalid.
    #[error("{file}: {reason}")]
    Config { file: PathBuf, reason: String },

    /// Another process committed the lake's shared state during a local run.
    #[error(
        "the processing state of lake {lake} was changed by another process during this run; run again (one local run per lake at a time)"
    )]
    StateConflict { lake: String },

    /// The SQS queue refused an operation.
    #[error("sqs {operation} on {queue}: {reason}")]
    Queue { operation: &'static str, queue: String, reason: String },

    /// The Lambda runtime API failed or answered unexpectedly.
    #[error("Lambda runtime API {url}: {reason}")]
    LambdaRuntime { url: String, reason: String },

    /// A query (hunting, backtest) failed to plan or to run.
    #[error("{query}: {reason}")]
    Query { query: String, reason: String },

    /// A command-line argument is invalid.
    #[error("{name}: {reason}")]
    InvalidArgument { name: &'static str, reason: String },

    /// Writing results failed.
    #[error("writing {target}: {source}")]
    Output {
        target: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// Writing alerts failed.
    #[error("alert sink '{sink}' failed: {source}")]
    Sink {
        sink: String,
        #[source]
        source: std::io::Error,
    },
}

/// Result alias for the pipeline crate.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
