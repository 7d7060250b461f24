//! Tells the end-to-end tests what this machine has: `DATABASE_URL` (`cfg(has_database_url)`),
//! grpcurl, chromium, the mission's client imap-data-access and moto's S3 server for `python3`
//! (`has_grpcurl`, `has_chromium`, `has_imap_data_access`, `has_moto`), and the mission's data
//! (`has_mission_data`, the folder in `MISSION_DATA_DIR`), the mission's program `imap_cli` and a
//! Python with cdflib (`has_imap_cli`, `has_cdflib`). A test that needs something missing is
//! reported ignored, with the reason. The container tests are plain `#[ignore]` instead: they need
//! root and a docker daemon, and `.ci/mesh-containers.sh` runs them.

fn main() {
    use test_requirements::Requirement::{
        Cdflib, Chromium, DatabaseUrl, Grpcurl, ImapCli, ImapDataAccess, MissionData, Moto,
    };
    test_requirements::probe(&[DatabaseUrl, Grpcurl, Chromium, ImapDataAccess, Moto, MissionData, ImapCli, Cdflib]);
}
