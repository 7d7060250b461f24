//! The outbound client stack against small in-process servers: a unary call rides out a peer that
//! fails twice with UNAVAILABLE, a permanent refusal is not sent again, a hung peer trips the
//! deadline with DEADLINE_EXCEEDED, a streaming call outlives the deadline, and a peer given as
//! several replicas is called at the one that answers (a replica gone, a standby refusing).
//! Waits are on conditions; the one deadline that must pass is the thing under test.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use proto::clients::{ClientSettings, DependencyClient, IndexerClient, mesh_channel};
use proto::pb::dependency_service_server::{DependencyService, DependencyServiceServer};
use proto::pb::indexer_service_server::{IndexerService, IndexerServiceServer};
use proto::pb::*;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

/// How a scripted depsvc answers `GetGraph`.
#[derive(Clone, Copy)]
enum Script {
    /// UNAVAILABLE on the first two calls, then an answer.
    FailTwiceThenAnswer,
    /// INVALID_ARGUMENT, always.
    Refuse,
    /// Never answers.
    Hang,
    /// Answers, always.
    Answer,
    /// UNAVAILABLE, always (a standby refusing what only the leader does).
    Unavailable,
}

struct ScriptedDepsvc {
    script: Script,
    calls: Arc<AtomicU32>,
}

#[tonic::async_trait]
impl DependencyService for ScriptedDepsvc {
    async fn downstream(&self, _: Request<DownstreamRequest>) -> Result<Response<DownstreamResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn resolve(&self, _: Request<ResolveRequest>) -> Result<Response<ResolveResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn get_graph(&self, _: Request<GetGraphRequest>) -> Result<Response<GetGraphResponse>, Status> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        match self.script {
            Script::FailTwiceThenAnswer if call < 2 => Err(Status::unavailable("restarting")),
            Script::FailTwiceThenAnswer => {
                Ok(Response::new(GetGraphResponse { dot: "answered".into(), ..Default::default() }))
            }
            Script::Refuse => Err(Status::invalid_argument("no such graph")),
            Script::Hang => std::future::pending().await,
            Script::Answer => Ok(Response::new(GetGraphResponse { dot: "answered".into(), ..Default::default() })),
            Script::Unavailable => Err(Status::unavailable("standing by")),
        }
    }
}

type EventStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<SubscribeEventsResponse, Status>> + Send>>;

/// An indexer whose event stream sends one event at once and a second when `second` is notified.
struct StreamingIndexer {
    second: Arc<Notify>,
}

#[tonic::async_trait]
impl IndexerService for StreamingIndexer {
    type SubscribeEventsStream = EventStream;

    async fn subscribe_events(
        &self,
        _: Request<SubscribeEventsRequest>,
    ) -> Result<Response<Self::SubscribeEventsStream>, Status> {
        let second = self.second.clone();
        let event = |seq| Ok(SubscribeEventsResponse { event: Some(FileEvent { seq, ..Default::default() }) });
        let stream = async_stream_of(vec![event(1)], second, event(2));
        Ok(Response::new(stream))
    }

    async fn index_file(&self, _: Request<IndexFileRequest>) -> Result<Response<IndexFileResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn index_files(&self, _: Request<IndexFilesRequest>) -> Result<Response<IndexFilesResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn query_files(&self, _: Request<QueryFilesRequest>) -> Result<Response<QueryFilesResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn batch_query_files(
        &self,
        _: Request<BatchQueryFilesRequest>,
    ) -> Result<Response<BatchQueryFilesResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn get_file(&self, _: Request<GetFileRequest>) -> Result<Response<GetFileResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn list_quarantine(
        &self,
        _: Request<ListQuarantineRequest>,
    ) -> Result<Response<ListQuarantineResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn release_files(&self, _: Request<ReleaseFilesRequest>) -> Result<Response<ReleaseFilesResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }
}

/// `first`, then `last` once `gate` is notified, then the stream stays open.
fn async_stream_of<T: Send + 'static>(
    first: Vec<T>,
    gate: Arc<Notify>,
    last: T,
) -> Pin<Box<dyn tokio_stream::Stream<Item = T> + Send>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        for item in first {
            let _ = sender.send(item).await;
        }
        gate.notified().await;
        let _ = sender.send(last).await;
        // Held open: the stream ends only when the client goes away.
        sender.closed().await;
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))
}

/// Serves the routes on a free local port; returns the address.
async fn serve(router: tonic::transport::server::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(router.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)));
    address
}

fn settings(deadline: Duration) -> ClientSettings {
    let mut settings = ClientSettings { deadline, ..ClientSettings::default() };
    settings.retry.first_delay = Duration::from_millis(5);
    settings
}

async fn depsvc(script: Script, settings: &ClientSettings) -> (DependencyClient, Arc<AtomicU32>) {
    let (address, calls) = scripted_depsvc(script).await;
    (DependencyClient::new(mesh_channel(&address, settings).unwrap()), calls)
}

/// A scripted depsvc's address and its call count.
async fn scripted_depsvc(script: Script) -> (String, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let service = DependencyServiceServer::new(ScriptedDepsvc { script, calls: calls.clone() });
    (serve(tonic::transport::Server::builder().add_service(service)).await, calls)
}

/// An address where nothing listens (a replica that is gone): a port bound, then let go.
fn nothing_listening() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

#[tokio::test]
async fn a_unary_call_rides_out_two_unavailable_answers() {
    let (mut client, calls) = depsvc(Script::FailTwiceThenAnswer, &settings(Duration::from_secs(30))).await;
    let graph = client.get_graph(GetGraphRequest {}).await.expect("answered on the third attempt").into_inner();
    assert_eq!(graph.dot, "answered");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_permanent_refusal_is_not_sent_again() {
    let (mut client, calls) = depsvc(Script::Refuse, &settings(Duration::from_secs(30))).await;
    let status = client.get_graph(GetGraphRequest {}).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(status.message(), "no such graph", "the callee's message reaches the caller");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_hung_peer_trips_the_deadline() {
    let (mut client, calls) = depsvc(Script::Hang, &settings(Duration::from_millis(300))).await;
    let status = client.get_graph(GetGraphRequest {}).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a call that ran out of time is not sent again");
}

#[tokio::test]
async fn a_streaming_call_outlives_the_deadline() {
    let deadline = Duration::from_millis(300);
    let second = Arc::new(Notify::new());
    let calls = Arc::new(AtomicU32::new(0));
    let router = tonic::transport::Server::builder()
        .add_service(IndexerServiceServer::new(StreamingIndexer { second: second.clone() }))
        .add_service(DependencyServiceServer::new(ScriptedDepsvc { script: Script::Hang, calls }));
    let address = serve(router).await;
    let channel = mesh_channel(&address, &settings(deadline)).unwrap();
    let mut indexer = IndexerClient::new(channel.clone());
    let mut events = indexer.subscribe_events(SubscribeEventsRequest::default()).await.unwrap().into_inner();
    assert_eq!(events.message().await.unwrap().unwrap().event.unwrap().seq, 1);

    // A unary call on the same channel running out of time proves the deadline has passed.
    let mut depsvc = DependencyClient::new(channel);
    let expired = depsvc.get_graph(GetGraphRequest {}).await.unwrap_err();
    assert_eq!(expired.code(), tonic::Code::DeadlineExceeded);

    second.notify_one();
    let later = events.message().await.expect("the stream is still open").expect("a second event");
    assert_eq!(later.event.unwrap().seq, 2);
}

#[tokio::test]
async fn a_peer_of_several_replicas_is_called_at_the_one_that_answers() {
    let (standby, standby_calls) = scripted_depsvc(Script::Unavailable).await;
    let (leader, leader_calls) = scripted_depsvc(Script::Answer).await;
    // Three attempts: the replica that is gone, the standby, the leader.
    let peer = format!("{}, {standby},{leader}", nothing_listening());
    let mut client = DependencyClient::new(mesh_channel(&peer, &settings(Duration::from_secs(30))).unwrap());
    let graph = client.get_graph(GetGraphRequest {}).await.expect("the leader answers").into_inner();
    assert_eq!(graph.dot, "answered");
    assert_eq!((standby_calls.load(Ordering::SeqCst), leader_calls.load(Ordering::SeqCst)), (1, 1));

    // Later calls, from clones too, go straight to the replica that answered.
    for _ in 0..3 {
        client.clone().get_graph(GetGraphRequest {}).await.unwrap();
    }
    assert_eq!((standby_calls.load(Ordering::SeqCst), leader_calls.load(Ordering::SeqCst)), (1, 4));
}

#[tokio::test]
async fn a_stream_reopened_after_a_failure_reaches_the_next_replica() {
    let router = tonic::transport::Server::builder()
        .add_service(IndexerServiceServer::new(StreamingIndexer { second: Arc::new(Notify::new()) }));
    let live = serve(router).await;
    let peer = format!("{},{live}", nothing_listening());
    let mut indexer = IndexerClient::new(mesh_channel(&peer, &settings(Duration::from_secs(30))).unwrap());
    let refused = indexer.subscribe_events(SubscribeEventsRequest::default()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "a stream is not resent by the stack: {refused:?}");
    let mut events = indexer.subscribe_events(SubscribeEventsRequest::default()).await.unwrap().into_inner();
    assert_eq!(events.message().await.unwrap().unwrap().event.unwrap().seq, 1);
}

#[test]
fn a_peer_address_lists_its_replicas() {
    let replicas = |address| proto::clients::replica_addresses(address).collect::<Vec<_>>();
    assert_eq!(replicas("https://a:1"), ["https://a:1"]);
    assert_eq!(replicas("https://a:1, https://b:1,"), ["https://a:1", "https://b:1"]);
    assert_eq!(replicas(" , "), [" , "], "an empty list stays whole, to be refused as written");
    assert!(mesh_channel(" , ", &ClientSettings::default()).is_err());
}

#[test]
fn streaming_rpcs_come_from_the_descriptor_set() {
    let streaming: std::collections::BTreeSet<&str> =
        proto::client_stack::STREAMING_PATHS.iter().map(String::as_str).collect();
    assert_eq!(
        streaming,
        ["/imap.sdc.v1.IndexerService/SubscribeEvents", "/imap.sdc.v1.StarterService/Work"].into_iter().collect()
    );
}
