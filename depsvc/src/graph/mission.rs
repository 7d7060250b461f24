//! The mission's real product graph, shipped as the default (`mission_graph.toml`).

use super::model::Graph;

/// Our TOML rendering of the mission's dependency CSV (imap-sdc-api.md 3.8 and 3.9); the
/// file's comments say which edges come from the reference and which were added.
pub const MISSION_GRAPH_TOML: &str = include_str!("mission_graph.toml");

impl Graph {
    /// The mission's product graph. The embedded file is checked by the tests, so parsing
    /// cannot fail at run time.
    pub fn mission() -> Graph {
        Graph::from_toml_str(MISSION_GRAPH_TOML).expect("the embedded mission graph is valid toml")
    }
}
