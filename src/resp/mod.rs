//! RESP2/RESP3: request parsing, reply encoding, and a reply reader used by
//! tests and tools. No I/O here.
pub mod encode;
pub mod parse;
pub mod reply;

pub use encode::Out;
