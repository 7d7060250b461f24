/// A level-0 science file of `instrument` on `date` (YYYYMMDD), version `v001`.
#[allow(dead_code)]
fn level0_file(instrument: &str, date: &str) -> proto::pb::FileRecord {
    proto::pb::FileRecord {
        file_name: format!("imap_{instrument}_l0_raw_{date}_v001.pkts"),
        kind: proto::pb::FileKind::Science.into(),
        instrument: instrument.into(),
        data_level: "l0".into(),
        descriptor: "raw".into(),
        start_date: date.into(),
        version: "v001".into(),
        ..Default::default()
    }
}
