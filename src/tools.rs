//! Operator commands that are not a long-running node: ingest files, check or show a graph.

use std::path::PathBuf;

use anyhow::Context;
use imap_filename::ImapFileName;
use mesh_runtime::archive::NewObject;
use mesh_runtime::authz::Caller;
use mesh_runtime::tls::MeshIdentity;
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
    // An internal listener (`https://`) is called with the operator's certificate.
    let operator = if server.starts_with("https://") {
        Some(MeshIdentity::load(&config.cert_dir(), Caller::Operator)?.client_tls())
    } else {
        None
    };
    let channel = proto::clients::mesh_channel_with_tls(server, &config.mesh.client.settings(), operator.as_ref())?;
    let mut indexer = proto::clients::IndexerClient::new(channel);
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

/// Which graph a `graph` command works on.
pub enum GraphSource {
    /// A graph embedded in the binary: the mission's YAML files (depsvc's default) or the
    /// project's TOML graph.
    Builtin(depsvc::BuiltinGraph),
    /// A TOML, CSV or YAML file, or a folder of YAML files.
    Path(PathBuf),
}

pub enum GraphCommand {
    Check { source: GraphSource },
    Show { source: GraphSource, format: String },
}

fn load_graph(source: &GraphSource) -> anyhow::Result<depsvc::graph::Graph> {
    match source {
        GraphSource::Builtin(which) => Ok(depsvc::builtin_graph(*which)),
        GraphSource::Path(path) => {
            depsvc::load_graph(path).with_context(|| format!("loading the graph {}", path.display()))
        }
    }
}

/// `graph check` prints warnings and says ok when there is no error; errors fail it.
pub fn graph(command: GraphCommand) -> anyhow::Result<String> {
    match command {
        GraphCommand::Check { source } => {
            let graph = load_graph(&source)?;
            let (warnings, errors): (Vec<_>, Vec<_>) =
                depsvc::graph::check(&graph).into_iter().partition(depsvc::graph::GraphProblem::is_warning);
            let warning_lines: Vec<String> = warnings.iter().map(|warning| format!("warning: {warning}\n")).collect();
            if errors.is_empty() {
                return Ok(format!(
                    "{}graph ok: {} products, {} warning(s)\n",
                    warning_lines.concat(),
                    graph.products().len(),
                    warnings.len()
                ));
            }
            let lines: Vec<String> = errors.iter().map(|problem| format!("  {problem}")).collect();
            anyhow::bail!("{}graph has {} problem(s):\n{}", warning_lines.concat(), errors.len(), lines.join("\n"))
        }
        GraphCommand::Show { source, format } => {
            let graph = load_graph(&source)?;
            Ok(match format.as_str() {
                "dot" => graph.to_dot(),
                "toml" => graph.to_toml_string()?,
                _ => graph.to_text(),
            })
        }
    }
}

/// What `imap-sdc recover` rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoverySummary {
    pub files: usize,
    pub newly_indexed: usize,
    pub with_provenance: usize,
    pub jobs_restored: usize,
    pub skipped: usize,
}

/// Rebuilds the file tracker and the finished jobs from the archive alone (after the database was
/// lost): every archive object is indexed again with the provenance record stored beside it, and
/// each job those records name comes back as a succeeded job, so that the starter, replaying the
/// rebuilt event log, makes nothing twice. Running it again changes nothing.
pub async fn recover(config: &Config) -> anyhow::Result<RecoverySummary> {
    let archive = mesh_runtime::archive::open(&config.archive_location()?, &config.s3)?;
    mesh_runtime::archive::check_reachable(&archive).await?;
    let database_url = config.database_url();
    let pool = mesh_runtime::store::connect(&database_url).await.with_context(|| format!("opening {database_url}"))?;
    let recovery = indexer::recover_from_archive(pool.clone(), archive.store, config.indexer.clone())
        .await
        .context("rebuilding the file tracker from the archive")?;
    for (key, reason) in &recovery.skipped {
        tracing::warn!(key, reason, "archive object not recovered");
    }

    let records: std::collections::HashMap<&str, &proto::pb::FileRecord> =
        recovery.files.iter().map(|recovered| (recovered.file.file_name.as_str(), &recovered.file)).collect();
    let mut jobs: std::collections::BTreeMap<&str, starter::RestoredJob> = std::collections::BTreeMap::new();
    for (provenance, file) in recovery.files.iter().filter_map(|file| Some((file.provenance.as_ref()?, &file.file))) {
        jobs.entry(provenance.job_id.as_str())
            .or_insert_with(|| starter::RestoredJob {
                id: proto::ids::JobId::from(provenance.job_id.clone()),
                product: provenance.product(),
                time: provenance.time(),
                version: provenance.version.clone(),
                campaign_id: provenance.campaign_id.clone(),
                inputs: provenance.resolved_inputs(|name| records.get(name).map(|record| (*record).clone())),
                outputs: Vec::new(),
            })
            .outputs
            .push(file.file_name.clone());
    }
    let store = starter::JobStore::open(pool, config.starter.clone()).await.context("opening the job table")?;
    let mut jobs_restored = 0;
    for job in jobs.values() {
        if store
            .restore_succeeded(job, proto::time::now_millis())
            .await
            .with_context(|| format!("restoring job {}", job.id))?
        {
            jobs_restored += 1;
        }
    }
    Ok(RecoverySummary {
        files: recovery.files.len(),
        newly_indexed: recovery.files.iter().filter(|file| file.newly_indexed).count(),
        with_provenance: recovery.files.iter().filter(|file| file.provenance.is_some()).count(),
        jobs_restored,
        skipped: recovery.skipped.len(),
    })
}
