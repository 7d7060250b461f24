//! The node's configuration, in layers of increasing priority: defaults, a TOML file,
//! `IMAP_SDC_*` environment variables (`__` separates nesting, e.g.
//! `IMAP_SDC_STARTER__LEASE=5m`), then command-line flags. Every setting of every layer is tried
//! on its own, and the whole is validated once, so a bad config reports all its problems at once.
//!
//! Durations are written `250ms`, `30s`, `5m`, `2h` or `1d` (decimals allowed); a bare integer
//! means seconds.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use mesh_runtime::archive::{ArchiveLocation, S3Config};
use mesh_runtime::config::{MeshConfig, Problems};
use mesh_runtime::telemetry::TelemetryConfig;

use crate::role::{Role, RoleSet};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The roles this process runs.
    pub roles: RoleSet,
    /// Address of the public listener: the gateway's REST routes and gRPC service, health. The
    /// mesh services answer on `mesh.internal_listen` (mutual TLS) only.
    pub listen: String,
    /// Home of the embedded defaults: the SQLite file, the archive, the inbox, quarantine.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; defaults to a SQLite file in the data dir.
    pub database_url: Option<String>,
    /// Archive location: a local directory path (default `<data_dir>/archive`).
    pub archive_dir: Option<PathBuf>,
    /// With the mission's graph, a node running the indexer puts the leapseconds and spacecraft
    /// clock kernels shipped in the binary (`deploy/kernels`) into its inbox on start when the
    /// archive has no kernel of that type: every L1A job of the mission needs both.
    pub seed_kernels: bool,
    /// Archive location as a URL instead: `s3://bucket[/prefix]` (settings in `[s3]`) or
    /// `file:///absolute/directory`.
    pub archive_url: Option<String>,
    pub s3: S3Config,
    /// Where roles this node does not run can be reached (`http://host:port`), or their replicas
    /// (several URLs, comma-separated): calls go to the one that answers, e.g. the leading indexer.
    pub peers: Peers,
    /// How the roles talk: outbound calls, the listener, the drain at shutdown.
    pub mesh: MeshConfig,
    pub telemetry: TelemetryConfig,
    pub indexer: indexer::IndexerConfig,
    pub depsvc: depsvc::DepsvcConfig,
    pub starter: starter::StarterConfig,
    pub processor: processor::ProcessorConfig,
    pub gateway: gateway::GatewayConfig,
    /// Threads of the async runtime, which carries every role's calls and the event path. Unset,
    /// tokio's default: one per CPU (or `TOKIO_WORKER_THREADS`). On 2 CPUs one thread took 9-16%
    /// less CPU per job than two at 50 jobs/s and 1-6% less saturated, with a sixth fewer context
    /// switches, but indexed bursts 3-7% slower on average (BENCHMARKS.md), so the default stays.
    pub async_threads: Option<NonZeroUsize>,
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

impl Peers {
    pub fn of(&self, role: Role) -> Option<&String> {
        match role {
            Role::Indexer => self.indexer.as_ref(),
            Role::Depsvc => self.depsvc.as_ref(),
            Role::Starter => self.starter.as_ref(),
            Role::Processor => self.processor.as_ref(),
            Role::Gateway => self.gateway.as_ref(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            roles: RoleSet::all(),
            listen: "127.0.0.1:8480".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            archive_dir: None,
            seed_kernels: true,
            archive_url: None,
            s3: S3Config::default(),
            peers: Peers::default(),
            mesh: MeshConfig::default(),
            telemetry: TelemetryConfig::default(),
            indexer: Default::default(),
            depsvc: Default::default(),
            starter: Default::default(),
            processor: Default::default(),
            gateway: Default::default(),
            async_threads: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Every problem found, each naming where it came from.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl ConfigError {
    pub fn problems(&self) -> &[String] {
        let ConfigError::Invalid(problems) = self;
        problems
    }
}

/// A setting given on the command line: the flag as written, and the setting it sets.
#[derive(Debug, Clone)]
pub struct Flag {
    /// How the user wrote it, for messages, e.g. `--roles indexer,chef`.
    pub written: String,
    /// The setting's path, e.g. `["peers", "indexer"]`.
    pub path: Vec<String>,
    pub value: String,
    /// Why the flag names no setting at all (e.g. `--peer` without `=`).
    pub problem: Option<String>,
}

impl Flag {
    pub fn new(written: impl Into<String>, path: &str, value: impl Into<String>) -> Flag {
        let path = path.split('.').map(str::to_string).collect();
        Flag { written: written.into(), path, value: value.into(), problem: None }
    }

    /// A flag that cannot be read as any setting.
    pub fn unreadable(written: impl Into<String>, problem: impl Into<String>) -> Flag {
        Flag { written: written.into(), path: Vec::new(), value: String::new(), problem: Some(problem.into()) }
    }
}

const ENV_PREFIX: &str = "IMAP_SDC_";

impl Config {
    /// Defaults, then the file, then the environment, then the flags (passed in, never read from
    /// globals here). Each setting is tried on its own, so every bad one is reported, by where it
    /// came from; then the whole is validated.
    pub fn load(
        file: Option<&Path>,
        environment: &HashMap<String, String>,
        flags: &[Flag],
    ) -> Result<Config, ConfigError> {
        let mut problems = Problems::default();
        let mut layers = Layers {
            tree: toml::Value::try_from(Config::default()).expect("the defaults are valid TOML"),
            problems: &mut problems,
        };
        if let Some(path) = file {
            layers.apply_file(path);
        }
        let mut names: Vec<&String> = environment.keys().filter(|name| name.starts_with(ENV_PREFIX)).collect();
        names.sort();
        for name in names {
            if name == "IMAP_SDC_CONFIG" || is_kubernetes_service_link(name) {
                continue;
            }
            let path: Vec<String> =
                name[ENV_PREFIX.len()..].split("__").map(|part| part.to_ascii_lowercase()).collect();
            layers.apply_text(&format!("environment variable {name}"), &path, &environment[name]);
        }
        for flag in flags {
            match &flag.problem {
                Some(problem) => layers.problems.push(format!("flag {}: {problem}", flag.written)),
                None => layers.apply_text(&format!("flag {}", flag.written), &flag.path, &flag.value),
            }
        }
        let config = Config::deserialize_tree(layers.tree).map_err(|message| ConfigError::Invalid(vec![message]))?;
        config.validate(&mut problems);
        if problems.is_empty() { Ok(config) } else { Err(ConfigError::Invalid(problems.into_vec())) }
    }

    fn deserialize_tree(tree: toml::Value) -> Result<Config, String> {
        serde::Deserialize::deserialize(tree).map_err(|error: toml::de::Error| error.message().to_string())
    }

    /// What the types cannot say, every role's and across roles.
    pub fn validate(&self, problems: &mut Problems) {
        problems.check(
            self.listen.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()),
            "listen",
            || format!("{:?} is not host:port", self.listen),
        );
        if let Some(url) = &self.database_url {
            problems.check(mesh_runtime::store::Backend::of_url(url).is_some(), "database_url", || {
                "expected sqlite://... or postgres://...".into()
            });
        }
        if let Err(error) = self.archive_location() {
            problems.push(format!("archive: {error}"));
        }
        for role in Role::ALL {
            if let Some(address) = self.peers.of(role) {
                for url in proto::clients::replica_addresses(address) {
                    problems.check(
                        url.starts_with("http://") || url.starts_with("https://"),
                        &format!("peers.{role}"),
                        || format!("{url:?} is not an http:// or https:// URL"),
                    );
                }
            }
        }
        self.mesh.validate(problems);
        self.telemetry.validate(problems);
        self.indexer.validate(problems);
        self.starter.validate(problems);
        self.processor.validate(problems);
        self.gateway.validate(problems);
        if self.roles.contains(Role::Starter) && self.roles.contains(Role::Processor) {
            problems.check(
                self.processor.heartbeat_interval < self.starter.lease,
                "processor.heartbeat_interval",
                || "must be shorter than starter.lease, or leases expire while jobs run".into(),
            );
        }
    }

    /// The internal listener's address: `mesh.internal_listen`, else the public host with the
    /// next port (8480 → 8481), or port 0 (any free one) when the public port is 0.
    pub fn internal_listen(&self) -> String {
        if let Some(address) = &self.mesh.internal_listen {
            return address.clone();
        }
        match self.listen.rsplit_once(':').and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?))) {
            Some((host, 0)) => format!("{host}:0"),
            Some((host, port)) => format!("{host}:{}", port.saturating_add(1)),
            None => self.listen.clone(),
        }
    }

    /// The mesh's certificates: `mesh.cert_dir`, else `<data_dir>/certs`.
    pub fn cert_dir(&self) -> PathBuf {
        self.mesh.cert_dir.clone().unwrap_or_else(|| self.data_dir.join("certs"))
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", self.data_dir.join("imap-sdc.sqlite").display()))
    }

    /// The processor's settings with its built-in science matched to the graph: unless
    /// `processor.builtin_science` says otherwise, the L1A decoder only with the mission's graph
    /// (its higher levels are the teams' science), everything with the project's.
    pub fn processor_config(&self) -> processor::ProcessorConfig {
        let mut processor = self.processor.clone();
        processor.builtin_science.get_or_insert(if self.depsvc.uses_mission_graph() {
            processor::BuiltinScience::Decoders
        } else {
            processor::BuiltinScience::All
        });
        processor
    }

    /// The indexer's inbox: `indexer.inbox_dir`, else `<data_dir>/inbox` (the indexer's default).
    pub fn inbox_dir(&self) -> PathBuf {
        self.indexer.inbox_dir.clone().unwrap_or_else(|| self.data_dir.join("inbox"))
    }

    /// Where the archive is: `archive_url`, else `archive_dir`, else `<data_dir>/archive`.
    pub fn archive_location(&self) -> Result<ArchiveLocation, mesh_runtime::RuntimeError> {
        ArchiveLocation::parse(self.archive_url.as_deref(), self.archive_dir.as_deref(), &self.data_dir.join("archive"))
    }

    /// The configuration as TOML, with secrets hidden: passwords in URLs, and the values of
    /// settings named like secrets (password, secret, token, api key).
    pub fn to_toml(&self) -> String {
        toml::Value::try_from(self)
            .map(|tree| redact_secrets(tree, None))
            .and_then(|tree| toml::to_string_pretty(&tree))
            .unwrap_or_else(|error| format!("# config not printable: {error}"))
    }
}

/// The config tree as the layers build it, and the problems found on the way.
struct Layers<'a> {
    tree: toml::Value,
    problems: &'a mut Problems,
}

impl Layers<'_> {
    /// Applies `value` at `path` if the config stays valid; otherwise says why and changes nothing.
    fn try_apply(&mut self, path: &[String], value: toml::Value) -> Result<(), String> {
        let mut candidate = self.tree.clone();
        set_path(&mut candidate, path, value);
        Config::deserialize_tree(candidate.clone())?;
        self.tree = candidate;
        Ok(())
    }

    /// Text from the environment or a flag: a number or boolean if it looks like one, else text (a
    /// worker id may be "1").
    fn apply_text(&mut self, source: &str, path: &[String], text: &str) {
        let typed = scalar(text);
        let as_text = toml::Value::String(text.to_string());
        if let Err(message) = self.try_apply(path, typed.clone())
            && (typed == as_text || self.try_apply(path, as_text).is_err())
        {
            self.problems.push(format!("{source}: {message}"));
        }
    }

    /// Every setting of the file, each on its own (an array, e.g. `[[starter.schedules]]`, is one
    /// setting).
    fn apply_file(&mut self, path: &Path) {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => return self.problems.push(format!("cannot read config file {shown}: {error}")),
        };
        let overlay: toml::Value = match toml::from_str(&text) {
            Ok(overlay) => overlay,
            Err(error) => return self.problems.push(format!("config file {shown} is not valid TOML: {error}")),
        };
        let mut settings = Vec::new();
        leaves(overlay, &mut Vec::new(), &mut settings);
        for (setting, value) in settings {
            if let Err(message) = self.try_apply(&setting, value) {
                self.problems.push(format!("config file {shown}, {}: {message}", setting.join(".")));
            }
        }
    }
}

/// The settings of a TOML tree: (path, value) for every value that is not a table.
const REDACTED: &str = "***";

fn redact_secrets(value: toml::Value, name: Option<&str>) -> toml::Value {
    let names_a_secret = |name: &str| {
        let name = name.to_ascii_lowercase();
        ["password", "secret", "token", "api_key", "apikey"].iter().any(|word| name.contains(word))
    };
    match value {
        toml::Value::Table(table) => toml::Value::Table(
            table
                .into_iter()
                .map(|(key, value)| {
                    let value = redact_secrets(value, Some(&key));
                    (key, value)
                })
                .collect(),
        ),
        toml::Value::Array(items) => {
            toml::Value::Array(items.into_iter().map(|item| redact_secrets(item, name)).collect())
        }
        toml::Value::String(_) if name.is_some_and(names_a_secret) => toml::Value::String(REDACTED.into()),
        toml::Value::String(text) => toml::Value::String(redact_url(&text)),
        other => other,
    }
}

/// Hides the password of a URL (`scheme://user:password@host`) and `password=` query parameters.
pub fn redact_url(text: &str) -> String {
    // A peer may list its replicas' URLs, comma-separated: each is redacted on its own.
    if text.contains(',') && text.matches("://").count() > 1 {
        return text.split(',').map(redact_url).collect::<Vec<_>>().join(",");
    }
    let Some(scheme_end) = text.find("://").map(|index| index + 3) else { return text.to_string() };
    let authority_end = text[scheme_end..].find(['/', '?', '#']).map_or(text.len(), |index| scheme_end + index);
    let mut redacted = match text[scheme_end..authority_end].rfind('@') {
        Some(at) => match text[scheme_end..scheme_end + at].split_once(':') {
            Some((user, _)) => format!("{}{user}:{REDACTED}{}", &text[..scheme_end], &text[scheme_end + at..]),
            None => text.to_string(),
        },
        None => text.to_string(),
    };
    if let Some(query_start) = redacted.find('?') {
        let (base, query) = redacted.split_at(query_start + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}={REDACTED}"),
                _ => pair.to_string(),
            })
            .collect();
        redacted = format!("{base}{}", query.join("&"));
    }
    redacted
}

fn leaves(value: toml::Value, path: &mut Vec<String>, settings: &mut Vec<(Vec<String>, toml::Value)>) {
    match value {
        toml::Value::Table(table) if !table.is_empty() => {
            for (key, value) in table {
                path.push(key);
                leaves(value, path, settings);
                path.pop();
            }
        }
        other => settings.push((path.clone(), other)),
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
    #[test]
    fn dumped_configuration_hides_passwords_and_secret_settings() {
        let mut config = super::Config {
            database_url: Some("postgres://sdc:s3cr3t@db.example.org:5432/sdc?sslmode=require&password=again".into()),
            ..Default::default()
        };
        config.peers.indexer = Some("http://mesh:hunter2@indexer:8480".into());
        let text = config.to_toml();
        assert!(!text.contains("s3cr3t") && !text.contains("again") && !text.contains("hunter2"), "{text}");
        assert!(text.contains("postgres://sdc:***@db.example.org:5432/sdc?sslmode=require&password=***"), "{text}");
        assert!(text.contains("http://mesh:***@indexer:8480"), "{text}");

        let tree: toml::Value =
            toml::from_str("[s3]\nsecret_access_key = \"AKIA\"\napi_token = \"x\"\nregion = \"us-east-1\"").unwrap();
        let redacted = super::redact_secrets(tree, None).to_string();
        assert!(!redacted.contains("AKIA") && redacted.contains("us-east-1"), "{redacted}");
        assert_eq!(super::redact_url("sqlite:///data/imap.sqlite?mode=rwc"), "sqlite:///data/imap.sqlite?mode=rwc");
        assert_eq!(super::redact_url("s3://bucket/prefix"), "s3://bucket/prefix");
        assert_eq!(
            super::redact_url("https://mesh:one@indexer-1:8481,https://mesh:two@indexer-2:8481"),
            "https://mesh:***@indexer-1:8481,https://mesh:***@indexer-2:8481"
        );
    }

    use std::time::Duration;

    use super::*;
    use crate::role::Role;

    fn environment(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nroles = \"indexer,depsvc\"\n[starter]\nlease = \"30s\"\nretry_backoff = 5\n",
        )
        .unwrap();
        let environment = environment(&[
            ("IMAP_SDC_LISTEN", "127.0.0.1:9100"),
            ("IMAP_SDC_STARTER__MAX_ATTEMPTS", "7"),
            ("IMAP_SDC_STARTER__LEASE", "5m"),
            ("UNRELATED", "x"),
        ]);
        let flags = [Flag::new("--listen 127.0.0.1:9200", "listen", "127.0.0.1:9200")];
        let config = Config::load(Some(&file), &environment, &flags).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9200", "flags come last");
        assert!(config.roles.contains(Role::Depsvc) && !config.roles.contains(Role::Gateway));
        assert_eq!(config.starter.lease, Duration::from_secs(300), "the environment beats the file");
        assert_eq!(config.starter.retry_backoff, Duration::from_secs(5), "a bare integer means seconds");
        assert_eq!(config.starter.max_attempts.get(), 7);
    }

    #[test]
    fn bad_environment_names_the_variable() {
        let error = Config::load(None, &environment(&[("IMAP_SDC_ROLES", "cooker")]), &[]).unwrap_err().to_string();
        assert!(error.contains("IMAP_SDC_ROLES") && error.contains("unknown role"), "{error}");
        assert!(Config::load(None, &environment(&[("IMAP_SDC_NOPE", "1")]), &[]).is_err());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.toml");
        std::fs::write(
            &file,
            "[starter]\nlease = \"5 fortnights\"\nmax_attempts = 0\n[indexer]\nrescan_interval = \"0s\"\n",
        )
        .unwrap();
        let environment =
            environment(&[("IMAP_SDC_PROCESSOR__SLOTS", "0"), ("IMAP_SDC_MESH__CLIENT__DEADLINE", "soon")]);
        let flags = [
            Flag::new("--roles indexer,chef", "roles", "indexer,chef"),
            Flag::new("--peer cooker=http://x:1", "peers.cooker", "http://x:1"),
            Flag::unreadable("--peer indexer", "expected ROLE=URL"),
        ];
        let error = Config::load(Some(&file), &environment, &flags).unwrap_err();
        let problems = error.problems();
        for expected in [
            "starter.lease: invalid duration \"5 fortnights\"",
            "starter.max_attempts",
            "environment variable IMAP_SDC_PROCESSOR__SLOTS",
            "environment variable IMAP_SDC_MESH__CLIENT__DEADLINE",
            "flag --roles indexer,chef: unknown role",
            "flag --peer cooker=http://x:1",
            "flag --peer indexer: expected ROLE=URL",
            "indexer.rescan_interval: must be longer than 0s",
        ] {
            assert!(problems.iter().any(|problem| problem.contains(expected)), "{expected:?} not in {problems:#?}");
        }
        assert_eq!(problems.len(), 8, "{problems:#?}");
    }

    #[test]
    fn kubernetes_service_links_are_not_settings_and_numbers_can_be_text() {
        let environment = environment(&[
            ("IMAP_SDC_INDEXER_SERVICE_HOST", "10.0.0.5"),
            ("IMAP_SDC_INDEXER_PORT", "tcp://10.0.0.5:8480"),
            ("IMAP_SDC_INDEXER_PORT_8480_TCP_PORT", "8480"),
            ("IMAP_SDC_PROCESSOR__WORKER_ID", "1"),
        ]);
        let config = Config::load(None, &environment, &[]).unwrap();
        assert_eq!(config.processor.worker_id.as_deref(), Some("1"));
    }

    #[test]
    fn the_async_runtime_keeps_tokios_default_unless_set() {
        assert_eq!(Config::load(None, &HashMap::new(), &[]).unwrap().async_threads, None);
        let set = Config::load(None, &environment(&[("IMAP_SDC_ASYNC_THREADS", "3")]), &[]).unwrap();
        assert_eq!(set.async_threads, NonZeroUsize::new(3));
        let error = Config::load(None, &environment(&[("IMAP_SDC_ASYNC_THREADS", "0")]), &[]).unwrap_err().to_string();
        assert!(error.contains("IMAP_SDC_ASYNC_THREADS"), "{error}");
    }

    #[test]
    fn a_peer_may_list_its_replicas_each_checked() {
        let replicas = "https://indexer-1:8481,https://indexer-2:8481";
        let config = Config::load(None, &environment(&[("IMAP_SDC_PEERS__INDEXER", replicas)]), &[]).unwrap();
        assert_eq!(config.peers.indexer.as_deref(), Some(replicas));
        let written = "https://starter-1:8481,starter-2:8481";
        let flags = [Flag::new(format!("--peer starter={written}"), "peers.starter", written)];
        let error = Config::load(None, &HashMap::new(), &flags).unwrap_err().to_string();
        assert!(error.contains("peers.starter") && error.contains("\"starter-2:8481\" is not an http"), "{error}");
    }

    #[test]
    fn anonymous_access_is_all_unless_the_environment_says_released() {
        assert_eq!(Config::default().gateway.anonymous_access, gateway::AnonymousAccess::All);
        let released = environment(&[("IMAP_SDC_GATEWAY__ANONYMOUS_ACCESS", "released")]);
        assert_eq!(
            Config::load(None, &released, &[]).unwrap().gateway.anonymous_access,
            gateway::AnonymousAccess::Released
        );
        let unknown = environment(&[("IMAP_SDC_GATEWAY__ANONYMOUS_ACCESS", "everyone")]);
        let error = Config::load(None, &unknown, &[]).unwrap_err().to_string();
        assert!(error.contains("IMAP_SDC_GATEWAY__ANONYMOUS_ACCESS"), "{error}");
    }

    #[test]
    fn default_config_round_trips_through_toml_with_durations_as_text() {
        let config = Config::default();
        let text = config.to_toml();
        assert!(text.contains("lease = \"2m\""), "{text}");
        assert!(text.contains("drain_timeout = \"25s\""), "{text}");
        let parsed: Config = toml::from_str(&text).unwrap();
        assert_eq!(parsed.listen, config.listen);
        assert_eq!(parsed.starter.lease, config.starter.lease);
        assert_eq!(parsed.mesh, config.mesh);
    }

    #[test]
    fn the_processors_built_in_science_follows_the_graph_unless_set() {
        let science = |pairs: &[(&str, &str)]| {
            Config::load(None, &environment(pairs), &[]).unwrap().processor_config().builtin_science
        };
        use processor::BuiltinScience::{All, Decoders};
        assert_eq!(science(&[]), Some(Decoders), "the mission's graph is the default");
        assert_eq!(science(&[("IMAP_SDC_DEPSVC__BUILTIN_GRAPH", "project")]), Some(All));
        assert_eq!(science(&[("IMAP_SDC_DEPSVC__GRAPH_FILE", "graphs/two-level.toml")]), Some(All));
        assert_eq!(science(&[("IMAP_SDC_DEPSVC__GRAPH_FILE", "imap_swe_dependencies.yaml")]), Some(Decoders));
        let pinned =
            [("IMAP_SDC_DEPSVC__BUILTIN_GRAPH", "project"), ("IMAP_SDC_PROCESSOR__BUILTIN_SCIENCE", "decoders")];
        assert_eq!(science(&pinned), Some(Decoders), "a processor's own setting wins");
        let config = Config::load(None, &environment(&[]), &[]).unwrap();
        assert!(config.seed_kernels && config.depsvc.uses_mission_graph());
        assert!(!Config::load(None, &environment(&[("IMAP_SDC_SEED_KERNELS", "false")]), &[]).unwrap().seed_kernels);
    }
}
