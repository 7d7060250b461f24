//! Uploads wait in a staging area, `<area>/<archive key>/<random>`, until they are placed onto
//! their key with the archive's create-only copy, so no upload ever overwrites a file, whichever
//! replica or client gets there first. Uploads clients PUT straight into an S3 archive wait under
//! `staging/` and are placed by the sweeper; uploads the gateway receives itself wait under
//! `receiving/` and are placed by the request at once (the sweeper only takes those a gateway left
//! behind when it stopped mid-way). An upload that loses to a different file of the same name is
//! kept under `rejected/` with a `.reason.txt`, never dropped.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use imap_filename::parse_archive_key;
use mesh_runtime::Shutdown;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use proto::error::HasErrorCode;
use proto::pb::IndexFileRequest;
use proto::retry::RetryPolicy;
use sha2::{Digest, Sha256};

use super::error::GatewayError;
use super::key_store::random_hex;
use super::state::GatewayState;

const REJECTED_PREFIX: &str = "rejected";
/// Younger received uploads may still be in flight on some replica.
const MIN_ABANDONED_AGE: Duration = Duration::from_secs(60);
/// How long the sweeper waits at most between rounds while the indexer does not answer.
const MAX_SWEEP_BACKOFF: Duration = Duration::from_secs(30);

/// Where an upload waits to be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagingArea {
    /// Uploads clients PUT straight into the archive with a presigned URL.
    Presigned,
    /// Uploads streamed through the gateway.
    Received,
}

impl StagingArea {
    fn prefix(self) -> &'static str {
        match self {
            StagingArea::Presigned => "staging",
            StagingArea::Received => "receiving",
        }
    }

    /// A new staging object for an upload of `key`; the key travels in the name so a sweeper can place it.
    pub fn location(self, key: &str) -> ObjectPath {
        ObjectPath::from(format!("{}/{key}/{}", self.prefix(), random_hex(16)))
    }
}

/// Whether a presigned upload of `key` has arrived but is not placed yet.
pub async fn pending(archive: &dyn ObjectStore, key: &str) -> Result<bool, GatewayError> {
    let waiting = ObjectPath::from(format!("{}/{key}", StagingArea::Presigned.prefix()));
    match archive.list(Some(&waiting)).next().await {
        Some(Err(error)) => Err(error.into()),
        found => Ok(found.is_some()),
    }
}

/// What became of a staged upload.
#[derive(Debug, PartialEq, Eq)]
pub enum Placement {
    /// It is now the archive's file under its key.
    Placed,
    /// The key already held these exact bytes (another replica placed it, or a repeated upload).
    AlreadyThere,
    /// The key holds a different file; the upload was kept under `rejected/` (the uploader got a
    /// success from S3 and will never hear otherwise).
    Rejected { kept_at: String },
    /// The key holds a different file and the uploader is told so right away (409); nothing kept.
    Refused,
    /// Someone else dealt with the staging object first.
    Gone,
}

/// What to do with an upload that loses to a different file of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    KeepAside,
    Refuse,
}

/// Moves a staging object onto `key`, create-only, and has it indexed. The staging object is
/// deleted only once the outcome is durable (placed and indexed, or kept under `rejected/`), so
/// a failure is retried, and only if it is still the object that was placed (a presigned URL can
/// be PUT to again until it expires; a second upload is then handled on its own).
pub async fn place(
    state: &GatewayState,
    staging: &ObjectPath,
    key: &str,
    on_conflict: OnConflict,
) -> Result<Placement, GatewayError> {
    let archive = state.archive.as_ref();
    let target = ObjectPath::from(key);
    let staged = match archive.head(staging).await {
        Ok(meta) => meta,
        Err(object_store::Error::NotFound { .. }) => return Ok(Placement::Gone),
        Err(error) => return Err(error.into()),
    };
    // Looking first spares a create-only copy (a full server-side copy on S3) that must fail.
    let placed = match archive.head(&target).await {
        Ok(_) => false,
        Err(object_store::Error::NotFound { .. }) => match archive.copy_if_not_exists(staging, &target).await {
            Ok(()) => true,
            Err(object_store::Error::AlreadyExists { .. }) => false,
            Err(object_store::Error::NotFound { .. }) => return Ok(Placement::Gone),
            Err(error) => return Err(error.into()),
        },
        Err(error) => return Err(error.into()),
    };
    let placement = if placed {
        Placement::Placed
    } else {
        match same_bytes(archive, &staged, &target).await {
            Ok(true) => Placement::AlreadyThere,
            Ok(false) if on_conflict == OnConflict::Refuse => {
                delete_if_unchanged(archive, &staged).await;
                return Ok(Placement::Refused);
            }
            Ok(false) => return reject(archive, staging, key).await,
            Err(GatewayError::Archive(object_store::Error::NotFound { .. })) => return Ok(Placement::Gone),
            Err(error) => return Err(error),
        }
    };
    index(state, key).await?;
    delete_if_unchanged(archive, &staged).await;
    Ok(placement)
}

/// Asks the indexer to index a newly placed file; it triggers processing like any arrival.
async fn index(state: &GatewayState, key: &str) -> Result<(), GatewayError> {
    let request = IndexFileRequest { archive_key: key.to_string(), ..Default::default() };
    state.clients.indexer.clone().index_file(request).await.map_err(GatewayError::upstream("indexer"))?;
    Ok(())
}

/// Deletes a staging object unless it was replaced since `seen` (then the next sweep deals with
/// the new bytes). Stores without e-tags are trusted to have kept it.
async fn delete_if_unchanged(archive: &dyn ObjectStore, seen: &object_store::ObjectMeta) {
    if let Some(seen_tag) = &seen.e_tag {
        match archive.head(&seen.location).await {
            Ok(now) if now.e_tag.as_ref() != Some(seen_tag) => {
                tracing::warn!(staging = %seen.location, "staging object replaced while it was placed; left for the next sweep");
                return;
            }
            Err(object_store::Error::NotFound { .. }) => return,
            _ => {}
        }
    }
    delete_quietly(archive, &seen.location).await;
}

async fn delete_quietly(archive: &dyn ObjectStore, location: &ObjectPath) {
    match archive.delete(location).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(error) => tracing::warn!(%location, %error, "deleting a staging object failed; the sweeper retries"),
    }
}

/// What one sweep of a staging area did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Uploads placed, dropped as repeats or kept aside.
    pub handled: usize,
    /// The round stopped because the indexer did not answer; the rest wait for the next one.
    pub indexer_unavailable: bool,
}

/// Places every upload of `area` at least `min_age` old.
pub async fn sweep(state: &GatewayState, area: StagingArea, min_age: Duration) -> Result<SweepReport, GatewayError> {
    let staged: Vec<object_store::ObjectMeta> = state
        .archive
        .list(Some(&ObjectPath::from(area.prefix())))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let now = proto::time::now_millis();
    let mut report = SweepReport::default();
    for listed in staged {
        if now - listed.last_modified.timestamp_millis() < min_age.as_millis() as i64 {
            continue;
        }
        let staging = listed.location.clone();
        match sweep_one(state, area, listed).await {
            Ok(Placement::Gone) => {}
            Ok(placement) => {
                report.handled += 1;
                tracing::info!(%staging, ?placement, "staged upload dealt with");
            }
            // The rest would fail the same way; one key's own refusal does not hold up the others.
            Err(GatewayError::Upstream { status, .. }) if status.error_code().is_transient() => {
                tracing::warn!(%staging, error = %status.message(), "indexer unavailable; staged uploads wait");
                report.indexer_unavailable = true;
                break;
            }
            Err(error) => tracing::warn!(%staging, %error, "staged upload not placed yet; retrying on the next sweep"),
        }
    }
    Ok(report)
}

async fn sweep_one(
    state: &GatewayState,
    area: StagingArea,
    listed: object_store::ObjectMeta,
) -> Result<Placement, GatewayError> {
    let archive = state.archive.as_ref();
    let limit = state.config.max_upload_bytes.get();
    let Some(key) = key_of(area, &listed.location) else {
        let name = listed.location.to_string();
        let reason = format!("{name} does not name a valid archive key, so it cannot be placed");
        let aside = name.trim_start_matches(area.prefix()).trim_start_matches('/').to_string();
        return keep_rejected(archive, &listed.location, &aside, &reason).await;
    };
    // A presigned PUT cannot be limited in size; the limit is applied here instead.
    if listed.size > limit {
        let reason = format!("{key}: {} bytes is over the upload limit of {limit} bytes", listed.size);
        return keep_rejected(archive, &listed.location, &key, &reason).await;
    }
    place(state, &listed.location, &key, OnConflict::KeepAside).await
}

/// Sweeps until shutdown: the presigned area often when clients upload straight into the archive;
/// the received area (and, for a local archive, everything) only for uploads a gateway left
/// behind when it stopped mid-way. Backs off while the indexer does not answer. A sweep under way
/// when shutdown comes is finished first.
pub async fn run_sweeper(state: Arc<GatewayState>, shutdown: Shutdown) {
    let abandoned = state.config.abandoned_upload_age.max(MIN_ABANDONED_AGE);
    let (every, presigned_min_age) = if state.presigner.is_some() {
        (state.config.staged_upload_poll, Duration::ZERO)
    } else {
        (Duration::from_secs(60), abandoned)
    };
    // While the indexer is away, rounds come further apart, up to MAX_SWEEP_BACKOFF.
    let mut indexer_backoff = RetryPolicy::until_stopped(every * 2, MAX_SWEEP_BACKOFF.max(every)).backoff();
    loop {
        let mut indexer_unavailable = false;
        for (area, min_age) in [(StagingArea::Presigned, presigned_min_age), (StagingArea::Received, abandoned)] {
            match sweep(&state, area, min_age).await {
                Ok(report) => indexer_unavailable |= report.indexer_unavailable,
                Err(error) => tracing::warn!(%error, ?area, "listing staged uploads failed"),
            }
        }
        if indexer_unavailable {
            if !indexer_backoff.wait(&shutdown).await {
                return;
            }
            continue;
        }
        indexer_backoff.reset();
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// `<area>/<archive key>/<random>` -> the archive key, if it is a valid one.
fn key_of(area: StagingArea, staging: &ObjectPath) -> Option<String> {
    let text = staging.as_ref().strip_prefix(area.prefix())?.strip_prefix('/')?;
    let (key, _random) = text.rsplit_once('/')?;
    parse_archive_key(key).ok().map(|_| key.to_string())
}

/// Whether the staged upload (already looked at) holds the same bytes as `target`.
async fn same_bytes(
    archive: &dyn ObjectStore,
    staged: &object_store::ObjectMeta,
    target: &ObjectPath,
) -> Result<bool, GatewayError> {
    if archive.head(target).await?.size != staged.size {
        return Ok(false);
    }
    Ok(digest(archive, &staged.location).await? == digest(archive, target).await?)
}

async fn digest(archive: &dyn ObjectStore, location: &ObjectPath) -> Result<[u8; 32], GatewayError> {
    let mut hasher = Sha256::new();
    let mut chunks = archive.get(location).await?.into_stream();
    while let Some(chunk) = chunks.next().await {
        hasher.update(chunk?);
    }
    Ok(hasher.finalize().into())
}

async fn reject(archive: &dyn ObjectStore, staging: &ObjectPath, key: &str) -> Result<Placement, GatewayError> {
    let reason = format!("{key} already holds a different file; this upload of the same name was not placed");
    keep_rejected(archive, staging, key, &reason).await
}

/// Keeps an upload that cannot be placed under `rejected/<name>.<random>`, with a `.reason.txt`.
async fn keep_rejected(
    archive: &dyn ObjectStore,
    staging: &ObjectPath,
    name: &str,
    reason: &str,
) -> Result<Placement, GatewayError> {
    // The object's own metadata (not a listing's) is what the delete compares against.
    let staged = match archive.head(staging).await {
        Ok(meta) => meta,
        Err(object_store::Error::NotFound { .. }) => return Ok(Placement::Gone),
        Err(error) => return Err(error.into()),
    };
    let kept = ObjectPath::from(format!("{REJECTED_PREFIX}/{name}.{}", random_hex(8)));
    match archive.copy(&staged.location, &kept).await {
        // Another replica dealt with it first.
        Err(object_store::Error::NotFound { .. }) => return Ok(Placement::Gone),
        other => other?,
    }
    archive.put(&ObjectPath::from(format!("{kept}.reason.txt")), format!("{reason}\n").into()).await?;
    delete_if_unchanged(archive, &staged).await;
    tracing::warn!(staging = %staged.location, %kept, reason, "upload kept aside");
    Ok(Placement::Rejected { kept_at: kept.to_string() })
}

#[cfg(test)]
#[path = "uploads_tests.rs"]
mod tests;
