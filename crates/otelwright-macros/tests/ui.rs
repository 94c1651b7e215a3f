//! Compile-fail tests: unsupported uses of `#[measured]` fail with an error on the right token
//! (`tests/ui/*.rs`, expected output in the `.stderr` next to each); `tests/ui/pass/*.rs` compile and run.
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p otelwright-macros --test ui`, then
//! review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
