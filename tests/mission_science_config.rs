//! The shipped `deploy/mission-science.toml` runs the mission's program (`imap_cli`) for every
//! job of the mission's graph that `imap_cli` processes: every job below L3 (the L3 products are
//! made by the separate imap-l3-processing package), with each rule covering some job. With
//! `imap_cli` here, the levels the rules send it are checked against the levels it accepts
//! (`imap_processing.PROCESSING_LEVELS`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use imap_sdc::config::Config;
use processor::ProcessorConfig;
use processor::science::Registry;
use proto::pb::ProductKey;

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/mission-science.toml");

fn shipped() -> Config {
    Config::load(Some(Path::new(SHIPPED)), &HashMap::new(), &[]).expect("the shipped config loads")
}

/// Every job of the graph the shipped config runs, as the processor's product keys.
fn mission_jobs(config: &Config) -> Vec<ProductKey> {
    let graph = depsvc::configured_graph(&config.depsvc).expect("the mission graph loads");
    graph
        .products()
        .iter()
        .map(|product| ProductKey {
            instrument: product.key.instrument.clone(),
            data_level: product.key.data_level.clone(),
            descriptor: product.key.descriptor.clone(),
        })
        .collect()
}

/// The jobs `processor` sends to the mission's program.
fn run_by_the_mission_program(processor: &ProcessorConfig, jobs: &[ProductKey]) -> BTreeSet<String> {
    let registry = Registry::from_config(processor).expect("the rules are valid");
    jobs.iter()
        .filter(|job| registry.select(job).is_some_and(|algorithm| algorithm.name() == "mission-program"))
        .map(ToString::to_string)
        .collect()
}

#[test]
fn every_mission_graph_job_below_l3_runs_the_missions_program_and_every_rule_is_used() {
    let config = shipped();
    assert!(config.depsvc.uses_mission_graph(), "the config runs the mission's graph");
    let processor = config.processor_config();
    let jobs = mission_jobs(&config);
    let covered = run_by_the_mission_program(&processor, &jobs);
    let below_l3: BTreeSet<String> =
        jobs.iter().filter(|job| !job.data_level.starts_with("l3")).map(ToString::to_string).collect();
    let uncovered: Vec<&String> = below_l3.difference(&covered).collect();
    assert!(uncovered.is_empty(), "jobs imap_cli makes but no rule sends to it: {uncovered:?}");
    let beyond: Vec<&String> = covered.difference(&below_l3).collect();
    assert!(beyond.is_empty(), "L3 jobs are not imap_cli's: {beyond:?}");
    assert!(below_l3.len() > 100, "the whole graph was read: {} jobs below L3", below_l3.len());

    for rule in &processor.mission_program {
        let alone = ProcessorConfig { mission_program: vec![rule.clone()], ..processor.clone() };
        assert!(
            !run_by_the_mission_program(&alone, &jobs).is_empty(),
            "the rule {} {} {} covers no job of the graph",
            rule.instrument,
            rule.level,
            rule.descriptor
        );
        assert!(rule.limits.memory.is_some(), "{} {}: every rule bounds its memory", rule.instrument, rule.level);
    }
}

/// `imap_processing.PROCESSING_LEVELS` of the `imap_cli` on PATH, read with its own Python.
fn imap_cli_levels() -> BTreeMap<String, Vec<String>> {
    let script = "import json, imap_processing; \
                  print(json.dumps({k: list(v) for k, v in imap_processing.PROCESSING_LEVELS.items()}))";
    let output = Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$(dirname "$(command -v imap_cli)")/python" -c "$0""#)
        .arg(script)
        .output()
        .expect("runs the venv's python");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("a json object of level lists")
}

#[test]
#[cfg_attr(not(has_imap_cli), ignore = "needs imap_cli on PATH (the venv of .ci/python-venv.sh)")]
fn the_rules_send_imap_cli_only_levels_it_accepts_and_every_one_the_graph_has_below_l3() {
    let config = shipped();
    let jobs = mission_jobs(&config);
    let covered = run_by_the_mission_program(&config.processor_config(), &jobs);
    let accepted = imap_cli_levels();
    for job in &jobs {
        let accepts = accepted.get(&job.instrument).is_some_and(|levels| levels.contains(&job.data_level));
        let sent = covered.contains(&job.to_string());
        if sent {
            assert!(accepts, "{job} is sent to imap_cli, which accepts {:?}", accepted.get(&job.instrument));
        } else if accepts {
            // Only L3: imap_cli 1.0.40 lists SWAPI l3a and l3b but raises NotImplementedError for them.
            assert!(job.data_level.starts_with("l3"), "{job}: imap_cli accepts it but no rule sends it there");
        }
    }
}
