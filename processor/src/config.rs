//! What the processor needs to know, owned by the processor.

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
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig { worker_id: None, slots: 0, cpu_threads: 0, heartbeat_seconds: 10 }
    }
}

impl ProcessorConfig {
    pub fn effective_slots(&self) -> u32 {
        if self.slots == 0 { available_cpus() as u32 } else { self.slots }
    }

    pub fn effective_cpu_threads(&self) -> usize {
        if self.cpu_threads == 0 { available_cpus() } else { self.cpu_threads }
    }
}

fn available_cpus() -> usize {
    std::thread::available_parallelism().map(|count| count.get()).unwrap_or(1)
}
