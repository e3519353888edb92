//! Ingest throughput next to a bare consumer, then recovery after SIGKILL.

use anyhow::Result;

use crate::context::Context;
use crate::report::Section;

pub(crate) async fn run(_ctx: &Context) -> Result<Vec<Section>> {
    anyhow::bail!("the ingest benchmark is being written")
}
