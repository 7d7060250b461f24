//! Decoder throughput: `cargo bench -p xtce`.
//!
//! The input is built here: a synthetic definition shaped like an instrument's (a science
//! packet of 64 counters, calibrated temperatures, an enumerated mode, a signed value and a
//! binary block; a housekeeping packet of enumerated flags and floats) and a stream of its
//! packets. When the mission's level-0 files are present (see `build.rs`) the real SWAPI, MAG
//! and CoDICE files are measured too.

use std::fmt::Write;

use divan::counter::{BytesCount, ItemsCount};
use divan::{Bencher, black_box};
use xtce::PacketDefinition;

fn main() {
    divan::main();
}

const SCIENCE_APID: u16 = 1188;
const HOUSEKEEPING_APID: u16 = 1184;
const COUNTERS: usize = 64;
const TEMPERATURES: usize = 4;
const FLAGS: usize = 16;
const FLOATS: usize = 4;
const BLOCK_BYTES: usize = 16;

/// The synthetic definition as XTCE text.
fn synthetic_xtce() -> String {
    let mut types = String::new();
    for bits in [1, 2, 3, 8, 11, 12, 14, 16, 32] {
        let _ = write!(
            types,
            r#"<xtce:IntegerParameterType name="U{bits}"><xtce:IntegerDataEncoding sizeInBits="{bits}" encoding="unsigned"/></xtce:IntegerParameterType>"#
        );
    }
    types.push_str(
        r#"<xtce:IntegerParameterType name="S12"><xtce:IntegerDataEncoding sizeInBits="12" encoding="twosComplement"/></xtce:IntegerParameterType>
        <xtce:IntegerParameterType name="TEMP_TYPE"><xtce:IntegerDataEncoding sizeInBits="12" encoding="unsigned">
          <xtce:DefaultCalibrator><xtce:PolynomialCalibrator>
            <xtce:Term coefficient="-50.0" exponent="0"/><xtce:Term coefficient="0.0625" exponent="1"/><xtce:Term coefficient="1e-6" exponent="2"/>
          </xtce:PolynomialCalibrator></xtce:DefaultCalibrator>
        </xtce:IntegerDataEncoding></xtce:IntegerParameterType>
        <xtce:EnumeratedParameterType name="MODE_TYPE"><xtce:IntegerDataEncoding sizeInBits="8"/><xtce:EnumerationList>
          <xtce:Enumeration label="BOOT" value="0"/><xtce:Enumeration label="IDLE" value="1"/>
          <xtce:Enumeration label="SCIENCE" value="2"/><xtce:Enumeration label="CALIBRATION" value="3"/>
        </xtce:EnumerationList></xtce:EnumeratedParameterType>
        <xtce:EnumeratedParameterType name="FLAG_TYPE"><xtce:IntegerDataEncoding sizeInBits="1"/><xtce:EnumerationList>
          <xtce:Enumeration label="OFF" value="0"/><xtce:Enumeration label="ON" value="1"/>
        </xtce:EnumerationList></xtce:EnumeratedParameterType>
        <xtce:FloatParameterType name="F32"><xtce:FloatDataEncoding sizeInBits="32"/></xtce:FloatParameterType>
        <xtce:BinaryParameterType name="BLOCK_TYPE"><xtce:BinaryDataEncoding><xtce:SizeInBits><xtce:FixedValue>128</xtce:FixedValue></xtce:SizeInBits></xtce:BinaryDataEncoding></xtce:BinaryParameterType>"#,
    );
    let header = [
        ("VERSION", "U3"),
        ("TYPE", "U1"),
        ("SEC_HDR_FLG", "U1"),
        ("PKT_APID", "U11"),
        ("SEQ_FLGS", "U2"),
        ("SRC_SEQ_CTR", "U14"),
        ("PKT_LEN", "U16"),
    ];
    let mut science = vec![("SHCOARSE".to_string(), "U32"), ("MODE".to_string(), "MODE_TYPE")];
    science.extend((0..COUNTERS).map(|index| (format!("COUNT_{index}"), "U16")));
    science.extend((0..TEMPERATURES).map(|index| (format!("TEMP_{index}"), "TEMP_TYPE")));
    science.extend([("OFFSET".to_string(), "S12"), ("BLOCK".to_string(), "BLOCK_TYPE"), ("CHKSUM".to_string(), "U16")]);
    let mut housekeeping = vec![("HK_SHCOARSE".to_string(), "U32")];
    housekeeping.extend((0..FLAGS).map(|index| (format!("FLAG_{index}"), "FLAG_TYPE")));
    housekeeping.extend((0..FLOATS).map(|index| (format!("VOLTAGE_{index}"), "F32")));
    let parameters: String = header
        .iter()
        .map(|(name, type_name)| (name.to_string(), *type_name))
        .chain(science.iter().cloned())
        .chain(housekeeping.iter().cloned())
        .map(|(name, type_name)| format!(r#"<xtce:Parameter name="{name}" parameterTypeRef="{type_name}"/>"#))
        .collect();
    let entries = |fields: &mut dyn Iterator<Item = String>| -> String {
        fields.map(|name| format!(r#"<xtce:ParameterRefEntry parameterRef="{name}"/>"#)).collect()
    };
    let container = |name: &str, apid: u16, fields: &[(String, &str)]| {
        format!(
            r#"<xtce:SequenceContainer name="{name}"><xtce:BaseContainer containerRef="CCSDSPacket"><xtce:RestrictionCriteria>
            <xtce:Comparison parameterRef="PKT_APID" value="{apid}" useCalibratedValue="false"/></xtce:RestrictionCriteria></xtce:BaseContainer>
            <xtce:EntryList>{}</xtce:EntryList></xtce:SequenceContainer>"#,
            entries(&mut fields.iter().map(|(name, _)| name.clone()))
        )
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<xtce:SpaceSystem xmlns:xtce="http://www.omg.org/space/xtce" name="BENCH">
  <xtce:TelemetryMetaData>
    <xtce:ParameterTypeSet>{types}</xtce:ParameterTypeSet>
    <xtce:ParameterSet>{parameters}</xtce:ParameterSet>
    <xtce:ContainerSet>
      <xtce:SequenceContainer name="CCSDSPacket" abstract="true"><xtce:EntryList>{}</xtce:EntryList></xtce:SequenceContainer>
      {}{}
    </xtce:ContainerSet>
  </xtce:TelemetryMetaData>
</xtce:SpaceSystem>"#,
        entries(&mut header.iter().map(|(name, _)| name.to_string())),
        container("P_BENCH_SCI", SCIENCE_APID, &science),
        container("P_BENCH_HK", HOUSEKEEPING_APID, &housekeeping),
    )
}

/// Appends bits most significant first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    fn put(&mut self, value: u64, width: usize) {
        for bit in (0..width).rev() {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if (value >> bit) & 1 == 1 {
                *self.bytes.last_mut().expect("a byte was pushed") |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
        }
    }
}

/// One CCSDS packet (secondary header flag set, unsegmented) around `data`.
fn packet(apid: u16, counter: u16, data: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(6 + data.len());
    bytes.extend_from_slice(&(0x0800 | apid).to_be_bytes());
    bytes.extend_from_slice(&(0xC000 | (counter & 0x3fff)).to_be_bytes());
    bytes.extend_from_slice(&((data.len() - 1) as u16).to_be_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// `count` packets, one housekeeping packet after every nine science packets.
fn synthetic_stream(count: usize) -> Vec<u8> {
    let mut stream = Vec::new();
    for index in 0..count {
        let met = 500_000_000 + index as u64;
        let mut data = BitWriter::default();
        let apid = if index % 10 == 9 {
            data.put(met, 32);
            (0..FLAGS).for_each(|flag| data.put(((index + flag) % 2) as u64, 1));
            (0..FLOATS).for_each(|voltage| data.put(u64::from((28.0 + voltage as f32 * 0.5).to_bits()), 32));
            HOUSEKEEPING_APID
        } else {
            data.put(met, 32);
            data.put((index % 4) as u64, 8);
            (0..COUNTERS).for_each(|counter| data.put(((index * 31 + counter * 7) % 65_536) as u64, 16));
            (0..TEMPERATURES).for_each(|sensor| data.put((1_000 + index % 50 + sensor) as u64, 12));
            data.put((index % 4096) as u64, 12);
            (0..BLOCK_BYTES).for_each(|byte| data.put(((index + byte) % 256) as u64, 8));
            data.put(0xBEEF, 16);
            SCIENCE_APID
        };
        stream.extend(packet(apid, index as u16, &data.bytes));
    }
    stream
}

#[divan::bench]
fn load_synthetic_definition(bencher: Bencher) {
    let xml = synthetic_xtce();
    bencher.bench(|| PacketDefinition::from_xtce_str(black_box(&xml)).expect("the synthetic definition loads"));
}

#[divan::bench(args = [1_000, 10_000, 100_000], sample_count = 30)]
fn decode_synthetic_packets(bencher: Bencher, packets: usize) {
    let definition = PacketDefinition::from_xtce_str(&synthetic_xtce()).expect("the synthetic definition loads");
    let stream = synthetic_stream(packets);
    let check = definition.decode(&stream);
    assert!(check.problems.is_empty() && check.packet_count() == packets, "{:?}", check.problems.first());
    bencher
        .counter(BytesCount::of_slice(&stream))
        .counter(ItemsCount::new(packets))
        .bench(|| definition.decode(black_box(&stream)));
}

/// The mission's files when present: (packet file, definition) under `<shared>/data/l0`.
#[cfg(has_mission_data)]
mod mission_files {
    use std::path::Path;

    use divan::counter::{BytesCount, ItemsCount};
    use divan::{Bencher, black_box};
    use xtce::PacketDefinition;

    fn file(name: &str) -> std::path::PathBuf {
        Path::new(env!("MISSION_DATA_DIR")).join("l0").join(name)
    }

    fn pair(instrument: &str) -> (&'static str, &'static str) {
        match instrument {
            "swapi" => ("imap_swapi_l0_raw_20240924_v001.pkts", "swapi_packet_definition.xml"),
            "mag" => ("mag_l0_test_data.pkts", "MAG_SCI_COMBINED.xml"),
            _ => ("imap_codice_l0_hskp_20100101_v001.pkts", "P_COD_NHK.xml"),
        }
    }

    #[divan::bench(args = ["swapi", "mag", "codice"])]
    fn load_mission_definition(bencher: Bencher, instrument: &str) {
        let xml = std::fs::read_to_string(file(pair(instrument).1)).expect("definition reads");
        bencher.bench(|| PacketDefinition::from_xtce_str(black_box(&xml)).expect("definition loads"));
    }

    #[divan::bench(args = ["swapi", "mag", "codice"])]
    fn decode_mission_file(bencher: Bencher, instrument: &str) {
        let (packets, definition) = pair(instrument);
        let definition = PacketDefinition::from_xtce_file(file(definition)).expect("definition loads");
        let bytes = std::fs::read(file(packets)).expect("packet file reads");
        let count = definition.decode(&bytes).packet_count();
        bencher
            .counter(BytesCount::of_slice(&bytes))
            .counter(ItemsCount::new(count))
            .bench(|| definition.decode(black_box(&bytes)));
    }
}
