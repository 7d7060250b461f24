//! Calls between the roles of one node, made inside the process: no TLS, no HTTP/2, no socket.
//! A request still passes the internal listener's layers (trace, authorisation table, metrics,
//! load shedding, timeout; [`InternalLayers`]) on its way to the node's router, with the calling
//! role as the caller the table judges, so a role may call in-process exactly what it may call over
//! the network. Only this crate can name a caller this way ([`InProcessCaller`]).

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll};

use futures_util::FutureExt;
use proto::client_stack::BoxError;
use proto::clients::{ClientSettings, MeshChannel, stacked_channel};
use proto::error::ErrorCode;
use tonic::body::Body;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

use crate::authz::{Caller, InProcessCaller};
use crate::server::InternalLayers;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type ServerStack = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// The node's internal services as seen from inside the process. Roles get their transports
/// ([`InProcessServices::channel`]) when they are built; the services answer once the node has
/// registered them all ([`InProcessServices::serve`]), and until this value is dropped.
#[derive(Default)]
pub struct InProcessServices {
    stack: Arc<OnceLock<ServerStack>>,
}

impl InProcessServices {
    pub fn new() -> InProcessServices {
        InProcessServices::default()
    }

    /// Serves `router` (the one the internal listener serves) behind `layers` (clones of the
    /// listener's, so both share one load-shedding limit).
    pub fn serve(&self, layers: InternalLayers, router: axum::Router) {
        let stack = tower::ServiceBuilder::new().layer(layers.0).service(tonic::service::Routes::from(router));
        if self.stack.set(BoxCloneSyncService::new(stack)).is_err() {
            tracing::warn!("the in-process services were already being served; the second router is ignored");
        }
    }

    /// A channel over which `caller` calls this node's services, through the client stack
    /// (trace context, deadline, retries, concurrency limit) as any other. It holds the services
    /// weakly: the services hold the roles, whose clients hold such channels.
    pub fn channel(&self, caller: Caller, settings: &ClientSettings) -> MeshChannel {
        stacked_channel(InProcessTransport { stack: Arc::downgrade(&self.stack), caller }, settings)
    }
}

/// One caller's way into the node's services.
#[derive(Clone)]
struct InProcessTransport {
    stack: Weak<OnceLock<ServerStack>>,
    caller: Caller,
}

impl Service<http::Request<Body>> for InProcessTransport {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<Result<http::Response<Body>, BoxError>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let Some(stack) = self.stack.upgrade().and_then(|stack| stack.get().cloned()) else {
            // Before the node serves (retried like a peer that is starting) or after it stopped.
            let response = ErrorCode::Unavailable.status("this node's services are not being served").into_http();
            return Box::pin(async move { Ok(response) });
        };
        request.extensions_mut().insert(InProcessCaller(self.caller));
        let call = stack.oneshot(request);
        Box::pin(async move {
            // The handler runs in the caller's task here, not in a task of its own as behind a
            // listener: a panic in it must fail this call, not the calling role's loop.
            match AssertUnwindSafe(call).catch_unwind().await {
                Ok(answered) => answered.map_err(|never| match never {}),
                Err(_) => Ok(ErrorCode::Internal.status("the handler panicked").into_http()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::time::Duration;

    use proto::pb::indexer_service_server::{IndexerService, IndexerServiceServer};
    use proto::pb::*;
    use proto::retry::RetryPolicy;
    use tonic::{Request, Response, Status};

    use super::*;
    use crate::config::ServerConfig;

    /// An indexer that answers QueryFiles with one file, streams three events, and panics in GetFile.
    struct TinyIndexer;

    #[tonic::async_trait]
    impl IndexerService for TinyIndexer {
        type SubscribeEventsStream = tokio_stream::Iter<std::vec::IntoIter<Result<SubscribeEventsResponse, Status>>>;

        async fn index_file(&self, _: Request<IndexFileRequest>) -> Result<Response<IndexFileResponse>, Status> {
            Err(Status::unimplemented("tiny"))
        }
        async fn index_files(&self, _: Request<IndexFilesRequest>) -> Result<Response<IndexFilesResponse>, Status> {
            Err(Status::unimplemented("tiny"))
        }
        async fn subscribe_events(
            &self,
            request: Request<SubscribeEventsRequest>,
        ) -> Result<Response<Self::SubscribeEventsStream>, Status> {
            let after = request.into_inner().after_seq;
            let events = (after + 1..=after + 3)
                .map(|seq| Ok(SubscribeEventsResponse { event: Some(FileEvent { seq, ..Default::default() }) }))
                .collect::<Vec<_>>();
            Ok(Response::new(tokio_stream::iter(events)))
        }
        async fn query_files(&self, _: Request<QueryFilesRequest>) -> Result<Response<QueryFilesResponse>, Status> {
            let file = FileRecord { file_name: "imap_swapi_l0_raw_20240924_v001.pkts".into(), ..Default::default() };
            Ok(Response::new(QueryFilesResponse { files: vec![file], ..Default::default() }))
        }
        async fn batch_query_files(
            &self,
            _: Request<BatchQueryFilesRequest>,
        ) -> Result<Response<BatchQueryFilesResponse>, Status> {
            Err(Status::unimplemented("tiny"))
        }
        async fn get_file(&self, _: Request<GetFileRequest>) -> Result<Response<GetFileResponse>, Status> {
            panic!("a handler bug");
        }
        async fn list_quarantine(
            &self,
            _: Request<ListQuarantineRequest>,
        ) -> Result<Response<ListQuarantineResponse>, Status> {
            Err(Status::unimplemented("tiny"))
        }
        async fn release_files(
            &self,
            _: Request<ReleaseFilesRequest>,
        ) -> Result<Response<ReleaseFilesResponse>, Status> {
            Err(Status::unimplemented("tiny"))
        }
    }

    fn serving_router() -> InProcessServices {
        let router = InProcessServices::new();
        let routes = tonic::service::Routes::new(IndexerServiceServer::new(TinyIndexer));
        router.serve(InternalLayers::new(&ServerConfig::default()), routes.into_axum_router());
        router
    }

    fn indexer_as(
        router: &InProcessServices,
        caller: Caller,
        settings: &ClientSettings,
    ) -> proto::clients::IndexerClient {
        proto::clients::IndexerClient::new(router.channel(caller, settings))
    }

    #[tokio::test]
    async fn a_role_calls_in_process_as_itself_under_the_authorisation_table() {
        let router = serving_router();
        let settings = ClientSettings::default();

        let answer = indexer_as(&router, Caller::Depsvc, &settings).query_files(QueryFilesRequest::default()).await;
        assert_eq!(answer.unwrap().into_inner().files.len(), 1, "depsvc may query files");

        let refused = indexer_as(&router, Caller::Processor, &settings)
            .query_files(QueryFilesRequest::default())
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
        assert!(refused.message().contains("processor may not call"), "{}", refused.message());
    }

    #[tokio::test]
    async fn a_server_stream_flows_in_process() {
        let router = serving_router();
        let mut indexer = indexer_as(&router, Caller::Starter, &ClientSettings::default());
        let request = SubscribeEventsRequest { consumer: "test".into(), after_seq: 10 };
        let mut events = indexer.subscribe_events(request).await.unwrap().into_inner();
        let mut seqs = Vec::new();
        while let Some(response) = events.message().await.unwrap() {
            seqs.push(response.event.unwrap().seq);
        }
        assert_eq!(seqs, [11, 12, 13]);
    }

    #[tokio::test]
    async fn a_call_before_the_node_serves_is_unavailable_and_retried() {
        let router = InProcessServices::new();
        let once = ClientSettings {
            retry: RetryPolicy::attempts(NonZeroU32::MIN, Duration::from_millis(1), Duration::from_millis(1)),
            ..ClientSettings::default()
        };
        let early = indexer_as(&router, Caller::Depsvc, &once).query_files(QueryFilesRequest::default()).await;
        assert_eq!(early.unwrap_err().code(), tonic::Code::Unavailable);

        // A call in flight while the node comes up succeeds once its retry finds the services.
        let settings = ClientSettings {
            retry: RetryPolicy::attempts(
                NonZeroU32::new(20).unwrap(),
                Duration::from_millis(5),
                Duration::from_millis(20),
            ),
            ..ClientSettings::default()
        };
        let mut indexer = indexer_as(&router, Caller::Depsvc, &settings);
        let call = tokio::spawn(async move { indexer.query_files(QueryFilesRequest::default()).await });
        let routes = tonic::service::Routes::new(IndexerServiceServer::new(TinyIndexer));
        router.serve(InternalLayers::new(&ServerConfig::default()), routes.into_axum_router());
        assert_eq!(call.await.unwrap().unwrap().into_inner().files.len(), 1);
    }

    #[tokio::test]
    async fn a_handler_that_panics_fails_the_call_not_the_caller() {
        let services = serving_router();
        let mut indexer = indexer_as(&services, Caller::Processor, &ClientSettings::default());
        let failed = indexer.get_file(GetFileRequest::default()).await.unwrap_err();
        assert_eq!(failed.code(), tonic::Code::Internal, "{failed:?}");
        let after = indexer_as(&services, Caller::Depsvc, &ClientSettings::default())
            .query_files(QueryFilesRequest::default())
            .await;
        assert!(after.is_ok(), "the services answer on: {after:?}");
    }

    #[tokio::test]
    async fn once_the_node_drops_its_services_calls_are_unavailable() {
        let services = serving_router();
        let once = ClientSettings {
            retry: RetryPolicy::attempts(NonZeroU32::MIN, Duration::from_millis(1), Duration::from_millis(1)),
            ..ClientSettings::default()
        };
        let mut indexer = indexer_as(&services, Caller::Depsvc, &once);
        drop(services);
        let late = indexer.query_files(QueryFilesRequest::default()).await.unwrap_err();
        assert_eq!(late.code(), tonic::Code::Unavailable, "{late:?}");
    }
}
