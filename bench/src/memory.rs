//! Resident memory per open interaction and per logged-in agent.

use anyhow::Result;

use crate::context::Context;
use crate::report::Section;

pub(crate) async fn run(_ctx: &Context) -> Result<Section> {
    anyhow::bail!("the memory benchmark is being written")
}
