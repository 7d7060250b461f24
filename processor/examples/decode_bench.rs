//! Decoder benchmark anyone can run, no criterion needed:
//! `cargo run --release -p processor --example decode_bench -- [decode FILE.pkts XTCE.xml] [--repeats N]`.
//! With no arguments it uses the mission's files under `../shared/data/l0` when present.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match processor::science::bench::run_cli(&args) {
        Ok(report) => print!("{report}"),
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
    }
}
