//! What depsvc needs to know, owned by depsvc.

use std::path::PathBuf;

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
    /// The project's TOML graph (`mission_graph.toml`), made for the built-in science.
    #[default]
    Project,
    /// The mission's eleven YAML dependency files, as vendored: SPICE and ancillary inputs,
    /// multi-output jobs; the graph to run the mission's own programs with.
    MissionYaml,
}
