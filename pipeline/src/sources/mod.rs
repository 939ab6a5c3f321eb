//! Sources of CloudTrail log files. Each source yields sources with a stable, content-derived
//! id (the lake's idempotency key) and a reader of their decompressed bytes.

pub mod files;
