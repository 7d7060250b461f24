//! The node's configuration, in layers of increasing priority: defaults, a TOML file,
//! `IMAP_SDC_*` environment variables (`__` separates nesting, e.g.
//! `IMAP_SDC_STARTER__LEASE_SECONDS=60`), then command-line flags.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mesh_runtime::archive::{ArchiveLocation, S3Config};
use mesh_runtime::telemetry::TelemetryConfig;

use crate::role::RoleSet;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The roles this process runs.
    pub roles: RoleSet,
    /// Address of the one gRPC + REST listener.
    pub listen: String,
    /// Home of the embedded defaults: the SQLite file, the archive, the inbox, quarantine.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; defaults to a SQLite file in the data dir.
    pub database_url: Option<String>,
    /// Archive location: a local directory path (default `<data_dir>/archive`).
    pub archive_dir: Option<PathBuf>,
    /// Archive location as a URL instead: `s3://bucket[/prefix]` (settings in `[s3]`) or
    /// `file:///absolute/directory`.
    pub archive_url: Option<String>,
    pub s3: S3Config,
    /// Where roles this node does not run can be reached (`http://host:port`).
    pub peers: Peers,
    pub telemetry: TelemetryConfig,
    pub indexer: indexer::IndexerConfig,
    pub depsvc: depsvc::DepsvcConfig,
    pub starter: starter::StarterConfig,
    pub processor: processor::ProcessorConfig,
    pub gateway: gateway::GatewayConfig,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Peers {
    pub indexer: Option<String>,
    pub depsvc: Option<String>,
    pub starter: Option<String>,
    pub processor: Option<String>,
    pub gateway: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            roles: RoleSet::all(),
            listen: "127.0.0.1:8480".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            archive_dir: None,
            archive_url: None,
            s3: S3Config::default(),
            peers: Peers::default(),
            telemetry: TelemetryConfig::default(),
            indexer: Default::default(),
            depsvc: Default::default(),
            starter: Default::default(),
            processor: Default::default(),
            gateway: Default::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config file {path} is invalid: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {name} is invalid: {message}")]
    Environment { name: String, message: String },
    #[error("invalid setting: {0}")]
    Invalid(String),
}

const ENV_PREFIX: &str = "IMAP_SDC_";

impl Config {
    /// Defaults, then the file, then the environment (passed in, never read from globals here).
    pub fn load(file: Option<&Path>, environment: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let mut tree =
            toml::Value::try_from(Config::default()).map_err(|error| ConfigError::Invalid(error.to_string()))?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
            let overlay: toml::Value = toml::from_str(&text)
                .map_err(|error| ConfigError::Parse { path: path.display().to_string(), message: error.to_string() })?;
            merge(&mut tree, overlay);
        }
        let mut names: Vec<&String> = environment.keys().filter(|name| name.starts_with(ENV_PREFIX)).collect();
        names.sort();
        for name in names {
            if name == "IMAP_SDC_CONFIG" || is_kubernetes_service_link(name) {
                continue;
            }
            let path: Vec<String> =
                name[ENV_PREFIX.len()..].split("__").map(|part| part.to_ascii_lowercase()).collect();
            let value = &environment[name];
            set_path(&mut tree, &path, scalar(value));
            // Deserialize after each variable so an error names the variable that caused it. A
            // number-looking value may be meant as text (e.g. a worker id "1"): try it as text too.
            if let Err(message) = Config::deserialize_tree(tree.clone()) {
                set_path(&mut tree, &path, toml::Value::String(value.clone()));
                Config::deserialize_tree(tree.clone())
                    .map_err(|_| ConfigError::Environment { name: name.clone(), message })?;
            }
        }
        Config::deserialize_tree(tree).map_err(|message| ConfigError::Parse { path: "(merged config)".into(), message })
    }

    fn deserialize_tree(tree: toml::Value) -> Result<Config, String> {
        serde::Deserialize::deserialize(tree).map_err(|error: toml::de::Error| error.to_string())
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_dir.join("imap-sdc.sqlite").display()))
    }

    /// Where the archive is: `archive_url`, else `archive_dir`, else `<data_dir>/archive`.
    pub fn archive_location(&self) -> Result<ArchiveLocation, mesh_runtime::RuntimeError> {
        ArchiveLocation::parse(self.archive_url.as_deref(), self.archive_dir.as_deref(), &self.data_dir.join("archive"))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|error| format!("# config not printable: {error}"))
    }
}

/// Kubernetes injects `<SERVICE>_SERVICE_HOST`, `<SERVICE>_PORT...` for every Service, and ours are
/// named `imap-sdc-*`; those are not settings. (No setting of ours ends in these words.)
fn is_kubernetes_service_link(name: &str) -> bool {
    let rest = &name[ENV_PREFIX.len()..];
    !rest.contains("__")
        && (rest.ends_with("_SERVICE_HOST")
            || rest.contains("_SERVICE_PORT")
            || rest.ends_with("_PORT")
            || rest.contains("_PORT_"))
}

fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(base), toml::Value::Table(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

fn set_path(tree: &mut toml::Value, path: &[String], value: toml::Value) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut node = tree;
    for part in parents {
        let table = match node {
            toml::Value::Table(table) => table,
            other => {
                *other = toml::Value::Table(Default::default());
                let toml::Value::Table(table) = other else { unreachable!() };
                table
            }
        };
        node = table.entry(part.clone()).or_insert_with(|| toml::Value::Table(Default::default()));
    }
    if let toml::Value::Table(table) = node {
        table.insert(last.clone(), value);
    }
}

/// Environment values are text; numbers and booleans are recognised so typed fields accept them.
fn scalar(text: &str) -> toml::Value {
    if let Ok(integer) = text.parse::<i64>() {
        return toml::Value::Integer(integer);
    }
    match text {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Role;

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("imap-sdc-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("node.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nroles = \"indexer,depsvc\"\n[starter]\nlease_seconds = 30\n",
        )
        .unwrap();
        let environment: HashMap<String, String> = [
            ("IMAP_SDC_LISTEN".to_string(), "127.0.0.1:9100".to_string()),
            ("IMAP_SDC_STARTER__MAX_ATTEMPTS".to_string(), "7".to_string()),
            ("UNRELATED".to_string(), "x".to_string()),
        ]
        .into();
        let config = Config::load(Some(&file), &environment).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9100");
        assert!(config.roles.contains(Role::Depsvc) && !config.roles.contains(Role::Gateway));
        assert_eq!(config.starter.lease_seconds, 30);
        assert_eq!(config.starter.max_attempts, 7);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_environment_names_the_variable() {
        let environment: HashMap<String, String> = [("IMAP_SDC_ROLES".to_string(), "cooker".to_string())].into();
        let error = Config::load(None, &environment).unwrap_err().to_string();
        assert!(error.contains("IMAP_SDC_ROLES") && error.contains("unknown role"), "{error}");
        let environment: HashMap<String, String> = [("IMAP_SDC_NOPE".to_string(), "1".to_string())].into();
        assert!(Config::load(None, &environment).is_err());
    }

    #[test]
    fn kubernetes_service_links_are_not_settings_and_numbers_can_be_text() {
        let environment: HashMap<String, String> = [
            ("IMAP_SDC_INDEXER_SERVICE_HOST".to_string(), "10.0.0.5".to_string()),
            ("IMAP_SDC_INDEXER_PORT".to_string(), "tcp://10.0.0.5:8480".to_string()),
            ("IMAP_SDC_INDEXER_PORT_8480_TCP_PORT".to_string(), "8480".to_string()),
            ("IMAP_SDC_PROCESSOR__WORKER_ID".to_string(), "1".to_string()),
        ]
        .into();
        let config = Config::load(None, &environment).unwrap();
        assert_eq!(config.processor.worker_id.as_deref(), Some("1"));
    }

    #[test]
    fn anonymous_access_is_all_unless_the_environment_says_released() {
        assert_eq!(Config::default().gateway.anonymous_access, gateway::AnonymousAccess::All);
        let released: HashMap<String, String> =
            [("IMAP_SDC_GATEWAY__ANONYMOUS_ACCESS".to_string(), "released".to_string())].into();
        assert_eq!(Config::load(None, &released).unwrap().gateway.anonymous_access, gateway::AnonymousAccess::Released);
        let unknown: HashMap<String, String> =
            [("IMAP_SDC_GATEWAY__ANONYMOUS_ACCESS".to_string(), "everyone".to_string())].into();
        let error = Config::load(None, &unknown).unwrap_err().to_string();
        assert!(error.contains("IMAP_SDC_GATEWAY__ANONYMOUS_ACCESS"), "{error}");
    }

    #[test]
    fn default_config_round_trips_through_toml() {
        let config = Config::default();
        let text = config.to_toml();
        let parsed: Config = toml::from_str(&text).unwrap();
        assert_eq!(parsed.listen, config.listen);
    }
}
