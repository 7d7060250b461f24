//! What the processor needs to know, owned by the processor.

use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessorConfig {
    /// Name this processor gives the starter; a fresh one per process when unset.
    pub worker_id: Option<String>,
    /// Jobs run at once; 0 means one per CPU.
    pub slots: u32,
    /// Threads of the CPU pool the science runs on; 0 means one per CPU.
    pub cpu_threads: usize,
    /// Seconds between lease heartbeats to the starter.
    pub heartbeat_seconds: u64,
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
    pub l2_cadence_seconds: f64,
    /// Bin width of the L3 multi-day averages.
    pub l3_cadence_seconds: f64,
    /// How far apart two records of different instruments may be and still be joined.
    pub join_tolerance_seconds: f64,
    /// Where external programs get their temporary working folders; the system's when unset.
    pub work_dir: Option<PathBuf>,
    /// Science programs run as commands instead of the built-in algorithms.
    pub external: Vec<ExternalScienceConfig>,
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
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
}

fn match_any() -> String {
    "*".to_string()
}

fn default_timeout_seconds() -> u64 {
    3600
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            worker_id: None,
            slots: 0,
            cpu_threads: 0,
            heartbeat_seconds: 10,
            xtce_dir: None,
            apid_descriptors: BTreeMap::new(),
            sclk_kernel: None,
            l2_cadence_seconds: 60.0,
            l3_cadence_seconds: 3600.0,
            join_tolerance_seconds: 60.0,
            work_dir: None,
            external: Vec::new(),
        }
    }
}

impl ProcessorConfig {
    pub fn effective_slots(&self) -> u32 {
        if self.slots == 0 { available_cpus() as u32 } else { self.slots }
    }

    pub fn effective_cpu_threads(&self) -> usize {
        if self.cpu_threads == 0 { available_cpus() } else { self.cpu_threads }
    }

    pub fn effective_work_dir(&self) -> PathBuf {
        self.work_dir.clone().unwrap_or_else(std::env::temp_dir)
    }
}

fn available_cpus() -> usize {
    std::thread::available_parallelism().map(|count| count.get()).unwrap_or(1)
}
