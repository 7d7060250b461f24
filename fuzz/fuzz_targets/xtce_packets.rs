//! Packet files are outside input decoded with the mission's XTCE definitions: the first byte
//! picks a definition, the rest is a packet stream that must decode or report problems.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use xtce::PacketDefinition;

const DEFINITIONS: [&str; 4] = [
    include_str!("../../deploy/xtce/swapi.xml"),
    include_str!("../../deploy/xtce/mag.xml"),
    include_str!("../../deploy/xtce/codice.xml"),
    include_str!("../../tests/fixtures/xtce/swe.xml"),
];

fn definitions() -> &'static [PacketDefinition] {
    static LOADED: OnceLock<Vec<PacketDefinition>> = OnceLock::new();
    LOADED.get_or_init(|| {
        DEFINITIONS.iter().map(|xml| PacketDefinition::from_xtce_str(xml).expect("shipped definitions load")).collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, packets)) = data.split_first() else { return };
    let definition = &definitions()[usize::from(selector) % DEFINITIONS.len()];
    let decoded = definition.decode(packets);
    // Every packet is either decoded or reported.
    assert!(decoded.packet_count() + decoded.problems.len() <= packets.len() / 7 + 1);
});
