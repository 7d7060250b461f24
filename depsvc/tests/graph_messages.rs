//! What `imap-sdc graph check` and `graph show` print comes from these library functions: the
//! messages must say what is wrong and where. Also checks the example graphs in deploy/graph.

use std::path::{Path, PathBuf};

use depsvc::graph::{Graph, InputSource, ProductKey, check};
use imap_filename::Date;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/graph").join(name)
}

fn problems_of(toml_text: &str) -> Vec<String> {
    let graph = Graph::from_toml_str(toml_text).expect("parses");
    check(&graph).iter().map(ToString::to_string).collect()
}

#[test]
fn example_graphs_pass_check() {
    for name in ["two-level.toml", "monthly-maps.toml"] {
        let graph = depsvc::load_graph(&example(name)).unwrap_or_else(|error| panic!("{name}: {error}"));
        let problems: Vec<String> = check(&graph).iter().map(ToString::to_string).collect();
        assert!(problems.is_empty(), "{name}: {problems:?}");
    }
}

#[test]
fn cycle_is_named_with_its_path() {
    let problems = problems_of(
        r#"
[[product]]
instrument = "mag"
level = "l1a"
descriptor = "sci"
input = [{ science = "mag l1b sci" }]

[[product]]
instrument = "mag"
level = "l1b"
descriptor = "sci"
input = [{ science = "mag l1a sci" }]
"#,
    );
    assert!(
        problems.iter().any(|problem| problem.starts_with("cycle: mag l1") && problem.matches(" -> ").count() == 2),
        "{problems:?}"
    );
}

#[test]
fn unknown_names_and_dangling_inputs_are_named() {
    let problems = problems_of(
        r#"
[[product]]
instrument = "magnetometer"
level = "l1a"
descriptor = "all"
input = [{ science = "mag l0 raw" }]

[[product]]
instrument = "swe"
level = "l9"
descriptor = "sci"
input = [{ science = "swe l2 sci" }, { spice = ["leapsecond"], relationship = "hard_no_trigger" }]
"#,
    );
    let expected = [
        "product magnetometer l1a all: unknown instrument \"magnetometer\"",
        "product swe l9 sci: unknown data level \"l9\"",
        "product swe l9 sci: input swe l2 sci is made by no product and is not level 0",
        "product swe l9 sci: unknown spice kernel type \"leapsecond\"",
    ];
    for message in expected {
        assert!(problems.iter().any(|problem| problem == message), "missing {message:?} in {problems:?}");
    }
}

#[test]
fn unreadable_graph_files_say_which_file_and_why() {
    let missing = depsvc::load_graph(Path::new("/nonexistent/graph.toml")).expect_err("missing file").to_string();
    assert!(missing.contains("cannot read graph file /nonexistent/graph.toml"), "{missing}");
    let directory = tempfile::tempdir().unwrap();
    let bad = directory.path().join("bad.toml");
    std::fs::write(&bad, "[[product]]\ninstrument = \"mag\"\nlevel = \"l1a\"\n").unwrap();
    let message = depsvc::load_graph(&bad).expect_err("incomplete product").to_string();
    assert!(message.contains("invalid graph toml") && message.contains("descriptor"), "{message}");
}

#[test]
fn show_prints_text_and_dot() {
    let graph = depsvc::load_graph(&example("monthly-maps.toml")).unwrap();
    let text = graph.to_text();
    assert!(text.contains("swe l3 sci-1mo (monthly)"), "{text}");
    assert!(text.lines().any(|line| line == "  <- science mag l1a sci [optional, triggers, calendar month]"), "{text}");
    let dot = graph.to_dot();
    assert!(dot.starts_with("digraph products {"), "{dot}");
    assert!(dot.contains("\"swe l3 sci-1mo\""), "{dot}");
    assert!(dot.trim_end().ends_with('}'));
}

#[test]
fn project_graph_has_the_cross_instrument_edges() {
    let graph = Graph::project();
    assert!(check(&graph).is_empty());
    // Every (input, product) pair of science inputs, as "input -> product".
    let edges: Vec<String> = graph
        .products()
        .iter()
        .flat_map(|product| {
            product.inputs.iter().filter_map(move |input| match &input.source {
                InputSource::Science(key) => Some(format!("{key} -> {}", product.key)),
                _ => None,
            })
        })
        .collect();
    let has =
        |from: &str, to: &str| edges.iter().any(|edge| edge.starts_with(from) && edge.contains(&format!(" -> {to}")));
    assert!(has("mag l1d", "codice l3b"), "mag l1d -> codice l3b");
    assert!(has("mag l1d", "hit l3"), "mag l1d -> hit l3");
    assert!(has("mag l1d", "swe l3"), "mag l1d -> swe l3");
    assert!(has("swapi l3a", "swe l3"), "swapi l3a -> swe l3");
}

#[test]
fn cadence_products_have_one_date_per_period() {
    let graph = depsvc::load_graph(&example("monthly-maps.toml")).unwrap();
    let map = ProductKey::new("swe", "l3", "sci-1mo");
    let date = |text: &str| Date::parse_yyyymmdd(text).unwrap();
    assert_eq!(graph.canonical_date_if_other(&map, date("20261117")), Some(date("20261101")));
    assert_eq!(graph.canonical_date_if_other(&map, date("20261101")), None);
    assert_eq!(graph.canonical_date_if_other(&ProductKey::new("swe", "l2", "sci"), date("20261117")), None);
}

fn mission_dependencies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/graph/mission_dependencies")
}

#[tokio::test]
async fn a_folder_or_a_file_of_the_missions_yaml_loads_and_the_role_starts_on_it() {
    let folder = depsvc::load_graph(&mission_dependencies()).expect("the vendored folder loads");
    assert_eq!(folder.products(), Graph::mission_yaml().products());
    let config = depsvc::DepsvcConfig { graph_file: Some(mission_dependencies()), ..Default::default() };
    let indexer = proto::clients::IndexerClient::new(proto::clients::lazy_channel("http://127.0.0.1:1").unwrap());
    assert!(depsvc::DepsvcRole::create(&config, indexer).is_ok());

    let one_file = depsvc::load_graph(&mission_dependencies().join("imap_swe_dependencies.yaml")).unwrap();
    assert_eq!(one_file.products().len(), 4);

    let empty = tempfile::tempdir().unwrap();
    let message = depsvc::load_graph(empty.path()).expect_err("no yaml").to_string();
    assert!(message.contains("holds no .yaml dependency files"), "{message}");
    std::fs::write(empty.path().join("imap_swe_dependencies.yaml"), "(l2, sci):\n  partition: hourly\n  inputs: []\n")
        .unwrap();
    let message = depsvc::load_graph(empty.path()).expect_err("bad partition").to_string();
    assert!(message.contains("imap_swe_dependencies.yaml line 2, job (l2, sci), partition"), "{message}");
}

#[test]
#[cfg_attr(not(has_graphviz), ignore = "needs Graphviz `dot` on PATH (apt-get install graphviz)")]
fn the_dot_of_every_shipped_graph_renders_as_svg() {
    use std::io::Write;
    for (name, graph) in [("mission yaml", Graph::mission_yaml()), ("project", Graph::project())] {
        let mut dot = std::process::Command::new("dot")
            .arg("-Tsvg")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("dot runs");
        dot.stdin.take().expect("stdin").write_all(graph.to_dot().as_bytes()).expect("dot reads");
        let output = dot.wait_with_output().expect("dot ends");
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        let svg = String::from_utf8(output.stdout).expect("utf-8 svg");
        assert!(svg.contains("<svg") && svg.contains("<title>swapi l2 sci</title>"), "{name}: {svg:.300}");
    }
}
