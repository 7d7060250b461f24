//! The mission's data release (spec 1.8): `GET /api-key/release` applies a release manifest, and
//! this is also the one place that decides what callers without an API key may see and fetch
//! (`anonymous_access`).
//!
//! A manifest `imap_<instrument>_<descriptor>_<start>_<end>_vNNN.txt` releases every science and
//! quicklook file of its instrument whose start date lies in `start..=end`, except the files it
//! lists, one per line, as withheld.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use imap_filename::{AncillaryFileName, ImapFileName, parse_archive_key};
use object_store::ObjectStoreExt;
use proto::pb::{FileRecord, GetFileRequest, QueryFilesRequest, ReleaseFilesRequest};

use super::auth::Caller;
use super::error::GatewayError;
use super::key_store::Scope;
use super::state::GatewayState;

/// What callers without an API key may see and fetch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnonymousAccess {
    /// Everything: query, download and the kernel tables as if releases did not exist.
    #[default]
    All,
    /// The mission's rule: only files a data release has made public.
    Released,
}

/// The only release type implemented; the client also knows `early-release` and `unrelease`.
const RELEASE_TYPE: &str = "release";
const RELEASE_PARAMETERS: &[&str] = &["release_type", "manifest_file"];
/// A manifest lists file names; anything larger is a mistake, not read into memory.
const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// True when `caller` may only see released files: under the released rule, anonymous callers and
/// keys that neither upload nor operate (see [`crate::ApiKey::sees_unreleased`]).
pub(crate) fn sees_released_only(access: AnonymousAccess, caller: &Caller) -> bool {
    access == AnonymousAccess::Released && !caller.key.as_ref().is_some_and(|key| key.sees_unreleased())
}

/// Narrows a file-tracker filter to released files when the caller may see nothing else.
pub(crate) fn restrict_listing(state: &GatewayState, caller: &Caller, filter: &mut QueryFilesRequest) {
    if sees_released_only(state.config.anonymous_access, caller) {
        filter.released_only = true;
    }
}

/// Refuses a download of a file no release has made public, when the caller may only see those.
pub(crate) async fn check_download(state: &GatewayState, caller: &Caller, key: &str) -> Result<(), GatewayError> {
    if !sees_released_only(state.config.anonymous_access, caller) {
        return Ok(());
    }
    let request = GetFileRequest { file_name: parse_archive_key(key)?.file_name() };
    let tracked = state
        .clients
        .indexer
        .clone()
        .get_file(request)
        .await
        .map(|response| response.into_inner().file.unwrap_or_default());
    released_or_refused(key, tracked)
}

/// What the file tracker's answer about `key` means for a caller who may only have released files:
/// an unreleased file is answered exactly as a missing one, so names cannot be probed.
fn released_or_refused(key: &str, tracked: Result<FileRecord, tonic::Status>) -> Result<(), GatewayError> {
    match tracked {
        Ok(file) if file.released => Ok(()),
        Ok(_) => Err(GatewayError::NotFound(format!("file not found: {key}"))),
        Err(status) if status.code() == tonic::Code::NotFound => {
            Err(GatewayError::NotFound(format!("file not found: {key}")))
        }
        Err(status) => Err(GatewayError::upstream("indexer")(status)),
    }
}

/// `GET /api-key/release?release_type=release&manifest_file=<name>`: applies an uploaded manifest.
pub async fn release(
    State(state): State<Arc<GatewayState>>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, GatewayError> {
    caller.require(Scope::Admin, "release data")?;
    let manifest = manifest_from_params(&params)?;
    let manifest_name = manifest.file_name();
    let start_date = manifest.start_date.yyyymmdd();
    let end_date = manifest.end_date.map(|date| date.yyyymmdd()).unwrap_or_default();
    let text = read_manifest(&state, &manifest_name).await?;
    let withheld = withheld_lines(&manifest_name, &text)?;
    let request = ReleaseFilesRequest {
        instrument: manifest.instrument.clone(),
        start_date: start_date.clone(),
        end_date: end_date.clone(),
        withheld_files: withheld.iter().map(|line| line.file_name.clone()).collect(),
        manifest_key: manifest.archive_path(),
    };
    let outcome = state
        .clients
        .indexer
        .clone()
        .release_files(request)
        .await
        .map_err(GatewayError::upstream("indexer"))?
        .into_inner();
    if !outcome.unmatched_withheld.is_empty() {
        return Err(outside_the_release(&manifest, &withheld, &outcome.unmatched_withheld));
    }
    tracing::info!(
        manifest = %manifest_name, caller = caller.label(), released = outcome.released,
        newly_released = outcome.newly_released, withheld = outcome.withheld, "release applied"
    );
    Ok(Json(serde_json::json!({
        "message": format!("release {manifest_name} applied"),
        "release_type": RELEASE_TYPE,
        "manifest_file": manifest_name,
        "instrument": manifest.instrument,
        "start_date": start_date,
        "end_date": end_date,
        "released": outcome.released,
        "newly_released": outcome.newly_released,
        "withheld": outcome.withheld,
    })))
}

/// The refusal of a manifest whose withheld lines name files the release does not cover.
fn outside_the_release(manifest: &AncillaryFileName, withheld: &[WithheldLine], unmatched: &[String]) -> GatewayError {
    let lines: Vec<String> = withheld
        .iter()
        .filter(|line| unmatched.contains(&line.file_name))
        .map(|line| format!("line {} {:?}", line.number, line.text))
        .collect();
    let end_date = manifest.end_date.map(|date| date.yyyymmdd()).unwrap_or_default();
    invalid(format!(
        "{}: withheld files that are not tracked science or quicklook files of {} starting {} to {end_date}: {}",
        manifest.file_name(),
        manifest.instrument,
        manifest.start_date.yyyymmdd(),
        lines.join(", ")
    ))
}

/// The manifest a request names, once its release type and name are acceptable.
fn manifest_from_params(params: &HashMap<String, String>) -> Result<AncillaryFileName, GatewayError> {
    let mut names: Vec<&String> = params.keys().collect();
    names.sort();
    if let Some(unknown) = names.into_iter().find(|name| !RELEASE_PARAMETERS.contains(&name.as_str())) {
        return Err(invalid(format!("unknown parameter {unknown:?} (valid: {})", RELEASE_PARAMETERS.join(", "))));
    }
    let given = |name: &str| params.get(name).map(|value| value.trim()).filter(|value| !value.is_empty());
    match given("release_type") {
        Some(RELEASE_TYPE) => {}
        Some(kind @ ("early-release" | "unrelease")) => {
            return Err(invalid(format!("release_type '{kind}' is not supported: only 'release' is")));
        }
        Some(other) => return Err(invalid(format!("unknown release_type {other:?} (valid: release)"))),
        None => return Err(invalid("release needs release_type=release")),
    }
    let Some(file_name) = given("manifest_file") else {
        return Err(invalid("release needs manifest_file, the manifest's file name"));
    };
    let shape = "a release manifest is named imap_<instrument>_<descriptor>_<YYYYMMDD>_<YYYYMMDD>_vNNN.txt";
    let manifest = match ImapFileName::parse(file_name)? {
        ImapFileName::Release(manifest) => manifest,
        other => {
            return Err(invalid(format!(
                "manifest_file {file_name} is classified as {}, not release: {shape}",
                other.kind().as_str()
            )));
        }
    };
    if manifest.end_date.is_none() {
        return Err(invalid(format!("manifest_file {file_name} names no end date: {shape}")));
    }
    Ok(manifest)
}

/// The text of a tracked manifest: 404 when it was never uploaded.
async fn read_manifest(state: &GatewayState, manifest_name: &str) -> Result<String, GatewayError> {
    let not_uploaded = || {
        GatewayError::NotFound(format!(
            "release manifest {manifest_name} is not in the archive: upload it first (imap-data-access upload)"
        ))
    };
    let request = GetFileRequest { file_name: manifest_name.to_string() };
    let record = match state.clients.indexer.clone().get_file(request).await {
        Ok(response) => response.into_inner().file.unwrap_or_default(),
        Err(status) if status.code() == tonic::Code::NotFound => return Err(not_uploaded()),
        Err(status) => return Err(GatewayError::upstream("indexer")(status)),
    };
    let found = match state.archive.get(&object_store::path::Path::from(record.archive_key.as_str())).await {
        Err(object_store::Error::NotFound { .. }) => return Err(not_uploaded()),
        other => other?,
    };
    if found.meta.size > MAX_MANIFEST_BYTES {
        return Err(invalid(format!("release manifest {manifest_name} is larger than {MAX_MANIFEST_BYTES} bytes")));
    }
    let bytes = found.bytes().await?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| invalid(format!("release manifest {manifest_name} is not UTF-8 text")))
}

/// One withheld file of a manifest, with the line that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WithheldLine {
    /// 1-based, as editors count.
    pub number: usize,
    pub text: String,
    pub file_name: String,
}

/// The withheld files of a manifest: one file name or archive key a line; blank lines and lines
/// starting with `#` are skipped. A line that is neither a valid name nor a canonical key is an
/// error naming it.
pub(crate) fn withheld_lines(manifest_name: &str, text: &str) -> Result<Vec<WithheldLine>, GatewayError> {
    // Editors on some systems start UTF-8 files with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut withheld = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let entry = line.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        let parsed = if entry.contains('/') { parse_archive_key(entry) } else { ImapFileName::parse(entry) };
        let name = parsed.map_err(|error| {
            invalid(format!("{manifest_name} line {} {entry:?} is not a file name or archive key: {error}", index + 1))
        })?;
        withheld.push(WithheldLine { number: index + 1, text: entry.to_string(), file_name: name.file_name() });
    }
    Ok(withheld)
}

fn invalid(message: impl Into<String>) -> GatewayError {
    GatewayError::InvalidRequest(message.into())
}

#[cfg(test)]
#[path = "release_tests.rs"]
mod tests;
