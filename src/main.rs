//! `imap-sdc`: parse the command line, load the config, set up telemetry, run.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use imap_sdc::config::{Config, ConfigError, Flag};

mod health;
mod sqlite_memory;

/// Allocation-heavy science (CDF decoding and encoding) and many small messages per job: glibc's
/// malloc spent a quarter of a saturated node's CPU (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for a bad configuration or command line (sysexits EX_USAGE).
const EXIT_USAGE: u8 = 64;

#[derive(Parser)]
#[command(name = "imap-sdc", version, about = "IMAP science data processing mesh")]
struct Cli {
    /// TOML config file (also IMAP_SDC_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one or more roles: people's services on the public listener, the mesh's on the internal one.
    Serve(ServeArgs),
    /// Put files into the archive and have a running indexer index them.
    Ingest {
        files: Vec<PathBuf>,
        #[command(flatten)]
        node: NodeArgs,
        /// Indexer to notify (default: this config's internal listener), called with the operator
        /// certificate of `mesh.cert_dir`.
        #[arg(long)]
        server: Option<String>,
    },
    /// Manage the gateway's API keys (create, list, revoke).
    Keys {
        #[command(subcommand)]
        action: gateway::KeysCommand,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Measure the level-0 decoder (`decode`), the whole mesh's event path (`mesh`, one JSON line),
    /// or replay and resolution with a large tracker (`state`, one JSON line).
    Bench {
        /// Arguments for the benchmark, e.g. `decode FILE.pkts XTCE.xml --repeats 5`, or
        /// `mesh --burst 10000` / `mesh --trickle 100 --seconds 60 [--database-url postgres://…]`, or
        /// `state --files 1000000 [--database-url postgres://…]`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Validate or print the product graph.
    Graph {
        #[command(subcommand)]
        action: GraphAction,
    },
    /// Rebuild the database from the archive alone after a total loss: every file with its
    /// provenance, and the jobs that made them. Safe to run again.
    Recover {
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Make the mesh's certificates: a CA and one certificate per role and for operators.
    Certs {
        #[command(subcommand)]
        action: CertsAction,
    },
    /// Exit 0 when the node at this config's listen address serves (container healthchecks).
    Health {
        /// A role's gRPC service, e.g. `imap.sdc.v1.IndexerService`; the node as a whole when omitted.
        #[arg(long, default_value = "")]
        service: String,
        #[command(flatten)]
        node: NodeArgs,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Roles to run: `all` or a comma-separated list (indexer, depsvc, starter, processor, gateway).
    #[arg(long)]
    roles: Option<String>,
    /// Print the final configuration and exit.
    #[arg(long)]
    dump_config: bool,
    #[command(flatten)]
    node: NodeArgs,
}

#[derive(clap::Args)]
struct NodeArgs {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long)]
    listen: Option<String>,
    /// Address of the internal listener, mutual TLS (default: the public host, its port + 1).
    #[arg(long)]
    internal_listen: Option<String>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `sqlite://...` or `postgres://...`.
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long)]
    archive_dir: Option<PathBuf>,
    /// OTLP/gRPC collector endpoint.
    #[arg(long)]
    otlp_endpoint: Option<String>,
    /// Product graph: our TOML, the mission's CSV, one of the mission's YAML dependency files, or a folder of them.
    #[arg(long)]
    graph: Option<PathBuf>,
    /// Where a role not run here lives, e.g. `--peer indexer=https://10.0.0.5:8481`, or its
    /// replicas, comma-separated (`--peer indexer=https://indexer-1:8481,https://indexer-2:8481`).
    #[arg(long = "peer", value_name = "ROLE=URL")]
    peers: Vec<String>,
}

#[derive(Subcommand)]
enum CertsAction {
    /// Make a CA in DIR (unless one is there) and a certificate for each caller lacking one.
    /// Mount DIR on every node (`mesh.cert_dir`); keep `ca.key` off the nodes once done.
    Init {
        #[arg(long)]
        dir: PathBuf,
        /// Callers to certify, comma-separated: indexer, depsvc, starter, processor, gateway, operator.
        #[arg(long, value_delimiter = ',', default_value = "indexer,depsvc,starter,processor,gateway,operator")]
        roles: Vec<mesh_runtime::authz::Caller>,
        /// Extra names the certificates are valid for (DNS names or IP addresses), comma-separated,
        /// for tools such as grpcurl that check the host they dial. Mesh clients need none.
        #[arg(long, value_delimiter = ',')]
        hosts: Vec<String>,
    },
}

#[derive(Subcommand)]
enum GraphAction {
    /// Check a graph: cycles, unknown names, dangling inputs, the mission's rules on job outputs
    /// (errors), and its best practices (warnings).
    Check {
        /// Graph: TOML, the mission's CSV, a mission YAML file or a folder of them; a built-in
        /// graph when omitted.
        #[arg(conflicts_with = "builtin")]
        file: Option<PathBuf>,
        /// Which built-in graph: the mission's YAML dependency files (the default) or the
        /// project's TOML graph made for the built-in science.
        #[arg(long, value_parser = ["mission-yaml", "project"], default_value = "mission-yaml")]
        builtin: String,
    },
    /// Print a graph as text (by instrument), Graphviz DOT, or our TOML.
    Show {
        /// Graph file or folder, as for `check`; a built-in graph when omitted.
        #[arg(conflicts_with = "builtin")]
        file: Option<PathBuf>,
        /// Which built-in graph, as for `check`.
        #[arg(long, value_parser = ["mission-yaml", "project"], default_value = "mission-yaml")]
        builtin: String,
        #[arg(long, default_value = "text", value_parser = ["text", "dot", "toml"])]
        format: String,
    },
}

impl NodeArgs {
    /// The flags as the last layer of the config: each sets one setting, and a bad one is reported
    /// like a bad variable.
    fn flags(&self, roles: Option<&str>) -> Vec<Flag> {
        let path = |path: &PathBuf| path.display().to_string();
        let mut flags = Vec::new();
        let mut push = |name: &str, setting: &str, value: Option<String>| {
            if let Some(value) = value {
                flags.push(Flag::new(format!("--{name} {value}"), setting, value));
            }
        };
        push("roles", "roles", roles.map(str::to_string));
        push("listen", "listen", self.listen.clone());
        push("internal-listen", "mesh.internal_listen", self.internal_listen.clone());
        push("data-dir", "data_dir", self.data_dir.as_ref().map(path));
        push("database-url", "database_url", self.database_url.clone());
        push("archive-dir", "archive_dir", self.archive_dir.as_ref().map(path));
        push("otlp-endpoint", "telemetry.otlp_endpoint", self.otlp_endpoint.clone());
        push("graph", "depsvc.graph_file", self.graph.as_ref().map(path));
        for peer in &self.peers {
            let written = format!("--peer {peer}");
            match peer.split_once('=') {
                Some((role, url)) => flags.push(Flag::new(written, &format!("peers.{}", role.trim()), url)),
                None => flags.push(Flag::unreadable(written, "expected ROLE=URL, e.g. indexer=http://10.0.0.5:8480")),
            }
        }
        flags
    }
}

fn load_config(config_file: Option<PathBuf>, args: &NodeArgs, roles: Option<&str>) -> Result<Config, ConfigError> {
    let environment: HashMap<String, String> = std::env::vars().collect();
    let file = config_file.or_else(|| environment.get("IMAP_SDC_CONFIG").map(PathBuf::from));
    Config::load(file.as_deref(), &environment, &args.flags(roles))
}

/// Loads the config, or lists every problem it has and returns the usage exit code.
fn load_config_or_report(
    config_file: Option<PathBuf>,
    args: &NodeArgs,
    roles: Option<&str>,
) -> Result<Config, ExitCode> {
    load_config(config_file, args, roles).map_err(|error| report_config_error(&error))
}

/// Prints every problem of a refused configuration; the exit code says it was refused.
fn report_config_error(error: &ConfigError) -> ExitCode {
    let problems = error.problems();
    eprintln!(
        "imap-sdc: invalid configuration ({} problem{}):",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for problem in problems {
        eprintln!("  - {problem}");
    }
    ExitCode::from(EXIT_USAGE)
}

fn main() -> ExitCode {
    if !sqlite_memory::use_mimalloc() {
        eprintln!("imap-sdc: SQLite refused mimalloc and keeps the C library's allocator");
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = match load_config_or_report(cli.config, &args.node, args.roles.as_deref()) {
                Ok(config) => config,
                Err(code) => return code,
            };
            if args.dump_config {
                print!("{}", config.to_toml());
                return ExitCode::SUCCESS;
            }
            async_runtime(config.async_threads).block_on(async move {
                let _telemetry = match mesh_runtime::telemetry::init(&config.telemetry, &config.roles.to_string()) {
                    Ok(guard) => guard,
                    Err(error) => {
                        eprintln!("imap-sdc: telemetry setup failed: {error}");
                        return ExitCode::from(EXIT_USAGE);
                    }
                };
                let listeners = match imap_sdc::node::Listeners::bind(&config).await {
                    Ok(listeners) => listeners,
                    Err(error) => {
                        eprintln!("imap-sdc: {error:#}");
                        return ExitCode::FAILURE;
                    }
                };
                match imap_sdc::node::run(config, listeners, shutdown_signal()).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => {
                        eprintln!("imap-sdc: {error:#}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
        Command::Ingest { files, node, server } => {
            let config = match load_config_or_report(cli.config, &node, None) {
                Ok(config) => config,
                Err(code) => return code,
            };
            async_runtime(config.async_threads).block_on(async move {
                let _telemetry = mesh_runtime::telemetry::init(&config.telemetry, "ingest").ok();
                let server = server.unwrap_or_else(|| format!("https://{}", config.internal_listen()));
                match imap_sdc::tools::ingest(&config, &server, &files).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => {
                        eprintln!("imap-sdc: {error:#}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
        Command::Keys { action, node } => {
            let config = match load_config_or_report(cli.config, &node, None) {
                Ok(config) => config,
                Err(code) => return code,
            };
            async_runtime(config.async_threads).block_on(async move {
                match gateway::run_keys_command(&config.database_url(), action).await {
                    Ok(output) => {
                        print!("{output}");
                        ExitCode::SUCCESS
                    }
                    Err(error) => {
                        eprintln!("imap-sdc: {error}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
        Command::Bench { args } if imap_sdc::bench::is_json_bench(&args) => {
            // The benches build their nodes' configuration from the environment once the runtime
            // runs; its threads are read from the same environment, the same way, before.
            let environment: HashMap<String, String> = std::env::vars().collect();
            let threads = match Config::load(None, &environment, &[]) {
                Ok(config) => config.async_threads,
                Err(error) => return report_config_error(&error),
            };
            match async_runtime(threads).block_on(imap_sdc::bench::run_json_bench(&args)) {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("imap-sdc: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Bench { args } => match processor::science::bench::run_cli(&args) {
            Ok(output) => {
                print!("{output}");
                ExitCode::SUCCESS
            }
            Err(message) => {
                eprintln!("imap-sdc: {message}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Health { service, node } => {
            let config = match load_config_or_report(cli.config, &node, None) {
                Ok(config) => config,
                Err(code) => return code,
            };
            match async_runtime(config.async_threads).block_on(health::check(&config.listen, &service)) {
                Ok(serving) => {
                    println!("{serving}");
                    ExitCode::SUCCESS
                }
                Err(problem) => {
                    eprintln!("imap-sdc: {problem}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Recover { node } => {
            let config = match load_config_or_report(cli.config, &node, None) {
                Ok(config) => config,
                Err(code) => return code,
            };
            async_runtime(config.async_threads).block_on(async move {
                let _telemetry = mesh_runtime::telemetry::init(&config.telemetry, "recover").ok();
                match imap_sdc::tools::recover(&config).await {
                    Ok(summary) => {
                        println!(
                            "recovered {} files ({} new to the tracker, {} with provenance), restored {} jobs, \
                             skipped {} objects",
                            summary.files,
                            summary.newly_indexed,
                            summary.with_provenance,
                            summary.jobs_restored,
                            summary.skipped
                        );
                        ExitCode::SUCCESS
                    }
                    Err(error) => {
                        eprintln!("imap-sdc: {error:#}");
                        ExitCode::FAILURE
                    }
                }
            })
        }
        Command::Certs { action: CertsAction::Init { dir, roles, hosts } } => {
            match mesh_runtime::tls::init(&dir, &roles, &hosts) {
                Ok(written) => {
                    for path in written {
                        println!("{}", path.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("imap-sdc: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Graph { action } => match imap_sdc::tools::graph(action.into()) {
            Ok(output) => {
                print!("{output}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("imap-sdc: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

impl From<GraphAction> for imap_sdc::tools::GraphCommand {
    fn from(action: GraphAction) -> Self {
        use imap_sdc::tools::{GraphCommand, GraphSource};
        let source = |file: Option<PathBuf>, builtin: &str| match file {
            Some(path) => GraphSource::Path(path),
            None if builtin == "project" => GraphSource::Builtin(depsvc::BuiltinGraph::Project),
            None => GraphSource::Builtin(depsvc::BuiltinGraph::MissionYaml),
        };
        match action {
            GraphAction::Check { file, builtin } => GraphCommand::Check { source: source(file, &builtin) },
            GraphAction::Show { file, builtin, format } => {
                GraphCommand::Show { source: source(file, &builtin), format }
            }
        }
    }
}

/// The async runtime every command but the offline ones runs on: `threads` workers when set, else
/// tokio's default (one per CPU, or `TOKIO_WORKER_THREADS`).
fn async_runtime(threads: Option<NonZeroUsize>) -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = threads {
        builder.worker_threads(threads.get());
    }
    builder.enable_all().build().expect("tokio runtime")
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("sigterm handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
