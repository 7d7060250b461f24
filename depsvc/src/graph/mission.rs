//! The product graphs shipped in the binary: the mission's own YAML dependency files
//! (`mission_dependencies/`, see its README for origin and licence; the default), and the
//! project's TOML rendering of the mission's older dependency CSV (`mission_graph.toml`), made
//! for the built-in science.

use super::model::Graph;

/// Our TOML rendering of the mission's dependency CSV (imap-sdc-api.md 3.8 and 3.9); the
/// file's comments say which edges come from the reference and which were added.
pub const MISSION_GRAPH_TOML: &str = include_str!("mission_graph.toml");

/// The mission's eleven YAML dependency files, as (file name, text), vendored unchanged.
pub const MISSION_YAML_FILES: [(&str, &str); 11] = [
    ("imap_codice_dependencies.yaml", include_str!("mission_dependencies/imap_codice_dependencies.yaml")),
    ("imap_glows_dependencies.yaml", include_str!("mission_dependencies/imap_glows_dependencies.yaml")),
    ("imap_hi_dependencies.yaml", include_str!("mission_dependencies/imap_hi_dependencies.yaml")),
    ("imap_hit_dependencies.yaml", include_str!("mission_dependencies/imap_hit_dependencies.yaml")),
    ("imap_idex_dependencies.yaml", include_str!("mission_dependencies/imap_idex_dependencies.yaml")),
    ("imap_lo_dependencies.yaml", include_str!("mission_dependencies/imap_lo_dependencies.yaml")),
    ("imap_mag_dependencies.yaml", include_str!("mission_dependencies/imap_mag_dependencies.yaml")),
    ("imap_spacecraft_dependencies.yaml", include_str!("mission_dependencies/imap_spacecraft_dependencies.yaml")),
    ("imap_swapi_dependencies.yaml", include_str!("mission_dependencies/imap_swapi_dependencies.yaml")),
    ("imap_swe_dependencies.yaml", include_str!("mission_dependencies/imap_swe_dependencies.yaml")),
    ("imap_ultra_dependencies.yaml", include_str!("mission_dependencies/imap_ultra_dependencies.yaml")),
];

impl Graph {
    /// The project's graph (`builtin_graph = "project"`). The embedded file is checked by the
    /// tests, so parsing cannot fail at run time.
    pub fn project() -> Graph {
        Graph::from_toml_str(MISSION_GRAPH_TOML).expect("the embedded mission graph is valid toml")
    }

    /// The mission's graph as its own YAML dependency files declare it. The embedded files are
    /// checked by the tests, so reading them cannot fail at run time.
    pub fn mission_yaml() -> Graph {
        Graph::from_mission_yaml(&MISSION_YAML_FILES).expect("the embedded mission dependency files are valid")
    }
}
