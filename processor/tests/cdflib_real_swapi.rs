//! cdflib (the mission's CDF library for Python) reads the SWAPI L1 science file made from the
//! real L0 file: same times, same packet times, the mission's logical source.
//!
//! Needs the mission's L0 files (`cfg(has_mission_data)`) and a Python with cdflib
//! (`cfg(has_cdflib)`: `$CDFLIB_PYTHON`, else `python3` on the PATH), both found by the build
//! script; without either the test is reported ignored, with the reason.

mod common;

use std::error::Error;
use std::path::Path;
use std::process::Command;

use common::{REAL_FILES, real_l1a};
use processor::science::series::{TimeSeries, to_numbers};

/// The epoch, a variable's values, the logical source and the epoch's units as cdflib reads them.
fn cdflib_reads(path: &Path, variable: &str) -> Result<serde_json::Value, Box<dyn Error>> {
    let script = format!(
        "import cdflib, json, sys\nf = cdflib.CDF(sys.argv[1])\nprint(json.dumps({{'epoch': [int(x) for x in f.varget('epoch')], 'values': [int(x) for x in f.varget('{variable}')], \
         'logical_source': f.globalattsget()['Logical_source'], 'units': f.varattsget('epoch')['UNITS']}}))"
    );
    let output =
        Command::new(test_requirements::cdflib_python()).args(["-c", &script, &path.display().to_string()]).output()?;
    if !output.status.success() {
        return Err(format!("cdflib failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

#[test]
#[cfg_attr(
    not(has_mission_data),
    ignore = "needs the mission's L0 files (shared/data beside the checkout, or $IMAP_SHARED_DIR/data)"
)]
#[cfg_attr(
    all(has_mission_data, not(has_cdflib)),
    ignore = "needs a python3 with cdflib (pip install cdflib==1.3.16, or CDFLIB_PYTHON)"
)]
fn cdflib_reads_the_real_swapi_l1_science_file() -> Result<(), Box<dyn Error>> {
    let (_, outputs) = real_l1a(&REAL_FILES[0]);
    let science = outputs.iter().find(|output| output.descriptor == "sci").ok_or("no sci output")?;
    let folder = tempfile::tempdir()?;
    let path = folder.path().join("imap_swapi_l1_sci_20240924_v001.cdf");
    std::fs::write(&path, &science.bytes)?;
    let read = cdflib_reads(&path, "SHCOARSE")?;
    let ours = TimeSeries::from_cdf_bytes(&science.bytes, "sci")?;
    let shcoarse = to_numbers(&ours.variable("SHCOARSE").ok_or("no SHCOARSE")?.values).ok_or("not numbers")?;
    assert_eq!(read["epoch"], serde_json::json!(ours.epoch));
    assert_eq!(read["values"], serde_json::json!(shcoarse.iter().map(|&met| met as i64).collect::<Vec<_>>()));
    assert_eq!(read["logical_source"], serde_json::json!(["imap_swapi_l1_sci"]));
    Ok(())
}
