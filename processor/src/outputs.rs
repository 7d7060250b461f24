//! Storing a job's outputs: each name checked, each product's provenance record and bytes made
//! durable in the archive before the products are indexed, never replacing another producer's
//! file.
//!
//! An archive that is a local directory ([`directory`]) gets one sync round per job: every file
//! written under a temporary name, then each fsynced, renamed (records) or linked create-only
//! (products) into place, and each directory touched fsynced once; a name is checked by looking
//! in the directory. Any other archive goes through the object store, one create-only put per file
//! and one indexer round trip per name. Either way the indexer stays the authority on who owns a
//! name: an output it reports as another producer's fails the job ([`refuse_taken`]).

use std::path::PathBuf;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutMode};
use proto::pb::{GetFileRequest, IndexFileResponse, Job};
use proto::provenance::{ProductProvenance, record_key};

use crate::error::ProcessorError;
use crate::worker::{JobTiming, WorkerShared, with_indexer_retries};

mod directory;

/// One product of a job, named.
pub(crate) struct Output {
    pub file_name: String,
    /// Where it goes in the archive.
    pub key: String,
    pub bytes: Vec<u8>,
}

/// Checks the outputs' names, then writes their provenance records and their bytes durably;
/// fills in the `check`, `provenance` and `write` parts of `timing`. Fails with `OutputTaken`
/// when a name is another producer's, and `OutputClash` when other bytes appeared under a key
/// meanwhile (neither replaced).
pub(crate) async fn store(
    shared: &WorkerShared,
    job: &Job,
    outputs: Vec<Output>,
    timing: &mut JobTiming,
) -> Result<(), ProcessorError> {
    let mut clock = std::time::Instant::now();
    let owners = owners(shared, &outputs).await?;
    for (output, owner) in outputs.iter().zip(&owners) {
        if let Some(owner) = owner.as_deref().filter(|owner| *owner != job.id) {
            return Err(ProcessorError::OutputTaken { file: output.file_name.clone(), owner: owner.to_string() });
        }
    }
    timing.check = clock.elapsed();

    clock = std::time::Instant::now();
    let (product, time) = (job.product.clone().unwrap_or_default(), job.time.clone().unwrap_or_default());
    let records: Vec<Vec<u8>> = outputs
        .iter()
        .map(|output| {
            ProductProvenance::new(
                &output.file_name,
                &job.id,
                &product,
                &time,
                &job.version,
                &job.campaign_id,
                &job.inputs,
            )
            .to_json()
        })
        .collect();
    let ours: Vec<bool> = owners.iter().map(|owner| owner.as_deref() == Some(job.id.as_str())).collect();
    match &shared.archive_dir {
        Some(root) => {
            timing.provenance = clock.elapsed();
            clock = std::time::Instant::now();
            let files = outputs
                .into_iter()
                .zip(records)
                .zip(ours)
                .map(|((output, record), ours)| directory::OutputFiles {
                    record_key: record_key(&output.key),
                    record,
                    key: output.key,
                    bytes: output.bytes,
                    ours,
                })
                .collect();
            let root = root.clone();
            tokio::task::spawn_blocking(move || directory::write(&root, files))
                .await
                .map_err(|source| ProcessorError::Archive(object_store::Error::JoinError { source }))??;
        }
        None => {
            // The records go first: every product in the archive then has one, which is what lets
            // `imap-sdc recover` rebuild the file tracker and the jobs from the archive alone.
            let record_locations: Vec<ObjectPath> =
                outputs.iter().map(|output| ObjectPath::from(record_key(&output.key))).collect();
            futures_util::future::try_join_all(
                record_locations
                    .iter()
                    .zip(records)
                    .map(|(location, record)| shared.archive.put(location, record.into())),
            )
            .await?;
            timing.provenance = clock.elapsed();
            clock = std::time::Instant::now();
            let writes = outputs.into_iter().zip(ours).map(|(output, ours)| write_output(shared, output, ours));
            let written = futures_util::future::join_all(writes).await;
            for (result, location) in written.iter().zip(&record_locations) {
                if let Err(ProcessorError::OutputClash { .. }) = result {
                    // The file under the key is someone else's: it must not look like this job's product.
                    let _ = shared.archive.delete(location).await;
                }
            }
            written.into_iter().collect::<Result<Vec<()>, ProcessorError>>()?;
        }
    }
    timing.write = clock.elapsed();
    Ok(())
}

/// Who produced the file already tracked under each output's name (`None`: nobody, or an upload).
/// In a local archive directory a name with no file under its key is free without asking: the
/// indexer tracks only files present in the archive, and [`refuse_taken`] catches a name taken
/// after the look. Only names with a file get asked about.
async fn owners(shared: &WorkerShared, outputs: &[Output]) -> Result<Vec<Option<String>>, ProcessorError> {
    let present: Vec<bool> = match &shared.archive_dir {
        Some(root) => {
            let paths: Vec<PathBuf> = outputs.iter().map(|output| root.join(&output.key)).collect();
            tokio::task::spawn_blocking(move || paths.iter().map(|path| path.symlink_metadata().is_ok()).collect())
                .await
                .map_err(|source| ProcessorError::Archive(object_store::Error::JoinError { source }))?
        }
        None => vec![true; outputs.len()],
    };
    futures_util::future::try_join_all(outputs.iter().zip(present).map(|(output, present)| async move {
        if present { output_owner(shared, &output.file_name).await } else { Ok(None) }
    }))
    .await
}

/// The job that produced the file tracked under `file_name`: `None` when untracked or tracked
/// without a producer (an upload). Job versions start above every version already tracked, so
/// another producer's file can carry this job's name only if it arrived mid-job.
async fn output_owner(shared: &WorkerShared, file_name: &str) -> Result<Option<String>, ProcessorError> {
    let lookup = with_indexer_retries(|| {
        let mut indexer = shared.indexer.clone();
        let request = GetFileRequest { file_name: file_name.to_string() };
        async move { indexer.get_file(request).await }
    })
    .await;
    match lookup.map(|response| response.file.unwrap_or_default()) {
        Ok(existing) if existing.produced_by_job.is_empty() => Ok(None),
        Ok(existing) => Ok(Some(existing.produced_by_job)),
        Err(ProcessorError::Peer(status)) if status.code() == tonic::Code::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Fails with `OutputTaken` when the indexer reports an output as another job's product: the
/// name was taken after it was checked (or without a file in the archive). The indexer never
/// hands a tracked name to a second producer, so the other job's claim stands.
pub(crate) fn refuse_taken(job: &Job, indexed: &[IndexFileResponse]) -> Result<(), ProcessorError> {
    for file in indexed.iter().filter_map(|result| result.file.as_ref()) {
        if !file.produced_by_job.is_empty() && file.produced_by_job != job.id {
            return Err(ProcessorError::OutputTaken {
                file: file.file_name.clone(),
                owner: file.produced_by_job.clone(),
            });
        }
    }
    Ok(())
}

/// Writes an output create-only: a write never replaces a file that arrived meanwhile (an upload
/// racing the job), and a clash fails the job. The same bytes already there are a repeated
/// attempt of this job. Only a file tracked as this job's own (an earlier attempt that indexed
/// it) is replaced. A create-only put is also atomic: no half-written file is ever visible.
async fn write_output(shared: &WorkerShared, output: Output, ours: bool) -> Result<(), ProcessorError> {
    let location = ObjectPath::from(output.key.as_str());
    let payload = bytes::Bytes::from(output.bytes);
    match shared.archive.put_opts(&location, payload.clone().into(), PutMode::Create.into()).await {
        Ok(_) => Ok(()),
        Err(object_store::Error::AlreadyExists { .. }) => {
            let existing = shared.archive.get(&location).await?.bytes().await?;
            if existing == payload {
                return Ok(());
            }
            if !ours {
                return Err(ProcessorError::OutputClash { key: output.key });
            }
            shared.archive.put(&location, payload.into()).await?;
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}
