//! Settings every node shares, and the helpers role configs use: durations and sizes written as
//! people write them ([`duration`], [`byte_size`]) and a list that collects every problem of a
//! config at once ([`Problems`]).

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use proto::clients::{ClientSettings, DEFAULT_MAX_MESSAGE_BYTES};
use proto::retry::RetryPolicy;

pub mod byte_size;

/// Durations in config files and the environment: a number and a unit, `250ms`, `30s`, `5m`,
/// `2h`, `1d` (decimals allowed, `1.5h`); a bare integer means seconds. Written back in the
/// largest unit that keeps it exact (`300` reads as `5m`).
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    const UNITS: [(&str, u64); 5] = [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)];

    /// Parses `250ms`, `30s`, `5m`, `2h`, `1d`, `1.5h`, or a bare integer of seconds.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        let invalid = || {
            format!(
                "invalid duration {text:?}: expected a number and a unit (ms, s, m, h, d), e.g. \"30s\" or \"5m\"; a bare integer means seconds"
            )
        };
        if let Ok(seconds) = text.parse::<u64>() {
            return Ok(Duration::from_secs(seconds));
        }
        let split =
            text.find(|character: char| !(character.is_ascii_digit() || character == '.')).ok_or_else(invalid)?;
        let (number, unit) = text.split_at(split);
        let millis_per_unit =
            UNITS.iter().find(|(name, _)| *name == unit.trim()).map(|(_, millis)| *millis).ok_or_else(invalid)?;
        let number: f64 = number.parse().map_err(|_| invalid())?;
        let millis = number * millis_per_unit as f64;
        if !millis.is_finite() || millis < 0.0 || millis > u64::MAX as f64 / 2.0 {
            return Err(invalid());
        }
        Ok(Duration::from_millis(millis.round() as u64))
    }

    /// The shortest exact text of a duration (whole milliseconds).
    pub fn format(duration: Duration) -> String {
        let millis = duration.as_millis() as u64;
        if millis == 0 {
            return "0s".into();
        }
        let (unit, per_unit) =
            UNITS.iter().find(|(_, per_unit)| millis.is_multiple_of(*per_unit)).expect("ms divides all");
        format!("{}{unit}", millis / per_unit)
    }

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(*duration))
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Seconds(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        match Written::deserialize(deserializer) {
            Ok(Written::Seconds(seconds)) => Ok(Duration::from_secs(seconds)),
            Ok(Written::Text(text)) => parse(&text).map_err(serde::de::Error::custom),
            Err(_) => Err(serde::de::Error::custom(
                "expected a duration such as \"30s\", \"5m\" or \"250ms\" (a bare integer means seconds)",
            )),
        }
    }

    /// For `Option<Duration>` fields: unset, or a duration.
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(duration: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
            match duration {
                Some(duration) => super::serialize(duration, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
            #[derive(Deserialize)]
            struct Wrapped(#[serde(with = "super")] Duration);
            Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(duration)| duration))
        }
    }
}

/// Every problem a config has, so one run reports them all.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(Vec<String>);

impl Problems {
    /// Records `problem` about setting `key` unless `fine`.
    pub fn check(&mut self, fine: bool, key: &str, problem: impl FnOnce() -> String) {
        if !fine {
            self.push(format!("{key}: {}", problem()));
        }
    }

    pub fn push(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

/// How the roles of a node talk to each other and to the world: `[mesh]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeshConfig {
    /// After shutdown is asked for, how long in-flight work (running jobs, trigger evaluations,
    /// campaign planning, uploads) may take to finish before the node exits anyway. Keep it below
    /// the orchestrator's grace period (Kubernetes: 30s unless set).
    #[serde(with = "duration")]
    pub drain_timeout: Duration,
    /// Address of the internal listener, where the mesh services answer callers with a mesh
    /// certificate (mutual TLS). Unset: the public listener's host, its port + 1 (8481), or an
    /// ephemeral port when the public port is 0.
    pub internal_listen: Option<String>,
    /// The mesh's certificates (`ca.pem`, `<role>.pem`, `<role>.key`; `imap-sdc certs init`).
    /// Unset: `<data_dir>/certs`, made on first start when absent (laptop mode). A folder named
    /// here is never filled automatically: every node of a cluster must share one CA.
    pub cert_dir: Option<std::path::PathBuf>,
    /// On PostgreSQL the indexer and the starter may run as several replicas: one leads, the others
    /// stand by and take over within twice this after the leader dies or is cut off (it renews
    /// every third of it). Shorter means faster takeover and more lease writes.
    #[serde(with = "duration")]
    pub leader_lease: Duration,
    /// Roles of one node call each other inside the process (no TLS, no HTTP/2, no socket),
    /// through the internal listener's server stack and authorisation table, each as itself.
    /// False sends them through the internal listener like calls from other hosts.
    pub in_process_calls: bool,
    pub client: ClientConfig,
    pub server: ServerConfig,
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            drain_timeout: Duration::from_secs(25),
            internal_listen: None,
            cert_dir: None,
            leader_lease: Duration::from_secs(5),
            in_process_calls: true,
            client: ClientConfig::default(),
            server: ServerConfig::default(),
        }
    }
}

/// Outbound calls: `[mesh.client]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// How long establishing a connection to a peer may take.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// How long a unary call may take, its retries included. Streaming calls (the event stream,
    /// the work stream) have none.
    #[serde(with = "duration")]
    pub deadline: Duration,
    /// Attempts of a unary call that fails transiently (peer restarting, shedding load), the
    /// first included; 1 sends every call once.
    pub retry_attempts: NonZeroU32,
    /// Wait before the first resend; it doubles up to `retry_max_delay`, with jitter.
    #[serde(with = "duration")]
    pub retry_first_delay: Duration,
    #[serde(with = "duration")]
    pub retry_max_delay: Duration,
    /// Calls one client (one per peer role) has in flight at once; more wait their turn.
    pub concurrency_limit: NonZeroUsize,
    /// Largest message sent to or accepted from a peer.
    pub max_message_bytes: NonZeroUsize,
    /// How often a connection to a peer is pinged, and how long the answer may take before the
    /// peer is taken for gone (cut off mid-call): its calls fail, a stream reconnects, and a
    /// peer given as several replicas moves on to the next.
    #[serde(with = "duration")]
    pub keepalive_interval: Duration,
    #[serde(with = "duration")]
    pub keepalive_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        let settings = ClientSettings::default();
        ClientConfig {
            connect_timeout: settings.connect_timeout,
            deadline: settings.deadline,
            retry_attempts: settings.retry.max_attempts.unwrap_or(NonZeroU32::MIN),
            retry_first_delay: settings.retry.first_delay,
            retry_max_delay: settings.retry.max_delay,
            concurrency_limit: settings.concurrency_limit,
            max_message_bytes: settings.max_message_bytes,
            keepalive_interval: settings.keepalive_interval,
            keepalive_timeout: settings.keepalive_timeout,
        }
    }
}

impl ClientConfig {
    pub fn settings(&self) -> ClientSettings {
        ClientSettings {
            connect_timeout: self.connect_timeout,
            deadline: self.deadline,
            retry: RetryPolicy::attempts(self.retry_attempts, self.retry_first_delay, self.retry_max_delay),
            concurrency_limit: self.concurrency_limit,
            max_message_bytes: self.max_message_bytes,
            keepalive_interval: self.keepalive_interval,
            keepalive_timeout: self.keepalive_timeout,
        }
    }
}

/// The listener: `[mesh.server]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Requests handled at once; beyond it the node sheds load (gRPC `RESOURCE_EXHAUSTED`, HTTP
    /// 429 with `Retry-After`) instead of queueing without bound. Health checks are never shed.
    pub concurrency_limit: NonZeroUsize,
    /// How long a unary call or REST request may take to be answered (`DEADLINE_EXCEEDED`, HTTP
    /// 504). Streaming calls and uploads (REST `PUT`, whose body may be gigabytes) have none.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// HTTP/2 streams one connection may have open at once.
    pub max_concurrent_streams: NonZeroU32,
    /// How often an idle HTTP/2 connection is pinged, and how long the answer may take before the
    /// connection is dropped (a peer that vanished without closing it).
    #[serde(with = "duration")]
    pub keepalive_interval: Duration,
    #[serde(with = "duration")]
    pub keepalive_timeout: Duration,
    /// Largest message a service accepts or sends.
    pub max_message_bytes: NonZeroUsize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            concurrency_limit: NonZeroUsize::new(256).expect("not zero"),
            request_timeout: Duration::from_secs(60),
            max_concurrent_streams: NonZeroU32::new(256).expect("not zero"),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(20),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

impl MeshConfig {
    /// What the types cannot say: durations that must not be zero, delays in order.
    pub fn validate(&self, problems: &mut Problems) {
        let positive = |duration: Duration| !duration.is_zero();
        problems.check(positive(self.drain_timeout), "mesh.drain_timeout", || "must be longer than 0s".into());
        if let Some(address) = &self.internal_listen {
            problems.check(
                address.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()),
                "mesh.internal_listen",
                || format!("{address:?} is not host:port"),
            );
        }
        problems.check(self.leader_lease >= Duration::from_millis(300), "mesh.leader_lease", || {
            "must be at least 300ms".into()
        });
        problems.check(positive(self.client.connect_timeout), "mesh.client.connect_timeout", || {
            "must be longer than 0s".into()
        });
        problems.check(positive(self.client.deadline), "mesh.client.deadline", || "must be longer than 0s".into());
        problems.check(
            self.client.retry_first_delay <= self.client.retry_max_delay,
            "mesh.client.retry_first_delay",
            || {
                format!(
                    "{} is longer than mesh.client.retry_max_delay ({})",
                    duration::format(self.client.retry_first_delay),
                    duration::format(self.client.retry_max_delay)
                )
            },
        );
        problems.check(positive(self.client.keepalive_interval), "mesh.client.keepalive_interval", || {
            "must be longer than 0s".into()
        });
        problems.check(positive(self.client.keepalive_timeout), "mesh.client.keepalive_timeout", || {
            "must be longer than 0s".into()
        });
        problems.check(positive(self.server.request_timeout), "mesh.server.request_timeout", || {
            "must be longer than 0s".into()
        });
        problems.check(positive(self.server.keepalive_interval), "mesh.server.keepalive_interval", || {
            "must be longer than 0s".into()
        });
        problems.check(positive(self.server.keepalive_timeout), "mesh.server.keepalive_timeout", || {
            "must be longer than 0s".into()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        for (text, millis) in [
            ("250ms", 250),
            ("30s", 30_000),
            ("5m", 300_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
            ("1.5h", 5_400_000),
            ("45", 45_000),
            (" 10 s", 10_000),
        ] {
            assert_eq!(duration::parse(text), Ok(Duration::from_millis(millis)), "{text}");
        }
        for bad in ["", "5x", "m", "-1s", "1.2.3s", "1e400d"] {
            let error = duration::parse(bad).expect_err(bad);
            assert!(error.contains("a bare integer means seconds"), "{error}");
        }
    }

    #[test]
    fn durations_are_written_in_the_largest_exact_unit() {
        for (millis, text) in
            [(0, "0s"), (250, "250ms"), (1500, "1500ms"), (300_000, "5m"), (86_400_000, "1d"), (90_000, "90s")]
        {
            assert_eq!(duration::format(Duration::from_millis(millis)), text);
            assert_eq!(duration::parse(text), Ok(Duration::from_millis(millis)));
        }
    }

    #[test]
    fn config_round_trips_and_zero_is_refused_where_it_makes_no_sense() {
        let config = MeshConfig::default();
        let text = toml::to_string(&config).unwrap();
        assert!(text.contains("drain_timeout = \"25s\""), "{text}");
        assert_eq!(toml::from_str::<MeshConfig>(&text).unwrap(), config);
        let zero_streams = toml::from_str::<MeshConfig>("[server]\nmax_concurrent_streams = 0\n").unwrap_err();
        assert!(zero_streams.to_string().contains("nonzero"), "{zero_streams}");
        let mut problems = Problems::default();
        let config: MeshConfig =
            toml::from_str("drain_timeout = 0\n[client]\nretry_first_delay = \"2s\"\nretry_max_delay = \"1s\"\n")
                .unwrap();
        config.validate(&mut problems);
        assert_eq!(problems.into_vec().len(), 2, "both problems are reported");
    }
}
