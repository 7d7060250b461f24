//! Who may call what on the internal listener. The caller is the name in its client certificate
//! (verified against the mesh CA by the TLS handshake, see [`crate::tls`]); [`RULES`] lists, for
//! every RPC of the mesh services, the callers that make that call in the code (plus `operator`
//! for people and tools where that makes sense). Anything not in the table is refused.
//!
//! Health answers anyone (probes carry no certificate); reflection answers any certificate holder.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use proto::error::ErrorCode;
use proto::pb::{
    dependency_service_server, gateway_service_server, indexer_service_server, processor_service_server,
    starter_service_server,
};
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tower::{Layer, Service};

/// Whoever holds a mesh certificate: a role, or an operator (people and their tools).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    Indexer,
    Depsvc,
    Starter,
    Processor,
    Gateway,
    Operator,
}

impl Caller {
    pub const ALL: [Caller; 6] =
        [Caller::Indexer, Caller::Depsvc, Caller::Starter, Caller::Processor, Caller::Gateway, Caller::Operator];

    pub fn name(self) -> &'static str {
        match self {
            Caller::Indexer => "indexer",
            Caller::Depsvc => "depsvc",
            Caller::Starter => "starter",
            Caller::Processor => "processor",
            Caller::Gateway => "gateway",
            Caller::Operator => "operator",
        }
    }
}

impl std::fmt::Display for Caller {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.name())
    }
}

impl std::str::FromStr for Caller {
    type Err = String;
    fn from_str(text: &str) -> Result<Caller, String> {
        Caller::ALL.into_iter().find(|caller| caller.name() == text).ok_or_else(|| {
            let names: Vec<&str> = Caller::ALL.iter().map(|caller| caller.name()).collect();
            format!("unknown caller {text:?}: expected one of {}", names.join(", "))
        })
    }
}

/// Callers allowed one RPC.
#[derive(Debug)]
pub struct Rule {
    /// The full service name, e.g. `imap.sdc.v1.IndexerService`.
    pub service: &'static str,
    pub method: &'static str,
    pub callers: &'static [Caller],
}

use Caller::{Depsvc, Gateway, Operator, Processor, Starter};

const INDEXER: &str = indexer_service_server::SERVICE_NAME;
const DEPSVC: &str = dependency_service_server::SERVICE_NAME;
const STARTER: &str = starter_service_server::SERVICE_NAME;
const PROCESSOR: &str = processor_service_server::SERVICE_NAME;

/// The authorisation table (ARCHITECTURE.md shows it as a table). Each caller is there because
/// the code makes that call: the processor indexes its outputs and reads its inputs' records;
/// the gateway uploads, serves and releases files and shows the status page; the starter follows
/// the event log and asks depsvc; depsvc resolves inputs against the index.
pub const RULES: &[Rule] = &[
    Rule { service: INDEXER, method: "IndexFile", callers: &[Processor, Gateway, Operator] },
    Rule { service: INDEXER, method: "IndexFiles", callers: &[Processor, Gateway, Operator] },
    Rule { service: INDEXER, method: "SubscribeEvents", callers: &[Starter, Operator] },
    Rule { service: INDEXER, method: "QueryFiles", callers: &[Depsvc, Starter, Gateway, Operator] },
    Rule { service: INDEXER, method: "BatchQueryFiles", callers: &[Depsvc, Operator] },
    Rule { service: INDEXER, method: "GetFile", callers: &[Processor, Gateway, Operator] },
    Rule { service: INDEXER, method: "ListQuarantine", callers: &[Gateway, Operator] },
    Rule { service: INDEXER, method: "ReleaseFiles", callers: &[Gateway, Operator] },
    Rule { service: DEPSVC, method: "Downstream", callers: &[Starter, Operator] },
    Rule { service: DEPSVC, method: "Resolve", callers: &[Starter, Operator] },
    Rule { service: DEPSVC, method: "GetGraph", callers: &[Starter, Gateway, Operator] },
    // Work carries the heartbeats and the draining notice too.
    Rule { service: STARTER, method: "Work", callers: &[Processor] },
    Rule { service: STARTER, method: "CompleteJob", callers: &[Processor] },
    // The gateway sends its caller's operator key; operators with a certificate name themselves.
    Rule { service: STARTER, method: "FailJob", callers: &[Gateway, Operator] },
    Rule { service: STARTER, method: "ListJobs", callers: &[Gateway, Operator] },
    Rule { service: STARTER, method: "GetJob", callers: &[Gateway, Operator] },
    Rule { service: STARTER, method: "StartReprocessing", callers: &[Gateway, Operator] },
    Rule { service: STARTER, method: "GetQueues", callers: &[Gateway, Operator] },
    Rule { service: STARTER, method: "GetCampaign", callers: &[Gateway, Operator] },
    Rule { service: STARTER, method: "ListDeadEvaluations", callers: &[Gateway, Operator] },
    Rule { service: PROCESSOR, method: "GetStatus", callers: &[Gateway, Operator] },
    Rule { service: PROCESSOR, method: "CancelJob", callers: &[Operator] },
];

/// Services that are public (served on the public listener, with their own authentication)
/// and so have no rows here.
pub const PUBLIC_SERVICES: &[&str] = &[gateway_service_server::SERVICE_NAME];

/// Why a request is refused, or `None` when it may go on.
pub fn refusal(path: &str, caller: Option<Caller>) -> Option<(ErrorCode, String)> {
    if path.starts_with("/grpc.health.") {
        return None;
    }
    let Some(caller) = caller else {
        return Some((
            ErrorCode::Unauthenticated,
            "the internal listener needs a client certificate signed by the mesh CA naming a caller \
             (URI imap-sdc:role/<name>); see `imap-sdc certs init`"
                .into(),
        ));
    };
    if path.starts_with("/grpc.reflection.") {
        return None;
    }
    let (service, method) = path.trim_start_matches('/').split_once('/').unwrap_or((path, ""));
    match RULES.iter().find(|rule| rule.service == service && rule.method == method) {
        Some(rule) if rule.callers.contains(&caller) => None,
        Some(rule) => {
            let allowed: Vec<&str> = rule.callers.iter().map(|caller| caller.name()).collect();
            Some((
                ErrorCode::PermissionDenied,
                format!("{caller} may not call {service}/{method} (allowed: {})", allowed.join(", ")),
            ))
        }
        None => Some((ErrorCode::PermissionDenied, format!("{path} is not served to mesh callers"))),
    }
}

/// The role that made a call inside this process ([`crate::local`]). Only this crate can make
/// one, and extensions never cross the network, so no remote caller can claim to be it.
#[derive(Debug, Clone, Copy)]
pub struct InProcessCaller(pub(crate) Caller);

/// The caller of a request: the role that made it in this process, or the name in the client
/// certificate of the connection it came on.
pub fn caller_of_request<B>(request: &http::Request<B>) -> Option<Caller> {
    if let Some(InProcessCaller(caller)) = request.extensions().get::<InProcessCaller>() {
        return Some(*caller);
    }
    let certificates = request.extensions().get::<TlsConnectInfo<TcpConnectInfo>>()?.peer_certs()?;
    crate::tls::caller_of(certificates.first()?)
}

/// Refuses, before any handler runs, every request [`refusal`] refuses.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthorizeLayer;

impl<S> Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;
    fn layer(&self, inner: S) -> Authorize<S> {
        Authorize { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Authorize<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<http::Request<B>> for Authorize<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<http::Response<Body>, S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let caller = caller_of_request(&request);
        if let Some((code, message)) = refusal(request.uri().path(), caller) {
            tracing::warn!(path = request.uri().path(), caller = ?caller, %message, "internal call refused");
            let response = code.status(&message).into_http();
            return Box::pin(async move { Ok(response) });
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;

    use super::*;

    #[test]
    fn every_rpc_of_every_internal_service_has_exactly_one_rule() {
        let descriptors = prost_types::FileDescriptorSet::decode(proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut rpcs = BTreeSet::new();
        for file in &descriptors.file {
            for service in &file.service {
                let service_name = format!("{}.{}", file.package(), service.name());
                if PUBLIC_SERVICES.contains(&service_name.as_str()) {
                    continue;
                }
                for method in &service.method {
                    rpcs.insert((service_name.clone(), method.name().to_string()));
                }
            }
        }
        let ruled: Vec<(String, String)> =
            RULES.iter().map(|rule| (rule.service.to_string(), rule.method.to_string())).collect();
        assert_eq!(ruled.len(), rpcs.len(), "one rule per RPC");
        assert_eq!(ruled.into_iter().collect::<BTreeSet<_>>(), rpcs);
    }

    #[test]
    fn refusals_say_who_may_call() {
        assert_eq!(refusal("/grpc.health.v1.Health/Check", None), None);
        let (code, message) = refusal("/imap.sdc.v1.IndexerService/QueryFiles", None).unwrap();
        assert_eq!(code, ErrorCode::Unauthenticated);
        assert!(message.contains("certs init"), "{message}");
        let (code, message) = refusal("/imap.sdc.v1.IndexerService/ReleaseFiles", Some(Processor)).unwrap();
        assert_eq!(code, ErrorCode::PermissionDenied);
        assert!(message.contains("processor may not call") && message.contains("gateway, operator"), "{message}");
        assert_eq!(refusal("/imap.sdc.v1.IndexerService/ReleaseFiles", Some(Gateway)), None);
        assert_eq!(refusal("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Some(Operator)), None);
        assert!(refusal("/imap.sdc.v1.GatewayService/CreateApiKey", Some(Operator)).is_some());
    }
}
