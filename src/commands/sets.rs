//! Placeholder: this family's commands are added here.

use super::Command;

pub static COMMANDS: &[Command] = &[];
