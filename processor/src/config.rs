//! What the processor needs to know, owned by the processor.

use std::collections::BTreeMap;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use mesh_runtime::config::byte_size::ByteSize;
use mesh_runtime::config::{Problems, duration};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessorConfig {
    /// Name this processor gives the starter; a fresh one per process when unset.
    pub worker_id: Option<String>,
    /// Jobs run at once; one more than the CPUs when unset, so a job waiting on its outputs' disk
    /// sync or the indexer leaves no CPU idle.
    pub slots: Option<NonZeroU32>,
    /// Threads of the CPU pool the science runs on; one per CPU but one when unset (at least one),
    /// so the async runtime that leases, dispatches and indexes always has a CPU to run on.
    pub cpu_threads: Option<NonZeroUsize>,
    /// Niceness of the science pool's threads, 0 (the node's own priority) to 19: when every CPU
    /// is busy with science, the node's event path (leasing, dispatch, indexing, gRPC) still runs
    /// first. Programs the science starts inherit it (a rule's `limits.nice` can lower them more).
    pub science_nice: i32,
    /// Time between lease heartbeats to the starter (keep it well below `starter.lease`).
    #[serde(with = "duration")]
    pub heartbeat_interval: Duration,
    /// Folder of XTCE packet definitions (`<instrument>.xml`) that override the built-in ones
    /// (the `deploy/xtce` files, compiled into the binary) per instrument: an instrument with a
    /// file here uses it, any other instrument its built-in definition. Unset: built-in only.
    pub xtce_dir: Option<PathBuf>,
    /// Per instrument, the L1A descriptors each APID's packets are written under, e.g.
    /// `[processor.apid_descriptors.swapi] 1188 = ["sci"]`. Overrides the built-in table;
    /// an APID in neither gets `apid<N>`.
    pub apid_descriptors: BTreeMap<String, BTreeMap<u16, Vec<String>>>,
    /// SPICE SCLK kernel (`imap_sclk_NNNN.tsc`) that converts packet times (MET) to TT2000,
    /// with the flight clock's measured drift; the nominal clock when unset.
    pub sclk_kernel: Option<PathBuf>,
    /// Bin width of the L2 time averages.
    #[serde(with = "duration")]
    pub l2_cadence: Duration,
    /// Bin width of the L3 multi-day averages.
    #[serde(with = "duration")]
    pub l3_cadence: Duration,
    /// How far apart two records of different instruments may be and still be joined.
    #[serde(with = "duration")]
    pub join_tolerance: Duration,
    /// Where external programs get their temporary working folders; the system's when unset.
    pub work_dir: Option<PathBuf>,
    /// Science programs run as commands instead of the built-in algorithms.
    pub external: Vec<ExternalScienceConfig>,
    /// Products made by the mission's own program in its conventions (`imap_cli`); these win
    /// over `external` programs, which win over the built-in science.
    pub mission_program: Vec<MissionProgramConfig>,
    /// Products kept on the built-in science even where a broader `mission_program` or
    /// `external` rule matches (e.g. the fast Rust L1A decoder): `[[processor.builtin]]`.
    pub builtin: Vec<ProductPattern>,
    /// Which built-in science makes products no rule names. Unset: `all` for a processor on
    /// its own; a node sets it from its graph (`decoders` with the mission's YAML graph, `all`
    /// with the project's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builtin_science: Option<BuiltinScience>,
    /// Set by `imap-sdc bench mesh --busy` only: science made CPU-heavy on some days.
    #[serde(skip)]
    pub busy_science: Option<crate::science::bench::BusyScience>,
}

/// The built-in science a processor offers where no rule names a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuiltinScience {
    /// The XTCE L1A decoder and the project's generic algorithms above it (calibrations, time
    /// merges, averages, nearest-time joins), which make the project graph's products.
    All,
    /// The XTCE L1A decoder only: the mission graph's higher levels are the instrument teams'
    /// science, which the generic algorithms would only imitate, so a job no rule covers fails
    /// saying so instead.
    Decoders,
}

/// Which products a rule covers: instrument, level and descriptor; `*` matches any, `l3*` any
/// prefix.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductPattern {
    pub instrument: String,
    pub level: String,
    #[serde(default = "match_any")]
    pub descriptor: String,
}

/// One product family made by the mission's program: `[[processor.mission_program]]`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissionProgramConfig {
    /// Instrument, level and descriptor of the jobs; `*` matches any, `l3*` any prefix.
    pub instrument: String,
    pub level: String,
    #[serde(default = "match_any")]
    pub descriptor: String,
    /// Program and leading arguments; the mission's `--instrument … --dependency …` follow.
    #[serde(default = "default_mission_command")]
    pub command: Vec<String>,
    /// The program's process group is killed (and the job fails) after this long.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
    /// Variables of the processor's environment passed on beyond the allow-list (PATH, locale, TZ).
    #[serde(default)]
    pub pass_env: Vec<String>,
    /// Variables set for the program (e.g. `IMAP_DATA_ACCESS_URL`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Memory, CPU and priority limits of each run: `limits = { memory = "4GiB", cpu_time = "1h" }`.
    #[serde(default, skip_serializing_if = "ResourceLimits::is_unlimited")]
    pub limits: ResourceLimits,
    /// Runs the program inside this container image instead of as a process of the node:
    /// `container = { image = "imap-swapi-science:1.0.40" }`. `command` is then what runs inside
    /// (empty: the image's entry point).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerConfig>,
}

/// What one run of a science program may use. A process gets its limits before it starts
/// (`memory` as RLIMIT_AS, `cpu_time` as RLIMIT_CPU, `nice`); a container gets them from docker
/// (`--memory`, `--ulimit cpu`, `--cpus`). A run past a limit fails and says which.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceLimits {
    /// Memory the run may map (a process: its address space, so leave room for what libraries
    /// reserve; a container: its memory, no swap beyond it), e.g. `"4GiB"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
    /// CPU time the run may use, all its threads together; it is then killed (SIGXCPU).
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub cpu_time: Option<Duration>,
    /// CPUs a container may use at once (`docker --cpus`, fractions allowed). Containers only:
    /// a process is held back with `nice` instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Scheduling priority of a process, 0 (normal) to 19 (runs only when nothing else wants the
    /// CPU), so science yields to the node's event path. Processes only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nice: Option<i32>,
}

impl ResourceLimits {
    pub fn is_unlimited(&self) -> bool {
        *self == ResourceLimits::default()
    }

    /// Problems of these limits, for a program run as a container or as a process.
    fn validate(&self, key: &str, in_container: bool, problems: &mut Problems) {
        if let Some(memory) = self.memory {
            problems.check(memory >= MINIMUM_MEMORY, &format!("{key}.memory"), || {
                format!("{memory} is too little to start a program; give at least {MINIMUM_MEMORY}")
            });
        }
        if let Some(cpu_time) = self.cpu_time {
            problems.check(cpu_time >= Duration::from_secs(1), &format!("{key}.cpu_time"), || {
                "must be at least 1s (the kernel counts CPU time in whole seconds)".into()
            });
        }
        if let Some(cpus) = self.cpus {
            problems.check(cpus.is_finite() && cpus > 0.0, &format!("{key}.cpus"), || {
                format!("{cpus} is not a positive number of CPUs")
            });
            problems.check(in_container, &format!("{key}.cpus"), || {
                "needs a container (docker --cpus); hold a process back with nice and cpu_time".into()
            });
        }
        if let Some(nice) = self.nice {
            problems.check((0..=19).contains(&nice), &format!("{key}.nice"), || {
                format!("{nice} is not a niceness from 0 (normal) to 19 (lowest priority)")
            });
            problems.check(!in_container, &format!("{key}.nice"), || {
                "applies to processes; give a container its share with cpus".into()
            });
        }
    }
}

/// Less memory than this cannot start a program (docker refuses under 6 MiB).
const MINIMUM_MEMORY: ByteSize = ByteSize(8 << 20);

/// The container a mission program runs in: `docker run --rm --network none` with the job's
/// inputs mounted read-only in the archive layout, the rest of `IMAP_DATA_DIR` writable.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerConfig {
    /// The image, already on the node (it is never pulled), e.g. `"imap-swapi-science:1.0.40"`.
    pub image: String,
    /// Docker network the container joins; unset, it has none (`--network none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The docker command line program (or a compatible one, e.g. `podman`).
    #[serde(default = "default_docker")]
    pub docker: String,
}

fn default_docker() -> String {
    "docker".to_string()
}

impl ContainerConfig {
    fn validate(&self, key: &str, problems: &mut Problems) {
        // Each is one argument of `docker run`: never empty, never read as an option.
        let one_word = |text: &str| !text.is_empty() && !text.starts_with('-') && !text.contains(char::is_whitespace);
        problems.check(one_word(&self.image), &format!("{key}.image"), || {
            format!("{:?} is not an image name (e.g. \"imap-swapi-science:1.0.40\")", self.image)
        });
        if let Some(network) = &self.network {
            problems.check(one_word(network), &format!("{key}.network"), || {
                format!("{network:?} is not a docker network name (leave it unset for none)")
            });
        }
        problems
            .check(!self.docker.trim().is_empty(), &format!("{key}.docker"), || "must name the docker program".into());
    }
}

fn default_mission_command() -> Vec<String> {
    vec!["imap_cli".to_string()]
}

/// One external science program: `[[processor.external]]`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalScienceConfig {
    /// Instrument, level and descriptor this program makes; `*` matches any, `l3*` any prefix.
    pub instrument: String,
    pub level: String,
    #[serde(default = "match_any")]
    pub descriptor: String,
    /// Program and arguments; `{input_list}`, `{output_dir}`, `{instrument}`, `{level}`,
    /// `{descriptor}`, `{date}` and `{version}` are replaced before it runs.
    pub command: Vec<String>,
    /// The program is killed (and the job fails) after this long.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
    /// Variables of the node's environment passed on besides PATH, HOME, LANG, LC_*, TZ and
    /// TMPDIR (e.g. `["IMAP_DATA_ACCESS_URL"]`); everything else is withheld from the program.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_env: Vec<String>,
    /// Memory, CPU time and priority of each run (`cpus` needs a container).
    #[serde(default, skip_serializing_if = "ResourceLimits::is_unlimited")]
    pub limits: ResourceLimits,
}

fn match_any() -> String {
    "*".to_string()
}

fn default_timeout() -> Duration {
    Duration::from_secs(3600)
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            worker_id: None,
            slots: None,
            cpu_threads: None,
            science_nice: DEFAULT_SCIENCE_NICE,
            heartbeat_interval: Duration::from_secs(10),
            xtce_dir: None,
            apid_descriptors: BTreeMap::new(),
            sclk_kernel: None,
            l2_cadence: Duration::from_secs(60),
            l3_cadence: Duration::from_secs(3600),
            join_tolerance: Duration::from_secs(60),
            work_dir: None,
            external: Vec::new(),
            mission_program: Vec::new(),
            builtin: Vec::new(),
            builtin_science: None,
            busy_science: None,
        }
    }
}

impl ProcessorConfig {
    pub fn effective_slots(&self) -> u32 {
        self.slots.map_or(slots_for(available_cpus()), NonZeroU32::get)
    }

    pub fn effective_cpu_threads(&self) -> usize {
        self.cpu_threads.map_or(science_threads_for(available_cpus()), NonZeroUsize::get)
    }

    /// What the types cannot say: durations the science divides by, programs to run.
    pub fn validate(&self, problems: &mut Problems) {
        for (key, length) in [
            ("processor.heartbeat_interval", self.heartbeat_interval),
            ("processor.l2_cadence", self.l2_cadence),
            ("processor.l3_cadence", self.l3_cadence),
            ("processor.join_tolerance", self.join_tolerance),
        ] {
            problems.check(!length.is_zero(), key, || "must be longer than 0s".into());
        }
        problems.check((0..=19).contains(&self.science_nice), "processor.science_nice", || {
            format!("{} is not a niceness from 0 (normal) to 19 (lowest priority)", self.science_nice)
        });
        for (index, external) in self.external.iter().enumerate() {
            problems.check(!external.command.is_empty(), &format!("processor.external[{index}].command"), || {
                let product =
                    proto::product::ProductName::new(&external.instrument, &external.level, &external.descriptor);
                format!("external science for {product} has an empty command")
            });
            problems.check(!external.timeout.is_zero(), &format!("processor.external[{index}].timeout"), || {
                "must be longer than 0s".into()
            });
            external.limits.validate(&format!("processor.external[{index}].limits"), false, problems);
        }
        self.validate_mission_programs(problems);
    }

    fn validate_mission_programs(&self, problems: &mut Problems) {
        for (index, program) in self.mission_program.iter().enumerate() {
            let key = |field: &str| format!("processor.mission_program[{index}].{field}");
            // In a container an empty command runs the image's entry point.
            problems.check(!program.command.is_empty() || program.container.is_some(), &key("command"), || {
                "must name the program".into()
            });
            program.limits.validate(&key("limits"), program.container.is_some(), problems);
            if let Some(container) = &program.container {
                container.validate(&key("container"), problems);
            }
            problems.check(!program.timeout.is_zero(), &key("timeout"), || "must be longer than 0s".into());
            for name in program.env.keys().chain(&program.pass_env) {
                problems.check(!name.is_empty() && !name.contains('='), &key("env"), || {
                    format!("{name:?} is not a variable name")
                });
            }
        }
    }

    pub fn effective_work_dir(&self) -> PathBuf {
        self.work_dir.clone().unwrap_or_else(std::env::temp_dir)
    }
}

/// The science pool's default niceness: a thread at nice 10 gets about a tenth of a CPU's share
/// against one at 0 (measured with `imap-sdc bench mesh --busy`).
const DEFAULT_SCIENCE_NICE: i32 = 10;

/// The default science pool: every CPU but one, which the event path keeps (measured with
/// `imap-sdc bench mesh --trickle`: with a thread per CPU, dispatch waits behind science).
fn science_threads_for(cpus: usize) -> usize {
    cpus.saturating_sub(1).max(1)
}

/// The default slots: a job holds its slot through the sync of its outputs and the indexer's
/// round trip as well as its science, so one slot per CPU left 0.7 of 2 CPUs idle with jobs queued;
/// one more served the 500 jobs/s of `imap-sdc bench mesh --trickle 100` (BENCHMARKS.md).
fn slots_for(cpus: usize) -> u32 {
    u32::try_from(cpus).unwrap_or(u32::MAX).saturating_add(1)
}

fn available_cpus() -> usize {
    std::thread::available_parallelism().map(|count| count.get()).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::{science_threads_for, slots_for};

    #[test]
    fn the_default_science_pool_leaves_one_cpu_to_the_event_path() {
        assert_eq!([1, 2, 4, 16].map(science_threads_for), [1, 1, 3, 15]);
    }

    #[test]
    fn the_default_slots_are_one_more_than_the_cpus() {
        assert_eq!([1, 2, 4, 16].map(slots_for), [2, 3, 5, 17]);
    }
}
