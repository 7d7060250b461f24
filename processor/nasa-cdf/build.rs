//! Tells the tests whether a Python with cdflib is here (`cfg(has_cdflib)`: `$CDFLIB_PYTHON`, else
//! `python3` on PATH), so that the cross-checks with that independent reader run where they can and
//! are reported ignored, with the reason, elsewhere.

fn main() {
    test_requirements::probe(&[test_requirements::Requirement::Cdflib]);
}
