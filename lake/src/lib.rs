//! trailhound's CloudTrail data lake: the schema, partitioned Parquet writing through
//! `object_store`, the ingestion ledger, the quarantine, SQL functions and the lake as
//! DataFusion tables.

pub mod alerts;
pub mod athena;
pub mod compact;
pub mod delivery;
pub mod error;
pub mod functions;
pub mod json_tape;
pub mod location;
pub mod net;
pub mod quarantine;
pub mod record_json;
pub mod scan;
pub mod schema;
pub mod table;
pub mod writer;

pub use error::{LakeError, Result};
pub use location::LakeLocation;
pub use writer::{LakeWriter, LakeWriterConfig, LedgerEntry, SourceStatus, WriteStats};
