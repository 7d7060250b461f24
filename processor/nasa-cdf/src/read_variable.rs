//! Reading one zVariable: its zVDR, the VXR index and the VVR/CVVR records
//! it points to.

use crate::Result;
use crate::layout::*;
use crate::model::{Compression, Variable};
use crate::read::{File, Layout, Visited, gunzip, malformed, read_compression, unsupported};
use crate::values::{DataType, Values};

/// Deepest VXR tree followed; the NASA library never builds more than a few levels.
const MAX_VXR_DEPTH: usize = 16;

/// Reads one zVDR and all its records; returns (variable number, variable), without the variable
/// when the layout's `keep` refuses it (its records are then not read).
pub(crate) fn read_variable(file: &File, vdr_at: u64, layout: &Layout) -> Result<(usize, Option<Variable>)> {
    let (_, vdr_size) = file.record(vdr_at, &[ZVDR], "zvdr")?;
    let code = file.i32_at(vdr_at + 20)?;
    let data_type = DataType::from_code(code).ok_or_else(|| unsupported(vdr_at + 20, format!("data type {code}")))?;
    let max_record = file.i32_at(vdr_at + 24)?;
    let vxr_head = file.offset_at(vdr_at + 28)?;
    let flags = file.i32_at(vdr_at + 44)?;
    let num_elems = file.count_at(vdr_at + 64)?;
    let number = file.count_at(vdr_at + 68)?;
    let cpr_at = file.i64_at(vdr_at + 72)?;
    let name = file.name_at(vdr_at + 84)?;
    if !(layout.keep)(&name, data_type) {
        return Ok((number, None));
    }
    let num_dims = file.count_at(vdr_at + 340)?;
    if num_dims > 10 {
        return Err(malformed(vdr_at + 340, format!("{num_dims} dimensions (at most 10)")));
    }
    if num_elems == 0 || (!data_type.is_char() && num_elems != 1) {
        return Err(malformed(vdr_at + 64, format!("num_elems {num_elems} for {data_type:?}")));
    }
    let mut dims = Vec::with_capacity(num_dims);
    for dim in 0..num_dims as u64 {
        let size = file.count_at(vdr_at + 344 + 4 * dim)?;
        if size == 0 {
            return Err(malformed(vdr_at + 344 + 4 * dim, "dimension size 0"));
        }
        if file.i32_at(vdr_at + 344 + 4 * (num_dims as u64 + dim))? == 0 {
            return Err(unsupported(vdr_at + 344, "dimensions with variance false"));
        }
        dims.push(size);
    }
    let element_size = data_type.element_size() * num_elems;
    let pad_at = vdr_at + 344 + 8 * num_dims as u64;
    let pad = if flags & VDR_FLAG_PAD_VALUE != 0 && pad_at + element_size as u64 <= vdr_at + vdr_size {
        file.slice(pad_at, element_size as u64)?.to_vec()
    } else {
        vec![0; element_size]
    };
    let compression = match flags & VDR_FLAG_COMPRESSION != 0 {
        true => read_compression(file, u64::try_from(cpr_at).map_err(|_| malformed(vdr_at + 72, "missing cpr"))?)?,
        false => Compression::None,
    };

    // Checked: ten dimensions of 2^31 overflow, and a product that wrapped to 0 would make empty records.
    let too_big = || malformed(vdr_at + 340, format!("variable {name} has dimensions {dims:?} too big to hold"));
    let values_per_record =
        dims.iter().try_fold(1usize, |product, &size| product.checked_mul(size)).ok_or_else(too_big)?;
    let num_records = (i64::from(max_record).max(-1) + 1) as u64;
    let record_size = (values_per_record as u64).checked_mul(element_size as u64).ok_or_else(too_big)?;
    let total_bytes = num_records.checked_mul(record_size).ok_or_else(too_big)?;
    layout
        .budget
        .take(total_bytes, vdr_at + 24, || format!("variable {name} ({num_records} records of {record_size} bytes)"))?;
    if data_type.is_char() {
        // Each text value becomes a String: charge its header too.
        let strings = num_records.saturating_mul(values_per_record as u64);
        layout.budget.take(strings.saturating_mul(std::mem::size_of::<String>() as u64), vdr_at + 24, || {
            format!("text variable {name}")
        })?;
    }
    let mut data = pad.repeat(values_per_record * num_records as usize);
    if vxr_head != 0 {
        let mut walk = VxrWalk { visited: Visited::new(), records_left: num_records as usize };
        let target =
            RecordTarget { data: &mut data, record_size: record_size as usize, num_records: num_records as usize };
        read_vxr_chain(file, vxr_head, 0, &mut walk, target)?;
    }
    if !layout.row_major && dims.len() > 1 {
        data = column_to_row_major(&data, &dims, element_size);
    }
    let count = values_per_record * num_records as usize;
    let values = Values::decode(data_type, num_elems, count, layout.endian, &data);
    let variable = Variable {
        name,
        data_type,
        dims,
        record_varying: flags & VDR_FLAG_RECORD_VARIANCE != 0,
        num_elems,
        values,
        compression,
        attributes: Vec::new(),
    };
    Ok((number, Some(variable)))
}

/// Where decoded record bytes go.
struct RecordTarget<'a> {
    data: &'a mut Vec<u8>,
    record_size: usize,
    num_records: usize,
}

/// What a walk of one variable's VXR tree has seen: each VXR is read once, and entries together
/// cover each record at most once, so copying and inflating stay within the variable's size.
struct VxrWalk {
    visited: Visited,
    records_left: usize,
}

fn read_vxr_chain(file: &File, head: u64, depth: usize, walk: &mut VxrWalk, target: RecordTarget) -> Result<()> {
    if depth > MAX_VXR_DEPTH {
        return Err(malformed(head, "vxr tree is too deep"));
    }
    let RecordTarget { data, record_size, num_records } = target;
    let mut vxr_at = head;
    while vxr_at != 0 {
        walk.visited.first_visit(vxr_at, "vxr")?;
        let (_, size) = file.record(vxr_at, &[VXR], "vxr")?;
        let num_entries = file.count_at(vxr_at + 20)? as u64;
        let used_entries = file.count_at(vxr_at + 24)? as u64;
        if used_entries > num_entries || VXR_BASE_SIZE as u64 + 16 * num_entries > size {
            return Err(malformed(
                vxr_at,
                format!("vxr with {used_entries} of {num_entries} entries does not fit its size"),
            ));
        }
        for entry in 0..used_entries {
            let first = file.count_at(vxr_at + 28 + 4 * entry)?;
            let last = file.count_at(vxr_at + 28 + 4 * num_entries + 4 * entry)?;
            let offset = file.offset_at(vxr_at + 28 + 8 * num_entries + 8 * entry)?;
            if first > last || last >= num_records {
                return Err(malformed(vxr_at, format!("vxr entry records {first}..{last} outside 0..{num_records}")));
            }
            let (record_type, block_size) = file.record(offset, &[VVR, CVVR, VXR], "vvr, cvvr or vxr")?;
            if record_type != VXR {
                let covered = last - first + 1;
                walk.records_left = walk.records_left.checked_sub(covered).ok_or_else(|| {
                    malformed(vxr_at, format!("vxr entries cover more than the variable's {num_records} records"))
                })?;
            }
            let wanted = ((last - first + 1) * record_size) as u64;
            let destination = &mut data[first * record_size..(last + 1) * record_size];
            match record_type {
                VVR => {
                    if VVR_HEADER_SIZE as u64 + wanted > block_size {
                        return Err(malformed(
                            offset,
                            format!("vvr holds less than the {wanted} bytes of records {first}..{last}"),
                        ));
                    }
                    destination.copy_from_slice(file.slice(offset + VVR_HEADER_SIZE as u64, wanted)?);
                }
                CVVR => {
                    let compressed_size = file.offset_at(offset + 16)?;
                    let compressed = file.slice(offset + CVVR_HEADER_SIZE as u64, compressed_size)?;
                    let inflated = gunzip(compressed, offset, wanted)?;
                    if inflated.len() as u64 != wanted {
                        return Err(malformed(
                            offset,
                            format!("cvvr inflates to {} bytes, records {first}..{last} need {wanted}", inflated.len()),
                        ));
                    }
                    destination.copy_from_slice(&inflated);
                }
                _ => {
                    let target = RecordTarget { data, record_size, num_records };
                    read_vxr_chain(file, offset, depth + 1, walk, target)?;
                }
            }
        }
        vxr_at = file.offset_at(vxr_at + 12)?;
    }
    Ok(())
}

/// Reorders each record from column-major (first index fastest) to row-major.
fn column_to_row_major(data: &[u8], dims: &[usize], element_size: usize) -> Vec<u8> {
    let per_record: usize = dims.iter().product();
    let mut column_strides = vec![1; dims.len()];
    for axis in 1..dims.len() {
        column_strides[axis] = column_strides[axis - 1] * dims[axis - 1];
    }
    let mut out = Vec::with_capacity(data.len());
    for record in data.chunks(per_record * element_size) {
        let mut index = vec![0; dims.len()];
        for _ in 0..per_record {
            let source: usize = index.iter().zip(&column_strides).map(|(i, stride)| i * stride).sum();
            out.extend_from_slice(&record[source * element_size..(source + 1) * element_size]);
            // Advance the row-major multi-index: last axis fastest.
            for axis in (0..dims.len()).rev() {
                index[axis] += 1;
                if index[axis] < dims[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
    }
    out
}
