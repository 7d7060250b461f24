//! The binary's command line: configuration layers, `--dump-config`, usage errors with exit
//! code 64, graph checks, and refusals that say what is wrong.

mod support;

use std::process::Command;

fn imap_sdc(arguments: &[&str], environment: &[(&str, &str)]) -> std::process::Output {
    Command::new(support::binary()).args(arguments).envs(environment.iter().copied()).output().unwrap()
}

#[test]
fn dump_config_shows_every_layer() {
    let home = support::TempDir::new("cli-config");
    let file = home.path().join("node.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:9999\"\n[starter]\nlease = \"33s\"\n").unwrap();
    let output = imap_sdc(
        &["--config", file.to_str().unwrap(), "serve", "--roles", "indexer,starter", "--dump-config"],
        &[("IMAP_SDC_STARTER__MAX_ATTEMPTS", "9")],
    );
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("roles = \"indexer,starter\""), "{text}");
    assert!(text.contains("listen = \"127.0.0.1:9999\""), "{text}");
    assert!(text.contains("lease = \"33s\""), "{text}");
    assert!(text.contains("max_attempts = 9"), "{text}");
}

#[test]
fn bad_configuration_exits_with_usage_code_and_a_reason() {
    let output = imap_sdc(&["serve", "--dump-config"], &[("IMAP_SDC_ROLES", "cooker")]);
    assert_eq!(output.status.code(), Some(64));
    let message = String::from_utf8(output.stderr).unwrap();
    assert!(message.contains("IMAP_SDC_ROLES") && message.contains("unknown role \"cooker\""), "{message}");

    let output = imap_sdc(&["serve", "--roles", "indexer,chef", "--dump-config"], &[]);
    assert_eq!(output.status.code(), Some(64));
    assert!(
        String::from_utf8(output.stderr).unwrap().contains("valid: all, indexer, depsvc, starter, processor, gateway")
    );
}

#[test]
fn graph_check_accepts_both_built_in_graphs_and_names_problems() {
    // With no file: the mission's YAML files, depsvc's default; `--builtin project` the other one.
    let output = imap_sdc(&["graph", "check"], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "graph ok: 289 products, 0 warning(s)\n");
    let output = imap_sdc(&["graph", "check", "--builtin", "project"], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("graph ok:") && !text.starts_with("graph ok: 289 "), "{text}");

    let home = support::TempDir::new("cli-graph");
    let broken = home.path().join("broken.toml");
    std::fs::write(&broken, "[[product]]\ninstrument = \"cooker\"\nlevel = \"l1a\"\ndescriptor = \"all\"\ninput = [{ science = \"cooker l0 raw\" }]\n").unwrap();
    let output = imap_sdc(&["graph", "check", broken.to_str().unwrap()], &[]);
    assert!(!output.status.success());
    let message = String::from_utf8(output.stderr).unwrap();
    assert!(message.contains("cooker"), "{message}");

    for builtin in ["mission-yaml", "project"] {
        let output = imap_sdc(&["graph", "show", "--builtin", builtin, "--format", "dot"], &[]);
        let dot = String::from_utf8(output.stdout).unwrap();
        assert!(dot.starts_with("digraph") && dot.contains("\"swapi l2 sci\""), "{builtin}: {dot:.300}");
    }
}

#[test]
fn graph_check_reads_the_missions_yaml_by_default_folder_or_file() {
    let output = imap_sdc(&["graph", "check", "--builtin", "mission-yaml"], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "graph ok: 289 products, 0 warning(s)\n");
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/depsvc/src/graph/mission_dependencies");
    let output = imap_sdc(&["graph", "check", folder], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    // Best practice is a warning, printed before the verdict.
    let home = support::TempDir::new("cli-mission-yaml");
    let file = home.path().join("imap_swe_dependencies.yaml");
    let job = |level: &str, input: &str, major: u32| {
        format!(
            "({level}, sci):\n  partition: daily\n  inputs:\n    - source: swe\n      data_type: {input}\n      descriptor: sci\n  \
             outputs:\n    - source: swe\n      data_type: {level}\n      descriptor: sci\n      major_version: {major}\n"
        )
    };
    std::fs::write(&file, job("l2", "l0", 2) + &job("l3", "l2", 1)).unwrap();
    let output = imap_sdc(&["graph", "check", file.to_str().unwrap()], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "warning: job swe l3 sci: output swe l3 sci has major version 1, below the 2 of its input swe l2 sci\n\
         graph ok: 2 products, 1 warning(s)\n"
    );
    // A bad file is refused with its name, line, job and field.
    std::fs::write(
        &file,
        job("l2", "l0", 2)
            .replace("descriptor: sci\n  outputs", "descriptor: sci\n      date_range: [\"-1w\"]\n  outputs"),
    )
    .unwrap();
    let output = imap_sdc(&["graph", "check", home.path().to_str().unwrap()], &[]);
    assert!(!output.status.success());
    let message = String::from_utf8(output.stderr).unwrap();
    assert!(
        message.contains("imap_swe_dependencies.yaml line 7, job (l2, sci), inputs[1].date_range: unknown unit"),
        "{message}"
    );

    let output = imap_sdc(&["graph", "show", "--format", "toml"], &[]);
    assert!(String::from_utf8(output.stdout).unwrap().starts_with("[[product]]\ninstrument = \"codice\""));
    let output = imap_sdc(&["graph", "show"], &[]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("# swapi (7 products)\nswapi l1 hk (daily)\n  -> swapi l1a hk (major 1)\n"), "{text:.2000}");
}

#[test]
fn ingest_refuses_a_bad_name_before_writing_anything() {
    let home = support::TempDir::new("cli-ingest");
    let bad = home.path().join("imap_swapi_l0_raw_20240230_v001.pkts");
    std::fs::write(&bad, b"x").unwrap();
    let data_dir = home.path().join("data");
    let output = imap_sdc(
        &["ingest", bad.to_str().unwrap(), "--server", "http://127.0.0.1:1", "--data-dir", data_dir.to_str().unwrap()],
        &[],
    );
    assert!(!output.status.success());
    let message = String::from_utf8(output.stderr).unwrap();
    assert!(message.contains("20240230"), "{message}");
    let archived = data_dir.join("archive/imap");
    assert!(!archived.exists(), "nothing may be written for a refused file");
}

#[test]
fn ingest_never_overwrites_a_different_file_of_the_same_name() {
    let home = support::TempDir::new("cli-ingest-twice");
    let file = home.path().join("imap_swapi_l0_raw_20240924_v001.pkts");
    let data_dir = home.path().join("data");
    let ingest = || {
        imap_sdc(
            &[
                "ingest",
                file.to_str().unwrap(),
                "--server",
                "http://127.0.0.1:1",
                "--data-dir",
                data_dir.to_str().unwrap(),
            ],
            &[],
        )
    };
    let stderr = |output: &std::process::Output| String::from_utf8_lossy(&output.stderr).to_string();
    // No indexer listens, so each run stops after writing; the archive is what is checked.
    std::fs::write(&file, b"first").unwrap();
    let first = ingest();
    assert!(stderr(&first).contains("indexing"), "{}", stderr(&first));
    let archived = data_dir.join("archive/imap/swapi/l0/2024/09/imap_swapi_l0_raw_20240924_v001.pkts");
    assert_eq!(std::fs::read(&archived).unwrap(), b"first");

    std::fs::write(&file, b"second, different").unwrap();
    let refused = ingest();
    assert!(!refused.status.success() && stderr(&refused).contains("refusing to overwrite"), "{}", stderr(&refused));
    assert_eq!(std::fs::read(&archived).unwrap(), b"first");

    std::fs::write(&file, b"first").unwrap();
    let again = ingest();
    assert!(stderr(&again).contains("indexing") && !stderr(&again).contains("overwrite"), "{}", stderr(&again));
}
