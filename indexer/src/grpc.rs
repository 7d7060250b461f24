//! The gRPC face of the indexer; `tonic::Status` appears only here and in `error.rs`.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Stream, StreamExt};

use mesh_runtime::Shutdown;
use proto::pb::indexer_service_server::IndexerService;
use proto::pb::{
    BatchQueryFilesRequest, BatchQueryFilesResponse, FileEvent, GetFileRequest, GetFileResponse, IndexFileRequest,
    IndexFileResponse, IndexFilesRequest, IndexFilesResponse, ListQuarantineRequest, ListQuarantineResponse,
    QueryFilesRequest, QueryFilesResponse, ReleaseFilesRequest, ReleaseFilesResponse, SubscribeEventsRequest,
    SubscribeEventsResponse,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::error::IndexerError;
use super::inbox::Ingestor;
use super::tracker::{FilePage, Provenance};

/// Events read from the log in the first round trip of a subscription, and again once caught up:
/// a consumer near the head gets its events without waiting for a large read.
const FIRST_READ: u32 = 1000;

/// The most events one round trip reads: reads double up to this while the consumer keeps up (it
/// has taken the previous batch by the time the next is read). Bounds a subscription's memory:
/// one batch being read, one waiting, one being sent.
const LARGEST_READ: u32 = 4000;

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

    type SubscribeEventsStream = Pin<Box<dyn Stream<Item = Result<SubscribeEventsResponse, Status>> + Send>>;

    #[tracing::instrument(skip_all, name = "indexer.subscribe_events", fields(consumer = %request.get_ref().consumer, after = request.get_ref().after_seq))]
    async fn subscribe_events(
        &self,
        request: Request<SubscribeEventsRequest>,
    ) -> Result<Response<Self::SubscribeEventsStream>, Status> {
        let request = request.into_inner();
        // Whole batches cross the channel, one message per event leaves it: the stream's contract
        // stays one event per message, without a channel hand-off per event.
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<FileEvent>, Status>>(1);
        let tracker = self.ingestor.tracker.clone();
        let shutdown = self.shutdown.clone();
        self.tasks.spawn(async move {
            let mut latest = tracker.subscribe_latest();
            let mut cursor = request.after_seq;
            let mut read_size = FIRST_READ;
            loop {
                let events = match tracker.events_after(cursor, read_size).await {
                    Ok(events) => events,
                    Err(error) => {
                        let _ = sender.send(Err(error.into())).await;
                        return;
                    }
                };
                let caught_up = events.len() < read_size as usize;
                cursor = events.last().map_or(cursor, |event| event.seq);
                if !events.is_empty() {
                    match sender.try_send(Ok(events)) {
                        Ok(()) => read_size = (read_size * 2).min(LARGEST_READ),
                        Err(tokio::sync::mpsc::error::TrySendError::Full(batch)) => {
                            if sender.send(batch).await.is_err() {
                                return;
                            }
                        }
                        Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => return,
                    }
                }
                if !caught_up {
                    continue;
                }
                read_size = FIRST_READ;
                tokio::select! {
                    changed = latest.wait_for(|seq| *seq > cursor) => if changed.is_err() { return },
                    _ = sender.closed() => return,
                    _ = shutdown.wait() => return,
                    // Another indexer process sharing the database may have appended.
                    _ = tokio::time::sleep(FOREIGN_APPEND_POLL) => {}
                }
            }
        });
        let responses = ReceiverStream::new(receiver).flat_map(|batch| {
            let (events, error) = match batch {
                Ok(events) => (events, None),
                Err(status) => (Vec::new(), Some(status)),
            };
            let responses = events.into_iter().map(|event| Ok(SubscribeEventsResponse { event: Some(event) }));
            futures_util::stream::iter(responses.chain(error.map(Err)))
        });
        Ok(Response::new(Box::pin(responses)))
    }

    #[tracing::instrument(skip_all, name = "indexer.query_files")]
    async fn query_files(&self, request: Request<QueryFilesRequest>) -> Result<Response<QueryFilesResponse>, Status> {
        Ok(Response::new(page_answer(self.ingestor.tracker.query(request.get_ref()).await?)))
    }

    #[tracing::instrument(skip_all, name = "indexer.batch_query_files")]
    async fn batch_query_files(
        &self,
        request: Request<BatchQueryFilesRequest>,
    ) -> Result<Response<BatchQueryFilesResponse>, Status> {
        let pages = self.ingestor.tracker.query_batch(&request.get_ref().queries).await?;
        Ok(Response::new(BatchQueryFilesResponse { answers: pages.into_iter().map(page_answer).collect() }))
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

/// A page of a file query as QueryFiles (and each answer of BatchQueryFiles) carries it.
fn page_answer(page: FilePage) -> QueryFilesResponse {
    QueryFilesResponse { files: page.files, next_page_token: page.next_page_token }
}
