//! Which events are fully handled. Events are dispatched to per-instrument queues and finish out
//! of order; the durable cursor may only move past an event once it and everything before it
//! are done, so a crash replays (harmlessly) instead of skipping.

use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct CursorTracker {
    /// Remaining unfinished work items per dispatched event.
    remaining: BTreeMap<u64, usize>,
    /// Highest event sequence handed out so far.
    highest_dispatched: u64,
}

impl CursorTracker {
    pub fn new(start: u64) -> CursorTracker {
        CursorTracker { remaining: BTreeMap::new(), highest_dispatched: start }
    }

    pub fn dispatched(&mut self, seq: u64, work_items: usize) {
        self.highest_dispatched = self.highest_dispatched.max(seq);
        if work_items > 0 {
            self.remaining.insert(seq, work_items);
        }
    }

    pub fn finished(&mut self, seq: u64) {
        if let Some(count) = self.remaining.get_mut(&seq) {
            *count -= 1;
            if *count == 0 {
                self.remaining.remove(&seq);
            }
        }
    }

    /// The highest sequence number such that it and every earlier event are done.
    pub fn committable(&self) -> u64 {
        match self.remaining.keys().next() {
            Some(first_unfinished) => first_unfinished - 1,
            None => self.highest_dispatched,
        }
    }

    pub fn highest_dispatched(&self) -> u64 {
        self.highest_dispatched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_the_oldest_unfinished_event() {
        let mut tracker = CursorTracker::new(10);
        tracker.dispatched(11, 2);
        tracker.dispatched(12, 1);
        tracker.dispatched(13, 0);
        assert_eq!(tracker.committable(), 10);
        tracker.finished(12);
        assert_eq!(tracker.committable(), 10);
        tracker.finished(11);
        assert_eq!(tracker.committable(), 10);
        tracker.finished(11);
        assert_eq!(tracker.committable(), 13);
    }
}
