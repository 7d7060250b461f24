//! Which events are fully handled. Events are dispatched to per-instrument queues and finish out
//! of order; the durable cursor may only move past an event once it and everything before it
//! are done, so a crash replays (harmlessly) instead of skipping.

use std::collections::BTreeMap;
use std::sync::Mutex;

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

/// The cursor values asked to be saved: at most one writer at a time, which saves the newest.
#[derive(Debug, Default)]
pub struct CursorWrites {
    asked: u64,
    saved: u64,
    writing: bool,
}

impl CursorWrites {
    /// Records `seq` as asked; true when the caller becomes the writer (none is in flight and
    /// `seq` is above what is saved).
    pub fn ask(&mut self, seq: u64) -> bool {
        self.asked = self.asked.max(seq);
        if self.writing || self.asked <= self.saved {
            return false;
        }
        self.writing = true;
        true
    }
}

/// The caller [`CursorWrites::ask`] made the writer. It stays the writer until [`next`] finds
/// nothing newer to save, or until it is dropped (its task cut off mid-write).
///
/// [`next`]: CursorWriter::next
pub struct CursorWriter<'a> {
    writes: &'a Mutex<CursorWrites>,
    writing: bool,
}

impl<'a> CursorWriter<'a> {
    pub fn new(writes: &'a Mutex<CursorWrites>) -> CursorWriter<'a> {
        CursorWriter { writes, writing: true }
    }

    /// The newest value asked and not saved yet; `None` hands the writer's role back.
    pub fn next(&mut self) -> Option<u64> {
        let mut writes = self.writes.lock().expect("cursor writes lock");
        if writes.asked > writes.saved {
            return Some(writes.asked);
        }
        writes.writing = false;
        self.writing = false;
        None
    }

    /// `seq` was written (or its write failed and is left to a later one).
    pub fn saved(&mut self, seq: u64) {
        let mut writes = self.writes.lock().expect("cursor writes lock");
        writes.saved = writes.saved.max(seq);
    }
}

impl Drop for CursorWriter<'_> {
    fn drop(&mut self) {
        if self.writing {
            self.writes.lock().expect("cursor writes lock").writing = false;
        }
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

    #[test]
    fn one_writer_saves_the_newest_value_asked_meanwhile() {
        let writes = Mutex::new(CursorWrites::default());
        assert!(writes.lock().unwrap().ask(3), "the first value makes a writer");
        let mut writer = CursorWriter::new(&writes);
        assert_eq!(writer.next(), Some(3));
        assert!(!writes.lock().unwrap().ask(5), "a write is in flight: 5 waits for it");
        assert!(!writes.lock().unwrap().ask(4));
        writer.saved(3);
        assert_eq!(writer.next(), Some(5), "the writer goes on with the newest value asked");
        writer.saved(5);
        assert_eq!(writer.next(), None);
        assert!(!writes.lock().unwrap().ask(5), "a saved value is not written again");
        assert!(!writes.lock().unwrap().ask(2), "nor an older one");
        assert!(writes.lock().unwrap().ask(6));
    }

    #[test]
    fn a_writer_cut_off_mid_write_hands_its_role_back() {
        let writes = Mutex::new(CursorWrites::default());
        assert!(writes.lock().unwrap().ask(1));
        let mut writer = CursorWriter::new(&writes);
        assert_eq!(writer.next(), Some(1));
        drop(writer);
        assert!(writes.lock().unwrap().ask(2), "the next caller writes");
    }
}
