//! Uploads wait under `staging/<archive key>/<random>` until they are placed onto their key with the
//! archive's create-only copy, so no upload ever overwrites a file, whichever replica or client
//! gets there first. The gateway places uploads it receives itself at once; uploads that clients
//! PUT straight into an S3 archive (and leftovers of a gateway that died mid-upload) are placed by
//! the sweeper. An upload that loses to a different file of the same name is kept under
//! `rejected/` with a `.reason.txt`, never dropped.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use proto::Shutdown;
use proto::filename::parse_archive_key;
use proto::pb::IndexFileRequest;
use sha2::{Digest, Sha256};

use super::error::GatewayError;
use super::key_store::random_hex;
use super::state::GatewayState;

const STAGING_PREFIX: &str = "staging";
const REJECTED_PREFIX: &str = "rejected";
const MIN_ABANDONED_SECONDS: u64 = 60;

/// A new staging object for an upload of `key`; the key travels in the name so a sweeper can place it.
pub fn staging_location(key: &str) -> ObjectPath {
    ObjectPath::from(format!("{STAGING_PREFIX}/{key}/{}", random_hex(16)))
}

/// Whether an upload of `key` has arrived but is not placed yet.
pub async fn pending(archive: &dyn ObjectStore, key: &str) -> Result<bool, GatewayError> {
    let waiting = ObjectPath::from(format!("{STAGING_PREFIX}/{key}"));
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
pub async fn place(state: &GatewayState, staging: &ObjectPath, key: &str, on_conflict: OnConflict) -> Result<Placement, GatewayError> {
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
        match same_bytes(archive, staging, &target).await {
            Ok(true) => Placement::AlreadyThere,
            Ok(false) if on_conflict == OnConflict::Refuse => {
                delete_if_unchanged(archive, &staged).await;
                return Ok(Placement::Refused);
            }
            Ok(false) => return reject(archive, &staged, key).await,
            Err(GatewayError::Archive(object_store::Error::NotFound { .. })) => return Ok(Placement::Gone),
            Err(error) => return Err(error),
        }
    };
    index(state, key).await?;
    delete_if_unchanged(archive, &staged).await;
    Ok(placement)
}

/// Asks the indexer to index a newly placed file; it triggers processing like any arrival.
pub async fn index(state: &GatewayState, key: &str) -> Result<bool, GatewayError> {
    let request = IndexFileRequest { archive_key: key.to_string(), ..Default::default() };
    let response = state.clients.indexer.clone().index_file(request).await.map_err(GatewayError::upstream("indexer"))?;
    Ok(response.into_inner().newly_indexed)
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

pub async fn delete_quietly(archive: &dyn ObjectStore, location: &ObjectPath) {
    match archive.delete(location).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(error) => tracing::warn!(%location, %error, "deleting a staging object failed; the sweeper retries"),
    }
}

/// Places every staged upload at least `min_age` old; returns how many it dealt with. A round
/// stops at the first upload the indexer could not take: the rest would fail the same way.
pub async fn sweep(state: &GatewayState, min_age: Duration) -> Result<usize, GatewayError> {
    let staged: Vec<object_store::ObjectMeta> = state
        .archive
        .list(Some(&ObjectPath::from(STAGING_PREFIX)))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let now = proto::store::now_millis();
    let mut handled = 0;
    for meta in staged {
        if now - meta.last_modified.timestamp_millis() < min_age.as_millis() as i64 {
            continue;
        }
        let limit = state.config.max_upload_bytes;
        let outcome = match key_of(&meta.location) {
            // A presigned PUT cannot be limited in size; the limit is applied here instead.
            Some(key) if meta.size > limit => {
                let reason = format!("{key}: {} bytes is over the upload limit of {limit} bytes", meta.size);
                keep_rejected(state.archive.as_ref(), &meta, &key, &reason).await
            }
            Some(key) => place(state, &meta.location, &key, OnConflict::KeepAside).await,
            None => {
                let name = meta.location.to_string();
                let reason = format!("{name} does not name a valid archive key, so it cannot be placed");
                let aside = name.trim_start_matches(STAGING_PREFIX).trim_start_matches('/').to_string();
                keep_rejected(state.archive.as_ref(), &meta, &aside, &reason).await
            }
        };
        let staging = &meta.location;
        match outcome {
            Ok(Placement::Gone) => {}
            Ok(placement) => {
                handled += 1;
                tracing::info!(%staging, ?placement, "staged upload dealt with");
            }
            Err(error @ GatewayError::Upstream { .. }) => {
                tracing::warn!(%staging, %error, "indexer unavailable; staged uploads wait for the next sweep");
                break;
            }
            Err(error) => tracing::warn!(%staging, %error, "staged upload not placed yet; retrying on the next sweep"),
        }
    }
    Ok(handled)
}

/// Sweeps until shutdown: often when clients upload straight into the archive, else only for
/// uploads the gateway left behind when it stopped mid-way.
pub fn spawn_sweeper(state: Arc<GatewayState>, shutdown: Shutdown) -> tokio::task::JoinHandle<()> {
    let (every, min_age) = if state.presigner.is_some() {
        (Duration::from_millis(state.config.staged_upload_poll_millis.max(50)), Duration::ZERO)
    } else {
        // Younger staging objects may belong to uploads still in flight on some replica.
        let abandoned = Duration::from_secs(state.config.abandoned_upload_seconds.max(MIN_ABANDONED_SECONDS));
        (abandoned.clamp(Duration::from_secs(1), Duration::from_secs(60)), abandoned)
    };
    tokio::spawn(async move {
        loop {
            if let Err(error) = sweep(&state, min_age).await {
                tracing::warn!(%error, "listing staged uploads failed");
            }
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    })
}

/// `staging/<archive key>/<random>` -> the archive key, if it is a valid one.
fn key_of(staging: &ObjectPath) -> Option<String> {
    let text = staging.as_ref().strip_prefix(STAGING_PREFIX)?.strip_prefix('/')?;
    let (key, _random) = text.rsplit_once('/')?;
    parse_archive_key(key).ok().map(|_| key.to_string())
}

async fn same_bytes(archive: &dyn ObjectStore, left: &ObjectPath, right: &ObjectPath) -> Result<bool, GatewayError> {
    let (left_meta, right_meta) = (archive.head(left).await?, archive.head(right).await?);
    if left_meta.size != right_meta.size {
        return Ok(false);
    }
    Ok(digest(archive, left).await? == digest(archive, right).await?)
}

async fn digest(archive: &dyn ObjectStore, location: &ObjectPath) -> Result<[u8; 32], GatewayError> {
    let mut hasher = Sha256::new();
    let mut chunks = archive.get(location).await?.into_stream();
    while let Some(chunk) = chunks.next().await {
        hasher.update(chunk?);
    }
    Ok(hasher.finalize().into())
}

async fn reject(archive: &dyn ObjectStore, staged: &object_store::ObjectMeta, key: &str) -> Result<Placement, GatewayError> {
    let reason = format!("{key} already holds a different file; this upload of the same name was not placed");
    keep_rejected(archive, staged, key, &reason).await
}

/// Keeps an upload that cannot be placed under `rejected/<name>.<random>`, with a `.reason.txt`.
async fn keep_rejected(archive: &dyn ObjectStore, staged: &object_store::ObjectMeta, name: &str, reason: &str) -> Result<Placement, GatewayError> {
    let kept = ObjectPath::from(format!("{REJECTED_PREFIX}/{name}.{}", random_hex(8)));
    match archive.copy(&staged.location, &kept).await {
        // Another replica dealt with it first.
        Err(object_store::Error::NotFound { .. }) => return Ok(Placement::Gone),
        other => other?,
    }
    archive.put(&ObjectPath::from(format!("{kept}.reason.txt")), format!("{reason}\n").into()).await?;
    delete_if_unchanged(archive, staged).await;
    tracing::warn!(staging = %staged.location, %kept, reason, "upload kept aside");
    Ok(Placement::Rejected { kept_at: kept.to_string() })
}

#[cfg(test)]
#[path = "uploads_tests.rs"]
mod tests;
