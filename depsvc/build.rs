//! Tells the tests whether Graphviz `dot` is on PATH (`cfg(has_graphviz)`), so that the test
//! rendering the DOT output runs where it can and is reported ignored, with the reason, elsewhere.

fn main() {
    test_requirements::probe(&[test_requirements::Requirement::Graphviz]);
}
