//! The one composition function. A node builds every configured role (any failure stops it before
//! anything listens), lets each register its services, serves them on two listeners, starts the
//! roles' background work on one task tracker, and at shutdown drains: health says not serving,
//! every role stops taking new work and finishes (or hands back) what it holds, the tracker is
//! waited for, the listeners stop; all within `mesh.drain_timeout`.
//!
//! The public listener carries what people use (the gateway's REST routes and gRPC service,
//! health); the internal one the mesh services and reflection, behind mutual TLS and the
//! authorisation table (`mesh_runtime::authz`). Each role calls its peers with its own
//! certificate, and the roles of this node inside the process as itself (`mesh_runtime::local`).

use std::future::Future;

use anyhow::Context;
use mesh_runtime::ShutdownSignal;
use mesh_runtime::authz::Caller;
use mesh_runtime::leader::{LeaderState, Leadership};
use mesh_runtime::local::InProcessServices;
use mesh_runtime::role::{BuildContext, Exposure, NodeResources, ServiceRegistry};
use mesh_runtime::server::InternalLayers;
use mesh_runtime::tls::MeshIdentity;
use proto::clients::{ClientSettings, LocalPeers, MeshClients, PeerAddresses};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::kernels::KernelSeed;
use crate::role::Role;

/// The node's two listeners, bound by the caller (tests bind port 0).
pub struct Listeners {
    /// People: the gateway's REST routes and gRPC service, health.
    pub public: TcpListener,
    /// The mesh: every role's gRPC service and reflection, mutual TLS.
    pub internal: TcpListener,
}

impl Listeners {
    /// Binds `listen` and the internal address ([`Config::internal_listen`]).
    pub async fn bind(config: &Config) -> anyhow::Result<Listeners> {
        let public =
            TcpListener::bind(&config.listen).await.with_context(|| format!("cannot listen on {}", config.listen))?;
        let internal_address = config.internal_listen();
        let internal = TcpListener::bind(&internal_address)
            .await
            .with_context(|| format!("cannot listen on {internal_address} (mesh.internal_listen)"))?;
        Ok(Listeners { public, internal })
    }
}

/// The address a peer should use to reach a listener (a wildcard bind is reached on loopback).
pub fn reachable_url(listener: &TcpListener, scheme: &str) -> anyhow::Result<String> {
    let mut address = listener.local_addr()?;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Ok(format!("{scheme}://{address}"))
}

/// Where each role is reached: this node's internal listener for its own roles (its public one
/// for the gateway, whose service is public), the configured peer otherwise.
pub fn peer_addresses(config: &Config, internal_url: &str, public_url: &str) -> PeerAddresses {
    let pick = |role: Role| -> String {
        if config.roles.contains(role) {
            if role == Role::Gateway { public_url } else { internal_url }.to_string()
        } else {
            // An unconfigured peer is only an error once it is called; roles that never call it
            // (e.g. a lone indexer) must still start.
            config.peers.of(role).cloned().unwrap_or_else(|| format!("https://unconfigured-{role}-peer.invalid:1"))
        }
    };
    PeerAddresses {
        indexer: pick(Role::Indexer),
        depsvc: pick(Role::Depsvc),
        starter: pick(Role::Starter),
        processor: pick(Role::Processor),
        gateway: pick(Role::Gateway),
    }
}

/// The certificate folder, made (a CA and a certificate per caller) when it is the default one
/// under the data dir and something is missing: laptop mode stays one command. A folder named in
/// the config is only read.
pub fn prepare_certificates(config: &Config) -> anyhow::Result<std::path::PathBuf> {
    let dir = config.cert_dir();
    if config.mesh.cert_dir.is_none() {
        let written = mesh_runtime::tls::init(&dir, &Caller::ALL, &[])?;
        if !written.is_empty() {
            tracing::info!(dir = %dir.display(), files = written.len(), "made the mesh's certificates");
        }
    }
    Ok(dir)
}

/// Builds one role from its settings: the one place that names the role crates. Adding a role
/// means a variant of [`Role`] and an arm here.
async fn build(
    role: Role,
    config: &Config,
    context: &BuildContext,
) -> anyhow::Result<Box<dyn mesh_runtime::role::Role>> {
    Ok(match role {
        Role::Indexer => Box::new(indexer::IndexerRole::create(config.indexer.clone(), context).await?),
        Role::Depsvc => Box::new(depsvc::DepsvcRole::create(&config.depsvc, context.clients().indexer.clone())?),
        Role::Starter => Box::new(starter::StarterRole::create(config.starter.clone(), context).await?),
        Role::Processor => Box::new(processor::ProcessorRole::create(config.processor_config(), context).await?),
        Role::Gateway => Box::new(gateway::GatewayRole::create(config.gateway.clone(), context).await?),
    })
}

/// Runs a node until `shutdown_request` resolves, announcing its address on stdout so a parent
/// process (or a test) can find an ephemeral port.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown_request: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    serve(config, listeners, shutdown_request, true).await
}

/// [`run`] without the announcements, for callers that own stdout (the mesh bench).
pub async fn run_quietly(
    config: Config,
    listeners: Listeners,
    shutdown_request: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    serve(config, listeners, shutdown_request, false).await
}

async fn serve(
    config: Config,
    listeners: Listeners,
    shutdown_request: impl Future<Output = ()>,
    announce: bool,
) -> anyhow::Result<()> {
    let public_url = reachable_url(&listeners.public, "http")?;
    let internal_url = reachable_url(&listeners.internal, "https")?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let cert_dir = prepare_certificates(&config)?;
    let peers = peer_addresses(&config, &internal_url, &public_url);
    let settings = config.mesh.client.settings();
    let in_process = InProcessServices::new();
    let clients_of = |caller: Caller| -> anyhow::Result<MeshClients> {
        let tls = MeshIdentity::load(&cert_dir, caller)?.client_tls();
        let local = in_process_peers(&config, &in_process, caller, &settings);
        Ok(MeshClients::connect(&peers, &local, &settings, Some(&tls))?)
    };
    let first_role = config.roles.iter().next().context("no roles to run")?;
    let server_identity = MeshIdentity::load(&cert_dir, first_role.caller())?;
    let (shutdown_signal, shutdown) = ShutdownSignal::new();
    let tasks = TaskTracker::new();
    let resources = NodeResources {
        data_dir: config.data_dir.clone(),
        database_url: config.database_url(),
        archive_location: config.archive_location()?,
        s3: config.s3.clone(),
        clients: clients_of(first_role.caller())?,
        mesh: config.mesh.clone(),
    };
    let mut context = BuildContext::new(resources, shutdown, tasks.clone());
    if config.roles.contains(Role::Indexer) && config.seed_kernels && config.depsvc.uses_mission_graph() {
        seed_default_kernels(&config).await;
    }

    // Build every role first: a bad config or an unreachable store fails here, before anything listens.
    let mut roles = Vec::new();
    for role in config.roles.iter() {
        context.set_clients(clients_of(role.caller())?);
        roles.push(build(role, &config, &context).await.with_context(|| format!("building the {role}"))?);
    }
    let mut registry = ServiceRegistry::new(config.mesh.server.max_message_bytes.get());
    let mut services_of_role = Vec::new();
    for (name, role) in config.roles.iter().zip(&roles) {
        let before = all_services(&registry).len();
        role.register(&mut registry);
        services_of_role.push((name.to_string(), all_services(&registry)[before..].to_vec()));
    }
    let (health, health_service) = tonic_health::server::health_reporter();
    let served = all_services(&registry);
    for name in &served {
        health.set_service_status(*name, tonic_health::ServingStatus::Serving).await;
    }
    let leaderships = context.leaderships();
    let reported = leaderships.clone();
    mesh_runtime::metrics::collect_with(move || {
        let gauges = reported
            .iter()
            .map(|leadership| mesh_runtime::metrics::Gauge {
                name: "imap_sdc_leader",
                help: "1 while this replica leads its role (indexer, starter), 0 as a standby or deposed",
                labels: vec![("role", leadership.name().to_string()), ("holder", leadership.holder().to_string())],
                value: f64::from(u8::from(leadership.is_leader())),
            })
            .collect();
        async move { gauges }
    });
    for leadership in &leaderships {
        let services = services_of_role
            .iter()
            .find(|(role, _)| role == leadership.name())
            .map(|(_, services)| services.clone())
            .unwrap_or_default();
        tasks.spawn(report_leadership(leadership.clone(), services, health.clone(), context.shutdown()));
    }
    // Metrics go out on the public listener, where a scraper needs no mesh certificate.
    let public_router =
        registry.router(&[Exposure::Public], health_service.clone())?.merge(mesh_runtime::metrics::router());
    let internal_router = registry.router(&[Exposure::Internal], health_service)?;
    // One set of layers, so calls from other hosts and from this process share one load limit.
    let internal_layers = InternalLayers::new(&config.mesh.server);
    in_process.serve(internal_layers.clone(), internal_router.clone());

    let (database, archive) = context.opened();
    let names: Vec<String> = config.roles.iter().map(|role| role.to_string()).collect();
    let database_shown = if database { redact(&config.database_url()) } else { "none".into() };
    tracing::info!(roles = %names.join(","), public = %public_url, internal = %internal_url, database = %database_shown, archive_opened = archive, "node starting");

    let (stop_serving, serving) = ShutdownSignal::new();
    let server_config = config.mesh.server.clone();
    let public_serving = serving.clone();
    let public_server = tokio::spawn(async move {
        let stopped = async move { public_serving.wait().await };
        mesh_runtime::server::serve(&server_config, public_router, listeners.public, stopped).await
    });
    let server_config = config.mesh.server.clone();
    let internal_server = tokio::spawn(async move {
        let stopped = async move { serving.wait().await };
        let tls = server_identity.server_tls();
        let (layers, listener) = (internal_layers, listeners.internal);
        mesh_runtime::server::serve_internal(&server_config, layers, internal_router, listener, tls, stopped).await
    });
    // Announced on stdout so a parent process (or a test) can find ephemeral ports; the public
    // line comes last, as the one that says the node is up.
    if announce {
        println!("imap-sdc internal listening on {internal_url}");
        println!("imap-sdc listening on {public_url}");
    }
    for role in &roles {
        role.start(&tasks);
    }

    // A deposed leader exits (after draining) so that its supervisor starts it again as a standby:
    // nothing of its term's in-memory state survives.
    let deposed = async {
        if leaderships.is_empty() {
            return std::future::pending().await;
        }
        let waits = leaderships.iter().map(|leadership| {
            Box::pin(async {
                leadership.deposed().await;
                leadership.name()
            })
        });
        futures_util::future::select_all(waits).await.0
    };
    let lost_lease = tokio::select! {
        _ = shutdown_request => None,
        name = deposed => Some(name.to_string()),
    };
    let deadline = Instant::now() + config.mesh.drain_timeout;
    tracing::info!(drain_timeout = ?config.mesh.drain_timeout, "shutdown requested, draining");
    health.set_service_status("", tonic_health::ServingStatus::NotServing).await;
    for name in &served {
        health.set_service_status(*name, tonic_health::ServingStatus::NotServing).await;
    }
    shutdown_signal.trigger();
    let drained = tokio::time::timeout_at(deadline, async {
        futures_util::future::join_all(roles.iter().map(|role| role.drain(deadline))).await;
        tasks.close();
        tasks.wait().await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            tasks = tasks.len(),
            "drain timed out; unfinished events are replayed after restart, unreported jobs run again after their lease"
        );
    }
    // The listener stays up while draining: processors report jobs to a starter here.
    stop_serving.trigger();
    for (name, server) in [("public", public_server), ("internal", internal_server)] {
        match tokio::time::timeout_at(deadline, server).await {
            Ok(Ok(result)) => result.with_context(|| format!("the {name} listener failed"))?,
            Ok(Err(join_error)) => return Err(join_error.into()),
            Err(_) => {
                tracing::warn!(listener = name, "listener did not close before the drain deadline, exiting anyway")
            }
        }
    }
    match lost_lease {
        Some(name) => anyhow::bail!("lost the {name} lease to another replica; exiting to restart as a standby"),
        None => Ok(()),
    }
}

/// The channels over which `caller` reaches the roles of this node inside the process (see
/// `mesh_runtime::local`), unless `mesh.in_process_calls` is off. The gateway's service is public
/// and is always called on its listener.
fn in_process_peers(
    config: &Config,
    services: &InProcessServices,
    caller: Caller,
    settings: &ClientSettings,
) -> LocalPeers {
    let here = |role: Role| {
        (config.mesh.in_process_calls && config.roles.contains(role)).then(|| services.channel(caller, settings))
    };
    LocalPeers {
        indexer: here(Role::Indexer),
        depsvc: here(Role::Depsvc),
        starter: here(Role::Starter),
        processor: here(Role::Processor),
        gateway: None,
    }
}

/// Puts the default time kernels into the inbox before the indexer starts taking it (see
/// [`crate::kernels`]). A failure is logged, not fatal: the node still serves, and the mission
/// graph's L1A jobs wait for kernels until some arrive.
async fn seed_default_kernels(config: &Config) {
    let inbox = config.inbox_dir();
    let seeded = async {
        let archive = mesh_runtime::archive::open(&config.archive_location()?, &config.s3)?;
        crate::kernels::seed_default_kernels(archive.store.as_ref(), &inbox).await
    };
    match seeded.await {
        Ok(seeds) => {
            for seed in seeds {
                match seed {
                    KernelSeed::Placed { file_name } => tracing::info!(
                        kernel = %file_name,
                        inbox = %inbox.display(),
                        "default kernel put into the inbox: the mission graph's L1A jobs need one of its type and the archive had none (seed_kernels = false turns this off)"
                    ),
                    KernelSeed::AlreadyKnown { file_name, kernel_type, present } => tracing::info!(
                        kernel = %file_name,
                        kernel_type = kernel_type.as_str(),
                        present = %present,
                        "default kernel not needed: the archive has a kernel of its type"
                    ),
                }
            }
        }
        Err(error) => tracing::error!(
            error = format!("{error:#}"),
            "default kernels not placed; the mission graph's L1A jobs wait until kernels arrive"
        ),
    }
}

fn all_services(registry: &ServiceRegistry) -> Vec<&'static str> {
    [Exposure::Public, Exposure::Internal].into_iter().flat_map(|exposure| registry.services(exposure)).collect()
}

/// A standby's services report NOT_SERVING, so a readiness probe (Kubernetes) or a load balancer
/// sends traffic to the leader only.
async fn report_leadership(
    leadership: Leadership,
    services: Vec<&'static str>,
    health: tonic_health::server::HealthReporter,
    shutdown: mesh_runtime::Shutdown,
) {
    let mut state = leadership.subscribe();
    loop {
        let status = if matches!(*state.borrow_and_update(), LeaderState::Leader { .. }) {
            tonic_health::ServingStatus::Serving
        } else {
            tonic_health::ServingStatus::NotServing
        };
        for service in &services {
            health.set_service_status(*service, status).await;
        }
        tokio::select! {
            changed = state.changed() => if changed.is_err() { return },
            _ = shutdown.wait() => return,
        }
    }
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
