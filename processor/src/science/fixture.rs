//! Test inputs built from scratch: a tiny XTCE definition, its packets, SWAPI science packets
//! for the built-in definition, jobs and files. Public with the `test-util` feature, for the
//! end-to-end tests of the binary.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use imap_filename::Date;
use imap_filename::ImapFileName;
use proto::pb::{FileRecord, ProductKey};

use super::{InputFile, JobContext};

/// APID 100 (`P_SCI`): SHCOARSE, a calibrated temperature, an enumerated mode, a signed
/// value and two bytes of binary; APID 200 (`P_HK`): SHCOARSE and a voltage.
pub const TOY_XTCE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<xtce:SpaceSystem xmlns:xtce="http://www.omg.org/space/xtce" name="TOY">
  <xtce:TelemetryMetaData>
    <xtce:ParameterTypeSet>
      <xtce:IntegerParameterType name="U1"><xtce:IntegerDataEncoding sizeInBits="1" encoding="unsigned"/></xtce:IntegerParameterType>
      <xtce:IntegerParameterType name="U2"><xtce:IntegerDataEncoding sizeInBits="2" encoding="unsigned"/></xtce:IntegerParameterType>
      <xtce:IntegerParameterType name="U3"><xtce:IntegerDataEncoding sizeInBits="3" encoding="unsigned"/></xtce:IntegerParameterType>
      <xtce:IntegerParameterType name="U11"><xtce:IntegerDataEncoding sizeInBits="11" encoding="unsigned"/></xtce:IntegerParameterType>
      <xtce:IntegerParameterType name="U14"><xtce:IntegerDataEncoding sizeInBits="14" encoding="unsigned"/></xtce:IntegerParameterType>
      <xtce:IntegerParameterType name="U16"><xtce:IntegerDataEncoding sizeInBits="16" encoding="unsigned"/></xtce:IntegerParameterType>
      <xtce:IntegerParameterType name="U32"><xtce:IntegerDataEncoding sizeInBits="32" encoding="unsigned"/></xtce:IntegerParameterType>
      <xtce:IntegerParameterType name="T16"><xtce:IntegerDataEncoding sizeInBits="16" encoding="twosComplement"/></xtce:IntegerParameterType>
      <xtce:IntegerParameterType name="TEMP_TYPE"><xtce:IntegerDataEncoding sizeInBits="16" encoding="unsigned">
        <xtce:DefaultCalibrator><xtce:PolynomialCalibrator>
          <xtce:Term coefficient="-10" exponent="0"/><xtce:Term coefficient="0.5" exponent="1"/>
        </xtce:PolynomialCalibrator></xtce:DefaultCalibrator>
      </xtce:IntegerDataEncoding></xtce:IntegerParameterType>
      <xtce:EnumeratedParameterType name="MODE_TYPE">
        <xtce:IntegerDataEncoding sizeInBits="8"/>
        <xtce:EnumerationList>
          <xtce:Enumeration label="IDLE" value="0"/><xtce:Enumeration label="SCIENCE" value="1"/>
        </xtce:EnumerationList>
      </xtce:EnumeratedParameterType>
      <xtce:BinaryParameterType name="BLOB_TYPE"><xtce:BinaryDataEncoding><xtce:SizeInBits><xtce:FixedValue>16</xtce:FixedValue></xtce:SizeInBits></xtce:BinaryDataEncoding></xtce:BinaryParameterType>
    </xtce:ParameterTypeSet>
    <xtce:ParameterSet>
      <xtce:Parameter name="VERSION" parameterTypeRef="U3"/>
      <xtce:Parameter name="TYPE" parameterTypeRef="U1"/>
      <xtce:Parameter name="SEC_HDR_FLG" parameterTypeRef="U1"/>
      <xtce:Parameter name="PKT_APID" parameterTypeRef="U11"/>
      <xtce:Parameter name="SEQ_FLGS" parameterTypeRef="U2"/>
      <xtce:Parameter name="SRC_SEQ_CTR" parameterTypeRef="U14"/>
      <xtce:Parameter name="PKT_LEN" parameterTypeRef="U16"/>
      <xtce:Parameter name="SHCOARSE" parameterTypeRef="U32"/>
      <xtce:Parameter name="TEMP" parameterTypeRef="TEMP_TYPE"/>
      <xtce:Parameter name="MODE" parameterTypeRef="MODE_TYPE"/>
      <xtce:Parameter name="OFFSET" parameterTypeRef="T16"/>
      <xtce:Parameter name="BLOB" parameterTypeRef="BLOB_TYPE"/>
      <xtce:Parameter name="VOLT" parameterTypeRef="U16"/>
    </xtce:ParameterSet>
    <xtce:ContainerSet>
      <xtce:SequenceContainer name="CCSDSPacket" abstract="true">
        <xtce:EntryList>
          <xtce:ParameterRefEntry parameterRef="VERSION"/><xtce:ParameterRefEntry parameterRef="TYPE"/>
          <xtce:ParameterRefEntry parameterRef="SEC_HDR_FLG"/><xtce:ParameterRefEntry parameterRef="PKT_APID"/>
          <xtce:ParameterRefEntry parameterRef="SEQ_FLGS"/><xtce:ParameterRefEntry parameterRef="SRC_SEQ_CTR"/>
          <xtce:ParameterRefEntry parameterRef="PKT_LEN"/>
        </xtce:EntryList>
      </xtce:SequenceContainer>
      <xtce:SequenceContainer name="P_SCI">
        <xtce:BaseContainer containerRef="CCSDSPacket"><xtce:RestrictionCriteria>
          <xtce:Comparison parameterRef="PKT_APID" value="100" useCalibratedValue="false"/>
        </xtce:RestrictionCriteria></xtce:BaseContainer>
        <xtce:EntryList>
          <xtce:ParameterRefEntry parameterRef="SHCOARSE"/><xtce:ParameterRefEntry parameterRef="TEMP"/>
          <xtce:ParameterRefEntry parameterRef="MODE"/><xtce:ParameterRefEntry parameterRef="OFFSET"/>
          <xtce:ParameterRefEntry parameterRef="BLOB"/>
        </xtce:EntryList>
      </xtce:SequenceContainer>
      <xtce:SequenceContainer name="P_HK">
        <xtce:BaseContainer containerRef="CCSDSPacket"><xtce:RestrictionCriteria>
          <xtce:Comparison parameterRef="PKT_APID" value="200" useCalibratedValue="false"/>
        </xtce:RestrictionCriteria></xtce:BaseContainer>
        <xtce:EntryList>
          <xtce:ParameterRefEntry parameterRef="SHCOARSE"/><xtce:ParameterRefEntry parameterRef="VOLT"/>
        </xtce:EntryList>
      </xtce:SequenceContainer>
    </xtce:ContainerSet>
  </xtce:TelemetryMetaData>
</xtce:SpaceSystem>"#;

/// MET seconds of 2025-01-01T00:00:00 UTC, the day of [`job`].
pub fn met_of_job_day() -> u32 {
    let midnight = nasa_cdf::utc_to_tt2000(2025, 1, 1, 0, 0, 0, 0).expect("valid time");
    crate::mission::tt2000_to_met(midnight) as u32
}

/// A CCSDS telemetry packet with a secondary header flag, unsegmented.
pub fn packet(apid: u16, counter: u16, data: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(6 + data.len());
    bytes.extend_from_slice(&(0x0800 | apid).to_be_bytes());
    bytes.extend_from_slice(&(0xC000 | counter).to_be_bytes());
    bytes.extend_from_slice(&((data.len() - 1) as u16).to_be_bytes());
    bytes.extend_from_slice(data);
    bytes
}

pub fn science_packet(counter: u16, met: u32, temp: u16, mode: u8, offset: i16, blob: [u8; 2]) -> Vec<u8> {
    let mut data = met.to_be_bytes().to_vec();
    data.extend_from_slice(&temp.to_be_bytes());
    data.push(mode);
    data.extend_from_slice(&offset.to_be_bytes());
    data.extend_from_slice(&blob);
    packet(100, counter, &data)
}

/// A SWAPI science packet (APID 1188, 48 data bytes like the mission's) that the built-in
/// SWAPI definition decodes: SHCOARSE is `met`, the other fields vary with `counter`.
pub fn swapi_science_packet(counter: u16, met: u32) -> Vec<u8> {
    let mut data = met.to_be_bytes().to_vec();
    data.extend((0..44).map(|index| ((usize::from(counter) * 7 + index) % 251) as u8));
    packet(1188, counter, &data)
}

/// A SWAPI housekeeping packet (APID 1184, 78 data bytes like the mission's) that the built-in
/// SWAPI definition decodes: SHCOARSE is `met`, every other field zero.
pub fn swapi_housekeeping_packet(counter: u16, met: u32) -> Vec<u8> {
    let mut data = met.to_be_bytes().to_vec();
    data.resize(78, 0);
    packet(1184, counter, &data)
}

pub fn housekeeping_packet(counter: u16, met: u32, volt: u16) -> Vec<u8> {
    let mut data = met.to_be_bytes().to_vec();
    data.extend_from_slice(&volt.to_be_bytes());
    packet(200, counter, &data)
}

/// A job for `instrument level descriptor` on 2025-01-01, and its cancel switch.
pub fn job(instrument: &str, level: &str, descriptor: &str) -> (JobContext, Arc<AtomicBool>) {
    let cancelled = Arc::new(AtomicBool::new(false));
    let product = ProductKey { instrument: instrument.into(), data_level: level.into(), descriptor: descriptor.into() };
    let date = Date::from_ymd(2025, 1, 1).expect("valid date");
    let context = JobContext::new("job-1".into(), product, date, None, "v001".into(), cancelled.clone());
    (context, cancelled)
}

/// An input whose record is filled from its mission file name.
pub fn input(file_name: &str, bytes: Vec<u8>) -> InputFile {
    let parsed =
        ImapFileName::parse(file_name).unwrap_or_else(|error| panic!("{file_name} is a mission name: {error}"));
    let record = FileRecord {
        file_name: file_name.into(),
        archive_key: parsed.archive_path(),
        kind: proto::pb::FileKind::from(parsed.kind()).into(),
        instrument: parsed.instrument().unwrap_or_default().into(),
        data_level: parsed.data_level().unwrap_or_default().into(),
        descriptor: parsed.descriptor().unwrap_or_default().into(),
        start_date: parsed.start_date().map(|date| date.yyyymmdd()).unwrap_or_default(),
        extension: parsed.extension().into(),
        size_bytes: bytes.len() as u64,
        ..FileRecord::default()
    };
    InputFile { record, bytes }
}

/// A fresh folder named after `label`, removed when dropped.
pub fn temp_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("science-{label}-")).tempdir().expect("creates temp dir")
}
