//! A line sink for the logging tests that keeps every line.

use std::sync::{Mutex, PoisonError};

use super::LineSink;

/// Keeps what it is given.
#[derive(Default)]
pub(super) struct Collect(Mutex<Vec<u8>>);

impl LineSink for Collect {
    fn append(&self, line: &[u8]) {
        self.bytes().extend_from_slice(line);
    }
}

impl Collect {
    fn bytes(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything written so far.
    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// How many lines were written.
    pub(super) fn lines(&self) -> usize {
        self.text().lines().count()
    }
}
