//! Cross-check with an independent reader: files we write are read by Python cdflib
//! (`cdflib_check.py`), which compares every variable and attribute with a description we
//! hand it as a Python literal.
//!
//! Needs a Python that has cdflib: `$CDFLIB_PYTHON` when set, else `python3` on the PATH. The
//! build script looks for it (`cfg(has_cdflib)`); without it the checks are reported ignored, with
//! the reason, never as passed.

mod common;

use std::error::Error;
use std::path::Path;
use std::process::Command;

use common::sample_cdf;
use nasa_cdf::{
    Cdf, Compression, IstpDataset, IstpGlobals, IstpVariable, Values, VarType, Variable, tt2000_to_utc, utc_to_tt2000,
};

const CHECK_SCRIPT: &str = include_str!("cdflib_check.py");

type Outcome = Result<(), Box<dyn Error>>;

fn python_string(text: &str) -> String {
    assert!(text.is_ascii(), "test strings are ascii so rust and python escapes agree");
    format!("{text:?}")
}

fn python_list(values: &Values) -> String {
    let items: Vec<String> = match values {
        Values::Int1(v) => v.iter().map(i8::to_string).collect(),
        Values::Int2(v) => v.iter().map(i16::to_string).collect(),
        Values::Int4(v) => v.iter().map(i32::to_string).collect(),
        Values::Int8(v) | Values::TimeTt2000(v) => v.iter().map(i64::to_string).collect(),
        Values::UInt1(v) => v.iter().map(u8::to_string).collect(),
        Values::UInt2(v) => v.iter().map(u16::to_string).collect(),
        Values::UInt4(v) => v.iter().map(u32::to_string).collect(),
        // The exact double of each float32, which is what numpy's float32 gives back.
        Values::Real4(v) => v.iter().map(|x| format!("{:?}", f64::from(*x))).collect(),
        Values::Real8(v) => v.iter().map(|x| format!("{x:?}")).collect(),
        Values::Char(v) => v.iter().map(|s| python_string(s)).collect(),
    };
    format!("[{}]", items.join(", "))
}

/// What cdflib should find in the file written from `cdf`, as a Python literal.
fn expected_literal(cdf: &Cdf) -> String {
    let mut text = String::from("{\"globals\": [\n");
    for attribute in &cdf.global_attributes {
        let entries: Vec<String> = attribute
            .entries
            .iter()
            .map(|entry| format!("({}, {})", python_string(entry.data_type.cdf_name()), python_list(&entry.values)))
            .collect();
        text += &format!("({}, [{}]),\n", python_string(&attribute.name), entries.join(", "));
    }
    text += "], \"variables\": [\n";
    for variable in &cdf.variables {
        let attributes: Vec<String> = variable
            .attributes
            .iter()
            .map(|(name, entry)| {
                format!(
                    "({}, {}, {})",
                    python_string(name),
                    python_string(entry.data_type.cdf_name()),
                    python_list(&entry.values)
                )
            })
            .collect();
        let utc = match &variable.values {
            Values::TimeTt2000(times) => {
                let strings: Vec<String> = times
                    .iter()
                    .map(|&t| python_string(&tt2000_to_utc(t).expect("a valid time").to_string()))
                    .collect();
                format!("[{}]", strings.join(", "))
            }
            _ => "None".to_string(),
        };
        let gzip_level = match variable.compression {
            Compression::None => 0,
            Compression::Gzip { level } => level,
        };
        text += &format!(
            "{{\"name\": {}, \"type\": {}, \"dims\": {:?}, \"rec_vary\": {}, \"num_elems\": {}, \"num_records\": {}, \
             \"gzip_level\": {gzip_level}, \"values\": {}, \"utc\": {utc}, \"attrs\": [{}]}},\n",
            python_string(&variable.name),
            python_string(variable.data_type.cdf_name()),
            variable.dims,
            if variable.record_varying { "True" } else { "False" },
            variable.num_elems,
            variable.num_records(),
            python_list(&variable.values),
            attributes.join(", "),
        );
    }
    text + "]}\n"
}

/// Writes `cdf` and its expectation to `dir`, runs the script; returns its output.
fn check_with_cdflib(dir: &Path, label: &str, cdf: &Cdf) -> Result<String, Box<dyn Error>> {
    let cdf_path = dir.join(format!("{label}.cdf"));
    let expected_path = dir.join(format!("{label}.expected.txt"));
    let script_path = dir.join("cdflib_check.py");
    std::fs::write(&cdf_path, cdf.to_bytes()?)?;
    std::fs::write(&expected_path, expected_literal(cdf))?;
    std::fs::write(&script_path, CHECK_SCRIPT)?;
    let output = Command::new(test_requirements::cdflib_python())
        .arg(&script_path)
        .arg(&cdf_path)
        .arg(&expected_path)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() || !stdout.contains(" 0 mismatches") {
        return Err(format!("cdflib check of {label} failed:\n{stdout}\n{stderr}").into());
    }
    Ok(stdout)
}

#[test]
#[cfg_attr(not(has_cdflib), ignore = "needs a python3 with cdflib (pip install cdflib==1.3.16, or CDFLIB_PYTHON)")]
fn cdflib_reads_every_variable_and_attribute_we_write() -> Outcome {
    let folder = tempfile::tempdir()?;
    let mut file_compressed = sample_cdf(Compression::None);
    file_compressed.file_compression = Compression::Gzip { level: 6 };
    let cases = [
        ("uncompressed", sample_cdf(Compression::None)),
        ("gzip_variables", sample_cdf(Compression::Gzip { level: 6 })),
        ("gzip_file", file_compressed),
    ];
    for (label, cdf) in cases {
        let report = check_with_cdflib(folder.path(), label, &cdf)?;
        println!("{label}: {report}");
    }
    Ok(())
}

#[test]
#[cfg_attr(not(has_cdflib), ignore = "needs a python3 with cdflib (pip install cdflib==1.3.16, or CDFLIB_PYTHON)")]
fn cdflib_reads_istp_dataset_times_as_utc() -> Outcome {
    let folder = tempfile::tempdir()?;
    let leap = utc_to_tt2000(2016, 12, 31, 23, 59, 60, 500_000_000)?;
    let epochs = vec![
        leap - 1_000_000_000,
        leap,
        leap + 1_000_000_000,
        utc_to_tt2000(2010, 1, 1, 0, 0, 0, 0)?,
        utc_to_tt2000(2026, 1, 1, 0, 0, 0, 125_000_000)?,
    ];
    let globals = IstpGlobals {
        logical_source: "demo_mag_l1a_norm-mago".to_string(),
        parents: vec!["demo_mag_l0_raw_20260101_v001.pkts".to_string()],
        ..IstpGlobals::default()
    };
    let mut dataset = IstpDataset::new(globals);
    dataset.add_epoch("epoch", epochs).add_variable(
        IstpVariable::data("vectors", Values::Real8((0..15).map(f64::from).collect()), &[3])
            .units("nT")
            .attribute("DEPEND_1", "direction")
            .compression(Compression::Gzip { level: 6 }),
    );
    dataset.add_variable(IstpVariable::new(
        VarType::Metadata,
        Variable::non_record_varying("direction_label", Values::Char(vec!["x".into(), "y".into(), "z".into()]), &[3]),
    ));
    let report = check_with_cdflib(folder.path(), "istp", &dataset.build()?)?;
    println!("istp: {report}");
    Ok(())
}
