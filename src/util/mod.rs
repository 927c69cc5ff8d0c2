pub mod glob;
pub mod num;
pub mod wake;
