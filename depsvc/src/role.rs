//! Build-then-start for depsvc: the graph is loaded and checked before anything listens.

use std::path::Path;
use std::sync::Arc;

use mesh_runtime::role::{Exposure, Role, ServiceRegistry};
use proto::clients::IndexerClient;
use proto::pb::dependency_service_server::DependencyServiceServer;

use super::config::{BuiltinGraph, DepsvcConfig, is_mission_yaml_path};
use super::error::DepsvcError;
use super::graph::{Graph, GraphProblem, check};
use super::grpc::DepsvcGrpc;

pub struct DepsvcRole {
    graph: Arc<Graph>,
    indexer: IndexerClient,
}

/// The graph a depsvc with this configuration serves: the configured file, else the built-in
/// graph it names (the mission's YAML files unless `builtin_graph = "project"`).
pub fn configured_graph(config: &DepsvcConfig) -> Result<Graph, DepsvcError> {
    match &config.graph_file {
        Some(path) => load_graph(path),
        None => Ok(builtin_graph(config.builtin_graph)),
    }
}

/// One of the graphs compiled into the binary.
pub fn builtin_graph(which: BuiltinGraph) -> Graph {
    match which {
        BuiltinGraph::MissionYaml => Graph::mission_yaml(),
        BuiltinGraph::Project => Graph::project(),
    }
}

/// A graph file by its path: a folder of the mission's YAML dependency files
/// (`imap_<instrument>_dependencies.yaml`), one such `.yaml` file, the mission's CSV (`.csv`),
/// or our TOML (anything else).
pub fn load_graph(path: &Path) -> Result<Graph, DepsvcError> {
    if path.is_dir() {
        return load_mission_yaml_folder(path);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|source| DepsvcError::GraphFile { path: path.display().to_string(), source })?;
    let graph = if is_mission_yaml_path(path) {
        Graph::from_mission_yaml(&[(&path.display().to_string(), &text)])?
    } else if path.extension().is_some_and(|extension| extension == "csv") {
        Graph::from_dependency_csv(&text)?
    } else {
        Graph::from_toml_str(&text)?
    };
    Ok(graph)
}

/// Every `.yaml`/`.yml` file of a folder, read together as the mission's dependency files.
fn load_mission_yaml_folder(folder: &Path) -> Result<Graph, DepsvcError> {
    let folder_error = |source| DepsvcError::GraphFile { path: folder.display().to_string(), source };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(folder_error)? {
        let path = entry.map_err(folder_error)?.path();
        if path.extension().is_some_and(|extension| extension == "yaml" || extension == "yml") {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(DepsvcError::EmptyGraphFolder { path: folder.display().to_string() });
    }
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for path in &paths {
        let text = std::fs::read_to_string(path)
            .map_err(|source| DepsvcError::GraphFile { path: path.display().to_string(), source })?;
        files.push((path.display().to_string(), text));
    }
    let named: Vec<(&str, &str)> = files.iter().map(|(name, text)| (name.as_str(), text.as_str())).collect();
    Ok(Graph::from_mission_yaml(&named)?)
}

impl DepsvcRole {
    /// Loads and checks the graph; `indexer` is asked which files exist. Needs no database and
    /// no archive.
    pub fn create(config: &DepsvcConfig, indexer: IndexerClient) -> Result<DepsvcRole, DepsvcError> {
        let graph = configured_graph(config)?;
        let (warnings, errors): (Vec<GraphProblem>, Vec<GraphProblem>) =
            check(&graph).into_iter().partition(GraphProblem::is_warning);
        if !errors.is_empty() {
            let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(DepsvcError::InvalidGraph(messages.join("; ")));
        }
        for warning in &warnings {
            tracing::warn!(%warning, "product graph best practice");
        }
        let source = match (&config.graph_file, config.builtin_graph) {
            (Some(path), _) => path.display().to_string(),
            (None, BuiltinGraph::MissionYaml) => "built-in mission yaml".to_string(),
            (None, BuiltinGraph::Project) => "built-in project toml".to_string(),
        };
        tracing::info!(products = graph.products().len(), %source, "product graph loaded");
        Ok(DepsvcRole { graph: Arc::new(graph), indexer })
    }
}

/// depsvc answers questions; it has no background work and nothing to drain.
impl Role for DepsvcRole {
    fn register(&self, registry: &mut ServiceRegistry) {
        let grpc = DepsvcGrpc { graph: self.graph.clone(), indexer: self.indexer.clone() };
        registry.add_grpc(Exposure::Internal, DependencyServiceServer::new(grpc));
    }
}
