//! The mission's own science inside the mesh: with the shipped `deploy/mission-science.toml`, the
//! shared SWAPI L0 file and the two time kernels of the imap-processing wheel dropped into the
//! inbox yield `imap_swapi_l1a_hk`, `l1b_hk` and `l1_sci`, made by `imap_cli` inside the mesh,
//! indexed with provenance (the kernels among the parents) and equal, variable by variable as
//! cdflib reads them, to `imap_cli` run by hand on the same inputs. SWAPI L2 then shows in the
//! starter's queues as waiting for its two ancillary tables, runs once both are uploaded (small
//! tables made here, with both among its parents), and runs again, alone, when a correction of
//! one table for that day arrives.
//!
//! MAG L1A too: the shared MAG L0 file alone, on the time kernels the node ships and puts into
//! its inbox, yields the six L1A products equal to `imap_cli` by hand.
//!
//! Needs `imap_cli` on PATH (`has_imap_cli`), a Python with cdflib (`has_cdflib`) and the
//! mission's L0 files (`has_mission_data`); without one the test is reported ignored, with why.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use proto::pb::{FileKind, FileRecord, GetQueuesRequest, JobState, ListJobsRequest, QueryFilesRequest};
use support::{TempDir, start_node, wait_for};

const LEVEL0: &str = "imap_swapi_l0_raw_20240924_v001.pkts";
const KERNELS: [&str; 2] = ["naif0012.tls", "imap_sclk_0000.tsc"];
/// The first version the mesh gives a product of major version 1.
const VERSION: &str = "v001.0001";

fn mission_level0() -> PathBuf {
    Path::new(option_env!("MISSION_DATA_DIR").unwrap_or_default()).join("l0").join(LEVEL0)
}

fn on_path(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|folder| folder.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

/// The sample kernels the imap-processing wheel ships, asked of the Python beside `imap_cli`.
fn wheel_kernels() -> PathBuf {
    let python = on_path("imap_cli").with_file_name("python3");
    let script = "import imap_processing, pathlib; \
                  print(pathlib.Path(imap_processing.__file__).parent / 'ultra/l1c/sim_spice_kernels')";
    let output = Command::new(python).args(["-c", script]).output().expect("runs the venv's python");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// `imap_cli` on `(instrument, level, descriptor)` of `date` with these science inputs and the two
/// time kernels, in `data_dir` laid out as the mission's archive.
fn run_imap_cli(data_dir: &Path, [instrument, level, descriptor, date]: [&str; 4], science: &[&[&str]]) {
    let mut dependency: Vec<serde_json::Value> =
        science.iter().map(|files| serde_json::json!({"type": "science", "files": files})).collect();
    dependency.push(serde_json::json!({"type": "spice", "files": KERNELS}));
    let dependency = serde_json::json!({
        "dependency": dependency,
        "version": {descriptor: {"major_version": 1, "minor_version": 1}},
    });
    let output = Command::new(on_path("imap_cli"))
        .args(["--instrument", instrument, "--data-level", level, "--descriptor", descriptor])
        .args(["--start-date", date, "--version", VERSION, "--dependency", &dependency.to_string()])
        .env("IMAP_DATA_DIR", data_dir)
        .output()
        .expect("imap_cli runs");
    assert!(output.status.success(), "imap_cli by hand failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// A folder laid out as the mission's archive for `imap_cli` by hand: the level-0 file at
/// `level0_key` and the two time kernels.
fn by_hand_archive(data_dir: &Path, level0: &Path, level0_key: &str, kernels: &Path) {
    let place = |from: &Path, key: &str| {
        let to = data_dir.join(key);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    };
    place(level0, level0_key);
    place(&kernels.join(KERNELS[0]), &format!("imap/spice/lsk/{}", KERNELS[0]));
    place(&kernels.join(KERNELS[1]), &format!("imap/spice/sclk/{}", KERNELS[1]));
}

/// imap_cli by hand, the way the issue describes it: `(l1, hk)`, then `(l1, sci)` with its L1A hk.
fn by_hand(home: &Path, kernels: &Path) -> BTreeMap<String, PathBuf> {
    let data_dir = home.join("by-hand");
    by_hand_archive(&data_dir, &mission_level0(), &format!("imap/swapi/l0/2024/09/{LEVEL0}"), kernels);
    run_imap_cli(&data_dir, ["swapi", "l1", "hk", "20240924"], &[&[LEVEL0]]);
    let housekeeping = format!("imap_swapi_l1a_hk_20240924_{VERSION}.cdf");
    run_imap_cli(&data_dir, ["swapi", "l1", "sci", "20240924"], &[&[LEVEL0], &[&housekeeping]]);
    files_in(&data_dir, "imap/swapi", &["l1", "l1a", "l1b"], "2024/09")
}

/// The files `imap_cli` wrote under `<data_dir>/<instrument folder>/<level>/<month>`, by name.
fn files_in(data_dir: &Path, instrument_folder: &str, levels: &[&str], month: &str) -> BTreeMap<String, PathBuf> {
    let mut made = BTreeMap::new();
    for level in levels {
        let folder = data_dir.join(instrument_folder).join(level).join(month);
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            made.insert(path.file_name().unwrap().to_string_lossy().into_owned(), path);
        }
    }
    made
}

/// What differs between two CDF files, variable by variable, as cdflib reads them.
fn cdflib_differences(ours: &Path, theirs: &Path) -> serde_json::Value {
    let script = r#"
import cdflib, json, sys
import numpy as np

def variables(path):
    cdf = cdflib.CDF(path)
    info = cdf.cdf_info()
    return cdf, sorted(list(info.rVariables) + list(info.zVariables))

def values(cdf, name):
    try:
        return np.asarray(cdf.varget(name))
    except Exception as error:
        return repr(error)

def same(left, right):
    if isinstance(left, str) or isinstance(right, str):
        return str(left) == str(right)
    if left.shape != right.shape or left.dtype != right.dtype:
        return False
    if left.dtype.kind in "fc":
        return bool(np.array_equal(left, right, equal_nan=True))
    return bool(np.array_equal(left, right))

ours, our_names = variables(sys.argv[1])
theirs, their_names = variables(sys.argv[2])
problems = []
if our_names != their_names:
    problems.append(f"variables {our_names} != {their_names}")
for name in our_names:
    if name not in their_names:
        continue
    if not same(values(ours, name), values(theirs, name)):
        problems.append(f"{name}: values differ")
    if str(ours.varattsget(name)) != str(theirs.varattsget(name)):
        problems.append(f"{name}: attributes differ")
print(json.dumps({"variables": len(our_names), "problems": problems}))
"#;
    let output = Command::new(test_requirements::cdflib_python())
        .args(["-c", script, &ours.display().to_string(), &theirs.display().to_string()])
        .output()
        .expect("runs cdflib");
    assert!(output.status.success(), "cdflib failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("json")
}

/// A node with every role and the shipped `deploy/mission-science.toml`; its data dir and
/// certificate folder.
fn start_shipped_node(home: &TempDir) -> (support::Node, PathBuf, PathBuf) {
    let data_dir = home.path().join("data");
    let work_dir = home.path().join("work");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/mission-science.toml");
    let node = start_node(
        &["--roles", "all", "--listen", "127.0.0.1:0", "--data-dir", data_dir.to_str().unwrap()],
        &[
            ("IMAP_SDC_CONFIG", shipped),
            ("IMAP_SDC_PROCESSOR__WORK_DIR", work_dir.to_str().unwrap()),
            // Files are renamed into the inbox whole.
            ("IMAP_SDC_INDEXER__SETTLE_TIME", "0s"),
        ],
        &home.path().join("node.log"),
    );
    let certs = data_dir.join("certs");
    (node, data_dir, certs)
}

/// Copies `from` into `staging`, then renames it into the inbox as `name`, whole.
fn drop_into_inbox(staging: &Path, inbox: &Path, from: &Path, name: &str) {
    std::fs::create_dir_all(staging).unwrap();
    std::fs::create_dir_all(inbox).unwrap();
    std::fs::copy(from, staging.join(name)).unwrap();
    std::fs::rename(staging.join(name), inbox.join(name)).unwrap();
}

/// Every file of `kind` the indexer knows (each test's node holds one instrument's).
async fn files_of_kind(indexer: &proto::clients::IndexerClient, kind: FileKind) -> Vec<FileRecord> {
    let request = QueryFilesRequest { kind: kind.into(), ..Default::default() };
    let files = indexer.clone().query_files(request).await.map(|response| response.into_inner().files);
    files.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(has_imap_cli), ignore = "needs imap_cli on PATH (the venv of .ci/python-venv.sh)")]
#[cfg_attr(
    all(has_imap_cli, not(has_cdflib)),
    ignore = "needs a python3 with cdflib (the venv of .ci/python-venv.sh, or CDFLIB_PYTHON)"
)]
#[cfg_attr(
    all(has_imap_cli, has_cdflib, not(has_mission_data)),
    ignore = "needs the mission's L0 files (shared/data beside the checkout, or $IMAP_SHARED_DIR/data)"
)]
async fn swapi_l1_equals_imap_cli_by_hand_and_l2_runs_once_its_two_tables_arrive() {
    let home = TempDir::new("mission-program");
    let kernels = wheel_kernels();
    let hand_home = home.path().to_path_buf();
    let hand_kernels = kernels.clone();
    // The run by hand goes on beside the mesh.
    let by_hand = std::thread::spawn(move || by_hand(&hand_home, &hand_kernels));

    let (node, data_dir, certs) = start_shipped_node(&home);
    let indexer = proto::clients::IndexerClient::new(support::operator_channel(&certs, &node.internal_url));
    let staging = home.path().join("staging");
    let inbox = data_dir.join("inbox");
    let drop_in = |from: &Path, name: &str| drop_into_inbox(&staging, &inbox, from, name);

    // Kernels first: the mission's graph does not let them trigger a job.
    for kernel in KERNELS {
        drop_in(&kernels.join(kernel), kernel);
    }
    let indexed_kernels = wait_for("the kernels to be indexed", Duration::from_secs(30), || {
        let indexer = indexer.clone();
        async move {
            let kernels = files_of_kind(&indexer, FileKind::Spice).await;
            (kernels.len() == KERNELS.len()).then_some(kernels)
        }
    })
    .await;
    let kernel_types: Vec<&str> = indexed_kernels.iter().map(|kernel| kernel.descriptor.as_str()).collect();
    assert!(kernel_types.contains(&"leapseconds") && kernel_types.contains(&"spacecraft_clock"), "{kernel_types:?}");
    drop_in(&mission_level0(), LEVEL0);

    let products = wait_for("swapi l1 sci from the mesh", Duration::from_secs(100), || {
        let indexer = indexer.clone();
        async move {
            let files = files_of_kind(&indexer, FileKind::Science).await;
            let products: Vec<FileRecord> = files.into_iter().filter(|file| file.data_level != "l0").collect();
            products.iter().any(|file| file.data_level == "l1").then_some(products)
        }
    })
    .await;
    let starter = proto::clients::StarterClient::new(support::operator_channel(&certs, &node.internal_url));
    let jobs = wait_for("both jobs to be reported", Duration::from_secs(30), || {
        let mut starter = starter.clone();
        async move {
            let jobs = starter.list_jobs(ListJobsRequest::default()).await.ok()?.into_inner().jobs;
            let done = jobs.len() == 2 && jobs.iter().all(|job| job.state() == JobState::Succeeded);
            done.then_some(jobs)
        }
    })
    .await;
    let mut job_products: Vec<String> =
        jobs.iter().map(|job| job.product.clone().unwrap_or_default().to_string()).collect();
    job_products.sort();
    assert_eq!(job_products, ["swapi l1 hk", "swapi l1 sci"]);
    assert!(jobs.iter().all(|job| job.log.contains("imap_cli said")), "the program's words are in the job log");

    // SWAPI L2 science waits for its two ancillary tables, and says so (once the starter has
    // read the event of the L1 science file, which may come after the job's end is reported).
    let l2 = wait_for("swapi l2 to wait for its inputs", Duration::from_secs(30), || {
        let mut starter = starter.clone();
        async move {
            let queues = starter.get_queues(GetQueuesRequest {}).await.ok()?.into_inner().queues;
            let swapi = queues.into_iter().find(|queue| queue.instrument == "swapi")?;
            swapi.waiting.into_iter().find(|run| run.starts_with("swapi l2 sci 20240924"))
        }
    })
    .await;
    assert!(l2.contains("ancillary swapi esa-unit-conversion") && l2.contains("ancillary swapi lut-notes"), "{l2}");

    let by_name: BTreeMap<&str, &FileRecord> = products.iter().map(|file| (file.file_name.as_str(), file)).collect();
    let made_by_hand = by_hand.join().expect("imap_cli by hand");
    let expected_names: Vec<&str> = made_by_hand.keys().map(String::as_str).collect();
    assert_eq!(by_name.keys().copied().collect::<Vec<_>>(), expected_names);
    assert_eq!(
        expected_names,
        [
            format!("imap_swapi_l1_sci_20240924_{VERSION}.cdf"),
            format!("imap_swapi_l1a_hk_20240924_{VERSION}.cdf"),
            format!("imap_swapi_l1b_hk_20240924_{VERSION}.cdf"),
        ]
    );

    // Provenance: the L0 file and both kernels are parents of what the hk job made; the L1A hk
    // file is a parent of the science.
    for (name, file) in &by_name {
        assert!(!file.produced_by_job.is_empty(), "{name} names its job");
        let parents: Vec<&str> = file.parent_files.iter().map(String::as_str).collect();
        assert!(
            parents.contains(&LEVEL0) && KERNELS.iter().all(|kernel| parents.contains(kernel)),
            "{name}: {parents:?}"
        );
    }
    let science = by_name[format!("imap_swapi_l1_sci_20240924_{VERSION}.cdf").as_str()];
    assert!(science.parent_files.contains(&format!("imap_swapi_l1a_hk_20240924_{VERSION}.cdf")));

    // Equal to imap_cli by hand, every variable and its values.
    for (name, hand_path) in &made_by_hand {
        let ours = data_dir.join("archive").join(&by_name[name.as_str()].archive_key);
        let compared = cdflib_differences(&ours, hand_path);
        assert_eq!(compared["problems"], serde_json::json!([]), "{name} differs from imap_cli by hand");
        assert!(compared["variables"].as_u64().unwrap_or(0) > 0, "{name} has variables");
    }

    // The first table alone: L2 now waits for the LUT notes only.
    drop_in_text(&staging, &inbox, CONVERSION_V1, &esa_unit_conversion(CONVERSION_V1_BASE));
    let l2_waiting = wait_for("L2 to wait for the LUT notes only", Duration::from_secs(30), || {
        let mut starter = starter.clone();
        async move {
            let queues = starter.get_queues(GetQueuesRequest {}).await.ok()?.into_inner().queues;
            let swapi = queues.into_iter().find(|queue| queue.instrument == "swapi")?;
            let l2 = swapi.waiting.into_iter().find(|run| run.starts_with("swapi l2 sci 20240924"))?;
            (!l2.contains("esa-unit-conversion")).then_some(l2)
        }
    })
    .await;
    assert!(l2_waiting.contains("ancillary swapi lut-notes"), "{l2_waiting}");

    // The second makes it run: imap_cli's L2, with both tables among the product's parents.
    drop_in_text(&staging, &inbox, LUT_NOTES, &lut_notes());
    let first_l2 = format!("imap_swapi_l2_sci_20240924_{VERSION}.cdf");
    let level2 = wait_for_file(&indexer, &first_l2).await;
    let level1_science = format!("imap_swapi_l1_sci_20240924_{VERSION}.cdf");
    let mut parents = level2.parent_files.clone();
    parents.sort();
    assert_eq!(parents, [CONVERSION_V1, level1_science.as_str(), LUT_NOTES]);
    let archive = data_dir.join("archive");
    assert_eq!(esa_energies(&archive.join(&level2.archive_key)), expected_energies(CONVERSION_V1_BASE));

    // A correction of the conversion table for that one day re-runs L2 (a new version, made
    // with the correction) and nothing else: the L1 jobs do not read it.
    drop_in_text(&staging, &inbox, CONVERSION_V2, &esa_unit_conversion(CONVERSION_V2_BASE));
    let second_l2 = wait_for_file(&indexer, "imap_swapi_l2_sci_20240924_v001.0002.cdf").await;
    assert!(second_l2.parent_files.contains(&CONVERSION_V2.to_string()), "{:?}", second_l2.parent_files);
    assert!(!second_l2.parent_files.contains(&CONVERSION_V1.to_string()), "{:?}", second_l2.parent_files);
    assert_eq!(esa_energies(&archive.join(&second_l2.archive_key)), expected_energies(CONVERSION_V2_BASE));
    let jobs = starter.clone().list_jobs(ListJobsRequest::default()).await.unwrap().into_inner().jobs;
    let mut job_products: Vec<String> =
        jobs.iter().map(|job| job.product.clone().unwrap_or_default().to_string()).collect();
    job_products.sort();
    assert_eq!(job_products, ["swapi l1 hk", "swapi l1 sci", "swapi l2 sci", "swapi l2 sci"]);
    drop(node);
}

/// The shared MAG level-0 file holds packets of 2023-10-25; the mesh takes it under the mission's
/// name for that day.
const MAG_LEVEL0: &str = "imap_mag_l0_raw_20231025_v001.pkts";

/// The shared MAG level-0 file (named by its test data, not by the mission's grammar).
fn mag_level0() -> PathBuf {
    mission_level0().with_file_name("mag_l0_test_data.pkts")
}

/// MAG L1A by `imap_cli` by hand: the six products of `(l1a, all)`.
fn mag_by_hand(home: &Path, kernels: &Path) -> BTreeMap<String, PathBuf> {
    let data_dir = home.join("mag-by-hand");
    by_hand_archive(&data_dir, &mag_level0(), &format!("imap/mag/l0/2023/10/{MAG_LEVEL0}"), kernels);
    run_imap_cli(&data_dir, ["mag", "l1a", "all", "20231025"], &[&[MAG_LEVEL0]]);
    files_in(&data_dir, "imap/mag", &["l1a"], "2023/10")
}

/// A second instrument through `imap_cli` in the mesh, on the kernels the node ships: only the
/// MAG L0 file is dropped in (the node put the two time kernels into its inbox when it started),
/// and the six L1A products equal `imap_cli` by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(has_imap_cli), ignore = "needs imap_cli on PATH (the venv of .ci/python-venv.sh)")]
#[cfg_attr(
    all(has_imap_cli, not(has_cdflib)),
    ignore = "needs a python3 with cdflib (the venv of .ci/python-venv.sh, or CDFLIB_PYTHON)"
)]
#[cfg_attr(
    all(has_imap_cli, has_cdflib, not(has_mission_data)),
    ignore = "needs the mission's L0 files (shared/data beside the checkout, or $IMAP_SHARED_DIR/data)"
)]
async fn mag_l1a_on_the_shipped_kernels_equals_imap_cli_by_hand() {
    let home = TempDir::new("mission-program-mag");
    let hand_home = home.path().to_path_buf();
    let by_hand = std::thread::spawn(move || mag_by_hand(&hand_home, &wheel_kernels()));

    let (node, data_dir, certs) = start_shipped_node(&home);
    let indexer = proto::clients::IndexerClient::new(support::operator_channel(&certs, &node.internal_url));
    drop_into_inbox(&home.path().join("staging"), &data_dir.join("inbox"), &mag_level0(), MAG_LEVEL0);

    let made_by_hand = by_hand.join().expect("imap_cli by hand");
    assert_eq!(made_by_hand.len(), 6, "imap_cli writes six MAG L1A products: {:?}", made_by_hand.keys());
    let products = wait_for("mag l1a from the mesh", Duration::from_secs(120), || {
        let indexer = indexer.clone();
        let expected = made_by_hand.len();
        async move {
            let files = files_of_kind(&indexer, FileKind::Science).await;
            let products: Vec<FileRecord> = files.into_iter().filter(|file| file.data_level == "l1a").collect();
            (products.len() == expected).then_some(products)
        }
    })
    .await;
    let by_name: BTreeMap<&str, &FileRecord> = products.iter().map(|file| (file.file_name.as_str(), file)).collect();
    assert_eq!(
        by_name.keys().copied().collect::<Vec<_>>(),
        made_by_hand.keys().map(String::as_str).collect::<Vec<_>>()
    );
    for (name, hand_path) in &made_by_hand {
        let file = by_name[name.as_str()];
        let parents: Vec<&str> = file.parent_files.iter().map(String::as_str).collect();
        assert!(
            parents.contains(&MAG_LEVEL0) && KERNELS.iter().all(|kernel| parents.contains(kernel)),
            "{name}: the L0 file and the shipped kernels are its parents: {parents:?}"
        );
        let compared = cdflib_differences(&data_dir.join("archive").join(&file.archive_key), hand_path);
        assert_eq!(compared["problems"], serde_json::json!([]), "{name} differs from imap_cli by hand");
        assert!(compared["variables"].as_u64().unwrap_or(0) > 0, "{name} has variables");
    }
    drop(node);
}

/// SWAPI L2's two tables, named as the mission names ancillary files (a validity start, an
/// optional end, a version that grows with every new file of the descriptor).
const CONVERSION_V1: &str = "imap_swapi_esa-unit-conversion_20240901_v001.csv";
const CONVERSION_V2: &str = "imap_swapi_esa-unit-conversion_20240924_20240924_v002.csv";
const LUT_NOTES: &str = "imap_swapi_lut-notes_20240901_v001.csv";
const CONVERSION_V1_BASE: u32 = 1000;
const CONVERSION_V2_BASE: u32 = 2000;
/// Energy steps of one SWAPI sweep.
const ENERGY_STEPS: u32 = 72;

/// An ESA unit-conversion table as imap_cli's SWAPI L2 reads it (`read_swapi_lut_table`): for
/// every sweep id a sweep table can hold, 72 fixed steps of `base + 10 × step` eV (written with a
/// thousands separator, as the mission's tables are). No step is "Solve", so the LUT notes are
/// read but not consulted.
fn esa_unit_conversion(base: u32) -> String {
    let mut table = String::from("timestamp,Sweep #,ESA Step #,ESA Index Number,Energy\n");
    for sweep in 0..=u8::MAX {
        for step in 0..ENERGY_STEPS {
            let energy = base + 10 * step;
            table.push_str(&format!(
                "09/01/2024 00:00,{sweep},{step},{step},\"{},{:03}\"\n",
                energy / 1000,
                energy % 1000
            ));
        }
    }
    table
}

/// LUT notes: fine-step energies by ESA DAC value.
fn lut_notes() -> String {
    let rows = (0..=u16::MAX).step_by(257).map(|dac| format!("{dac:04X},{dac}\n"));
    std::iter::once("ESA DAC (Hex),Energy\n".to_string()).chain(rows).collect()
}

fn expected_energies(base: u32) -> Vec<f64> {
    (0..ENERGY_STEPS).map(|step| f64::from(base + 10 * step)).collect()
}

fn drop_in_text(staging: &Path, inbox: &Path, name: &str, text: &str) {
    std::fs::write(staging.join(name), text).unwrap();
    std::fs::rename(staging.join(name), inbox.join(name)).unwrap();
}

async fn wait_for_file(indexer: &proto::clients::IndexerClient, name: &str) -> FileRecord {
    wait_for(name, Duration::from_secs(60), || {
        let indexer = indexer.clone();
        async move { files_of_kind(&indexer, FileKind::Science).await.into_iter().find(|file| file.file_name == name) }
    })
    .await
}

/// The energies of an L2 file's sweeps (`esa_energy`, as cdflib reads it), which must all be the same.
fn esa_energies(path: &Path) -> Vec<f64> {
    let script = "import cdflib, json, sys, numpy as np\n\
                  energies = np.asarray(cdflib.CDF(sys.argv[1]).varget('esa_energy'))\n\
                  print(json.dumps([row.tolist() for row in np.unique(energies, axis=0)]))";
    let output = Command::new(test_requirements::cdflib_python())
        .args(["-c", script, &path.display().to_string()])
        .output()
        .expect("runs cdflib");
    assert!(output.status.success(), "cdflib failed: {}", String::from_utf8_lossy(&output.stderr));
    let sweeps: Vec<Vec<f64>> = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(sweeps.len(), 1, "every sweep has the same energies: {sweeps:?}");
    sweeps.into_iter().next().unwrap_or_default()
}
