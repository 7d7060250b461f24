//! The gRPC face of the indexer; `tonic::Status` appears only here and in `error.rs`.

use std::sync::Arc;

use mesh_runtime::Shutdown;
use proto::pb::indexer_service_server::IndexerService;
use proto::pb::{
    FileEvent, GetFileRequest, GetFileResponse, IndexFileRequest, IndexFileResponse, IndexFilesRequest,
    IndexFilesResponse, ListQuarantineRequest, ListQuarantineResponse, QueryFilesRequest, QueryFilesResponse,
    ReleaseFilesRequest, ReleaseFilesResponse, SubscribeEventsRequest, SubscribeEventsResponse,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::error::IndexerError;
use super::inbox::Ingestor;
use super::tracker::Provenance;

/// Events fetched from the log per database round trip while replaying.
const REPLAY_BATCH: u32 = 2000;

/// How often an idle subscription re-reads the log for events this process did not append.
const FOREIGN_APPEND_POLL: std::time::Duration = std::time::Duration::from_secs(5);

pub struct IndexerGrpc {
    pub ingestor: Arc<Ingestor>,
    pub shutdown: Shutdown,
    /// Subscriptions run here, so the node waits for them at shutdown.
    pub tasks: tokio_util::task::TaskTracker,
}

#[tonic::async_trait]
impl IndexerService for IndexerGrpc {
    #[tracing::instrument(skip_all, name = "indexer.index_file", fields(key = %request.get_ref().archive_key))]
    async fn index_file(&self, request: Request<IndexFileRequest>) -> Result<Response<IndexFileResponse>, Status> {
        let request = request.into_inner();
        let provenance = Provenance { produced_by_job: request.produced_by_job, parent_files: request.parent_files };
        let outcome = self.ingestor.index_key(&request.archive_key, &provenance).await?;
        Ok(Response::new(IndexFileResponse {
            file: Some(outcome.file),
            newly_indexed: outcome.newly_indexed,
            event_seq: outcome.event_seq,
        }))
    }

    #[tracing::instrument(skip_all, name = "indexer.index_files", fields(files = request.get_ref().files.len()))]
    async fn index_files(&self, request: Request<IndexFilesRequest>) -> Result<Response<IndexFilesResponse>, Status> {
        let keys: Vec<(String, Provenance)> = request
            .into_inner()
            .files
            .into_iter()
            .map(|file| {
                let provenance = Provenance { produced_by_job: file.produced_by_job, parent_files: file.parent_files };
                (file.archive_key, provenance)
            })
            .collect();
        let outcomes = self.ingestor.index_keys(&keys).await?;
        let results = outcomes
            .into_iter()
            .map(|outcome| IndexFileResponse {
                file: Some(outcome.file),
                newly_indexed: outcome.newly_indexed,
                event_seq: outcome.event_seq,
            })
            .collect();
        Ok(Response::new(IndexFilesResponse { results }))
    }

    type SubscribeEventsStream = ReceiverStream<Result<SubscribeEventsResponse, Status>>;

    #[tracing::instrument(skip_all, name = "indexer.subscribe_events", fields(consumer = %request.get_ref().consumer, after = request.get_ref().after_seq))]
    async fn subscribe_events(
        &self,
        request: Request<SubscribeEventsRequest>,
    ) -> Result<Response<Self::SubscribeEventsStream>, Status> {
        let request = request.into_inner();
        let (sender, receiver) = tokio::sync::mpsc::channel(REPLAY_BATCH as usize);
        let tracker = self.ingestor.tracker.clone();
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            let mut latest = tracker.subscribe_latest();
            let mut cursor = request.after_seq;
            let mut fetched = tracker.events_after(cursor, REPLAY_BATCH).await;
            loop {
                let events = match fetched {
                    Ok(events) => events,
                    Err(error) => {
                        let _ = sender.send(Err(error.into())).await;
                        return;
                    }
                };
                let caught_up = events.len() < REPLAY_BATCH as usize;
                cursor = events.last().map_or(cursor, |event| event.seq);
                if !caught_up {
                    // Replaying: read the next batch while this one is sent.
                    let (next, sent) =
                        tokio::join!(tracker.events_after(cursor, REPLAY_BATCH), send_all(&sender, events));
                    if !sent {
                        return;
                    }
                    fetched = next;
                    continue;
                }
                if !send_all(&sender, events).await {
                    return;
                }
                tokio::select! {
                    changed = latest.wait_for(|seq| *seq > cursor) => if changed.is_err() { return },
                    _ = sender.closed() => return,
                    _ = shutdown.wait() => return,
                    // Another indexer process sharing the database may have appended.
                    _ = tokio::time::sleep(FOREIGN_APPEND_POLL) => {}
                }
                fetched = tracker.events_after(cursor, REPLAY_BATCH).await;
            }
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    #[tracing::instrument(skip_all, name = "indexer.query_files")]
    async fn query_files(&self, request: Request<QueryFilesRequest>) -> Result<Response<QueryFilesResponse>, Status> {
        let page = self.ingestor.tracker.query(request.get_ref()).await?;
        Ok(Response::new(QueryFilesResponse { files: page.files, next_page_token: page.next_page_token }))
    }

    #[tracing::instrument(skip_all, name = "indexer.get_file")]
    async fn get_file(&self, request: Request<GetFileRequest>) -> Result<Response<GetFileResponse>, Status> {
        let file_name = request.into_inner().file_name;
        let file = self.ingestor.tracker.get(&file_name).await?.ok_or(IndexerError::UnknownFile(file_name))?;
        Ok(Response::new(GetFileResponse { file: Some(file) }))
    }

    #[tracing::instrument(skip_all, name = "indexer.list_quarantine")]
    async fn list_quarantine(
        &self,
        request: Request<ListQuarantineRequest>,
    ) -> Result<Response<ListQuarantineResponse>, Status> {
        let request = request.into_inner();
        let page = self.ingestor.tracker.quarantined(request.limit, &request.page_token).await?;
        Ok(Response::new(ListQuarantineResponse { files: page.files, next_page_token: page.next_page_token }))
    }

    #[tracing::instrument(skip_all, name = "indexer.release_files", fields(instrument = %request.get_ref().instrument, manifest = %request.get_ref().manifest_key))]
    async fn release_files(
        &self,
        request: Request<ReleaseFilesRequest>,
    ) -> Result<Response<ReleaseFilesResponse>, Status> {
        let outcome = self.ingestor.tracker.release(request.get_ref()).await?;
        if outcome.unmatched_withheld.is_empty() {
            tracing::info!(
                released = outcome.released,
                newly_released = outcome.newly_released,
                withheld = outcome.withheld,
                "release applied"
            );
        }
        Ok(Response::new(outcome))
    }
}

/// Sends `events` in order; false once the subscriber has gone.
async fn send_all(
    sender: &tokio::sync::mpsc::Sender<Result<SubscribeEventsResponse, Status>>,
    events: Vec<FileEvent>,
) -> bool {
    for event in events {
        if sender.send(Ok(SubscribeEventsResponse { event: Some(event) })).await.is_err() {
            return false;
        }
    }
    true
}
