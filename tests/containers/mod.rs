//! The mesh in containers, driven through the `docker` CLI: the images made from the locally
//! built base (`deploy/images/*.sh`), a private network per run, PostgreSQL and an S3 store in
//! containers, and `N` replicas of each role, each in its own container. Everything a run
//! creates is labelled with the test process's id and removed when its [`Scope`] is dropped,
//! panics included; what a killed run left behind is removed by the next one. Only the gateways
//! and the S3 store (which presigned URLs point clients at) are published, on 127.0.0.1 at ports
//! docker picks; the role network is `--internal`, so the mesh reaches nothing outside it.
//! [`Compose`] runs `deploy/compose.yaml` as a project of the run instead.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use imap_sdc::role::Role;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
pub const BASE_IMAGE: &str = "imap-sdc-base:bookworm";
pub const POSTGRES_IMAGE: &str = "imap-sdc-dev-postgres:bookworm";
pub const S3_IMAGE: &str = "imap-sdc-dev-s3:moto-5.2.1";
/// Repository of the runtime images the runs build (one tag per run, removed with it).
const RUNTIME_REPOSITORY: &str = "imap-sdc-test";
/// Label on every container and network of a run: the test process's id.
const OWNER_LABEL: &str = "org.imap-sdc.test-owner";
pub const BUCKET: &str = "imap-archive";
pub const PREFIX: &str = "sdc";
/// Compose projects of a run are named this, then the run's id (which starts with the process id).
const COMPOSE_PREFIX: &str = "imap-sdc-test-";
const NODE_PORT: &str = "8480/tcp";
const S3_PORT: &str = "5000/tcp";
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Role containers run as the Kubernetes pods do (deploy/kubernetes/base/pod-defaults.yaml):
/// read-only root filesystem with writable scratch directories, no capabilities, no privilege gain.
const LOCKED_DOWN: [&str; 5] = [
    "--read-only",
    "--tmpfs=/tmp",
    "--tmpfs=/var/lib/imap-sdc:uid=10001,gid=10001,mode=0750",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
];

/// Runs `docker ARGS`: its trimmed stdout, or a message with its stderr.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let output =
        Command::new("docker").args(args).output().map_err(|error| format!("docker {}: {error}", args.join(" ")))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(format!("docker {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
    }
}

fn must(result: Result<String, String>) -> String {
    result.unwrap_or_else(|message| panic!("{message}"))
}

/// Why docker cannot be used from here, if it cannot.
pub fn docker_unavailable() -> Option<String> {
    docker(&["info", "--format", "{{.ServerVersion}}"]).err()
}

/// Runs one of `deploy/images/*.sh`, panicking with its output when it fails.
fn run_script(script: &str, args: &[&str]) {
    let path = format!("{REPO}/deploy/images/{script}");
    let output = Command::new("bash").arg(&path).args(args).output().expect("run bash");
    assert!(
        output.status.success(),
        "{script} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Everything one run creates; removed on drop.
pub struct Scope {
    pub id: String,
    containers: RefCell<Vec<String>>,
    networks: RefCell<Vec<String>>,
    images: RefCell<Vec<String>>,
}

impl Scope {
    pub fn new() -> Scope {
        remove_abandoned();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        Scope {
            id: format!("{}-{nanos:x}", std::process::id()),
            containers: RefCell::default(),
            networks: RefCell::default(),
            images: RefCell::default(),
        }
    }

    fn owner_label(&self) -> String {
        format!("{OWNER_LABEL}={}", std::process::id())
    }

    pub fn network(&self, name: &str, internal: bool) -> String {
        let network = format!("imap-sdc-{}-{name}", self.id);
        let label = self.owner_label();
        let mut args = vec!["network", "create", "--label", &label];
        if internal {
            args.push("--internal");
        }
        args.push(&network);
        must(docker(&args));
        self.networks.borrow_mut().push(network.clone());
        network
    }

    /// `docker create` (not started yet, so further networks can be connected first).
    pub fn create_container(&self, name: &str, options: &[String], image: &str, command: &[&str]) -> String {
        let container = format!("imap-sdc-{}-{name}", self.id);
        let label = self.owner_label();
        let mut args = vec!["create", "--name", &container, "--hostname", name, "--label", &label];
        args.extend(options.iter().map(String::as_str));
        args.push(image);
        args.extend_from_slice(command);
        must(docker(&args));
        self.containers.borrow_mut().push(container.clone());
        container
    }

    /// `deploy/compose.yaml` (with `tests/containers/compose.fixtures.yaml`) as a project of this
    /// run, running `image`, the gateway published at a port docker picks; down on drop.
    pub fn compose(&self, image: &str) -> Compose {
        let program =
            if docker(&["compose", "version"]).is_ok() { vec!["docker", "compose"] } else { vec!["docker-compose"] };
        Compose {
            program: program.into_iter().map(String::from).collect(),
            project: format!("{COMPOSE_PREFIX}{}", self.id),
            environment: vec![
                ("IMAP_SDC_IMAGE".into(), image.into()),
                ("IMAP_SDC_PUBLISH".into(), "127.0.0.1:0".into()),
                ("IMAP_SDC_TEST_XTCE".into(), format!("{REPO}/tests/fixtures/xtce")),
            ],
        }
    }

    /// Builds the runtime image from this test's own binary on the local base (made first if
    /// needed), and the dev PostgreSQL and S3 images; returns the runtime image's tag.
    pub fn prepare_images(&self) -> String {
        run_script("build-base.sh", &[BASE_IMAGE]);
        run_script("build-dev-images.sh", &[BASE_IMAGE]);
        let image = format!("{RUNTIME_REPOSITORY}:{}", self.id);
        run_script("build-runtime.sh", &[env!("CARGO_BIN_EXE_imap-sdc"), &image, BASE_IMAGE]);
        self.images.borrow_mut().push(image.clone());
        image
    }

    /// Builds the image of `context` (a folder with a Dockerfile taking the base as its `BASE`
    /// argument) on the local base, made first if needed; returns its tag, removed with the run.
    pub fn build_image(&self, name: &str, context: &std::path::Path) -> String {
        run_script("build-base.sh", &[BASE_IMAGE]);
        let image = format!("{RUNTIME_REPOSITORY}:{}-{name}", self.id);
        let base = format!("BASE={BASE_IMAGE}");
        let context = context.to_str().expect("a UTF-8 path");
        must(docker(&["build", "--quiet", "--build-arg", &base, "--tag", &image, context]));
        self.images.borrow_mut().push(image.clone());
        image
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let containers = self.containers.take();
        if !containers.is_empty() {
            let mut args = vec!["rm", "--force", "--volumes"];
            args.extend(containers.iter().map(String::as_str));
            report_cleanup(docker(&args));
        }
        for network in self.networks.take() {
            report_cleanup(docker(&["network", "rm", &network]));
        }
        for image in self.images.take() {
            report_cleanup(docker(&["rmi", "--force", &image]));
        }
    }
}

fn report_cleanup(result: Result<String, String>) {
    if let Err(message) = result {
        eprintln!("cleanup: {message}");
    }
}

/// Removes the containers, networks and runtime images of runs whose process is gone.
fn remove_abandoned() {
    let gone = |owner: &str| !owner.is_empty() && !std::path::Path::new(&format!("/proc/{owner}")).exists();
    let format = format!("{{{{.ID}}}} {{{{.Label \"{OWNER_LABEL}\"}}}}");
    let filter = format!("label={OWNER_LABEL}");
    for (kind, listing) in [
        ("container", docker(&["ps", "--all", "--filter", &filter, "--format", &format])),
        ("network", docker(&["network", "ls", "--filter", &filter, "--format", &format])),
    ] {
        for line in listing.unwrap_or_default().lines() {
            if let Some((id, owner)) = line.split_once(' ')
                && gone(owner)
            {
                let removal = if kind == "container" { vec!["rm", "--force", id] } else { vec!["network", "rm", id] };
                report_cleanup(docker(&removal));
            }
        }
    }
    // Compose names its containers, network and volumes after the project.
    let project = "{{.Label \"com.docker.compose.project\"}}";
    let (container_format, other_format) = (format!("{{{{.Names}}}} {project}"), format!("{{{{.Name}}}} {project}"));
    let compose_filter = "label=com.docker.compose.project";
    let abandoned_project =
        |project: &str| project.strip_prefix(COMPOSE_PREFIX).and_then(|id| id.split('-').next()).is_some_and(gone);
    for (removal, listing) in [
        (
            vec!["rm", "--force", "--volumes"],
            docker(&["ps", "--all", "--filter", compose_filter, "--format", &container_format]),
        ),
        (vec!["network", "rm"], docker(&["network", "ls", "--filter", compose_filter, "--format", &other_format])),
        (
            vec!["volume", "rm", "--force"],
            docker(&["volume", "ls", "--filter", compose_filter, "--format", &other_format]),
        ),
    ] {
        for line in listing.unwrap_or_default().lines() {
            if let Some((name, project)) = line.split_once(' ')
                && abandoned_project(project)
            {
                report_cleanup(docker(&[&removal[..], &[name]].concat()));
            }
        }
    }
    for tag in docker(&["images", RUNTIME_REPOSITORY, "--format", "{{.Tag}}"]).unwrap_or_default().lines() {
        if gone(tag.split('-').next().unwrap_or_default()) {
            report_cleanup(docker(&["rmi", "--force", &format!("{RUNTIME_REPOSITORY}:{tag}")]));
        }
    }
}

/// How many containers run each role.
#[derive(Debug, Clone)]
pub struct MeshSpec {
    replicas: BTreeMap<Role, usize>,
    /// Extra `IMAP_SDC_*` settings for every role container.
    settings: Vec<(String, String)>,
}

impl Default for MeshSpec {
    fn default() -> Self {
        MeshSpec { replicas: Role::ALL.into_iter().map(|role| (role, 1)).collect(), settings: Vec::new() }
    }
}

impl MeshSpec {
    pub fn replicas(mut self, role: Role, count: usize) -> Self {
        self.replicas.insert(role, count);
        self
    }

    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_string(), value.to_string()));
        self
    }
}

/// A running mesh: PostgreSQL, S3 and the role containers, on the run's networks.
pub struct Mesh<'scope> {
    scope: &'scope Scope,
    /// The internal network every container of the mesh is on.
    pub network: String,
    pub postgres: String,
    pub s3: String,
    /// The S3 store as the host (and presigned URLs) reach it.
    pub s3_url: String,
    /// Container names by role, replica 1 first.
    pub roles: BTreeMap<Role, Vec<String>>,
    /// The gateways as the host reaches them, in replica order.
    pub gateway_urls: Vec<String>,
    /// The mesh's certificates (one CA), mounted read-only into every role's container.
    pub certs: tempfile::TempDir,
}

/// A CA and every caller's certificate, readable by the containers' user (uid 10001).
fn mesh_certificates() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let certs = tempfile::Builder::new().prefix("imap-sdc-certs-").tempdir().expect("a temp dir");
    let written = mesh_runtime::tls::init(certs.path(), &mesh_runtime::authz::Caller::ALL, &[]).expect("certificates");
    std::fs::set_permissions(certs.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for file in written {
        std::os::unix::fs::chown(&file, Some(10001), Some(10001)).expect("chown to the containers' user");
    }
    certs
}

impl<'scope> Mesh<'scope> {
    /// Starts the stores, then every replica of every role, and waits until all are healthy.
    pub fn start(scope: &'scope Scope, image: &str, spec: &MeshSpec) -> Mesh<'scope> {
        let network = scope.network("mesh", true);
        let edge = scope.network("edge", false);
        let health = "--health-interval=1s".to_string();
        let on_mesh = |alias: &str| vec![format!("--network={network}"), format!("--network-alias={alias}")];
        // fsync off: the database is thrown away with the run.
        let postgres = scope.create_container(
            "postgres",
            &[on_mesh("postgres"), vec![health.clone()]].concat(),
            POSTGRES_IMAGE,
            &["postgres", "-c", "listen_addresses=*", "-c", "fsync=off"],
        );
        must(docker(&["start", &postgres]));
        let s3 = scope.create_container(
            "s3",
            &[format!("--network={edge}"), "--publish=127.0.0.1::5000".into(), health.clone()],
            S3_IMAGE,
            &[BUCKET],
        );
        must(docker(&["network", "connect", "--alias", "s3", &network, &s3]));
        must(docker(&["start", &s3]));
        let s3_url = format!("http://{}", published(&s3, S3_PORT));

        let mut mesh = Mesh {
            scope,
            network: network.clone(),
            postgres,
            s3,
            s3_url,
            roles: BTreeMap::new(),
            gateway_urls: Vec::new(),
            certs: mesh_certificates(),
        };
        mesh.wait_healthy(&[mesh.postgres.clone(), mesh.s3.clone()]);

        let environment = mesh.role_environment(spec);
        let xtce = format!("--volume={REPO}/tests/fixtures/xtce:/xtce:ro");
        let certs = format!("--volume={}:/certs:ro", mesh.certs.path().display());
        for (role, count) in &spec.replicas {
            for replica in 1..=*count {
                // Also the replica's own name on the mesh, for peers given each replica's address.
                let name = format!("{role}-{replica}");
                let mut options = vec![health.clone(), xtce.clone(), certs.clone()];
                options.extend(LOCKED_DOWN.iter().map(|option| option.to_string()));
                options.extend(environment.iter().map(|(name, value)| format!("--env={name}={value}")));
                if *role == Role::Processor {
                    // Jobs' lease owners then name the container.
                    options.push(format!("--env=IMAP_SDC_PROCESSOR__WORKER_ID={name}"));
                }
                let published = *role == Role::Gateway;
                if published {
                    options.push(format!("--network={edge}"));
                    options.push("--publish=127.0.0.1::8480".into());
                } else {
                    options.extend(on_mesh(role.as_str()));
                    options.push(format!("--network-alias={name}"));
                }
                let container = scope.create_container(&name, &options, image, &["serve", "--roles", role.as_str()]);
                if published {
                    must(docker(&[
                        "network",
                        "connect",
                        "--alias",
                        role.as_str(),
                        "--alias",
                        &name,
                        &network,
                        &container,
                    ]));
                }
                mesh.roles.entry(*role).or_default().push(container);
            }
        }
        let all: Vec<String> = mesh.roles.values().flatten().cloned().collect();
        for container in &all {
            must(docker(&["start", container]));
        }
        mesh.wait_healthy(&all);
        mesh.gateway_urls =
            mesh.replicas(Role::Gateway).iter().map(|c| format!("http://{}", published(c, NODE_PORT))).collect();
        mesh
    }

    fn role_environment(&self, spec: &MeshSpec) -> Vec<(String, String)> {
        let mut environment: Vec<(String, String)> = [
            ("IMAP_SDC_DATABASE_URL", "postgres://postgres@postgres:5432/postgres".to_string()),
            ("IMAP_SDC_ARCHIVE_URL", format!("s3://{BUCKET}/{PREFIX}")),
            ("IMAP_SDC_S3__ENDPOINT", "http://s3:5000".to_string()),
            ("IMAP_SDC_S3__PUBLIC_ENDPOINT", self.s3_url.clone()),
            ("IMAP_SDC_S3__ALLOW_HTTP", "true".to_string()),
            ("IMAP_SDC_S3__REGION", "us-east-1".to_string()),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("IMAP_SDC_PROCESSOR__XTCE_DIR", "/xtce".to_string()),
            ("IMAP_SDC_GATEWAY__STAGED_UPLOAD_POLL", "200ms".to_string()),
            ("IMAP_SDC_MESH__CERT_DIR", "/certs".to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
        for role in Role::ALL {
            let name = format!("IMAP_SDC_PEERS__{}", role.as_str().to_ascii_uppercase());
            // The gateway's own service is public; the mesh services answer on the internal listener.
            let url = |host: &str| {
                if role == Role::Gateway { format!("http://{host}:8480") } else { format!("https://{host}:8481") }
            };
            // A replicated role is given as its replicas' addresses: calls go to the one that
            // answers (the leader, for the indexer and the starter).
            let replicas = spec.replicas.get(&role).copied().unwrap_or(1);
            let address = if replicas > 1 {
                (1..=replicas).map(|replica| url(&format!("{role}-{replica}"))).collect::<Vec<_>>().join(",")
            } else {
                url(role.as_str())
            };
            environment.push((name, address));
        }
        environment.extend(spec.settings.iter().cloned());
        environment
    }

    pub fn replicas(&self, role: Role) -> &[String] {
        self.roles.get(&role).map(Vec::as_slice).unwrap_or_default()
    }

    /// `docker exec` in a container: stdout, or why it failed.
    pub fn exec(&self, container: &str, command: &[&str]) -> Result<String, String> {
        docker(&[&["exec", container][..], command].concat())
    }

    /// SIGKILLs a container (a host dying, for failover tests).
    pub fn kill(&self, container: &str) {
        must(docker(&["kill", "--signal", "KILL", container]));
    }

    /// Cuts a container off the mesh network (a partition), keeping it running.
    pub fn disconnect(&self, container: &str) {
        must(docker(&["network", "disconnect", &self.network, container]));
    }

    /// Reconnects a container cut off by [`Mesh::disconnect`], under its role's and its own alias again.
    pub fn reconnect(&self, container: &str) {
        let (role, replica) = self
            .roles
            .iter()
            .find_map(|(role, containers)| Some((role, containers.iter().position(|c| c == container)? + 1)))
            .unwrap_or_else(|| panic!("{container} is no role container of this mesh"));
        let name = format!("{role}-{replica}");
        must(docker(&["network", "connect", "--alias", role.as_str(), "--alias", &name, &self.network, container]));
    }

    /// Runs `sql` in the mesh's database with `psql`: the rows, one a line, columns split by `|`.
    pub fn sql(&self, sql: &str) -> String {
        must(
            self.exec(
                &self.postgres,
                &["psql", "--username=postgres", "--tuples-only", "--no-align", "--command", sql],
            ),
        )
    }

    /// A container's output (stdout and stderr), for failure messages.
    pub fn logs(&self, container: &str) -> String {
        container_logs(container)
    }

    /// A container's whole output (stdout and stderr), to look for what it logged.
    pub fn all_logs(&self, container: &str) -> String {
        let output = Command::new("docker").args(["logs", container]).output().expect("docker logs");
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    }

    /// Every container's state and last log lines.
    pub fn describe(&self) -> String {
        let mut text = String::new();
        let all = [self.postgres.clone(), self.s3.clone()].into_iter().chain(self.roles.values().flatten().cloned());
        for container in all {
            let state = docker(&[
                "inspect",
                "--format",
                "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                &container,
            ]);
            text.push_str(&format!("--- {container}: {}\n{}\n", state.unwrap_or_else(|e| e), self.logs(&container)));
        }
        text
    }

    fn wait_healthy(&self, containers: &[String]) {
        wait_healthy(containers, || self.describe());
    }
}

/// Waits until every container's healthcheck passes (one without a healthcheck must have run to
/// completion, as a one-shot setup container does); fails at once if one stops otherwise.
fn wait_healthy(containers: &[String], describe: impl Fn() -> String) {
    let deadline = Instant::now() + START_TIMEOUT;
    let format =
        "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}unchecked{{end}} {{.State.ExitCode}}";
    for container in containers {
        loop {
            let state = must(docker(&["inspect", "--format", format, container]));
            if state.starts_with("running healthy") || state == "exited unchecked 0" {
                break;
            }
            assert!(!state.starts_with("exited"), "{container} stopped: {state}\n{}", container_logs(container));
            assert!(Instant::now() < deadline, "{container} not healthy in time: {state}\n{}", describe());
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A container's last output lines (stdout and stderr), for failure messages.
fn container_logs(container: &str) -> String {
    let output = Command::new("docker").args(["logs", "--tail", "40", container]).output().expect("docker logs");
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// `deploy/compose.yaml` run as one project; `down --volumes` on drop.
pub struct Compose {
    program: Vec<String>,
    project: String,
    environment: Vec<(String, String)>,
}

impl Compose {
    /// Runs `docker compose -p PROJECT -f deploy/compose.yaml -f compose.fixtures.yaml ARGS`.
    pub fn run(&self, args: &[&str]) -> Result<String, String> {
        let files = [
            "--project-name".to_string(),
            self.project.clone(),
            "--file".into(),
            format!("{REPO}/deploy/compose.yaml"),
            "--file".into(),
            format!("{REPO}/tests/containers/compose.fixtures.yaml"),
        ];
        let output = Command::new(&self.program[0])
            .args(&self.program[1..])
            .args(&files)
            .args(args)
            .envs(self.environment.iter().map(|(name, value)| (name, value)))
            .output()
            .map_err(|error| format!("{}: {error}", self.program.join(" ")))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
        } else {
            Err(format!("compose {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
        }
    }

    /// `up --detach ARGS`, then waits until every container is healthy (or done, for one-shots).
    pub fn up(&self, args: &[&str]) {
        must(self.run(&[&["up", "--detach"][..], args].concat()));
        let containers: Vec<String> = must(self.run(&["ps", "--all", "--quiet"])).lines().map(String::from).collect();
        wait_healthy(&containers, || self.run(&["logs", "--tail", "20"]).unwrap_or_else(|error| error));
    }

    /// `host:port` where a service's port is published.
    pub fn published(&self, service: &str, port: u16) -> String {
        must(self.run(&["port", service, &port.to_string()]))
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        report_cleanup(self.run(&["down", "--volumes", "--remove-orphans"]));
    }
}

/// `host:port` of a container's published port on 127.0.0.1.
fn published(container: &str, port: &str) -> String {
    let mapping = must(docker(&["port", container, port]));
    mapping
        .lines()
        .find(|line| line.starts_with("127.0.0.1:"))
        .unwrap_or_else(|| panic!("{container} does not publish {port} on 127.0.0.1: {mapping}"))
        .to_string()
}
