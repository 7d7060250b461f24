//! The two edges of a laptop node (`--roles all`): the mesh services are not on the public
//! listener at all; on the internal one every RPC needs a mesh certificate, and each caller gets
//! exactly the RPCs the authorisation table (`mesh_runtime::authz::RULES`) gives it.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use imap_sdc::config::Config;
use mesh_runtime::ShutdownSignal;
use mesh_runtime::authz::{Caller, RULES};
use proto::clients::{ClientSettings, MeshChannel};
use support::TempDir;
use tonic::Code;

/// A laptop node running in this process, stopped on drop.
struct LaptopNode {
    public_url: String,
    internal_url: String,
    cert_dir: PathBuf,
    _stop: ShutdownSignal,
    _home: TempDir,
}

async fn laptop_node(label: &str) -> LaptopNode {
    let home = TempDir::new(label);
    let config = Config { data_dir: home.path().join("data"), ..Default::default() };
    let cert_dir = imap_sdc::node::prepare_certificates(&config).unwrap();
    let (listeners, public_url, internal_url) = support::bind_listeners().await;
    let (stop, shutdown) = ShutdownSignal::new();
    tokio::spawn(async move { imap_sdc::node::run(config, listeners, async move { shutdown.wait().await }).await });
    LaptopNode { public_url, internal_url, cert_dir, _stop: stop, _home: home }
}

/// Calls `/service/method` with an empty message (a stream of one for streaming RPCs) and returns
/// the status code it ends with, `Ok` for an answer. A streaming call that is admitted and stays
/// open counts as `Ok`: refusals come at once.
async fn call(channel: MeshChannel, service: &str, method: &str) -> Code {
    let path: tonic::codegen::http::uri::PathAndQuery = format!("/{service}/{method}").parse().unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    if let Err(status) = grpc.ready().await {
        return status.code();
    }
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let outcome = if proto::client_stack::is_streaming(path.path()) {
        let messages = tokio_stream::iter(vec![()]);
        let started = grpc.streaming(tonic::Request::new(messages), path, codec);
        match tokio::time::timeout(Duration::from_secs(5), started).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Ok(()),
        }
    } else {
        grpc.unary(tonic::Request::new(()), path, codec).await.map(|_| ())
    };
    match outcome {
        Ok(()) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// A TLS channel to the internal listener that trusts the mesh CA but presents no certificate.
fn channel_without_certificate(node: &LaptopNode) -> MeshChannel {
    let ca = std::fs::read_to_string(node.cert_dir.join("ca.pem")).unwrap();
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(ca))
        .domain_name(mesh_runtime::tls::MESH_SERVER_NAME);
    proto::clients::mesh_channel_with_tls(&node.internal_url, &ClientSettings::default(), Some(&tls)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_listener_serves_no_mesh_service_with_or_without_a_certificate() {
    let node = laptop_node("edges-public").await;
    let plain = proto::clients::lazy_channel(&node.public_url).unwrap();
    for rule in RULES {
        let code = call(plain.clone(), rule.service, rule.method).await;
        assert_eq!(code, Code::Unimplemented, "{}/{} on the public listener", rule.service, rule.method);
    }
    // The operator's certificate changes nothing there: the public listener speaks no TLS.
    let operator_to_public = support::operator_channel(&node.cert_dir, &node.public_url.replace("http://", "https://"));
    let code = call(operator_to_public, "imap.sdc.v1.IndexerService", "QueryFiles").await;
    assert_ne!(code, Code::Ok, "the public listener answered a mesh RPC over TLS");
    // What the public listener is for still answers there.
    let mut health = tonic_health::pb::health_client::HealthClient::new(plain);
    let request = tonic_health::pb::HealthCheckRequest { service: "imap.sdc.v1.IndexerService".into() };
    assert_eq!(
        health.check(request).await.unwrap().into_inner().status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_client_certificate_every_internal_rpc_is_refused() {
    let node = laptop_node("edges-anonymous").await;
    let anonymous = channel_without_certificate(&node);
    for rule in RULES {
        let code = call(anonymous.clone(), rule.service, rule.method).await;
        assert_eq!(code, Code::Unauthenticated, "{}/{} without a certificate", rule.service, rule.method);
    }
    let reflection = call(anonymous.clone(), "grpc.reflection.v1.ServerReflection", "ServerReflectionInfo").await;
    assert_eq!(reflection, Code::Unauthenticated, "reflection is for certificate holders");
    let status = proto::clients::IndexerClient::new(anonymous)
        .query_files(proto::pb::QueryFilesRequest::default())
        .await
        .unwrap_err();
    assert!(status.message().contains("client certificate"), "the refusal says why: {status:?}");
    // Plain HTTP/2 to the internal listener gets no answer at all.
    let plain = proto::clients::lazy_channel(&node.internal_url.replace("https://", "http://")).unwrap();
    assert_ne!(call(plain, "imap.sdc.v1.IndexerService", "QueryFiles").await, Code::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processor_cannot_release_files_and_a_gateway_cannot_take_work() {
    let node = laptop_node("edges-roles").await;
    let as_caller = |caller| support::channel_as(caller, &node.cert_dir, &node.internal_url);

    let status = proto::clients::IndexerClient::new(as_caller(Caller::Processor))
        .release_files(proto::pb::ReleaseFilesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("processor may not call imap.sdc.v1.IndexerService/ReleaseFiles"), "{status:?}");

    let requests = tokio_stream::iter(vec![proto::pb::WorkRequest::default()]);
    let status = proto::clients::StarterClient::new(as_caller(Caller::Gateway)).work(requests).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("gateway may not call imap.sdc.v1.StarterService/Work"), "{status:?}");

    // The callers the table names get through.
    let released = proto::clients::IndexerClient::new(as_caller(Caller::Gateway))
        .release_files(proto::pb::ReleaseFilesRequest::default())
        .await;
    assert!(!matches!(&released, Err(status) if status.code() == Code::PermissionDenied), "{released:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_caller_gets_exactly_the_rpcs_the_table_allows() {
    let node = laptop_node("edges-table").await;
    let mut checked = 0;
    for caller in Caller::ALL {
        let channel = support::channel_as(caller, &node.cert_dir, &node.internal_url);
        for rule in RULES {
            let code = call(channel.clone(), rule.service, rule.method).await;
            let what = format!("{caller} calling {}/{}: {code:?}", rule.service, rule.method);
            assert_ne!(code, Code::Unauthenticated, "{what}");
            if rule.callers.contains(&caller) {
                assert_ne!(code, Code::PermissionDenied, "{what}");
                assert_ne!(code, Code::Unimplemented, "{what}: allowed but not served");
            } else {
                assert_eq!(code, Code::PermissionDenied, "{what}");
            }
            checked += 1;
        }
        // Every certificate holder may look the contracts up.
        let reflection = call(channel, "grpc.reflection.v1.ServerReflection", "ServerReflectionInfo").await;
        assert_ne!(reflection, Code::PermissionDenied, "{caller} reading reflection");
    }
    assert_eq!(checked, Caller::ALL.len() * RULES.len());
}
