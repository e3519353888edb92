//! The in-process fold alone.
fn main() {}
