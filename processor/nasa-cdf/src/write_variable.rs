//! Writing one zVariable: its zVDR, optional CPR, the VXR index and the
//! VVR (or GZIP-compressed CVVR) blocks of records.

use std::borrow::Cow;
use std::io::Write;

use flate2::write::GzEncoder;

use crate::Result;
use crate::layout::*;
use crate::model::{Compression, Variable};
use crate::values::{Endian, default_pad_value};
use crate::write::Output;

/// Records per VVR/CVVR are chosen so a block holds about this many bytes:
/// small enough to compress in memory, large enough to keep the index short.
#[cfg(not(test))]
const TARGET_BLOCK_BYTES: usize = 1 << 20;
/// Small blocks in tests so that multi-block variables and chained VXRs are exercised.
#[cfg(test)]
const TARGET_BLOCK_BYTES: usize = 4096;
/// Entries per VXR; longer indexes are chained through `VXRnext`.
const MAX_VXR_ENTRIES: usize = 64;

/// One VVR or CVVR: the records it holds and its payload (borrowed from the encoded records when
/// not compressed).
struct DataBlock<'a> {
    first_record: usize,
    last_record: usize,
    payload: Cow<'a, [u8]>,
}

pub(crate) fn write_variable(out: &mut Output, variable_number: usize, variable: &Variable) -> Result<()> {
    let mut record_bytes = Vec::with_capacity(variable.values.len() * variable.data_type.element_size());
    variable.values.encode(variable.num_elems, Endian::Little, &mut record_bytes);
    let record_size = variable.record_size();
    let num_records = variable.num_records();
    let records_per_block = (TARGET_BLOCK_BYTES / record_size.max(1)).clamp(1, num_records.max(1));

    let mut blocks = Vec::new();
    for (block_index, chunk) in record_bytes.chunks(records_per_block * record_size).enumerate() {
        let first_record = block_index * records_per_block;
        let payload = match variable.compression {
            Compression::None => Cow::Borrowed(chunk),
            Compression::Gzip { level } => Cow::Owned(gzip(chunk, level)?),
        };
        blocks.push(DataBlock { first_record, last_record: first_record + chunk.len() / record_size - 1, payload });
    }

    let mut pad = Vec::new();
    default_pad_value(variable.data_type, variable.num_elems).encode(variable.num_elems, Endian::Little, &mut pad);
    let vdr_at = out.len();
    let vdr_size = ZVDR_BASE_SIZE + 8 * variable.dims.len() + pad.len();
    let cpr_at = vdr_at + vdr_size;
    let is_compressed = variable.compression != Compression::None;
    let index_at = if is_compressed { cpr_at + CPR_SIZE } else { cpr_at };
    let vxr_count = blocks.len().div_ceil(MAX_VXR_ENTRIES);
    let last_vxr_at = index_at + (vxr_count.max(1) - 1) * (VXR_BASE_SIZE + 16 * MAX_VXR_ENTRIES);

    let mut flags = VDR_FLAG_PAD_VALUE;
    if variable.record_varying {
        flags |= VDR_FLAG_RECORD_VARIANCE;
    }
    if is_compressed {
        flags |= VDR_FLAG_COMPRESSION;
    }
    out.header(vdr_size, ZVDR);
    out.i64(0); // VDRnext, patched by the next variable
    out.i32(variable.data_type.code());
    out.i32(num_records as i32 - 1); // MaxRec, -1 when empty
    out.offset(if blocks.is_empty() { 0 } else { index_at }); // VXRhead
    out.offset(if blocks.is_empty() { 0 } else { last_vxr_at }); // VXRtail
    out.i32(flags);
    out.i32(0); // sRecords: no sparse records
    out.i32(0); // rfuB
    out.i32(-1); // rfuC
    out.i32(-1); // rfuF
    out.count(variable.num_elems);
    out.count(variable_number);
    out.i64(if is_compressed { cpr_at as i64 } else { -1 }); // CPRorSPRoffset
    out.count(if is_compressed { records_per_block } else { 0 }); // BlockingFactor
    out.fixed_text(&variable.name, NAME_LEN);
    out.count(variable.dims.len());
    for &size in &variable.dims {
        out.count(size);
    }
    for _ in &variable.dims {
        out.i32(DIM_VARIES);
    }
    out.bytes.extend_from_slice(&pad);

    if let Compression::Gzip { level } = variable.compression {
        write_cpr(out, level);
    }
    write_index_and_blocks(out, &blocks, is_compressed);
    Ok(())
}

pub(crate) fn write_cpr(out: &mut Output, level: u32) {
    out.header(CPR_SIZE, CPR);
    out.i32(COMPRESSION_GZIP);
    out.i32(0); // rfuA
    out.i32(1); // pCount
    out.i32(level as i32);
}

/// Writes the VXR chain, then the VVRs (or CVVRs) it points to.
fn write_index_and_blocks(out: &mut Output, blocks: &[DataBlock], is_compressed: bool) {
    let block_header = if is_compressed { CVVR_HEADER_SIZE } else { VVR_HEADER_SIZE };
    let chunks: Vec<&[DataBlock]> = blocks.chunks(MAX_VXR_ENTRIES).collect();
    let index_size: usize = chunks.iter().map(|chunk| VXR_BASE_SIZE + 16 * chunk.len()).sum();
    let mut block_at = out.len() + index_size;
    for (chunk_index, chunk) in chunks.iter().enumerate() {
        let vxr_size = VXR_BASE_SIZE + 16 * chunk.len();
        let is_last = chunk_index + 1 == chunks.len();
        out.header(vxr_size, VXR);
        out.offset(if is_last { 0 } else { out.len() + vxr_size - 12 }); // VXRnext
        out.count(chunk.len()); // Nentries
        out.count(chunk.len()); // NusedEntries
        for block in *chunk {
            out.count(block.first_record);
        }
        for block in *chunk {
            out.count(block.last_record);
        }
        for block in *chunk {
            out.offset(block_at);
            block_at += block_header + block.payload.len();
        }
    }
    for block in blocks {
        if is_compressed {
            out.header(CVVR_HEADER_SIZE + block.payload.len(), CVVR);
            out.i32(0); // rfuA
            out.offset(block.payload.len());
        } else {
            out.header(VVR_HEADER_SIZE + block.payload.len(), VVR);
        }
        out.bytes.extend_from_slice(&block.payload);
    }
}

pub(crate) fn gzip(bytes: &[u8], level: u32) -> Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::new(level.min(9)));
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}
