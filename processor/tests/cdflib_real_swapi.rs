//! cdflib (the mission's CDF library for Python) reads the SWAPI L1 science file made from the
//! real L0 file: same times, same packet times, the mission's logical source.
//!
//! Needs the mission's L0 files (`cfg(mission_data)`, see `xtce/build.rs`) and a python3 that
//! imports cdflib (`$CDFLIB_PYTHON`, else `python3` on the PATH). Without either the test is
//! reported as ignored with the reason; it has its own harness (libtest-mimic) because whether
//! cdflib is there is only known when the tests run.

#[path = "../nasa-cdf/tests/cdflib_python/mod.rs"]
mod cdflib_python;
mod common;

use std::path::Path;
use std::process::Command;

use common::{NEEDS_MISSION_DATA, REAL_FILES, real_l1a};
use libtest_mimic::{Arguments, Failed, Trial};
use processor::science::series::{TimeSeries, to_numbers};

fn main() {
    let arguments = Arguments::from_args();
    let python = cdflib_python::python();
    let missing =
        if cfg!(mission_data) { cdflib_python::cdflib_missing(&python) } else { Some(NEEDS_MISSION_DATA.to_string()) };
    if let Some(reason) = &missing {
        println!("ignoring cdflib_reads_the_real_swapi_l1_science_file: {reason}");
    }
    let trial = Trial::test("cdflib_reads_the_real_swapi_l1_science_file", move || {
        cdflib_reads_the_real_swapi_l1_science_file(Path::new(&python))
    })
    .with_ignored_flag(missing.is_some());
    libtest_mimic::run(&arguments, vec![trial]).exit();
}

/// The epoch, a variable's values, the logical source and the epoch's units as cdflib reads them.
fn cdflib_reads(python: &Path, path: &Path, variable: &str) -> Result<serde_json::Value, Failed> {
    let script = format!(
        "import cdflib, json, sys\nf = cdflib.CDF(sys.argv[1])\nprint(json.dumps({{'epoch': [int(x) for x in f.varget('epoch')], 'values': [int(x) for x in f.varget('{variable}')], \
         'logical_source': f.globalattsget()['Logical_source'], 'units': f.varattsget('epoch')['UNITS']}}))"
    );
    let output = Command::new(python).args(["-c", &script, &path.display().to_string()]).output()?;
    if !output.status.success() {
        return Err(format!("cdflib failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

fn cdflib_reads_the_real_swapi_l1_science_file(python: &Path) -> Result<(), Failed> {
    let (_, outputs) = real_l1a(&REAL_FILES[0]);
    let science = outputs.iter().find(|output| output.descriptor == "sci").ok_or("no sci output")?;
    let folder = tempfile::tempdir()?;
    let path = folder.path().join("imap_swapi_l1_sci_20240924_v001.cdf");
    std::fs::write(&path, &science.bytes)?;
    let read = cdflib_reads(python, &path, "SHCOARSE")?;
    let ours = TimeSeries::from_cdf_bytes(&science.bytes, "sci")?;
    let shcoarse = to_numbers(&ours.variable("SHCOARSE").ok_or("no SHCOARSE")?.values).ok_or("not numbers")?;
    assert_eq!(read["epoch"], serde_json::json!(ours.epoch));
    assert_eq!(read["values"], serde_json::json!(shcoarse.iter().map(|&met| met as i64).collect::<Vec<_>>()));
    assert_eq!(read["logical_source"], serde_json::json!(["imap_swapi_l1_sci"]));
    Ok(())
}
