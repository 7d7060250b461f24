//! Tells the tests whether the mission's level-0 files (`cfg(has_mission_data)`, the folder in
//! `MISSION_DATA_DIR`) and a Python with cdflib (`cfg(has_cdflib)`) are here. Tests that need one
//! are reported ignored, with the reason, without it.

fn main() {
    use test_requirements::Requirement::{Cdflib, MissionData};
    test_requirements::probe(&[MissionData, Cdflib]);
}
