//! MAG L1A sensor split: each MAG science packet carries the vectors of both sensors, the
//! primary sensor's first. Uncompressed vectors are 50 bits: x, y, z as 16-bit two's
//! complement and a 2-bit range. A packet holds `(PUS_SSUBTYPE + 1)` seconds of data at
//! `2^PRI_VECSEC` (primary) and `2^SEC_VECSEC` (secondary) vectors per second; vector `i` of
//! a sensor is timed `COARSETM + FNTM / 65536 + i / rate` (MET seconds). `PRI_SENS` 0 means
//! MAGo is primary. Compressed packets are reported, not unpacked.

use nasa_cdf::Values;
use xtce::{Column, PacketGroup};

use crate::mission::SclkKernel;

use super::series::{SeriesVariable, TimeSeries};

const VECTOR_BITS: usize = 50;

/// The MAG science mode of an APID: normal or burst.
pub fn mode_of(instrument: &str, apid: u16) -> Option<&'static str> {
    match (instrument, apid) {
        ("mag", 1052) => Some("norm"),
        ("mag", 1068) => Some("burst"),
        _ => None,
    }
}

/// The vectors of each sensor, and the packets that could not be unpacked.
pub struct SensorVectors {
    pub mago: TimeSeries,
    pub magi: TimeSeries,
    pub problems: Vec<String>,
}

#[derive(Default)]
struct SensorBuilder {
    epoch: Vec<i64>,
    /// x, y, z, range per vector.
    components: Vec<i32>,
    vectors_per_second: Vec<u16>,
}

impl SensorBuilder {
    fn into_series(self) -> TimeSeries {
        let vectors = SeriesVariable::new("vectors", Values::Int4(self.components), &[4])
            .with_catdesc("magnetic field vector x, y, z (raw counts) and range");
        let rate = SeriesVariable::new("vectors_per_second", Values::UInt2(self.vectors_per_second), &[])
            .with_catdesc("vector rate of the packet the vector came from");
        TimeSeries { epoch: self.epoch, variables: vec![vectors, rate] }
    }
}

fn unsigned(group: &PacketGroup, name: &str, row: usize) -> Result<u64, String> {
    match group.field(name).map(|field| &field.raw) {
        Some(Column::U64(values)) => values.get(row).copied().ok_or_else(|| format!("no {name} in row {row}")),
        _ => Err(format!("mag packets have no unsigned {name}")),
    }
}

/// Reads `width` bits (at most 32) starting `bit` bits into `data`, most significant first.
fn read_bits(data: &[u8], bit: usize, width: usize) -> u32 {
    let mut value = 0u32;
    for offset in bit..bit + width {
        let set = data[offset / 8] >> (7 - offset % 8) & 1;
        value = value << 1 | u32::from(set);
    }
    value
}

/// Splits every packet of a MAG science group into the two sensors' vectors.
pub fn split_sensors(group: &PacketGroup, clock: &SclkKernel) -> Result<SensorVectors, String> {
    let vectors = match group.field("VECTORS").map(|field| &field.raw) {
        Some(Column::Bytes(vectors)) => vectors,
        _ => return Err("mag packets have no binary VECTORS".into()),
    };
    let (mut mago, mut magi) = (SensorBuilder::default(), SensorBuilder::default());
    let mut problems = Vec::new();
    for row in 0..group.len() {
        let offset = group.offsets[row];
        if unsigned(group, "COMPRESSION", row)? != 0 {
            problems.push(format!("mag packet at byte {offset}: compressed vectors are not unpacked"));
            continue;
        }
        let seconds = unsigned(group, "PUS_SSUBTYPE", row)? + 1;
        let primary_rate = 1u64 << unsigned(group, "PRI_VECSEC", row)?.min(15);
        let secondary_rate = 1u64 << unsigned(group, "SEC_VECSEC", row)?.min(15);
        let data = vectors.get(row).unwrap_or(&[]);
        let (primary_count, secondary_count) = ((seconds * primary_rate) as usize, (seconds * secondary_rate) as usize);
        if (primary_count + secondary_count) * VECTOR_BITS > data.len() * 8 {
            problems.push(format!(
                "mag packet at byte {offset}: {} vector bytes hold fewer than the {} vectors announced",
                data.len(),
                primary_count + secondary_count
            ));
            continue;
        }
        let primary_is_mago = unsigned(group, "PRI_SENS", row)? == 0;
        let sensors = [
            ("PRI", primary_rate, primary_count, 0),
            ("SEC", secondary_rate, secondary_count, primary_count * VECTOR_BITS),
        ];
        for (index, (prefix, rate, count, first_bit)) in sensors.into_iter().enumerate() {
            let start = unsigned(group, &format!("{prefix}_COARSETM"), row)? as f64
                + unsigned(group, &format!("{prefix}_FNTM"), row)? as f64 / 65536.0;
            let sensor = if (index == 0) == primary_is_mago { &mut mago } else { &mut magi };
            for vector in 0..count {
                let bit = first_bit + vector * VECTOR_BITS;
                for component in 0..3 {
                    sensor.components.push(i32::from(read_bits(data, bit + component * 16, 16) as u16 as i16));
                }
                sensor.components.push(read_bits(data, bit + 48, 2) as i32);
                sensor.epoch.push(clock.met_to_tt2000(start + vector as f64 / rate as f64));
                sensor.vectors_per_second.push(rate as u16);
            }
        }
    }
    Ok(SensorVectors { mago: mago.into_series(), magi: magi.into_series(), problems })
}

#[cfg(test)]
mod tests {
    use xtce::PacketDefinition;

    use super::super::fixture::packet;
    use super::super::level0::built_in_definition;
    use super::*;
    use crate::mission::met_to_tt2000;

    /// Bits written most significant first.
    #[derive(Default)]
    struct BitWriter {
        bytes: Vec<u8>,
        length: usize,
    }

    impl BitWriter {
        fn put(&mut self, value: u64, width: usize) {
            for bit in (0..width).rev() {
                if self.length.is_multiple_of(8) {
                    self.bytes.push(0);
                }
                if (value >> bit) & 1 == 1 {
                    let last = self.bytes.len() - 1;
                    self.bytes[last] |= 0x80 >> (self.length % 8);
                }
                self.length += 1;
            }
        }
    }

    const MET: u64 = 480_000_000;

    /// A normal-mode packet of 2 s: MAGi primary at 1 vector/s, MAGo at 2 vectors/s.
    fn normal_packet(compressed: bool, vectors: &[[i16; 3]]) -> Vec<u8> {
        let mut bits = BitWriter::default();
        bits.put(MET + 5, 32); // SHCOARSE
        bits.put(0, 1 + 3 + 4); // PUS spare, version, spare
        bits.put(0, 8); // PUS_STYPE
        bits.put(1, 8); // PUS_SSUBTYPE: 2 seconds
        bits.put(u64::from(compressed), 1);
        bits.put(1, 1); // MAGO_ACT
        bits.put(1, 1); // MAGI_ACT
        bits.put(1, 1); // PRI_SENS: MAGi
        bits.put(0, 4);
        bits.put(0, 3); // PRI_VECSEC: 1 vector/s
        bits.put(1, 3); // SEC_VECSEC: 2 vectors/s
        bits.put(0, 2);
        bits.put(MET, 32); // PRI_COARSETM
        bits.put(32768, 16); // PRI_FNTM: half a second
        bits.put(MET + 1, 32); // SEC_COARSETM
        bits.put(0, 16);
        for (index, vector) in vectors.iter().enumerate() {
            for component in vector {
                bits.put(u64::from(*component as u16), 16);
            }
            bits.put(index as u64 % 4, 2);
        }
        packet(1052, 0, &bits.bytes)
    }

    #[test]
    fn vectors_go_to_their_sensor_with_their_times() {
        let xml = built_in_definition("mag").expect("mag is built in");
        let definition = PacketDefinition::from_xtce_str(xml).expect("mag definition loads");
        let vectors = [[1, -2, 3], [4, 5, -6], [100, 200, 300], [-100, -200, -300], [7, 8, 9], [-1, -1, -1]];
        let mut bytes = normal_packet(false, &vectors);
        bytes.extend(normal_packet(true, &vectors));
        let decoded = definition.decode(&bytes);
        assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
        let sensors = split_sensors(&decoded.groups[0], &SclkKernel::nominal()).expect("splits");

        assert_eq!(
            sensors.magi.variable("vectors").expect("vectors").values,
            Values::Int4(vec![1, -2, 3, 0, 4, 5, -6, 1])
        );
        let mago = sensors.mago.variable("vectors").expect("vectors").values.clone();
        assert_eq!(mago, Values::Int4(vec![100, 200, 300, 2, -100, -200, -300, 3, 7, 8, 9, 0, -1, -1, -1, 1]));
        let start = met_to_tt2000(MET as f64 + 0.5);
        assert_eq!(sensors.magi.epoch, [start, start + 1_000_000_000]);
        let secondary_start = met_to_tt2000((MET + 1) as f64);
        assert_eq!(sensors.mago.epoch, [0, 1, 2, 3].map(|step| secondary_start + step * 500_000_000));
        assert_eq!(sensors.problems.len(), 1);
        assert!(sensors.problems[0].contains("compressed vectors are not unpacked"), "{:?}", sensors.problems);
    }
}
