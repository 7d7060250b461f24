//! The one composition function: build every enabled role (any failure stops us before anything
//! listens), then start them all on one listener: every gRPC service, health, reflection (v1 and
//! v1alpha, for grpcurl 1.8) and the gateway's REST routes.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use mesh_runtime::ShutdownSignal;
use proto::clients::{MeshClients, PeerAddresses};
use proto::pb;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::config::Config;
use crate::role::Role;

/// How long running work may take to wind down after shutdown is asked for.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The address a peer should use to reach a listener (a wildcard bind is reached on loopback).
pub fn reachable_url(listener: &TcpListener) -> anyhow::Result<String> {
    let mut address = listener.local_addr()?;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Ok(format!("http://{address}"))
}

pub fn peer_addresses(config: &Config, own_url: &str) -> PeerAddresses {
    let pick = |role: Role, configured: &Option<String>| -> String {
        if config.roles.contains(role) {
            own_url.to_string()
        } else {
            // An unconfigured peer is only an error once it is called; roles that never call it
            // (e.g. a lone indexer) must still start.
            configured.clone().unwrap_or_else(|| format!("http://unconfigured-{role}-peer.invalid:1"))
        }
    };
    PeerAddresses {
        indexer: pick(Role::Indexer, &config.peers.indexer),
        depsvc: pick(Role::Depsvc, &config.peers.depsvc),
        starter: pick(Role::Starter, &config.peers.starter),
        processor: pick(Role::Processor, &config.peers.processor),
        gateway: pick(Role::Gateway, &config.peers.gateway),
    }
}

pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown_request: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let own_url = reachable_url(&listener)?;
    let clients = MeshClients::connect_lazy(&peer_addresses(&config, &own_url))?;
    let (shutdown_signal, shutdown) = ShutdownSignal::new();
    let has = |role: Role| config.roles.contains(role);

    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let needs_database = has(Role::Indexer) || has(Role::Starter) || has(Role::Gateway);
    let pool = if needs_database {
        Some(mesh_runtime::store::connect(&config.database_url()).await.context("opening the database")?)
    } else {
        None
    };
    let needs_archive = has(Role::Indexer) || has(Role::Processor) || has(Role::Gateway);
    let archive = if needs_archive {
        let archive = mesh_runtime::archive::open(&config.archive_location()?, &config.s3)?;
        mesh_runtime::archive::check_reachable(&archive).await?;
        tracing::info!(archive = %archive.location, "archive reachable");
        Some(archive)
    } else {
        None
    };

    // Build every role first: a bad config fails here, before anything listens.
    let indexer = match (has(Role::Indexer), &pool, &archive) {
        (true, Some(pool), Some(archive)) => {
            let mut indexer_config = config.indexer.clone();
            indexer_config.inbox_dir.get_or_insert_with(|| config.data_dir.join("inbox"));
            indexer_config.quarantine_dir.get_or_insert_with(|| config.data_dir.join("quarantine"));
            Some(
                indexer::IndexerRole::create(indexer_config, pool.clone(), archive.store.clone())
                    .await
                    .context("building the indexer")?,
            )
        }
        _ => None,
    };
    let depsvc = if has(Role::Depsvc) {
        Some(depsvc::DepsvcRole::create(&config.depsvc, clients.indexer.clone()).context("building depsvc")?)
    } else {
        None
    };
    let starter = match (has(Role::Starter), &pool) {
        (true, Some(pool)) => Some(
            starter::StarterRole::create(
                config.starter.clone(),
                pool.clone(),
                clients.indexer.clone(),
                clients.depsvc.clone(),
                shutdown.clone(),
            )
            .await
            .context("building the starter")?,
        ),
        _ => None,
    };
    let processor = match (has(Role::Processor), &archive) {
        (true, Some(archive)) => Some(
            processor::ProcessorRole::create(
                config.processor.clone(),
                archive.store.clone(),
                clients.indexer.clone(),
                clients.starter.clone(),
            )
            .context("building the processor")?,
        ),
        _ => None,
    };
    let gateway = match (has(Role::Gateway), &pool, &archive) {
        (true, Some(pool), Some(archive)) => Some(
            gateway::GatewayRole::create(
                config.gateway.clone(),
                pool.clone(),
                archive.store.clone(),
                archive.presigner.clone(),
                clients.clone(),
            )
            .await
            .context("building the gateway")?,
        ),
        _ => None,
    };

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let mut routes = tonic::service::Routes::builder();
    routes.add_service(health_service);
    // Reflection lists only the services this node really serves.
    let mut served = vec![tonic_health::pb::health_server::SERVICE_NAME];
    let role_services = [
        (Role::Indexer, pb::indexer_service_server::SERVICE_NAME),
        (Role::Depsvc, pb::dependency_service_server::SERVICE_NAME),
        (Role::Starter, pb::starter_service_server::SERVICE_NAME),
        (Role::Processor, pb::processor_service_server::SERVICE_NAME),
        (Role::Gateway, pb::gateway_service_server::SERVICE_NAME),
    ];
    served.extend(role_services.iter().filter(|(role, _)| has(*role)).map(|(_, name)| *name));
    let reflection = || {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        for name in &served {
            builder = builder.with_service_name(*name);
        }
        builder
    };
    routes.add_service(reflection().build_v1()?);
    routes.add_service(reflection().build_v1alpha()?);
    if let Some(role) = &indexer {
        routes.add_service(role.grpc_service(shutdown.clone()));
        health_reporter
            .set_service_status(pb::indexer_service_server::SERVICE_NAME, tonic_health::ServingStatus::Serving)
            .await;
    }
    if let Some(role) = &depsvc {
        routes.add_service(role.grpc_service());
        health_reporter
            .set_service_status(pb::dependency_service_server::SERVICE_NAME, tonic_health::ServingStatus::Serving)
            .await;
    }
    if let Some(role) = &starter {
        routes.add_service(role.grpc_service());
        health_reporter
            .set_service_status(pb::starter_service_server::SERVICE_NAME, tonic_health::ServingStatus::Serving)
            .await;
    }
    if let Some(role) = &processor {
        routes.add_service(role.grpc_service());
        health_reporter
            .set_service_status(pb::processor_service_server::SERVICE_NAME, tonic_health::ServingStatus::Serving)
            .await;
    }
    if let Some(role) = &gateway {
        routes.add_service(role.grpc_service());
        health_reporter
            .set_service_status(pb::gateway_service_server::SERVICE_NAME, tonic_health::ServingStatus::Serving)
            .await;
    }
    let mut router = routes.routes().into_axum_router();
    if let Some(role) = &gateway {
        router = router.merge(role.router());
    }

    let roles: Vec<String> = config.roles.iter().map(|role| role.to_string()).collect();
    tracing::info!(roles = %roles.join(","), listen = %own_url, database = %redact(&config.database_url()), "node starting");

    let mut background = Vec::new();
    if let Some(role) = indexer {
        background.push(role.start(shutdown.clone()));
    }
    if let Some(role) = starter {
        background.push(role.start());
    }
    if let Some(role) = processor {
        background.push(role.start(shutdown.clone()));
    }
    if let Some(role) = &gateway {
        background.push(role.start(shutdown.clone()));
    }

    let server_shutdown = shutdown.clone();
    let server = tonic::transport::Server::builder()
        .accept_http1(true)
        .layer(mesh_runtime::telemetry::ServerTraceLayer)
        .add_routes(tonic::service::Routes::from(router))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move { server_shutdown.wait().await });
    let server = tokio::spawn(server);
    // Announced on stdout so a parent process (or a test) can find an ephemeral port.
    println!("imap-sdc listening on {own_url}");

    shutdown_request.await;
    tracing::info!("shutdown requested, draining");
    shutdown_signal.trigger();
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        for task in background {
            let _ = task.await;
        }
        server.await
    })
    .await;
    match drained {
        Ok(Ok(result)) => result.context("grpc server failed")?,
        Ok(Err(join_error)) => return Err(join_error.into()),
        Err(_) => tracing::warn!("drain timed out, exiting anyway"),
    }
    Ok(())
}

/// Hides a password in a database URL for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
