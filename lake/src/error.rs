//! The lake crate's error type: one enum, each variant carrying what failed and where.

use thiserror::Error;

/// Errors raised by the lake.
#[derive(Debug, Error)]
pub enum LakeError {
    /// The lake location could not be understood.
    #[error("invalid lake location '{location}': {reason}")]
    InvalidLocation { location: String, reason: String },

    /// An object store operation failed.
    #[error("object store error on '{path}': {source}")]
    ObjectStore {
        path: String,
        #[source]
        source: object_store::Error,
    },

    /// Writing Parquet failed.
    #[error("parquet error writing '{path}': {source}")]
    Parquet {
        path: String,
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// An Arrow computation (sort, take, concat) failed.
    #[error("arrow error while {context}: {source}")]
    Arrow {
        context: &'static str,
        #[source]
        source: arrow::error::ArrowError,
    },

    /// A query or table registration failed in DataFusion.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),

    /// A ledger or quarantine document could not be (de)serialised.
    #[error("invalid JSON in '{path}': {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },

    /// A background task failed to complete (it panicked or was cancelled).
    #[error("task {context} did not complete: {reason}")]
    Task { context: &'static str, reason: String },

    /// Local file system error outside the object store (a local lake's folders and its
    /// ledger entries).
    #[error("io error on '{path}': {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Result alias for the lake crate.
pub type Result<T, E = LakeError> = std::result::Result<T, E>;
