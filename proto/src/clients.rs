//! Callers get clients, not addresses: each client carries trace context on every call, and
//! connects lazily so roles can be built before their peers are listening.

use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use super::pb;
use super::trace::TraceInterceptor;

pub type TracedChannel = InterceptedService<Channel, TraceInterceptor>;
pub type IndexerClient = pb::indexer_service_client::IndexerServiceClient<TracedChannel>;
pub type DependencyClient = pb::dependency_service_client::DependencyServiceClient<TracedChannel>;
pub type StarterClient = pb::starter_service_client::StarterServiceClient<TracedChannel>;
pub type ProcessorClient = pb::processor_service_client::ProcessorServiceClient<TracedChannel>;
pub type GatewayClient = pb::gateway_service_client::GatewayServiceClient<TracedChannel>;

#[derive(Debug, thiserror::Error)]
#[error("invalid peer address {address:?}: {source}")]
pub struct AddressError {
    pub address: String,
    #[source]
    pub source: tonic::transport::Error,
}

/// A channel to `address` (`http://host:port`) that connects on first use.
pub fn lazy_channel(address: &str) -> Result<TracedChannel, AddressError> {
    let endpoint = Endpoint::from_shared(address.to_string())
        .map_err(|source| AddressError { address: address.to_string(), source })?
        .connect_timeout(std::time::Duration::from_secs(10))
        .tcp_nodelay(true);
    Ok(InterceptedService::new(endpoint.connect_lazy(), TraceInterceptor))
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

/// Where each role can be reached.
#[derive(Debug, Clone)]
pub struct PeerAddresses {
    pub indexer: String,
    pub depsvc: String,
    pub starter: String,
    pub processor: String,
    pub gateway: String,
}

impl MeshClients {
    pub fn connect_lazy(peers: &PeerAddresses) -> Result<MeshClients, AddressError> {
        // Messages such as a month of resolved inputs can exceed tonic's 4 MiB default.
        const MAX_MESSAGE: usize = 64 * 1024 * 1024;
        Ok(MeshClients {
            indexer: IndexerClient::new(lazy_channel(&peers.indexer)?).max_decoding_message_size(MAX_MESSAGE),
            depsvc: DependencyClient::new(lazy_channel(&peers.depsvc)?).max_decoding_message_size(MAX_MESSAGE),
            starter: StarterClient::new(lazy_channel(&peers.starter)?).max_decoding_message_size(MAX_MESSAGE),
            processor: ProcessorClient::new(lazy_channel(&peers.processor)?),
            gateway: GatewayClient::new(lazy_channel(&peers.gateway)?),
        })
    }
}
