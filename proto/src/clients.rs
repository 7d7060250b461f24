//! Callers get clients, not addresses. Each client is the generated one over the mesh's client
//! stack ([`crate::client_stack`]: trace context, deadline, retry of unary calls, concurrency
//! limit) with message size limits, and connects lazily so roles can be built before their peers
//! are listening. A peer's address may list several replicas, comma-separated
//! (`https://indexer-1:8481,https://indexer-2:8481`): calls go to the one that answers
//! ([`crate::client_stack::Failover`]).

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use tonic::body::Body;
use tonic::transport::{ClientTlsConfig, Endpoint};
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

use super::client_stack::{BoxError, DeadlineLayer, Failover, TraceContextLayer, UnaryRetryLayer};
use super::pb;
use super::retry::RetryPolicy;

/// The largest message any role sends or accepts unless configured otherwise. tonic's 4 MiB
/// default is too small for a month of resolved inputs.
pub const DEFAULT_MAX_MESSAGE_BYTES: NonZeroUsize = NonZeroUsize::new(64 * 1024 * 1024).expect("not zero");

/// A channel through the mesh's client stack; cheap to clone, shareable between tasks. Its error
/// is a concrete `Status` (a boxed error there would keep futures that call it from being `Send`
/// where rustc must prove it for every lifetime, as `tokio::spawn` asks).
pub type MeshChannel = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, tonic::Status>;
pub type IndexerClient = pb::indexer_service_client::IndexerServiceClient<MeshChannel>;
pub type DependencyClient = pb::dependency_service_client::DependencyServiceClient<MeshChannel>;
pub type StarterClient = pb::starter_service_client::StarterServiceClient<MeshChannel>;
pub type ProcessorClient = pb::processor_service_client::ProcessorServiceClient<MeshChannel>;
pub type GatewayClient = pb::gateway_service_client::GatewayServiceClient<MeshChannel>;

/// How outbound calls behave (`[mesh.client]` in the node's config).
#[derive(Debug, Clone, Copy)]
pub struct ClientSettings {
    /// How long establishing a connection may take.
    pub connect_timeout: Duration,
    /// How long a unary call may take, retries included; streaming calls have none.
    pub deadline: Duration,
    /// How often a unary call that failed transiently is sent again, and how far apart.
    pub retry: RetryPolicy,
    /// Calls one client has in flight at once; more wait their turn.
    pub concurrency_limit: NonZeroUsize,
    /// Largest message sent or received.
    pub max_message_bytes: NonZeroUsize,
    /// How often a connection to a peer is pinged, idle or not, and how long an answer may take:
    /// a peer cut off mid-call (a partition) is taken for gone instead of holding calls and
    /// streams until TCP gives up.
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            connect_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(60),
            retry: RetryPolicy::attempts(
                NonZeroU32::new(3).expect("not zero"),
                Duration::from_millis(50),
                Duration::from_secs(1),
            ),
            concurrency_limit: NonZeroUsize::new(64).expect("not zero"),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(20),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid peer address {address:?}: {source}")]
pub struct AddressError {
    pub address: String,
    #[source]
    pub source: tonic::transport::Error,
}

/// A channel to `address` (`http://host:port`, or several such URLs of one role's replicas,
/// comma-separated) through the client stack, connecting on first use.
pub fn mesh_channel(address: &str, settings: &ClientSettings) -> Result<MeshChannel, AddressError> {
    mesh_channel_with_tls(address, settings, None)
}

/// A channel like [`mesh_channel`] that, to an `https://` address, speaks TLS with `tls` (the
/// mesh CA and the caller's certificate). An `http://` address stays plain.
pub fn mesh_channel_with_tls(
    address: &str,
    settings: &ClientSettings,
    tls: Option<&ClientTlsConfig>,
) -> Result<MeshChannel, AddressError> {
    let replicas =
        replica_addresses(address).map(|replica| replica_channel(replica, settings, tls)).collect::<Result<_, _>>()?;
    Ok(stacked_channel(Failover::new(replicas), settings))
}

/// The client stack over `transport`: the channels to a peer's replicas, or a role served in this
/// same process (see `mesh_runtime::local`), so a call behaves alike (trace context, deadline,
/// retries, concurrency limit) whichever way it travels.
pub fn stacked_channel<S>(transport: S, settings: &ClientSettings) -> MeshChannel
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = BoxError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let stack = ServiceBuilder::new()
        .map_err(|error: BoxError| tonic::Status::from_error(error))
        .layer(TraceContextLayer)
        .layer(DeadlineLayer::new(settings.deadline))
        .layer(UnaryRetryLayer::new(settings.retry))
        .concurrency_limit(settings.concurrency_limit.get())
        .service(transport);
    BoxCloneSyncService::new(stack)
}

/// The URLs of a peer's address: one, or several comma-separated (an empty list is kept whole, to
/// be refused as the address it is).
pub fn replica_addresses(address: &str) -> impl Iterator<Item = &str> {
    let mut replicas = address.split(',').map(str::trim).filter(|replica| !replica.is_empty()).peekable();
    let whole = replicas.peek().is_none().then_some(address);
    replicas.chain(whole)
}

/// The lazily connecting channel to one replica.
fn replica_channel(
    address: &str,
    settings: &ClientSettings,
    tls: Option<&ClientTlsConfig>,
) -> Result<tonic::transport::Channel, AddressError> {
    let invalid = |source| AddressError { address: address.to_string(), source };
    let mut endpoint = Endpoint::from_shared(address.to_string())
        .map_err(invalid)?
        .connect_timeout(settings.connect_timeout)
        .http2_keep_alive_interval(settings.keepalive_interval)
        .keep_alive_timeout(settings.keepalive_timeout)
        .keep_alive_while_idle(true)
        .tcp_nodelay(true);
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls.clone()).map_err(invalid)?;
    }
    Ok(endpoint.connect_lazy())
}

/// A channel with the default client settings (operator tools and tests).
pub fn lazy_channel(address: &str) -> Result<MeshChannel, AddressError> {
    mesh_channel(address, &ClientSettings::default())
}

/// Gives each generated client the configured message size limits.
macro_rules! limited_client {
    ($client:ident, $channel:expr, $settings:expr) => {
        $client::new($channel)
            .max_decoding_message_size($settings.max_message_bytes.get())
            .max_encoding_message_size($settings.max_message_bytes.get())
    };
}

/// The clients of all five services, each pointing at whoever runs that role.
#[derive(Debug, Clone)]
pub struct MeshClients {
    pub indexer: IndexerClient,
    pub depsvc: DependencyClient,
    pub starter: StarterClient,
    pub processor: ProcessorClient,
    pub gateway: GatewayClient,
}

/// Where each role can be reached: a URL, or the URLs of its replicas, comma-separated.
#[derive(Debug, Clone)]
pub struct PeerAddresses {
    pub indexer: String,
    pub depsvc: String,
    pub starter: String,
    pub processor: String,
    pub gateway: String,
}

impl PeerAddresses {
    /// Every role at one address (a node running them all, or one server of test fakes).
    pub fn all_at(address: &str) -> PeerAddresses {
        PeerAddresses {
            indexer: address.to_string(),
            depsvc: address.to_string(),
            starter: address.to_string(),
            processor: address.to_string(),
            gateway: address.to_string(),
        }
    }
}

impl MeshClients {
    pub fn connect_lazy(peers: &PeerAddresses, settings: &ClientSettings) -> Result<MeshClients, AddressError> {
        MeshClients::connect_lazy_with_tls(peers, settings, None)
    }

    /// Clients whose `https://` peers are called over TLS with `tls` (see [`mesh_channel_with_tls`]).
    pub fn connect_lazy_with_tls(
        peers: &PeerAddresses,
        settings: &ClientSettings,
        tls: Option<&ClientTlsConfig>,
    ) -> Result<MeshClients, AddressError> {
        MeshClients::connect(peers, &LocalPeers::default(), settings, tls)
    }

    /// Clients that call the peers in `local` (roles served in this process) without a network
    /// hop, and the others at their addresses as [`MeshClients::connect_lazy_with_tls`] does.
    pub fn connect(
        peers: &PeerAddresses,
        local: &LocalPeers,
        settings: &ClientSettings,
        tls: Option<&ClientTlsConfig>,
    ) -> Result<MeshClients, AddressError> {
        let channel = |local: &Option<MeshChannel>, address: &str| match local {
            Some(channel) => Ok(channel.clone()),
            None => mesh_channel_with_tls(address, settings, tls),
        };
        Ok(MeshClients {
            indexer: limited_client!(IndexerClient, channel(&local.indexer, &peers.indexer)?, settings),
            depsvc: limited_client!(DependencyClient, channel(&local.depsvc, &peers.depsvc)?, settings),
            starter: limited_client!(StarterClient, channel(&local.starter, &peers.starter)?, settings),
            processor: limited_client!(ProcessorClient, channel(&local.processor, &peers.processor)?, settings),
            gateway: limited_client!(GatewayClient, channel(&local.gateway, &peers.gateway)?, settings),
        })
    }
}

/// The channels of the peers served in the caller's own process; `None` for a peer reached over
/// the network.
#[derive(Clone, Default)]
pub struct LocalPeers {
    pub indexer: Option<MeshChannel>,
    pub depsvc: Option<MeshChannel>,
    pub starter: Option<MeshChannel>,
    pub processor: Option<MeshChannel>,
    pub gateway: Option<MeshChannel>,
}

/// What [`matching_files`] found.
#[derive(Debug, Clone, Default)]
pub struct MatchingFiles {
    /// In the indexer's order (file name, or newest first when asked), at most `at_most`.
    pub files: Vec<pb::FileRecord>,
    /// More files match than were gathered.
    pub more: bool,
}

/// The files matching `request`, gathered page by page through `next_page_token` (the indexer
/// answers at most its page maximum per call, whatever `limit` asks for), stopping once `at_most`
/// are gathered. Callers that need every match pass `usize::MAX`; the REST edge passes its cap.
pub async fn matching_files(
    indexer: &IndexerClient,
    mut request: pb::QueryFilesRequest,
    at_most: usize,
) -> Result<MatchingFiles, tonic::Status> {
    let mut found = MatchingFiles::default();
    loop {
        let page = indexer.clone().query_files(request.clone()).await?.into_inner();
        let room = at_most - found.files.len();
        found.more = page.files.len() > room;
        found.files.extend(page.files.into_iter().take(room));
        if page.next_page_token.is_empty() {
            return Ok(found);
        }
        if found.files.len() >= at_most {
            found.more = true;
            return Ok(found);
        }
        request.page_token = page.next_page_token;
    }
}
