//! The mission's data-access API as `imap-data-access` 1.3.0 calls it (spec 1.2 to 1.7): presigned
//! upload, the upload itself, download, query, spice-query and reprocess.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, TryStreamExt};
use http::{HeaderMap, StatusCode, Uri, header};
use imap_filename::{ImapFileName, parse_archive_key};
use mesh_runtime::archive::ArchivePresigner;
use object_store::{ObjectStoreExt, WriteMultipart};
use proto::pb::{FileRecord, QueryFilesRequest, StartReprocessingRequest};

use super::auth::Caller;
use super::catalog::{CatalogQuery, query_date};
use super::error::GatewayError;
use super::key_store::Scope;
use super::release;
use super::signing::{UploadGrant, unix_now};
use super::spice_catalog::SpiceQuery;
use super::state::GatewayState;
use super::uploads::{self, OnConflict, Placement, StagingArea};

type AppState = State<Arc<GatewayState>>;

/// Size of the parts an upload is streamed to the archive in; at most two are in flight.
const UPLOAD_PART_BYTES: usize = 8 * 1024 * 1024;
const UPLOAD_PARTS_IN_FLIGHT: usize = 2;

/// `GET upload/{filename}`: a JSON-string URL the file can be PUT to: the bucket itself for an S3
/// archive, else this gateway.
pub async fn presign_upload(
    State(state): AppState,
    caller: Caller,
    Path(file_name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<String>, GatewayError> {
    caller.require(Scope::Upload, "upload")?;
    let name = ImapFileName::parse(file_name.rsplit('/').next().unwrap_or(&file_name))?;
    let key = name.archive_path();
    let waiting = state.presigner.is_some() && uploads::pending(state.archive.as_ref(), &key).await?;
    if waiting || exists(&state, &key).await? {
        return Err(GatewayError::FileAlreadyExists { key });
    }
    let valid_for = state.config.upload_url_lifetime;
    let direct = direct_presigner(&state, &headers);
    let url = match direct {
        Some(presigner) => presigner.upload_url(&StagingArea::Presigned.location(&key), valid_for).await?,
        None => {
            let grant = state.signer.grant(&key, unix_now() + state.config.upload_url_lifetime.as_secs());
            let base = public_base_url(&state, &headers);
            format!("{base}/upload-object/{key}?expires={}&signature={}", grant.expires, grant.signature)
        }
    };
    tracing::info!(%key, caller = caller.label(), direct = direct.is_some(), "upload url issued");
    Ok(Json(url))
}

/// `PUT upload-object/{key}?expires&signature`: streams the body into the archive, then indexes it
/// (200); 202 when the file is stored but the indexer did not answer (the archive rescan or the
/// sweeper indexes it later).
pub async fn receive_upload(
    State(state): AppState,
    Path(key): Path<String>,
    grant: Result<Query<UploadGrant>, QueryRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GatewayError> {
    refuse_percent_encoding(&uri)?;
    let Ok(Query(grant)) = grant else {
        return Err(GatewayError::Forbidden(
            "upload url without expires and signature: GET upload/{filename} gives one".into(),
        ));
    };
    state.signer.verify(&key, &grant, unix_now())?;
    parse_archive_key(&key)?;
    let limit = match state.presigner {
        // Placing is a single-part server-side copy, which S3 allows up to 5 GiB.
        Some(_) => state.config.max_upload_bytes.get().min(S3_SINGLE_COPY_LIMIT),
        None => state.config.max_upload_bytes.get(),
    };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(GatewayError::PayloadTooLarge { limit });
    }
    // A cheap early refusal; the guarantee itself is the create-only copy in `uploads::place`.
    if exists(&state, &key).await? {
        return Err(GatewayError::FileAlreadyExists { key });
    }
    let staging = StagingArea::Received.location(&key);
    let size_bytes = stream_into_archive(&state, &staging, body, limit).await?;
    let placed = match uploads::place(&state, &staging, &key, OnConflict::Refuse).await {
        // The staging object stays, so nothing is lost, and the file is already on its key.
        Err(GatewayError::Upstream { service, status }) if holds(&state, &key, size_bytes).await => {
            tracing::warn!(%key, %status, "upload stored; indexing pending");
            let message = format!("stored; not indexed yet ({service}: {}), it will be shortly", status.message());
            let pending =
                serde_json::json!({"archive_key": key, "size_bytes": size_bytes, "indexed": false, "message": message});
            return Ok((StatusCode::ACCEPTED, Json(pending)).into_response());
        }
        other => other?,
    };
    match placed {
        Placement::Placed => {}
        Placement::Gone => {
            return Err(GatewayError::InvalidRequest(format!(
                "the upload of {key} vanished before it was placed; upload it again"
            )));
        }
        Placement::AlreadyThere | Placement::Refused | Placement::Rejected { .. } => {
            return Err(GatewayError::FileAlreadyExists { key });
        }
    }
    tracing::info!(%key, size_bytes, "upload stored and indexed");
    Ok(Json(serde_json::json!({"archive_key": key, "size_bytes": size_bytes, "indexed": true})).into_response())
}

/// The largest object S3 copies in one request.
const S3_SINGLE_COPY_LIMIT: u64 = 5 * 1024 * 1024 * 1024;

/// Whether `key` holds an object of `size` bytes (this upload, placed before indexing failed).
async fn holds(state: &GatewayState, key: &str, size: u64) -> bool {
    matches!(state.archive.head(&object_store::path::Path::from(key)).await, Ok(meta) if meta.size == size)
}

/// Where presigned URLs may point straight at the archive: with an S3 archive, unless the caller
/// authenticates with a Bearer token. The client sends that header on the PUT (and on a redirect
/// to the same host and port), and S3 refuses a presigned request that carries a second
/// authorization; how clients reach the bucket is not known here, so such callers are served
/// through the gateway.
fn direct_presigner<'a>(state: &'a GatewayState, headers: &HeaderMap) -> Option<&'a ArchivePresigner> {
    state.presigner.as_ref().filter(|_| !headers.contains_key(header::AUTHORIZATION))
}

/// Copies the body to the archive part by part, so memory stays bounded whatever the file size;
/// a failed upload is aborted and leaves nothing behind.
async fn stream_into_archive(
    state: &GatewayState,
    location: &object_store::path::Path,
    body: Body,
    limit: u64,
) -> Result<u64, GatewayError> {
    let upload = state.archive.put_multipart(location).await?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, UPLOAD_PART_BYTES);
    match copy_body(&mut writer, body, limit).await {
        Ok(received) => {
            writer.finish().await?;
            Ok(received)
        }
        Err(error) => {
            if let Err(abort_error) = writer.abort().await {
                tracing::warn!(%location, error = %abort_error, "aborting a failed upload failed");
            }
            Err(error)
        }
    }
}

async fn copy_body(writer: &mut WriteMultipart, body: Body, limit: u64) -> Result<u64, GatewayError> {
    let mut chunks = body.into_data_stream();
    let mut received: u64 = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|error| GatewayError::InvalidRequest(format!("upload interrupted: {error}")))?;
        received += chunk.len() as u64;
        if received > limit {
            return Err(GatewayError::PayloadTooLarge { limit });
        }
        writer.wait_for_capacity(UPLOAD_PARTS_IN_FLIGHT).await?;
        writer.put(chunk);
    }
    Ok(received)
}

/// `GET download/{key}`: a redirect to a presigned URL for an S3 archive (as upstream does), else
/// the object's bytes, streamed.
pub async fn download(
    State(state): AppState,
    caller: Caller,
    Path(key): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, GatewayError> {
    refuse_percent_encoding(&uri)?;
    let name = parse_archive_key(&key)?;
    release::check_download(&state, &caller, &key).await?;
    let missing = || GatewayError::NotFound(format!("file not found: {key}"));
    if let Some(presigner) = direct_presigner(&state, &headers) {
        if !exists(&state, &key).await? {
            return Err(missing());
        }
        let url = presigner.download_url(&key, state.config.download_url_lifetime).await?;
        let body = serde_json::json!({ "download_url": url }).to_string();
        let headers = [(header::LOCATION, url), (header::CONTENT_TYPE, "application/json".to_string())];
        return Ok((StatusCode::FOUND, headers, body).into_response());
    }
    let location = object_store::path::Path::from(key.as_str());
    let found = match state.archive.get(&location).await {
        Err(object_store::Error::NotFound { .. }) => return Err(missing()),
        other => other?,
    };
    let size = found.meta.size;
    let stream = found.into_stream().map_err(std::io::Error::other);
    let headers = [
        (header::CONTENT_TYPE, "application/octet-stream".to_string()),
        (header::CONTENT_LENGTH, size.to_string()),
        (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", name.file_name())),
    ];
    Ok((headers, Body::from_stream(stream)).into_response())
}

/// `GET query`: science or ancillary rows.
pub async fn query(
    State(state): AppState,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<serde_json::Value>>, GatewayError> {
    let query = CatalogQuery::from_params(&params)?;
    let records = tracked_files(&state, &caller, query.filter.clone()).await?;
    Ok(Json(query.select(records).iter().map(|record| query.row(record)).collect()))
}

/// `GET spice-query`: SPICE kernel rows.
pub async fn spice_query(
    State(state): AppState,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<serde_json::Value>>, GatewayError> {
    let query = SpiceQuery::from_params(&params)?;
    let records = tracked_files(&state, &caller, query.filter.clone()).await?;
    Ok(Json(query.rows(&records)))
}

/// `GET repoint-table` and `GET spin-table` (spec 1.8): the repoint and spin kernels, as `webpoda` reads them.
pub async fn kernel_table(
    State(state): AppState,
    caller: Caller,
    uri: Uri,
    Query(mut params): Query<HashMap<String, String>>,
) -> Result<Json<Vec<serde_json::Value>>, GatewayError> {
    let kernel_type = if uri.path().ends_with("spin-table") { "spin" } else { "repoint" };
    params.insert("type".into(), kernel_type.into());
    let query = SpiceQuery::from_params(&params)?;
    let records = tracked_files(&state, &caller, query.filter.clone()).await?;
    Ok(Json(query.table_rows(&records)))
}

/// `POST reprocess`: a reprocessing campaign over a date range, planned by the starter.
pub async fn reprocess(
    State(state): AppState,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, GatewayError> {
    caller.require(Scope::Admin, "reprocess")?;
    let given = |name: &str| params.get(name).map(|value| value.trim().to_string()).unwrap_or_default();
    let required_date = |name: &str| {
        let text = given(name);
        if text.is_empty() {
            return Err(GatewayError::InvalidRequest(format!("reprocess needs {name} (YYYYMMDD)")));
        }
        query_date(Some(&text), name)
    };
    let request = StartReprocessingRequest {
        start_date: required_date("start_date")?,
        end_date: required_date("end_date")?,
        instrument: given("instrument"),
        data_level: given("data_level"),
        descriptor: given("descriptor"),
    };
    let planned = state
        .clients
        .starter
        .clone()
        .start_reprocessing(request)
        .await
        .map_err(GatewayError::upstream("starter"))?
        .into_inner();
    tracing::info!(campaign = %planned.campaign_id, caller = caller.label(), jobs = planned.jobs_created, "reprocessing queued");
    Ok(Json(serde_json::json!({
        "message": "Reprocess job queued",
        "reprocess_id": planned.campaign_id,
        "planned_runs": planned.planned_runs,
        "jobs_created": planned.jobs_created,
    })))
}

/// The file tracker's matches for `filter`, among the files `caller` may see, read page by page.
/// The client expects the whole answer as one list, so more than `gateway.max_query_files`
/// matches are refused with a request to narrow the query rather than gathered without bound.
async fn tracked_files(
    state: &GatewayState,
    caller: &Caller,
    mut filter: QueryFilesRequest,
) -> Result<Vec<FileRecord>, GatewayError> {
    release::restrict_listing(state, caller, &mut filter);
    let limit = state.config.max_query_files.get() as usize;
    let found = proto::clients::matching_files(&state.clients.indexer, filter, limit)
        .await
        .map_err(GatewayError::upstream("indexer"))?;
    if found.more {
        return Err(GatewayError::QueryTooBroad { limit });
    }
    Ok(found.files)
}

async fn exists(state: &GatewayState, key: &str) -> Result<bool, GatewayError> {
    match state.archive.head(&object_store::path::Path::from(key)).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Encoded paths could be decoded differently by different layers: archive keys never need them.
fn refuse_percent_encoding(uri: &Uri) -> Result<(), GatewayError> {
    if uri.path().contains('%') {
        return Err(GatewayError::InvalidRequest(format!("{}: percent-encoded archive keys are refused", uri.path())));
    }
    Ok(())
}

/// Where clients reach this gateway: the configured public URL, else the scheme and host they used.
fn public_base_url(state: &GatewayState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let scheme = headers.get("x-forwarded-proto").and_then(|value| value.to_str().ok()).unwrap_or("http");
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or("localhost");
    format!("{scheme}://{host}")
}
