//! Build-then-start for depsvc: the graph is loaded and checked before anything listens.

use std::path::Path;
use std::sync::Arc;

use proto::clients::IndexerClient;
use proto::pb::dependency_service_server::DependencyServiceServer;

use super::config::DepsvcConfig;
use super::error::DepsvcError;
use super::graph::{Graph, check};
use super::grpc::DepsvcGrpc;

pub struct DepsvcRole {
    graph: Arc<Graph>,
    indexer: IndexerClient,
}

/// The configured graph (TOML, or the mission's CSV by extension) or the mission's default.
pub fn load_graph(graph_file: Option<&Path>) -> Result<Graph, DepsvcError> {
    let Some(path) = graph_file else { return Ok(Graph::mission()) };
    let text = std::fs::read_to_string(path)
        .map_err(|source| DepsvcError::GraphFile { path: path.display().to_string(), source })?;
    let graph = if path.extension().is_some_and(|extension| extension == "csv") {
        Graph::from_dependency_csv(&text)?
    } else {
        Graph::from_toml_str(&text)?
    };
    Ok(graph)
}

impl DepsvcRole {
    pub fn create(config: &DepsvcConfig, indexer: IndexerClient) -> Result<DepsvcRole, DepsvcError> {
        let graph = load_graph(config.graph_file.as_deref())?;
        let problems = check(&graph);
        if !problems.is_empty() {
            let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(DepsvcError::InvalidGraph(messages.join("; ")));
        }
        tracing::info!(products = graph.products().len(), "product graph loaded");
        Ok(DepsvcRole { graph: Arc::new(graph), indexer })
    }

    pub fn grpc_service(&self) -> DependencyServiceServer<DepsvcGrpc> {
        DependencyServiceServer::new(DepsvcGrpc { graph: self.graph.clone(), indexer: self.indexer.clone() })
            .max_encoding_message_size(64 * 1024 * 1024)
    }
}
