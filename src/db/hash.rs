//! Placeholder for the Hash value type; its family fills this in.

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hash {}

impl Hash {
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
