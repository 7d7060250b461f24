//! Small hand-built definitions and packets covering each supported feature and each way a
//! packet or a definition can be wrong.

use crate::{Column, DecodedPackets, PacketDefinition, PacketGroup, Value, XtceError};

const HEADER_TYPES: &str = r#"
    <xtce:IntegerParameterType name="U1"><xtce:IntegerDataEncoding sizeInBits="1" encoding="unsigned"/></xtce:IntegerParameterType>
    <xtce:IntegerParameterType name="U2"><xtce:IntegerDataEncoding sizeInBits="2" encoding="unsigned"/></xtce:IntegerParameterType>
    <xtce:IntegerParameterType name="U3"><xtce:IntegerDataEncoding sizeInBits="3" encoding="unsigned"/></xtce:IntegerParameterType>
    <xtce:IntegerParameterType name="U4"><xtce:IntegerDataEncoding sizeInBits="4" encoding="unsigned"/></xtce:IntegerParameterType>
    <xtce:IntegerParameterType name="U8"><xtce:IntegerDataEncoding sizeInBits="8" encoding="unsigned"/></xtce:IntegerParameterType>
    <xtce:IntegerParameterType name="U11"><xtce:IntegerDataEncoding sizeInBits="11" encoding="unsigned"/></xtce:IntegerParameterType>
    <xtce:IntegerParameterType name="U14"><xtce:IntegerDataEncoding sizeInBits="14" encoding="unsigned"/></xtce:IntegerParameterType>
    <xtce:IntegerParameterType name="U16"><xtce:IntegerDataEncoding sizeInBits="16" encoding="unsigned"/></xtce:IntegerParameterType>"#;

const HEADER_FIELDS: [(&str, &str); 7] = [
    ("VERSION", "U3"),
    ("TYPE", "U1"),
    ("SEC_HDR_FLG", "U1"),
    ("PKT_APID", "U11"),
    ("SEQ_FLGS", "U2"),
    ("SRC_SEQ_CTR", "U14"),
    ("PKT_LEN", "U16"),
];

/// A complete XTCE document: the CCSDS header plus the given types, parameters
/// (name, type) and containers.
fn document(root_is_abstract: bool, types: &str, parameters: &[(&str, &str)], containers: &str) -> String {
    let parameter_xml: String = HEADER_FIELDS
        .iter()
        .chain(parameters)
        .map(|(name, type_name)| format!(r#"<xtce:Parameter name="{name}" parameterTypeRef="{type_name}"/>"#))
        .collect();
    let header_entries = entries(&HEADER_FIELDS.map(|(name, _)| name));
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<xtce:SpaceSystem xmlns:xtce="http://www.omg.org/space/xtce" name="TEST">
  <xtce:Header date="2024" version="1.0"/>
  <xtce:TelemetryMetaData>
    <xtce:ParameterTypeSet>{HEADER_TYPES}{types}</xtce:ParameterTypeSet>
    <xtce:ParameterSet>{parameter_xml}</xtce:ParameterSet>
    <xtce:ContainerSet>
      <xtce:SequenceContainer name="CCSDSPacket" abstract="{root_is_abstract}">{header_entries}</xtce:SequenceContainer>
      {containers}
    </xtce:ContainerSet>
  </xtce:TelemetryMetaData>
</xtce:SpaceSystem>"#
    )
}

fn entries(names: &[&str]) -> String {
    let refs: String = names.iter().map(|name| format!(r#"<xtce:ParameterRefEntry parameterRef="{name}"/>"#)).collect();
    format!("<xtce:EntryList>{refs}</xtce:EntryList>")
}

/// A container below `base` restricted by the given criteria XML.
fn container(name: &str, base: &str, criteria: &str, fields: &[&str]) -> String {
    let entry_list = entries(fields);
    format!(
        r#"<xtce:SequenceContainer name="{name}">
             <xtce:BaseContainer containerRef="{base}"><xtce:RestrictionCriteria>{criteria}</xtce:RestrictionCriteria></xtce:BaseContainer>
             {entry_list}
           </xtce:SequenceContainer>"#
    )
}

fn apid_is(apid: u16) -> String {
    format!(r#"<xtce:Comparison parameterRef="PKT_APID" value="{apid}" useCalibratedValue="false"/>"#)
}

/// Builds user data bit by bit, most significant bit first.
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    length: usize,
}

impl Bits {
    fn put(mut self, value: u64, width: u32) -> Self {
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
        self
    }

    fn put_bytes(self, data: &[u8]) -> Self {
        data.iter().fold(self, |bits, &byte| bits.put(u64::from(byte), 8))
    }
}

/// A CCSDS packet (version 0, telemetry, secondary header flag set, unsegmented).
fn packet(apid: u16, counter: u16, data: &[u8]) -> Vec<u8> {
    assert!(!data.is_empty(), "a ccsds packet holds at least one byte of data");
    let mut bytes = Vec::with_capacity(6 + data.len());
    bytes.extend_from_slice(&(0x0800 | apid).to_be_bytes());
    bytes.extend_from_slice(&(0xC000 | counter).to_be_bytes());
    bytes.extend_from_slice(&((data.len() - 1) as u16).to_be_bytes());
    bytes.extend_from_slice(data);
    bytes
}

fn load(xml: &str) -> PacketDefinition {
    PacketDefinition::from_xtce_str(xml).unwrap_or_else(|error| panic!("definition should load: {error}"))
}

fn only_group(decoded: &DecodedPackets, apid: u16) -> &PacketGroup {
    let groups: Vec<&PacketGroup> = decoded.groups_for_apid(apid).collect();
    assert_eq!(groups.len(), 1, "one group for apid {apid}");
    groups[0]
}

fn raw<'a>(group: &'a PacketGroup, name: &str) -> &'a Column {
    &group.field(name).unwrap_or_else(|| panic!("field {name}")).raw
}

fn derived<'a>(group: &'a PacketGroup, name: &str) -> &'a Column {
    let field = group.field(name).unwrap_or_else(|| panic!("field {name}"));
    field.derived.as_ref().unwrap_or_else(|| panic!("derived column for {name}"))
}

const INTEGER_TYPES: &str = r#"
    <xtce:IntegerParameterType name="S12"><xtce:IntegerDataEncoding sizeInBits="12" encoding="signed"/></xtce:IntegerParameterType>
    <xtce:IntegerParameterType name="T16"><xtce:IntegerDataEncoding sizeInBits="16" encoding="twosComplement"/></xtce:IntegerParameterType>
    <xtce:IntegerParameterType name="LE16"><xtce:IntegerDataEncoding sizeInBits="16" byteOrder="leastSignificantByteFirst"/></xtce:IntegerParameterType>
    <xtce:IntegerParameterType name="LES32"><xtce:IntegerDataEncoding sizeInBits="32" encoding="twosComplement" byteOrder="leastSignificantByteFirst"/></xtce:IntegerParameterType>
    <xtce:IntegerParameterType name="U64"><xtce:IntegerDataEncoding sizeInBits="64"/></xtce:IntegerParameterType>"#;

#[test]
fn integers_of_every_width_sign_and_byte_order() {
    let parameters =
        [("A", "U3"), ("B", "S12"), ("C", "U1"), ("D", "T16"), ("E", "LE16"), ("F", "LES32"), ("G", "U64")];
    let names = parameters.map(|(name, _)| name);
    let xml = document(false, INTEGER_TYPES, &parameters, &container("INTS", "CCSDSPacket", &apid_is(5), &names));
    let definition = load(&xml);
    let data = |a: u64, b: i64| {
        Bits::default()
            .put(a, 3)
            .put(b as u64 & 0xfff, 12)
            .put(1, 1)
            .put(0x8001, 16)
            .put_bytes(&[0x34, 0x12])
            .put_bytes(&(-5i32).to_le_bytes())
            .put(u64::MAX, 64)
            .bytes
    };
    // Three packets so that reads happen both far from and right at the end of the input.
    let mut bytes = packet(5, 0, &data(5, -1));
    bytes.extend(packet(5, 1, &data(7, -2048)));
    bytes.extend(packet(5, 2, &data(0, 2047)));

    let decoded = definition.decode(&bytes);
    assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
    let group = only_group(&decoded, 5);
    assert_eq!(group.container, "INTS");
    assert_eq!(raw(group, "PKT_APID"), &Column::U64(vec![5, 5, 5]));
    assert_eq!(raw(group, "SRC_SEQ_CTR"), &Column::U64(vec![0, 1, 2]));
    assert_eq!(raw(group, "A"), &Column::U64(vec![5, 7, 0]));
    assert_eq!(raw(group, "B"), &Column::I64(vec![-1, -2048, 2047]));
    assert_eq!(raw(group, "C"), &Column::U64(vec![1, 1, 1]));
    assert_eq!(raw(group, "D"), &Column::I64(vec![-32767; 3]));
    assert_eq!(raw(group, "E"), &Column::U64(vec![0x1234; 3]));
    assert_eq!(raw(group, "F"), &Column::I64(vec![-5; 3]));
    assert_eq!(raw(group, "G"), &Column::U64(vec![u64::MAX; 3]));
    let names: Vec<&str> = group.fields.iter().map(|field| field.name.as_str()).collect();
    assert_eq!(names[..7], HEADER_FIELDS.map(|(name, _)| name));
    assert_eq!(names[7..], names_of(&parameters));
}

fn names_of<'a>(parameters: &[(&'a str, &str)]) -> Vec<&'a str> {
    parameters.iter().map(|(name, _)| *name).collect()
}

#[test]
fn floats_in_ieee_and_mil_std_1750a_encodings() {
    let types = r#"
      <xtce:FloatParameterType name="F16"><xtce:FloatDataEncoding sizeInBits="16"/></xtce:FloatParameterType>
      <xtce:FloatParameterType name="F32"><xtce:FloatDataEncoding sizeInBits="32" encoding="IEEE754_1985"/></xtce:FloatParameterType>
      <xtce:FloatParameterType name="F64"><xtce:FloatDataEncoding sizeInBits="64" encoding="IEEE754"/></xtce:FloatParameterType>
      <xtce:FloatParameterType name="F32LE"><xtce:FloatDataEncoding sizeInBits="32" byteOrder="leastSignificantByteFirst"/></xtce:FloatParameterType>
      <xtce:FloatParameterType name="MIL"><xtce:FloatDataEncoding sizeInBits="32" encoding="MILSTD_1750A"/></xtce:FloatParameterType>"#;
    let parameters = [("H", "F16"), ("S", "F32"), ("D", "F64"), ("L", "F32LE"), ("M", "MIL"), ("N", "MIL")];
    let xml =
        document(false, types, &parameters, &container("FLOATS", "CCSDSPacket", &apid_is(9), &names_of(&parameters)));
    let data = Bits::default()
        .put(0xC100, 16) // -2.5 as a half float
        .put_bytes(&1.5f32.to_be_bytes())
        .put_bytes(&(-0.1f64).to_be_bytes())
        .put_bytes(&3.25f32.to_le_bytes())
        .put(0x4000_0001, 32) // 0.5 * 2^1
        .put(0xC000_0001, 32) // -0.5 * 2^1
        .bytes;
    let decoded = load(&xml).decode(&packet(9, 0, &data));
    assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
    let group = only_group(&decoded, 9);
    assert_eq!(raw(group, "H"), &Column::F64(vec![-2.5]));
    assert_eq!(raw(group, "S"), &Column::F64(vec![1.5]));
    assert_eq!(raw(group, "D"), &Column::F64(vec![-0.1]));
    assert_eq!(raw(group, "L"), &Column::F64(vec![3.25]));
    assert_eq!(raw(group, "M"), &Column::F64(vec![1.0]));
    assert_eq!(raw(group, "N"), &Column::F64(vec![-1.0]));
}

const BINARY_TYPES: &str = r#"
    <xtce:BinaryParameterType name="FIXED16"><xtce:BinaryDataEncoding><xtce:SizeInBits><xtce:FixedValue>16</xtce:FixedValue></xtce:SizeInBits></xtce:BinaryDataEncoding></xtce:BinaryParameterType>
    <xtce:BinaryParameterType name="FIXED12"><xtce:BinaryDataEncoding><xtce:SizeInBits><xtce:FixedValue>12</xtce:FixedValue></xtce:SizeInBits></xtce:BinaryDataEncoding></xtce:BinaryParameterType>
    <xtce:BinaryParameterType name="BY_BYTES">
      <xtce:BinaryDataEncoding><xtce:SizeInBits><xtce:DynamicValue>
        <xtce:ParameterInstanceRef parameterRef="LENGTH" useCalibratedValue="false"/>
        <xtce:LinearAdjustment slope="8" intercept="-8"/>
      </xtce:DynamicValue></xtce:SizeInBits></xtce:BinaryDataEncoding>
    </xtce:BinaryParameterType>"#;

#[test]
fn binary_fields_of_fixed_dynamic_and_unaligned_size() {
    let parameters =
        [("FIXED", "FIXED16"), ("NIBBLE", "U4"), ("ODD", "FIXED12"), ("LENGTH", "U8"), ("BLOB", "BY_BYTES")];
    let xml = document(
        false,
        BINARY_TYPES,
        &parameters,
        &container("BIN", "CCSDSPacket", &apid_is(3), &names_of(&parameters)),
    );
    let definition = load(&xml);
    // LENGTH counts the bytes of BLOB plus one, hence the intercept of -8 bits.
    let data = |blob: &[u8]| {
        Bits::default().put(0xBEEF, 16).put(0xA, 4).put(0xBCD, 12).put(blob.len() as u64 + 1, 8).put_bytes(blob).bytes
    };
    let mut bytes = packet(3, 0, &data(&[1, 2, 3]));
    bytes.extend(packet(3, 1, &data(&[])));
    bytes.extend(packet(3, 2, &data(&[0xff; 5])));

    let decoded = definition.decode(&bytes);
    assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
    let group = only_group(&decoded, 3);
    let values = |name: &str| -> Vec<Vec<u8>> {
        let column = raw(group, name);
        (0..column.len())
            .map(|row| match column.get(row) {
                Some(Value::Bytes(bytes)) => bytes.to_vec(),
                other => panic!("{name} row {row} is not bytes: {other:?}"),
            })
            .collect()
    };
    assert_eq!(values("FIXED"), vec![vec![0xBE, 0xEF]; 3]);
    // An unaligned 12-bit value is padded in front, like the reference decoder does.
    assert_eq!(values("ODD"), vec![vec![0x0B, 0xCD]; 3]);
    assert_eq!(values("BLOB"), vec![vec![1, 2, 3], vec![], vec![0xff; 5]]);
}

#[test]
fn strings_with_fixed_terminated_leading_size_and_dynamic_buffers() {
    let types = r#"
      <xtce:StringParameterType name="FIXED40"><xtce:StringDataEncoding encoding="US-ASCII"><xtce:SizeInBits><xtce:Fixed><xtce:FixedValue>40</xtce:FixedValue></xtce:Fixed></xtce:SizeInBits></xtce:StringDataEncoding></xtce:StringParameterType>
      <xtce:StringParameterType name="NUL_ENDED"><xtce:StringDataEncoding><xtce:SizeInBits><xtce:Fixed><xtce:FixedValue>64</xtce:FixedValue></xtce:Fixed><xtce:TerminationChar>00</xtce:TerminationChar></xtce:SizeInBits></xtce:StringDataEncoding></xtce:StringParameterType>
      <xtce:StringParameterType name="PASCAL"><xtce:StringDataEncoding><xtce:Variable maxSizeInBits="200"><xtce:LeadingSize sizeInBitsOfSizeTag="8"/></xtce:Variable></xtce:StringDataEncoding></xtce:StringParameterType>
      <xtce:StringParameterType name="SIZED"><xtce:StringDataEncoding><xtce:Variable maxSizeInBits="200"><xtce:DynamicValue><xtce:ParameterInstanceRef parameterRef="TEXT_BYTES"/><xtce:LinearAdjustment slope="8"/></xtce:DynamicValue></xtce:Variable></xtce:StringDataEncoding></xtce:StringParameterType>"#;
    let parameters =
        [("NAME", "FIXED40"), ("NOTE", "NUL_ENDED"), ("TAG", "PASCAL"), ("TEXT_BYTES", "U8"), ("TEXT", "SIZED")];
    let xml =
        document(false, types, &parameters, &container("STR", "CCSDSPacket", &apid_is(4), &names_of(&parameters)));
    let data = Bits::default()
        .put_bytes(b"HELLO")
        .put_bytes(b"abc\0\0\0\0\0")
        .put(24, 8) // leading size tag counts bits
        .put_bytes("é!".as_bytes())
        .put(4, 8)
        .put_bytes(b"done")
        .bytes;
    let decoded = load(&xml).decode(&packet(4, 0, &data));
    assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
    let group = only_group(&decoded, 4);
    let text = |name: &str| match raw(group, name).get(0) {
        Some(Value::Text(text)) => text.to_string(),
        other => panic!("{name} is not text: {other:?}"),
    };
    assert_eq!(text("NAME"), "HELLO");
    assert_eq!(text("NOTE"), "abc");
    assert_eq!(text("TAG"), "é!");
    assert_eq!(text("TEXT"), "done");
}

#[test]
fn inheritance_selects_containers_by_restriction_criteria() {
    let parameters = [("KIND", "U8"), ("SCIENCE", "U16"), ("HOUSEKEEPING", "U8"), ("COUNT", "U4"), ("FILL", "U4")];
    let both = format!(
        r#"<xtce:ComparisonList>{}<xtce:Comparison parameterRef="KIND" value="1"/></xtce:ComparisonList>"#,
        apid_is(10)
    );
    let housekeeping = r#"<xtce:Comparison parameterRef="KIND" value="2" comparisonOperator="&gt;="/>"#;
    let containers = [
        container("APP", "CCSDSPacket", &apid_is(10), &["KIND"]),
        format!(r#"<xtce:SequenceContainer name="SCI">
              <xtce:BaseContainer containerRef="APP"><xtce:RestrictionCriteria>{both}</xtce:RestrictionCriteria></xtce:BaseContainer>
              <xtce:EntryList><xtce:ParameterRefEntry parameterRef="SCIENCE"/><xtce:ContainerRefEntry containerRef="COUNTS"/></xtce:EntryList>
            </xtce:SequenceContainer>"#),
        container("HK", "APP", housekeeping, &["HOUSEKEEPING"]),
        // Only ever included by reference, so it has no base container.
        format!(r#"<xtce:SequenceContainer name="COUNTS">{}</xtce:SequenceContainer>"#, entries(&["COUNT", "FILL"])),
    ]
    .concat();
    let definition = load(&document(false, "", &parameters, &containers));
    let mut bytes = packet(10, 0, &[1, 0x12, 0x34, 0x56]);
    bytes.extend(packet(10, 1, &[7, 0x99]));
    bytes.extend(packet(11, 2, &[0])); // no container for this APID: header only
    bytes.extend(packet(10, 3, &[1, 0xAB, 0xCD, 0xEF]));

    let decoded = definition.decode(&bytes);
    assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
    assert_eq!(decoded.groups.len(), 3);
    let science = decoded.groups.iter().find(|group| group.container == "SCI").expect("science group");
    assert_eq!(science.apid, 10);
    assert_eq!(raw(science, "SCIENCE"), &Column::U64(vec![0x1234, 0xABCD]));
    assert_eq!(raw(science, "COUNT"), &Column::U64(vec![5, 0xE]));
    assert_eq!(raw(science, "FILL"), &Column::U64(vec![6, 0xF]));
    let housekeeping = decoded.groups.iter().find(|group| group.container == "HK").expect("housekeeping group");
    assert_eq!(raw(housekeeping, "KIND"), &Column::U64(vec![7]));
    assert_eq!(raw(housekeeping, "HOUSEKEEPING"), &Column::U64(vec![0x99]));
    let header_only = only_group(&decoded, 11);
    assert_eq!(header_only.container, "CCSDSPacket");
    assert_eq!(header_only.fields.len(), 7);
    let order: Vec<(&str, u32)> =
        decoded.order.iter().map(|at| (decoded.groups[at.group as usize].container.as_str(), at.row)).collect();
    assert_eq!(order, [("SCI", 0), ("HK", 0), ("CCSDSPacket", 0), ("SCI", 1)]);
    assert_eq!(science.offsets, vec![0, 25]);
}

#[test]
fn abstract_container_without_a_matching_inheritor_is_a_problem() {
    let containers = container("ONLY", "CCSDSPacket", &apid_is(1), &["VALUE"]);
    let definition = load(&document(true, "", &[("VALUE", "U8")], &containers));
    let mut bytes = packet(1, 0, &[10]);
    bytes.extend(packet(2, 1, &[20]));
    bytes.extend(packet(1, 2, &[30]));
    let decoded = definition.decode(&bytes);
    assert_eq!(raw(only_group(&decoded, 1), "VALUE"), &Column::U64(vec![10, 30]));
    assert_eq!(decoded.problems.len(), 1);
    let problem = &decoded.problems[0];
    assert_eq!((problem.offset, problem.apid), (7, Some(2)));
    assert!(matches!(&problem.error, XtceError::NoMatchingContainer { container } if container == "CCSDSPacket"));
}

#[test]
fn polynomial_calibration_gives_derived_floats() {
    let types = r#"
      <xtce:IntegerParameterType name="TEMP"><xtce:IntegerDataEncoding sizeInBits="16" encoding="twosComplement">
        <xtce:DefaultCalibrator><xtce:PolynomialCalibrator>
          <xtce:Term coefficient="1.5" exponent="0"/><xtce:Term coefficient="2" exponent="1"/><xtce:Term coefficient="0.25" exponent="2"/>
        </xtce:PolynomialCalibrator></xtce:DefaultCalibrator>
      </xtce:IntegerDataEncoding></xtce:IntegerParameterType>"#;
    let xml = document(
        false,
        types,
        &[("T", "TEMP"), ("PLAIN", "U8")],
        &container("CAL", "CCSDSPacket", &apid_is(6), &["T", "PLAIN"]),
    );
    let mut bytes = packet(6, 0, &[0x00, 0x04, 1]);
    bytes.extend(packet(6, 1, &[0xFF, 0xFE, 2]));
    let decoded = load(&xml).decode(&bytes);
    assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
    let group = only_group(&decoded, 6);
    assert_eq!(raw(group, "T"), &Column::I64(vec![4, -2]));
    // 1.5 + 2x + 0.25x^2
    assert_eq!(derived(group, "T"), &Column::F64(vec![13.5, -1.5]));
    assert!(group.field("PLAIN").is_some_and(|field| field.derived.is_none()));
}

const MODE_TYPE: &str = r#"
    <xtce:EnumeratedParameterType name="MODE_ENUM">
      <xtce:IntegerDataEncoding sizeInBits="8"/>
      <xtce:EnumerationList>
        <xtce:Enumeration label="IDLE" value="0"/><xtce:Enumeration label="SCIENCE" value="1"/>
        <xtce:Enumeration label="SAFE" value="5" maxValue="7"/>
      </xtce:EnumerationList>
    </xtce:EnumeratedParameterType>"#;

#[test]
fn enumerations_give_labels_and_can_select_containers() {
    let parameters = [("MODE", "MODE_ENUM"), ("EXTRA", "U8")];
    let by_label = r#"<xtce:Comparison parameterRef="MODE" value="SCIENCE"/>"#;
    let containers = [
        container("STATUS", "CCSDSPacket", &apid_is(8), &["MODE"]),
        container("SCIENCE_EXTRA", "STATUS", by_label, &["EXTRA"]),
    ]
    .concat();
    let definition = load(&document(false, MODE_TYPE, &parameters, &containers));
    let mut bytes = packet(8, 0, &[0]);
    bytes.extend(packet(8, 1, &[6]));
    bytes.extend(packet(8, 2, &[1, 42]));
    bytes.extend(packet(8, 3, &[3])); // 3 is in no enumeration entry
    bytes.extend(packet(8, 4, &[5]));

    let decoded = definition.decode(&bytes);
    let status = decoded.groups.iter().find(|group| group.container == "STATUS").expect("status group");
    assert_eq!(raw(status, "MODE"), &Column::U64(vec![0, 6, 5]));
    let labels: Vec<&str> = (0..3)
        .map(|row| match derived(status, "MODE").get(row) {
            Some(Value::Label(label)) => label,
            other => panic!("not a label: {other:?}"),
        })
        .collect();
    assert_eq!(labels, ["IDLE", "SAFE", "SAFE"]);
    let science = decoded.groups.iter().find(|group| group.container == "SCIENCE_EXTRA").expect("science group");
    assert_eq!(raw(science, "EXTRA"), &Column::U64(vec![42]));
    assert_eq!(decoded.problems.len(), 1);
    assert_eq!(decoded.problems[0].offset, 7 + 7 + 8);
    assert!(matches!(decoded.problems[0].error, XtceError::UnknownEnumerationValue { value: 3, .. }));
}

fn two_byte_definition() -> PacketDefinition {
    load(&document(
        false,
        "",
        &[("HIGH", "U8"), ("LOW", "U8")],
        &container("TWO", "CCSDSPacket", &apid_is(7), &["HIGH", "LOW"]),
    ))
}

#[test]
fn truncated_last_packet_is_reported_and_earlier_packets_kept() {
    let mut bytes = packet(7, 0, &[1, 2]);
    bytes.extend(packet(7, 1, &[3, 4]));
    let cut = bytes.len();
    bytes.extend(&packet(7, 2, &[5, 6, 7, 8])[..8]);
    let decoded = two_byte_definition().decode(&bytes);
    assert_eq!(raw(only_group(&decoded, 7), "LOW"), &Column::U64(vec![2, 4]));
    assert_eq!(decoded.problems.len(), 1);
    let problem = &decoded.problems[0];
    assert_eq!((problem.offset, problem.apid), (cut, Some(7)));
    assert!(matches!(problem.error, XtceError::TruncatedPacket { needed: 10, available: 8 }));
    assert_eq!(
        problem.to_string(),
        "packet at byte 16 (apid 7): packet needs 10 bytes but only 8 are left in the file"
    );
}

#[test]
fn trailing_bytes_too_short_for_a_header_are_reported() {
    let mut bytes = packet(7, 0, &[1, 2]);
    bytes.extend([0x08, 0x07, 0xC0]);
    let decoded = two_byte_definition().decode(&bytes);
    assert_eq!(decoded.packet_count(), 1);
    assert_eq!(decoded.problems.len(), 1);
    assert_eq!((decoded.problems[0].offset, decoded.problems[0].apid), (8, Some(7)));
    assert!(matches!(decoded.problems[0].error, XtceError::TruncatedHeader { available: 3 }));
}

#[test]
fn packet_too_short_for_its_container_is_skipped_and_decoding_goes_on() {
    let mut bytes = packet(7, 0, &[1, 2]);
    bytes.extend(packet(7, 1, &[3])); // its container needs two bytes
    bytes.extend(packet(7, 2, &[5, 6]));
    let decoded = two_byte_definition().decode(&bytes);
    let group = only_group(&decoded, 7);
    assert_eq!(raw(group, "HIGH"), &Column::U64(vec![1, 5]));
    assert_eq!(raw(group, "SRC_SEQ_CTR"), &Column::U64(vec![0, 2]));
    assert_eq!(decoded.problems.len(), 1);
    let problem = &decoded.problems[0];
    assert_eq!((problem.offset, problem.apid), (8, Some(7)));
    assert!(
        matches!(&problem.error, XtceError::FieldBeyondPacket { field, bit_position: 56, bits: 8, packet_bits: 56 } if field == "LOW"),
        "{problem}"
    );
}

#[test]
fn negative_dynamic_size_is_a_problem() {
    let parameters =
        [("FIXED", "FIXED16"), ("NIBBLE", "U4"), ("ODD", "FIXED12"), ("LENGTH", "U8"), ("BLOB", "BY_BYTES")];
    let xml = document(
        false,
        BINARY_TYPES,
        &parameters,
        &container("BIN", "CCSDSPacket", &apid_is(3), &names_of(&parameters)),
    );
    let decoded = load(&xml).decode(&packet(3, 0, &[0, 0, 0, 0, 0]));
    assert_eq!(decoded.packet_count(), 0);
    assert!(
        matches!(&decoded.problems[0].error, XtceError::InvalidFieldSize { field, size } if field == "BLOB" && *size == -8.0)
    );
}

#[test]
fn repeated_parameter_keeps_first_position_and_last_value() {
    let xml = document(
        false,
        "",
        &[("A", "U8"), ("B", "U8")],
        &container("REP", "CCSDSPacket", &apid_is(2), &["A", "B", "A"]),
    );
    let decoded = load(&xml).decode(&packet(2, 0, &[1, 2, 3]));
    let group = only_group(&decoded, 2);
    let names: Vec<&str> = group.fields[7..].iter().map(|field| field.name.as_str()).collect();
    assert_eq!(names, ["A", "B"]);
    assert_eq!(raw(group, "A"), &Column::U64(vec![3]));
}

fn load_error(types: &str, parameters: &[(&str, &str)], containers: &str) -> String {
    match PacketDefinition::from_xtce_str(&document(false, types, parameters, containers)) {
        Ok(_) => panic!("definition should be rejected"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn unsupported_elements_are_errors_naming_the_element() {
    let spline = r#"<xtce:IntegerParameterType name="FOO"><xtce:IntegerDataEncoding sizeInBits="8">
        <xtce:DefaultCalibrator><xtce:SplineCalibrator><xtce:SplinePoint raw="0" calibrated="1"/></xtce:SplineCalibrator></xtce:DefaultCalibrator>
      </xtce:IntegerDataEncoding></xtce:IntegerParameterType>"#;
    assert_eq!(load_error(spline, &[], ""), r#"unsupported xtce element "SplineCalibrator" in parameter type "FOO""#);

    let boolean = r#"<xtce:BooleanParameterType name="FLAG"/>"#;
    assert_eq!(
        load_error(boolean, &[], ""),
        r#"unsupported xtce element "BooleanParameterType" in parameter type "FLAG""#
    );

    let conditional = r#"<xtce:SequenceContainer name="C"><xtce:EntryList><xtce:ParameterRefEntry parameterRef="X">
        <xtce:IncludeCondition/></xtce:ParameterRefEntry></xtce:EntryList></xtce:SequenceContainer>"#;
    assert_eq!(
        load_error("", &[("X", "U8")], conditional),
        r#"unsupported xtce element "IncludeCondition" in container "C""#
    );

    let boolean_expression = r#"<xtce:SequenceContainer name="C"><xtce:BaseContainer containerRef="CCSDSPacket"><xtce:RestrictionCriteria>
        <xtce:BooleanExpression/></xtce:RestrictionCriteria></xtce:BaseContainer><xtce:EntryList/></xtce:SequenceContainer>"#;
    assert_eq!(
        load_error("", &[], boolean_expression),
        r#"unsupported xtce element "BooleanExpression" in container "C""#
    );

    let ones_complement = r#"<xtce:IntegerParameterType name="OC"><xtce:IntegerDataEncoding sizeInBits="8" encoding="onesComplement"/></xtce:IntegerParameterType>"#;
    assert_eq!(
        load_error(ones_complement, &[], ""),
        r#"unsupported integer encoding "onesComplement" in parameter type "OC""#
    );
}

#[test]
fn references_to_unknown_names_are_errors() {
    let unknown_type = container("C", "CCSDSPacket", &apid_is(1), &["X"]);
    assert_eq!(
        load_error("", &[("X", "NOPE")], &unknown_type),
        r#"unknown parameter type "NOPE" referenced in container "C""#
    );
    let unknown_parameter = container("C", "CCSDSPacket", &apid_is(1), &["MISSING"]);
    assert_eq!(load_error("", &[], &unknown_parameter), r#"unknown parameter "MISSING" referenced in container "C""#);
    let unknown_base = container("C", "NOWHERE", &apid_is(1), &[]);
    assert_eq!(load_error("", &[], &unknown_base), r#"unknown base container "NOWHERE" referenced in container "C""#);
    let later_length = container("C", "CCSDSPacket", &apid_is(1), &["BLOB", "LENGTH"]);
    assert_eq!(
        load_error(BINARY_TYPES, &[("BLOB", "BY_BYTES"), ("LENGTH", "U8")], &later_length),
        r#"unknown earlier parameter "LENGTH" referenced in container "C""#
    );
    assert!(matches!(PacketDefinition::from_xtce_str("<xtce:SpaceSystem"), Err(XtceError::Xml(_))));
}
