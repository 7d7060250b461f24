//! The CPU pool the science runs on. Its threads run at a lower priority (`processor.science_nice`)
//! than the async runtime, so leasing, dispatch, indexing and gRPC run first whenever every CPU is
//! busy with science: the science then gets whatever the event path leaves, which is almost all.

use crate::config::ProcessorConfig;
use crate::error::ProcessorError;

/// The science pool of `config`: `cpu_threads` threads named `science-N`, each at niceness
/// `science_nice`.
pub(crate) fn science_pool(config: &ProcessorConfig) -> Result<rayon::ThreadPool, ProcessorError> {
    let nice = config.science_nice;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.effective_cpu_threads())
        .thread_name(|index| format!("science-{index}"))
        .start_handler(move |_| lower_this_threads_priority(nice))
        // Without a handler a panic in a spawned task aborts the whole node.
        .panic_handler(|payload| {
            let message = crate::science::panic_message(&*payload);
            tracing::error!(panic = %message, "a task on the science pool panicked");
        })
        .build()?;
    Ok(pool)
}

/// Sets the calling thread's niceness to `nice`, unless it already runs nicer (a node started
/// under `nice`): science never gets a higher priority than the node. On Linux niceness belongs
/// to each thread, and `setpriority(PRIO_PROCESS, 0, ..)` changes the calling thread alone, so
/// the runtime's threads keep theirs. Programs a science thread starts inherit it.
fn lower_this_threads_priority(nice: i32) {
    let current = rustix::process::getpriority_process(None).unwrap_or(0);
    if nice <= current {
        return;
    }
    if let Err(error) = rustix::process::setpriority_process(None, nice) {
        tracing::warn!(nice, %error, "a science thread could not lower its priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The niceness of the calling thread.
    fn this_threads_nice() -> i32 {
        rustix::process::getpriority_process(None).expect("getpriority")
    }

    #[test]
    fn science_threads_run_at_the_configured_niceness_and_the_caller_keeps_its_own() {
        let before = this_threads_nice();
        let config = ProcessorConfig {
            cpu_threads: std::num::NonZeroUsize::new(2),
            science_nice: 7,
            ..ProcessorConfig::default()
        };
        let pool = science_pool(&config).unwrap();
        let seen: Vec<(String, i32)> =
            pool.broadcast(|_| (std::thread::current().name().unwrap_or_default().to_string(), this_threads_nice()));
        assert_eq!(seen.len(), 2);
        for (name, nice) in seen {
            assert!(name.starts_with("science-"), "{name}");
            assert_eq!(nice, before.max(7), "thread {name}");
        }
        assert_eq!(this_threads_nice(), before, "only the pool's threads are lowered");
    }

    #[test]
    fn niceness_zero_leaves_science_threads_at_the_processs_priority() {
        let before = this_threads_nice();
        let config = ProcessorConfig { science_nice: 0, ..ProcessorConfig::default() };
        let pool = science_pool(&config).unwrap();
        assert_eq!(pool.install(this_threads_nice), before);
    }
}
