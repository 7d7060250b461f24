//! What depsvc needs to know, owned by depsvc.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DepsvcConfig {
    /// A graph replacing the built-in one: our TOML format, the mission's CSV (`.csv`), one of
    /// the mission's YAML dependency files (`.yaml`), or a folder of them.
    pub graph_file: Option<PathBuf>,
    /// Which built-in graph runs when no `graph_file` is given.
    pub builtin_graph: BuiltinGraph,
}

/// The graphs compiled into the binary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuiltinGraph {
    /// The mission's eleven YAML dependency files, as vendored: SPICE and ancillary inputs,
    /// multi-output jobs; the graph the real centre runs, and the default.
    #[default]
    MissionYaml,
    /// The project's TOML graph (`mission_graph.toml`, from the mission's older CSV), made for
    /// the built-in science: no SPICE or ancillary inputs, every level made by the Rust
    /// algorithms.
    Project,
}

impl DepsvcConfig {
    /// Whether the graph in use is in the mission's YAML format (the built-in mission graph, a
    /// `.yaml` file or a folder of them), whose jobs need SPICE kernels and ancillary tables and
    /// are named as the mission's program makes them.
    pub fn uses_mission_graph(&self) -> bool {
        match &self.graph_file {
            None => self.builtin_graph == BuiltinGraph::MissionYaml,
            Some(path) => is_mission_yaml_path(path),
        }
    }
}

/// A folder (read as the mission's YAML files) or a `.yaml`/`.yml` file.
pub(crate) fn is_mission_yaml_path(path: &Path) -> bool {
    path.is_dir() || path.extension().is_some_and(|extension| extension == "yaml" || extension == "yml")
}
