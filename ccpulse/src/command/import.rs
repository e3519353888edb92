//! `ccpulse import`: real call records to contract events.

use std::process::ExitCode;

use anyhow::{Context, Result};
use ccpulse_sample_data::anonymous_bank::{ACKNOWLEDGEMENT, ImportOptions, Importer};
use ccpulse_schemas::v1::Event;

use crate::cli::ImportAnonymousBankArgs;
use crate::sink::EventSink;

pub(crate) async fn anonymous_bank(args: ImportAnonymousBankArgs) -> Result<ExitCode> {
    let mut importer = Importer::new(ImportOptions {
        tenant_id: args.tenant.clone(),
    })
    .context("invalid import settings")?;
    let mut sink = EventSink::open(&args.output, &args.topic.topic)?;
    for path in &args.files {
        // The importer calls back synchronously; the sink may be async (Kafka), so one
        // file's events are collected first (a month of records is ~180k events).
        let mut events: Vec<Event<'static>> = Vec::new();
        importer
            .import_file(path, &mut |event| {
                events.push(event);
                Ok::<(), std::convert::Infallible>(())
            })
            .with_context(|| format!("importing `{}`", path.display()))?;
        // The records are grouped by phone line, each line spanning the whole month:
        // in file order most events would be far older than the aggregator's allowed
        // lateness. Written in time order instead (a stable sort keeps a call's own
        // order for equal times); give files in chronological order.
        events.sort_by_key(|event| event.occurred_at);
        for event in &events {
            sink.write(event).await?;
        }
    }
    let written = sink.finish().await?;
    eprintln!("{}", importer.summary());
    eprintln!("{written}");
    eprintln!("{ACKNOWLEDGEMENT}");
    Ok(ExitCode::SUCCESS)
}
