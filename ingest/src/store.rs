//! Parquet segments, per-partition checkpoints and the manifest that makes them visible.
//! (Being built: see issue 3.)
