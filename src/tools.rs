//! Operator commands that are not a long-running node: ingest files, check or show a graph.

use std::path::{Path, PathBuf};

use anyhow::Context;
use imap_filename::ImapFileName;
use mesh_runtime::archive::NewObject;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use proto::pb::IndexFileRequest;
use tracing::Instrument;

use crate::config::Config;

/// Copies each file into the archive under its canonical key, then asks the indexer to index it.
/// A bad name is refused before anything is written.
pub async fn ingest(config: &Config, server: &str, files: &[PathBuf]) -> anyhow::Result<()> {
    let archive = mesh_runtime::archive::open(&config.archive_location()?, &config.s3)?;
    mesh_runtime::archive::check_reachable(&archive).await?;
    let archive = archive.store;
    let mut indexer = proto::clients::IndexerClient::new(proto::clients::lazy_channel(server)?);
    for file in files {
        let basename = file
            .file_name()
            .and_then(|name| name.to_str())
            .with_context(|| format!("{} has no file name", file.display()))?;
        let name = ImapFileName::parse(basename).with_context(|| format!("refusing {}", file.display()))?;
        let span = tracing::info_span!("ingest", file = %basename);
        async {
            let bytes = tokio::fs::read(file).await.with_context(|| format!("reading {}", file.display()))?;
            let key = name.archive_path();
            put_new(archive.as_ref(), &key, bytes).await?;
            let response = indexer
                .index_file(IndexFileRequest { archive_key: key.clone(), ..Default::default() })
                .await
                .with_context(|| format!("indexing {key} at {server}"))?
                .into_inner();
            println!("{key} {}", if response.newly_indexed { "indexed" } else { "already indexed" });
            anyhow::Ok(())
        }
        .instrument(span)
        .await?;
    }
    Ok(())
}

/// Writes `bytes` under `key` unless the archive already holds a file there: the same bytes again
/// are fine (a repeated ingest), different ones are refused rather than overwritten.
async fn put_new(archive: &dyn ObjectStore, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
    match mesh_runtime::archive::put_new(archive, &ObjectPath::from(key), bytes)
        .await
        .with_context(|| format!("writing {key}"))?
    {
        NewObject::Stored | NewObject::AlreadyThere => Ok(()),
        NewObject::Different => {
            anyhow::bail!("refusing to overwrite {key}: the archive already holds a different file of that name")
        }
    }
}

pub enum GraphCommand {
    Check { file: Option<PathBuf> },
    Show { file: Option<PathBuf>, format: String },
}

pub fn graph(command: GraphCommand) -> anyhow::Result<String> {
    let load = |file: &Option<PathBuf>| depsvc::load_graph(file.as_deref().map(Path::new)).context("loading the graph");
    match command {
        GraphCommand::Check { file } => {
            let graph = load(&file)?;
            let problems = depsvc::graph::check(&graph);
            if problems.is_empty() {
                return Ok(format!("graph ok: {} products\n", graph.products().len()));
            }
            let lines: Vec<String> = problems.iter().map(|problem| format!("  {problem}")).collect();
            anyhow::bail!("graph has {} problem(s):\n{}", problems.len(), lines.join("\n"))
        }
        GraphCommand::Show { file, format } => {
            let graph = load(&file)?;
            Ok(match format.as_str() {
                "dot" => graph.to_dot(),
                "toml" => graph.to_toml_string()?,
                _ => graph.to_text(),
            })
        }
    }
}
