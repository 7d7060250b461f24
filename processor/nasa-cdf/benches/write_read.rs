//! Writing and reading realistic datasets, plain and with GZIP: `cargo bench -p nasa-cdf`.
//!
//! The long dataset is an instrument day at one record per second, shaped like a level-1 product:
//! the epoch, 48 counters (16-bit), three temperatures and a mode flag per record, a 3-vector
//! field (float64) and two non-record-varying label variables, with ISTP attributes.
//!
//! The wide dataset is what the processor reads and writes most often: one short file (153
//! records) of many variables, shaped like SWAPI's level 1 science product: 53 counters (32-bit)
//! and 19 text variables (a state name per record), each with its ISTP attributes. There the
//! cost is per variable and per attribute entry rather than per value.

use divan::counter::{BytesCount, ItemsCount};
use divan::{Bencher, black_box};
use nasa_cdf::{
    Cdf, Compression, DataType, IstpDataset, IstpGlobals, IstpVariable, ReadLimits, Values, VarType, Variable,
    read_cdf_selected, utc_to_tt2000,
};

fn main() {
    divan::main();
}

const RECORDS: usize = 86_400;
const COUNTERS: usize = 48;

#[derive(Debug, Clone, Copy)]
enum Gzip {
    None,
    /// Each variable's records compressed at this level (the IMAP processor writes level 1).
    Variables(u32),
    /// The whole file compressed at level 6.
    File,
}

impl Gzip {
    const ALL: [Gzip; 4] = [Gzip::None, Gzip::Variables(1), Gzip::Variables(6), Gzip::File];
}

impl std::fmt::Display for Gzip {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Gzip::None => formatter.write_str("plain"),
            Gzip::Variables(level) => write!(formatter, "gzip{level}_variables"),
            Gzip::File => formatter.write_str("gzip6_file"),
        }
    }
}

fn dataset(gzip: Gzip) -> Cdf {
    let variable_compression = match gzip {
        Gzip::Variables(level) => Compression::Gzip { level },
        Gzip::None | Gzip::File => Compression::None,
    };
    let start = utc_to_tt2000(2025, 9, 24, 0, 0, 0, 0).expect("valid time");
    let globals = IstpGlobals {
        project: "STP>Solar-Terrestrial Probes".into(),
        logical_source: "bench_swapi_l1_sci".into(),
        logical_file_id: "bench_swapi_l1_sci_20250924_v001".into(),
        generation_date: Some("20250925".into()),
        ..IstpGlobals::default()
    };
    let mut builder = IstpDataset::new(globals);
    builder.add_epoch("epoch", (0..RECORDS as i64).map(|second| start + second * 1_000_000_000).collect());
    for counter in 0..COUNTERS {
        let counts = (0..RECORDS).map(|record| ((record * 7 + counter * 131) % 1_000) as u16).collect();
        builder.add_variable(
            IstpVariable::data(&format!("COUNT_{counter}"), Values::UInt2(counts), &[])
                .units("counts")
                .compression(variable_compression),
        );
    }
    for sensor in 0..3 {
        let temperatures = (0..RECORDS).map(|record| 20.0 + sensor as f32 + (record % 600) as f32 * 0.01).collect();
        builder.add_variable(
            IstpVariable::data(&format!("TEMP_{sensor}"), Values::Real4(temperatures), &[])
                .units("degC")
                .compression(variable_compression),
        );
    }
    builder.add_variable(
        IstpVariable::data("MODE", Values::UInt1((0..RECORDS).map(|record| (record / 3_600 % 3) as u8).collect()), &[])
            .compression(variable_compression),
    );
    let field = (0..RECORDS * 3).map(|index| (index as f64 * 0.001).sin() * 5.0).collect();
    builder.add_variable(
        IstpVariable::data("B_VECTOR", Values::Real8(field), &[3])
            .units("nT")
            .attribute("DEPEND_1", "B_AXIS")
            .attribute("LABL_PTR_1", "B_LABEL")
            .compression(variable_compression),
    );
    builder
        .add_variable(IstpVariable::new(
            VarType::SupportData,
            Variable::non_record_varying("B_AXIS", Values::UInt1(vec![0, 1, 2]), &[3]),
        ))
        .add_variable(IstpVariable::new(
            VarType::Metadata,
            Variable::non_record_varying("B_LABEL", Values::Char(vec!["Bx".into(), "By".into(), "Bz".into()]), &[3]),
        ));
    let mut cdf = builder.build().expect("the benchmark dataset is consistent");
    if let Gzip::File = gzip {
        cdf.file_compression = Compression::Gzip { level: 6 };
    }
    cdf
}

/// Bytes of data values in the dataset (what a reader hands back), for a throughput figure.
fn value_bytes(cdf: &Cdf) -> usize {
    cdf.variables.iter().map(|variable| variable.num_records() * variable.record_size()).sum()
}

#[divan::bench(args = Gzip::ALL, sample_count = 20)]
fn write(bencher: Bencher, gzip: Gzip) {
    let cdf = dataset(gzip);
    bencher
        .counter(BytesCount::new(value_bytes(&cdf)))
        .counter(ItemsCount::new(RECORDS))
        .bench(|| black_box(&cdf).to_bytes().expect("writes"));
}

#[divan::bench(args = Gzip::ALL, sample_count = 20)]
fn read(bencher: Bencher, gzip: Gzip) {
    let cdf = dataset(gzip);
    let bytes = cdf.to_bytes().expect("writes");
    // Attribute entries come back in attribute-number order, so values are what is compared.
    let read = Cdf::from_bytes(&bytes).expect("reads");
    let same = |written: &Variable, read: &Variable| written.name == read.name && written.values == read.values;
    assert!(
        read.variables.iter().zip(&cdf.variables).all(|(read, written)| same(written, read)),
        "reads what it wrote"
    );
    bencher
        .counter(BytesCount::new(value_bytes(&cdf)))
        .counter(ItemsCount::new(RECORDS))
        .bench(|| Cdf::from_bytes(black_box(&bytes)).expect("reads"));
}

const WIDE_RECORDS: usize = 153;

fn wide_dataset() -> Cdf {
    let start = utc_to_tt2000(2024, 9, 24, 0, 0, 0, 0).expect("valid time");
    let globals = IstpGlobals { logical_source: "bench_swapi_l1_sci".into(), ..IstpGlobals::default() };
    let mut builder = IstpDataset::new(globals);
    builder.add_epoch("epoch", (0..WIDE_RECORDS as i64).map(|record| start + record * 12_000_000_000).collect());
    for counter in 0..53 {
        let counts = (0..WIDE_RECORDS).map(|record| (record * 31 + counter * 7) as u32).collect();
        builder
            .add_variable(IstpVariable::data(&format!("COUNT_{counter}"), Values::UInt4(counts), &[]).units("counts"));
    }
    let states = ["HVSCI", "HVENG", "LVENG"];
    for flag in 0..19 {
        let names = (0..WIDE_RECORDS).map(|record| states[(record + flag) % states.len()].to_string()).collect();
        builder.add_variable(IstpVariable::data(&format!("STATE_{flag}_DERIVED"), Values::Char(names), &[]));
    }
    builder.build().expect("the wide dataset is consistent")
}

#[divan::bench(sample_count = 50)]
fn write_wide(bencher: Bencher) {
    let cdf = wide_dataset();
    bencher.counter(ItemsCount::new(cdf.variables.len())).bench(|| black_box(&cdf).to_bytes().expect("writes"));
}

#[divan::bench(args = [false, true], sample_count = 50)]
fn read_wide(bencher: Bencher, numbers_only: bool) {
    let cdf = wide_dataset();
    let bytes = cdf.to_bytes().expect("writes");
    let keep = |_: &str, data_type: DataType| !numbers_only || !data_type.is_char();
    bencher
        .counter(ItemsCount::new(cdf.variables.len()))
        .bench(|| read_cdf_selected(black_box(&bytes), ReadLimits::default(), &keep).expect("reads"));
}
