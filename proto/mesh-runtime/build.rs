//! Tells the tests whether `DATABASE_URL` is set (`cfg(has_database_url)`): without it the
//! PostgreSQL variants of the storage tests are reported ignored, with the reason.

fn main() {
    test_requirements::probe(&[test_requirements::Requirement::DatabaseUrl]);
}
