//! What depsvc needs to know, owned by depsvc.

use std::path::PathBuf;

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DepsvcConfig {
    /// A graph replacing the mission's default: our TOML format, or the mission's CSV (`.csv`).
    pub graph_file: Option<PathBuf>,
}
