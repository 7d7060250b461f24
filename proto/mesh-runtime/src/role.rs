//! The one contract every role keeps. A node builds each configured role from a [`BuildContext`]
//! (any failure stops the node before anything listens), lets each [`Role::register`] its services
//! into a [`ServiceRegistry`], serves them, calls [`Role::start`] so background work runs on the
//! node's task tracker, and at shutdown calls [`Role::drain`] and waits (bounded) for the tracker.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use proto::clients::MeshClients;
use sqlx::AnyPool;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use crate::archive::{Archive, ArchiveLocation, S3Config};
use crate::config::MeshConfig;
use crate::error::RuntimeError;
use crate::leader::Leadership;
use crate::shutdown::Shutdown;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A responsibility a node runs. Building is each role's own `create(settings, &BuildContext)`;
/// this is what the node does with a built role.
pub trait Role: Send + Sync {
    /// Adds the role's gRPC services (and REST routes) to the node's registry.
    fn register(&self, registry: &mut ServiceRegistry);

    /// Spawns the role's background work on `tasks`. Each task stops taking new work once the
    /// node's shutdown fires and ends when the work it holds is done.
    fn start(&self, tasks: &TaskTracker) {
        let _ = tasks;
    }

    /// Called once shutdown has been asked for; resolves when the role's in-flight work is done or
    /// handed back. The node exits at `deadline` whatever happens, so work that cannot finish by
    /// then should be handed back before it (a processor reports its unfinished jobs).
    fn drain(&self, deadline: Instant) -> BoxFuture<'_, ()> {
        let _ = deadline;
        Box::pin(async {})
    }
}

/// Who may call a gRPC service: a node serves each exposure on its own listener, the internal
/// one with mutual TLS and the authorisation table ([`crate::authz`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// People and tools outside the mesh: the gateway's gRPC service and REST routes, health.
    Public,
    /// Roles calling each other: the mesh services.
    Internal,
}

/// Generated servers whose message size limits the registry sets, so the limits are set in one
/// place for every service.
pub trait LimitedService:
    tower::Service<
        http::Request<tonic::body::Body>,
        Response = http::Response<tonic::body::Body>,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + tonic::server::NamedService
    + Clone
    + Send
    + Sync
    + 'static
{
    fn with_message_limit(self, bytes: usize) -> Self;
}

macro_rules! limited_service {
    ($($server:ident :: $name:ident <$service:ident>),+ $(,)?) => {$(
        impl<T: proto::pb::$server::$service> LimitedService for proto::pb::$server::$name<T> {
            fn with_message_limit(self, bytes: usize) -> Self {
                self.max_decoding_message_size(bytes).max_encoding_message_size(bytes)
            }
        }
    )+};
}

limited_service!(
    indexer_service_server::IndexerServiceServer<IndexerService>,
    dependency_service_server::DependencyServiceServer<DependencyService>,
    starter_service_server::StarterServiceServer<StarterService>,
    processor_service_server::ProcessorServiceServer<ProcessorService>,
    gateway_service_server::GatewayServiceServer<GatewayService>,
);

/// Adds one service to a set of routes (all services of a listener must share one `Routes`).
type AddService = Box<dyn Fn(tonic::service::Routes) -> tonic::service::Routes + Send + Sync>;

/// The services and routes of a node, each with its [`Exposure`].
pub struct ServiceRegistry {
    max_message_bytes: usize,
    grpc: Vec<(Exposure, &'static str, AddService)>,
    rest: axum::Router,
}

impl ServiceRegistry {
    pub fn new(max_message_bytes: usize) -> ServiceRegistry {
        ServiceRegistry { max_message_bytes, grpc: Vec::new(), rest: axum::Router::new() }
    }

    pub fn add_grpc<S: LimitedService>(&mut self, exposure: Exposure, service: S) {
        let service = service.with_message_limit(self.max_message_bytes);
        self.grpc.push((exposure, S::NAME, Box::new(move |routes| routes.add_service(service.clone()))));
    }

    /// REST routes are for people: always public.
    pub fn add_rest(&mut self, router: axum::Router) {
        self.rest = std::mem::take(&mut self.rest).merge(router);
    }

    /// The gRPC services with this exposure, by full name.
    pub fn services(&self, exposure: Exposure) -> Vec<&'static str> {
        self.grpc.iter().filter(|(of, _, _)| *of == exposure).map(|(_, name, _)| *name).collect()
    }

    /// One router for the services of `exposures`, plus the node's health service and, when the
    /// internal services are among them, reflection (v1 and v1alpha, for grpcurl 1.8) listing
    /// exactly the services it routes: only certificate holders see the mesh's contracts.
    pub fn router(
        &self,
        exposures: &[Exposure],
        health: tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
    ) -> Result<axum::Router, tonic_reflection::server::Error> {
        let chosen: Vec<&(Exposure, &'static str, AddService)> =
            self.grpc.iter().filter(|(exposure, _, _)| exposures.contains(exposure)).collect();
        let mut names = vec![tonic_health::pb::health_server::SERVICE_NAME];
        names.extend(chosen.iter().map(|(_, name, _)| *name));
        let reflection = || {
            let mut builder = tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
            for name in &names {
                builder = builder.with_service_name(*name);
            }
            builder
        };
        let mut routes = tonic::service::Routes::new(health);
        if exposures.contains(&Exposure::Internal) {
            routes = routes.add_service(reflection().build_v1()?).add_service(reflection().build_v1alpha()?);
        }
        for (_, _, add) in chosen {
            routes = add(routes);
        }
        let mut router = routes.into_axum_router();
        if exposures.contains(&Exposure::Public) {
            router = router.merge(self.rest.clone());
        }
        Ok(router)
    }
}

/// What a role may need to build itself, each opened only when first asked for: a role that
/// needs no database never opens one.
pub struct BuildContext {
    data_dir: PathBuf,
    database_url: String,
    archive_location: ArchiveLocation,
    s3: S3Config,
    database: OnceCell<AnyPool>,
    archive: OnceCell<Arc<Archive>>,
    leaderships: std::sync::Mutex<Vec<Leadership>>,
    clients: MeshClients,
    mesh: MeshConfig,
    shutdown: Shutdown,
    tasks: TaskTracker,
}

/// Where a node's shared resources are and how it talks: what [`BuildContext::new`] needs.
pub struct NodeResources {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub archive_location: ArchiveLocation,
    pub s3: S3Config,
    pub clients: MeshClients,
    pub mesh: MeshConfig,
}

impl BuildContext {
    pub fn new(resources: NodeResources, shutdown: Shutdown, tasks: TaskTracker) -> BuildContext {
        let NodeResources { data_dir, database_url, archive_location, s3, clients, mesh } = resources;
        BuildContext {
            data_dir,
            database_url,
            archive_location,
            s3,
            database: OnceCell::new(),
            archive: OnceCell::new(),
            leaderships: std::sync::Mutex::new(Vec::new()),
            clients,
            mesh,
            shutdown,
            tasks,
        }
    }

    /// Hands out `pool` as the database instead of opening `database_url` (a pool the caller
    /// opened already, e.g. a test's fresh database).
    pub fn with_database(self, pool: AnyPool) -> BuildContext {
        BuildContext { database: OnceCell::new_with(Some(pool)), ..self }
    }

    /// The database pool, opened (SQLite or PostgreSQL) on first use.
    pub async fn database(&self) -> Result<AnyPool, RuntimeError> {
        self.database.get_or_try_init(|| crate::store::connect(&self.database_url)).await.cloned()
    }

    /// The archive, opened and checked reachable on first use.
    pub async fn archive(&self) -> Result<Arc<Archive>, RuntimeError> {
        self.archive
            .get_or_try_init(|| async {
                let archive = crate::archive::open(&self.archive_location, &self.s3)?;
                crate::archive::check_reachable(&archive).await?;
                tracing::info!(archive = %archive.location, "archive reachable");
                Ok(Arc::new(archive))
            })
            .await
            .cloned()
    }

    /// This replica's place in the election of `name` (a role that must have one writer), on the
    /// database: campaigning and renewing run on the node's tasks until shutdown. On SQLite the
    /// only node leads.
    pub async fn leadership(&self, name: &str) -> Result<Leadership, RuntimeError> {
        let leadership = Leadership::join(&self.database().await?, name, self.mesh.leader_lease).await?;
        self.tasks.spawn(leadership.clone().run(self.shutdown.clone()));
        self.leaderships.lock().expect("leadership list lock").push(leadership.clone());
        Ok(leadership)
    }

    /// Every election the node's roles joined, so the node can report and act on leadership.
    pub fn leaderships(&self) -> Vec<Leadership> {
        self.leaderships.lock().expect("leadership list lock").clone()
    }

    /// Whether the database and the archive have been opened (for logs and tests).
    pub fn opened(&self) -> (bool, bool) {
        (self.database.initialized(), self.archive.initialized())
    }

    pub fn clients(&self) -> &MeshClients {
        &self.clients
    }

    /// The clients the roles built next are given: a node hands each role clients that present
    /// that role's certificate, so its peers know who calls.
    pub fn set_clients(&mut self, clients: MeshClients) {
        self.clients = clients;
    }

    pub fn mesh(&self) -> &MeshConfig {
        &self.mesh
    }

    /// Home of the embedded defaults (inbox, quarantine, the SQLite file).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// The node's task tracker: what a role spawns while running (a job, a queue) goes here so the
    /// node can wait for it at shutdown.
    pub fn tasks(&self) -> TaskTracker {
        self.tasks.clone()
    }
}
