//! What depsvc needs to know, owned by depsvc.

use std::path::PathBuf;

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DepsvcConfig {
    /// A graph replacing the default: our TOML format, the mission's CSV (`.csv`), one of the
    /// mission's YAML dependency files (`.yaml`), or a folder of them.
    pub graph_file: Option<PathBuf>,
}
