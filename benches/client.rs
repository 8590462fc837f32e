//! Client benchmarks (being written).
fn main() {}
