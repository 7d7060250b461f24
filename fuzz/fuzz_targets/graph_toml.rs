//! The project's dependency graph format: any text must load or be refused.
#![no_main]

use depsvc::graph::Graph;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Graph::from_toml_str(text);
});
