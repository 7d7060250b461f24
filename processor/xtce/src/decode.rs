//! Packet decoding: frame each packet by its primary header, run the container plan into the
//! scratch space, then append the scratch values to the columns of the packet's group.

use crate::XtceError;
use crate::bits::{BitReader, Padding, Scratch, Span, extract, float_value, read_bits, sign_extend, swap_bytes};
use crate::columns::{
    Column, DecodedPackets, FieldColumns, LabelColumn, PacketGroup, PacketLocation, PacketProblem, VarBytes, VarText,
};
use crate::model::StringContent;
use crate::plan::{
    CompiledBuffer, CompiledContainer, CompiledSize, DecodeOp, Derived, FieldOp, Number, PacketDefinition, RawKind,
    SizeRef,
};

const PRIMARY_HEADER_BYTES: usize = 6;
const APID_COUNT: usize = 1 << 11;

/// Size from an earlier field; truncated toward zero like the reference's `int()`.
fn dynamic_bits(size: &SizeRef, values: &[u64], field: &str) -> Result<usize, XtceError> {
    let value = match size.value.number(values) {
        Number::Int(value) => value as f64,
        Number::Float(value) => value,
    };
    let bits = (size.slope * value + size.intercept).trunc();
    if !(0.0..=u32::MAX as f64).contains(&bits) {
        return Err(XtceError::InvalidFieldSize { field: field.to_string(), size: bits });
    }
    Ok(bits as usize)
}

fn invalid_string(field: &str, reason: impl Into<String>) -> XtceError {
    XtceError::InvalidString { field: field.to_string(), reason: reason.into() }
}

impl PacketDefinition {
    /// Decodes every packet of `data`. Truncated or corrupt packets end up in `problems`;
    /// decoding goes on with the next packet as framed by the primary header.
    pub fn decode(&self, data: &[u8]) -> DecodedPackets {
        let mut output = DecodedPackets::default();
        let mut scratch = Scratch {
            values: vec![0; self.slot_count],
            labels: vec![0; self.slot_count],
            spans: vec![Span::default(); self.slot_count],
            bytes: Vec::new(),
        };
        // (leaf container, group) pairs per APID.
        let mut groups_by_apid: Vec<Vec<(usize, u32)>> = vec![Vec::new(); APID_COUNT];
        let mut offset = 0;
        while offset < data.len() {
            let available = data.len() - offset;
            let apid = (available >= 2).then(|| u16::from_be_bytes([data[offset], data[offset + 1]]) & 0x7ff);
            if available < PRIMARY_HEADER_BYTES {
                let error = XtceError::TruncatedHeader { available };
                output.problems.push(PacketProblem { offset, apid, error });
                break;
            }
            let packet_bytes = usize::from(u16::from_be_bytes([data[offset + 4], data[offset + 5]])) + 7;
            if available < packet_bytes {
                let error = XtceError::TruncatedPacket { needed: packet_bytes, available };
                output.problems.push(PacketProblem { offset, apid, error });
                break;
            }
            let apid = apid.unwrap_or_default();
            let mut reader =
                BitReader { data, position: offset * 8, start: offset * 8, end: (offset + packet_bytes) * 8 };
            scratch.bytes.clear();
            match self.parse_packet(&mut reader, &mut scratch) {
                Ok(leaf) => {
                    let known = &mut groups_by_apid[usize::from(apid)];
                    let group_index = match known.iter().find(|(container, _)| *container == leaf) {
                        Some(&(_, group)) => group,
                        None => {
                            let group = output.groups.len() as u32;
                            output.groups.push(self.new_group(apid, &self.containers[leaf]));
                            known.push((leaf, group));
                            group
                        }
                    };
                    let group = &mut output.groups[group_index as usize];
                    output.order.push(PacketLocation { group: group_index, row: group.len() as u32 });
                    group.offsets.push(offset);
                    append_packet(&mut group.fields, &self.containers[leaf], &scratch, data);
                }
                Err(error) => output.problems.push(PacketProblem { offset, apid: Some(apid), error }),
            }
            offset += packet_bytes;
        }
        output
    }

    /// Runs the container tree over one packet; returns the last container matched.
    fn parse_packet(&self, reader: &mut BitReader, scratch: &mut Scratch) -> Result<usize, XtceError> {
        let mut current = self.root;
        loop {
            let container = &self.containers[current];
            self.run_ops(&container.ops, reader, scratch)?;
            let mut matching = container
                .inheritors
                .iter()
                .filter(|inheritor| inheritor.criteria.iter().all(|c| c.matches(&scratch.values, &scratch.labels)));
            match (matching.next(), matching.next()) {
                (Some(inheritor), None) => current = inheritor.container,
                (None, _) if container.is_abstract => {
                    return Err(XtceError::NoMatchingContainer { container: container.name.clone() });
                }
                (None, _) => return Ok(current),
                (Some(_), Some(_)) => {
                    let count = 2 + matching.count();
                    return Err(XtceError::AmbiguousContainer { container: container.name.clone(), count });
                }
            }
        }
    }

    fn run_ops(&self, ops: &[FieldOp], reader: &mut BitReader, scratch: &mut Scratch) -> Result<(), XtceError> {
        for op in ops {
            match &op.decode {
                &DecodeOp::Integer { bits, signed, little_endian, enumeration } => {
                    let mut value = reader.read(bits).map_err(|overrun| overrun.into_error(&op.name))?;
                    if little_endian {
                        value = swap_bytes(value, bits);
                    }
                    if signed {
                        value = sign_extend(value, bits) as u64;
                    }
                    scratch.values[op.slot] = value;
                    if let Some(table) = enumeration {
                        let raw = if signed { i128::from(value as i64) } else { i128::from(value) };
                        scratch.labels[op.slot] = self.enumerations[table]
                            .lookup(raw)
                            .ok_or_else(|| XtceError::UnknownEnumerationValue { field: op.name.clone(), value: raw })?;
                    }
                }
                &DecodeOp::Float { bits, format, little_endian } => {
                    let mut value = reader.read(bits).map_err(|overrun| overrun.into_error(&op.name))?;
                    if little_endian {
                        value = swap_bytes(value, bits);
                    }
                    scratch.values[op.slot] = float_value(value, bits, format).to_bits();
                }
                DecodeOp::Binary { size } => {
                    let bits = match size {
                        CompiledSize::Fixed(bits) => *bits as usize,
                        CompiledSize::Dynamic(size) => dynamic_bits(size, &scratch.values, &op.name)?,
                    };
                    let span = reader.take(bits, Padding::Left, &mut scratch.bytes);
                    scratch.spans[op.slot] = span.map_err(|overrun| overrun.into_error(&op.name))?;
                }
                DecodeOp::String { buffer, content, ascii_only } => {
                    let span = read_string(op, buffer, content, reader, scratch)?;
                    let text = scratch.span(reader.data, span);
                    if *ascii_only && !text.is_ascii() {
                        return Err(invalid_string(&op.name, "not US-ASCII"));
                    }
                    std::str::from_utf8(text).map_err(|error| invalid_string(&op.name, error.to_string()))?;
                    scratch.spans[op.slot] = span;
                }
            }
        }
        Ok(())
    }

    fn new_group(&self, apid: u16, container: &CompiledContainer) -> PacketGroup {
        let fields = container
            .fields
            .iter()
            .map(|field| {
                let raw = match field.raw {
                    RawKind::Unsigned => Column::U64(Vec::new()),
                    RawKind::Signed => Column::I64(Vec::new()),
                    RawKind::Float => Column::F64(Vec::new()),
                    RawKind::Bytes => Column::Bytes(VarBytes::default()),
                    RawKind::Text => Column::Text(VarText::default()),
                };
                let derived = match &field.derived {
                    Derived::None => None,
                    Derived::Calibrated(_) => Some(Column::F64(Vec::new())),
                    Derived::Label(table) => {
                        let labels = self.enumerations[*table].labels.clone();
                        Some(Column::Label(LabelColumn { labels, codes: Vec::new() }))
                    }
                };
                FieldColumns { name: field.name.clone(), raw, derived }
            })
            .collect();
        PacketGroup { apid, container: container.name.clone(), offsets: Vec::new(), fields }
    }
}

/// Decodes a string field; returns the span of its text (without terminator or size tag).
fn read_string(
    op: &FieldOp,
    buffer: &CompiledBuffer,
    content: &StringContent,
    reader: &mut BitReader,
    scratch: &mut Scratch,
) -> Result<Span, XtceError> {
    let field = op.name.as_str();
    let buffer_bits = match buffer {
        CompiledBuffer::Fixed(bits) => *bits as usize,
        CompiledBuffer::Dynamic(size) => dynamic_bits(size, &scratch.values, field)?,
        CompiledBuffer::LeadingSizeOnly(tag_bits) => {
            let text_bits = reader.peek(*tag_bits).map_err(|overrun| overrun.into_error(field))?;
            (*tag_bits as usize).saturating_add(text_bits as usize)
        }
        CompiledBuffer::TerminatorOnly { max_bits } => {
            let StringContent::Terminated(terminator) = content else {
                return Err(invalid_string(field, "no termination character"));
            };
            if !reader.position.is_multiple_of(8) {
                return Err(invalid_string(field, "a terminated string must start on a byte boundary"));
            }
            let start = reader.position / 8;
            let limit = max_bits.map_or(usize::MAX, |bits| bits as usize / 8);
            let window = &reader.data[start..(reader.end / 8).min(start.saturating_add(limit))];
            let found = window.windows(terminator.len()).position(|candidate| candidate == terminator.as_slice());
            let index = found.ok_or_else(|| invalid_string(field, "termination character not found"))?;
            (index + terminator.len()) * 8
        }
    };
    let buffer_start = reader.position;
    let buffer_span = reader.take(buffer_bits, Padding::Right, &mut scratch.bytes);
    let buffer_span = buffer_span.map_err(|overrun| overrun.into_error(field))?;
    match content {
        StringContent::Whole => Ok(buffer_span),
        StringContent::Terminated(terminator) => {
            let bytes = scratch.span(reader.data, buffer_span);
            let found = bytes.windows(terminator.len()).position(|candidate| candidate == terminator.as_slice());
            let length = found.ok_or_else(|| invalid_string(field, "termination character not found"))?;
            Ok(Span { len: length, ..buffer_span })
        }
        StringContent::LeadingSize(tag_bits) => {
            let tag_bits = *tag_bits as usize;
            if buffer_bits < tag_bits {
                return Err(invalid_string(field, "buffer is shorter than its size tag"));
            }
            let text_bits = read_bits(reader.data, buffer_start, tag_bits as u32) as usize;
            if !text_bits.is_multiple_of(8) || text_bits > buffer_bits - tag_bits {
                return Err(invalid_string(field, format!("size tag of {text_bits} bits does not fit the buffer")));
            }
            Ok(extract(reader.data, buffer_start + tag_bits, text_bits, Padding::Right, &mut scratch.bytes))
        }
    }
}

/// Appends the scratch values of one packet to its group's columns.
fn append_packet(columns: &mut [FieldColumns], container: &CompiledContainer, scratch: &Scratch, data: &[u8]) {
    for (column, plan) in columns.iter_mut().zip(&container.fields) {
        let bits = scratch.values[plan.slot];
        match &mut column.raw {
            Column::U64(values) => values.push(bits),
            Column::I64(values) => values.push(bits as i64),
            Column::F64(values) => values.push(f64::from_bits(bits)),
            Column::Bytes(values) => values.push(scratch.span(data, scratch.spans[plan.slot])),
            // Validated as UTF-8 while decoding.
            Column::Text(values) => {
                values.push(std::str::from_utf8(scratch.span(data, scratch.spans[plan.slot])).unwrap_or_default())
            }
            Column::Label(values) => values.codes.push(scratch.labels[plan.slot]),
        }
        match (&mut column.derived, &plan.derived) {
            (Some(Column::F64(values)), Derived::Calibrated(polynomial)) => {
                let raw = match plan.raw {
                    RawKind::Signed => bits as i64 as f64,
                    RawKind::Float => f64::from_bits(bits),
                    _ => bits as f64,
                };
                values.push(polynomial.evaluate(raw));
            }
            (Some(Column::Label(values)), _) => values.codes.push(scratch.labels[plan.slot]),
            _ => {}
        }
    }
}
