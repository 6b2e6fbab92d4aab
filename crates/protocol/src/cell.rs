//! One written value of a field, with who wrote it.

use cageur_model::{Role, Value};
use serde::{Deserialize, Serialize};

use crate::DeviceNumber;

/// Who made a change: which health worker of the team, on which device. A team shares its
/// tablets, so the app tells field-core who is working now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Author {
    /// The device the change was made on.
    pub device: DeviceNumber,
    /// The health worker's number in the health office's roster.
    pub worker: u32,
    /// The worker's role in the team.
    pub role: Role,
}

/// A value as written into a field's multi-value register.
///
/// `lamport` orders the values shown for a field: a write is stamped one above every stamp
/// already in its record, so a value written after another was seen sorts after it, with no
/// wall clock involved (tablets' clocks are often wrong). Concurrent values tie-break on the
/// device, then the worker, then the value itself, so every replica shows the same one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Cell {
    /// The value written; a cleared field holds `Null`, since fields are never removed.
    pub value: Value,
    /// One above every stamp its record held when written: the first key of display order.
    pub lamport: u32,
    /// The device that wrote the value (the register's actor); breaks lamport ties.
    pub device: DeviceNumber,
    /// The health worker who wrote it, by roster number, so every value is attributable.
    pub worker: u32,
    /// [`Role::code`], kept as a byte so the stored state is compact.
    pub role: u8,
}

impl Cell {
    /// A cell stamped with `lamport` and every part of `author`, its role stored as a code.
    pub fn new(value: Value, lamport: u32, author: Author) -> Self {
        Self {
            value,
            lamport,
            device: author.device,
            worker: author.worker,
            role: author.role.code(),
        }
    }

    /// The author, if the stored role code is known (it always is for cells this code wrote).
    pub fn author(&self) -> Option<Author> {
        Some(Author {
            device: self.device,
            worker: self.worker,
            role: Role::from_code(self.role)?,
        })
    }

    /// The order in which concurrent values are shown: the greatest is displayed.
    pub(crate) fn display_key(&self) -> (u32, DeviceNumber, u32, &Value) {
        (self.lamport, self.device, self.worker, &self.value)
    }
}
