//! In-process fakes of mesh peers for the roles' own tests (feature `test-util`), served on a
//! free local port.

use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tonic::{Request, Response, Status};

use proto::pb::indexer_service_server::IndexerService;
use proto::pb::*;

/// An indexer whose archive holds `archive` (answered to QueryFiles, BatchQueryFiles and GetFile)
/// and which records the keys it is asked to index; every other call is unimplemented.
#[derive(Default)]
pub struct FakeIndexer {
    pub archive: Vec<FileRecord>,
    pub indexed: Arc<Mutex<Vec<String>>>,
    /// QueryFiles answers pages of at most this many files (in archive order, filters ignored, the
    /// page token the position), as the real indexer's page maximum does; the whole archive in
    /// one page when unset.
    pub page_size: Option<std::num::NonZeroUsize>,
    /// Answers BatchQueryFiles as unimplemented, as an indexer from before it would.
    pub without_batches: bool,
    /// The file queries asked, in order: "QueryFiles" or "BatchQueryFiles".
    pub queries_asked: Arc<Mutex<Vec<&'static str>>>,
}

impl FakeIndexer {
    /// One page of the archive from `request`'s page token.
    fn page(&self, request: QueryFilesRequest) -> Result<QueryFilesResponse, Status> {
        let from: usize = match request.page_token.as_str() {
            "" => 0,
            token => token.parse().map_err(|_| Status::invalid_argument(format!("fake page token {token:?}")))?,
        };
        let maximum = self.page_size.map_or(usize::MAX, std::num::NonZeroUsize::get);
        let page_size = if request.limit == 0 { maximum } else { maximum.min(request.limit as usize) };
        let files: Vec<FileRecord> = self.archive.iter().skip(from).take(page_size).cloned().collect();
        let end = from + files.len();
        let next_page_token = if end < self.archive.len() { end.to_string() } else { String::new() };
        Ok(QueryFilesResponse { files, next_page_token })
    }
}

#[tonic::async_trait]
impl IndexerService for FakeIndexer {
    type SubscribeEventsStream =
        Pin<Box<dyn futures_util::Stream<Item = Result<SubscribeEventsResponse, Status>> + Send + 'static>>;

    async fn index_file(&self, request: Request<IndexFileRequest>) -> Result<Response<IndexFileResponse>, Status> {
        self.indexed.lock().expect("indexed keys").push(request.into_inner().archive_key);
        Ok(Response::new(IndexFileResponse { newly_indexed: true, ..Default::default() }))
    }

    async fn index_files(&self, request: Request<IndexFilesRequest>) -> Result<Response<IndexFilesResponse>, Status> {
        let files = request.into_inner().files;
        let mut indexed = self.indexed.lock().expect("indexed keys");
        let results = files
            .into_iter()
            .map(|file| {
                indexed.push(file.archive_key);
                IndexFileResponse { newly_indexed: true, ..Default::default() }
            })
            .collect();
        Ok(Response::new(IndexFilesResponse { results }))
    }

    async fn subscribe_events(
        &self,
        _: Request<SubscribeEventsRequest>,
    ) -> Result<Response<Self::SubscribeEventsStream>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn query_files(&self, request: Request<QueryFilesRequest>) -> Result<Response<QueryFilesResponse>, Status> {
        self.queries_asked.lock().expect("queries asked").push("QueryFiles");
        Ok(Response::new(self.page(request.into_inner())?))
    }

    async fn batch_query_files(
        &self,
        request: Request<BatchQueryFilesRequest>,
    ) -> Result<Response<BatchQueryFilesResponse>, Status> {
        if self.without_batches {
            return Err(Status::unimplemented("fake from before BatchQueryFiles"));
        }
        self.queries_asked.lock().expect("queries asked").push("BatchQueryFiles");
        let answers =
            request.into_inner().queries.into_iter().map(|query| self.page(query)).collect::<Result<_, _>>()?;
        Ok(Response::new(BatchQueryFilesResponse { answers }))
    }

    async fn get_file(&self, request: Request<GetFileRequest>) -> Result<Response<GetFileResponse>, Status> {
        let name = request.into_inner().file_name;
        match self.archive.iter().find(|file| file.file_name == name) {
            Some(file) => Ok(Response::new(GetFileResponse { file: Some(file.clone()) })),
            None => Err(Status::not_found(format!("no file {name}"))),
        }
    }

    async fn list_quarantine(
        &self,
        _: Request<ListQuarantineRequest>,
    ) -> Result<Response<ListQuarantineResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn release_files(&self, _: Request<ReleaseFilesRequest>) -> Result<Response<ReleaseFilesResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

/// Serves `router` on a free local port until the runtime ends; returns its `http://` address.
pub async fn serve_on_free_port(router: tonic::transport::server::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
    let address = format!("http://{}", listener.local_addr().expect("local address"));
    let incoming = futures_util::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.and_then(|(stream, _)| stream.set_nodelay(true).map(|()| stream));
        Some((accepted, listener))
    });
    tokio::spawn(router.serve_with_incoming(incoming));
    address
}
