//! Tells the tests and benchmarks whether the IMAP mission's level-0 files are here
//! (`cfg(has_mission_data)`, the folder in `MISSION_DATA_DIR`): `$IMAP_SHARED_DIR/data`, else
//! `shared/data` in a folder above the crate. Without them the tests that need them are reported
//! ignored, with the reason.

fn main() {
    test_requirements::probe(&[test_requirements::Requirement::MissionData]);
}
