//! Placeholder for the List value type; its family fills this in.

#[derive(Debug, Clone, PartialEq, Default)]
pub struct List {}

impl List {
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
