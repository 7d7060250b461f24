//! Cross-check with an independent reader: files we write are read by Python
//! cdflib (`cdflib_check.py`), which compares every variable and attribute
//! with a description we hand it as a Python literal. Skipped, with a message,
//! where python3 or cdflib is not importable.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::tests::sample_cdf;
use super::*;

const CHECK_SCRIPT: &str = include_str!("cdflib_check.py");

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let path = std::env::temp_dir().join(format!("cdf-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("creates temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cdflib_available() -> bool {
    Command::new("python3").args(["-c", "import cdflib"]).output().is_ok_and(|output| output.status.success())
}

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
                let strings: Vec<String> =
                    times.iter().map(|&t| python_string(&tt2000_to_utc(t).unwrap().to_string())).collect();
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
fn check_with_cdflib(dir: &Path, label: &str, cdf: &Cdf) -> String {
    let cdf_path = dir.join(format!("{label}.cdf"));
    let expected_path = dir.join(format!("{label}.expected.txt"));
    let script_path = dir.join("cdflib_check.py");
    std::fs::write(&cdf_path, cdf.to_bytes().unwrap()).unwrap();
    std::fs::write(&expected_path, expected_literal(cdf)).unwrap();
    std::fs::write(&script_path, CHECK_SCRIPT).unwrap();
    let output = Command::new("python3").arg(&script_path).arg(&cdf_path).arg(&expected_path).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cdflib check of {label} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" 0 mismatches"), "{stdout}");
    stdout
}

#[test]
fn cdflib_reads_every_variable_and_attribute_we_write() {
    if !cdflib_available() {
        println!("skipped: cdflib not available");
        return;
    }
    let dir = TempDir::new("cdflib");
    let mut file_compressed = sample_cdf(Compression::None);
    file_compressed.file_compression = Compression::Gzip { level: 6 };
    let cases = [
        ("uncompressed", sample_cdf(Compression::None)),
        ("gzip_variables", sample_cdf(Compression::Gzip { level: 6 })),
        ("gzip_file", file_compressed),
    ];
    for (label, cdf) in cases {
        let report = check_with_cdflib(&dir.0, label, &cdf);
        println!("{label}: {report}");
    }
}

#[test]
fn cdflib_reads_istp_dataset_times_as_utc() {
    if !cdflib_available() {
        println!("skipped: cdflib not available");
        return;
    }
    let dir = TempDir::new("cdflib-istp");
    let leap = utc_to_tt2000(2016, 12, 31, 23, 59, 60, 500_000_000).unwrap();
    let epochs =
        vec![leap - 1_000_000_000, leap, leap + 1_000_000_000, met_to_tt2000(0.0), met_to_tt2000(504_921_603.125)];
    let mut globals = IstpGlobals::imap("mag", "l1a", "norm-mago", "20260101", "v001");
    globals.parents = vec!["imap_mag_l0_raw_20260101_v001.pkts".to_string()];
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
    let report = check_with_cdflib(&dir.0, "istp", &dataset.build().unwrap());
    println!("istp: {report}");
}
