//! Which events are fully handled. Events are dispatched to per-instrument queues and finish out
//! of order; the durable cursor may only move past an event once it and everything before it
//! are done, so a crash replays (harmlessly) instead of skipping.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// The cursor values asked to be saved: at most one writer at a time, which saves the newest,
/// its writes spaced apart. Under load the starter finishes an event every millisecond or two,
/// and each write is a transaction; a value saved later only means a longer (harmless) replay
/// after a crash.
#[derive(Debug, Default)]
pub struct CursorWrites {
    asked: u64,
    saved: u64,
    writing: bool,
    /// When the last write began.
    last_write: Option<Instant>,
}

/// What the caller of [`CursorWrites::ask`] does, and what a writer does after a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorTurn {
    /// Nothing: the value is saved, or the writer in charge saves it.
    Done,
    /// Write now, as the writer.
    Now,
    /// Write after this long, as the writer, from a task of its own: the spacing since the last
    /// write has not passed.
    After(Duration),
}

impl CursorWrites {
    /// Records `seq` as asked; says whether the caller becomes the writer (none is in charge and
    /// `seq` is above what is saved), and when it writes: writes begin at least `spacing` apart.
    pub fn ask(&mut self, seq: u64, now: Instant, spacing: Duration) -> CursorTurn {
        self.asked = self.asked.max(seq);
        if self.writing || self.asked <= self.saved {
            return CursorTurn::Done;
        }
        self.writing = true;
        self.turn_at(now, spacing)
    }

    fn turn_at(&self, now: Instant, spacing: Duration) -> CursorTurn {
        let wait = self.last_write.map_or(Duration::ZERO, |last| (last + spacing).saturating_duration_since(now));
        if wait.is_zero() { CursorTurn::Now } else { CursorTurn::After(wait) }
    }
}

/// The writer [`CursorWrites::ask`] put in charge. It stays in charge until [`next`] finds
/// nothing newer to save, until [`after_write`] hands it on to a later task, or until it is
/// dropped (its task cut off mid-write).
///
/// [`next`]: CursorWriter::next
/// [`after_write`]: CursorWriter::after_write
pub struct CursorWriter<'a> {
    writes: &'a Mutex<CursorWrites>,
    writing: bool,
}

impl<'a> CursorWriter<'a> {
    /// The writer in charge of `writes`, as `ask` or an earlier writer's `After` made it.
    pub fn new(writes: &'a Mutex<CursorWrites>) -> CursorWriter<'a> {
        CursorWriter { writes, writing: true }
    }

    /// The newest value asked and not saved yet, its write beginning `now`; `None` hands the
    /// writer's role back.
    pub fn next(&mut self, now: Instant) -> Option<u64> {
        let mut writes = self.writes.lock().expect("cursor writes lock");
        if writes.asked > writes.saved {
            writes.last_write = Some(now);
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

    /// After a write: `Done` when nothing newer was asked meanwhile (the role is handed back),
    /// `Now` to write again, or `After` when the next write must wait; the role then stays taken
    /// for the task that writes it.
    pub fn after_write(&mut self, now: Instant, spacing: Duration) -> CursorTurn {
        let mut writes = self.writes.lock().expect("cursor writes lock");
        if writes.asked <= writes.saved {
            writes.writing = false;
            self.writing = false;
            return CursorTurn::Done;
        }
        let turn = writes.turn_at(now, spacing);
        if turn != CursorTurn::Now {
            self.writing = false;
        }
        turn
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

    const SPACING: Duration = Duration::from_millis(50);

    #[test]
    fn one_writer_saves_the_newest_value_asked_meanwhile() {
        let writes = Mutex::new(CursorWrites::default());
        let start = Instant::now();
        assert_eq!(writes.lock().unwrap().ask(3, start, SPACING), CursorTurn::Now, "the first value makes a writer");
        let mut writer = CursorWriter::new(&writes);
        assert_eq!(writer.next(start), Some(3));
        assert_eq!(writes.lock().unwrap().ask(5, start, SPACING), CursorTurn::Done, "a write is in flight: 5 waits");
        assert_eq!(writes.lock().unwrap().ask(4, start, SPACING), CursorTurn::Done);
        writer.saved(3);
        let later = start + SPACING;
        assert_eq!(writer.after_write(later, SPACING), CursorTurn::Now, "the spacing has passed");
        assert_eq!(writer.next(later), Some(5), "the writer goes on with the newest value asked");
        writer.saved(5);
        assert_eq!(writer.after_write(later, SPACING), CursorTurn::Done);
        drop(writer);
        let much_later = later + SPACING;
        assert_eq!(
            writes.lock().unwrap().ask(5, much_later, SPACING),
            CursorTurn::Done,
            "a saved value is not written again"
        );
        assert_eq!(writes.lock().unwrap().ask(2, much_later, SPACING), CursorTurn::Done, "nor an older one");
        assert_eq!(writes.lock().unwrap().ask(6, much_later, SPACING), CursorTurn::Now);
    }

    #[test]
    fn writes_begin_at_least_the_spacing_apart() {
        let writes = Mutex::new(CursorWrites::default());
        let start = Instant::now();
        assert_eq!(writes.lock().unwrap().ask(1, start, SPACING), CursorTurn::Now);
        let mut writer = CursorWriter::new(&writes);
        assert_eq!(writer.next(start), Some(1));
        writer.saved(1);
        assert_eq!(writer.after_write(start, SPACING), CursorTurn::Done);
        drop(writer);
        // Asked 10 ms after the last write began: the writer waits out the other 40.
        let soon = start + Duration::from_millis(10);
        assert_eq!(writes.lock().unwrap().ask(2, soon, SPACING), CursorTurn::After(Duration::from_millis(40)));
        assert_eq!(writes.lock().unwrap().ask(3, soon, SPACING), CursorTurn::Done, "the waiting writer saves 3 too");
        // The task the role went to writes the newest value.
        let mut later_writer = CursorWriter::new(&writes);
        let due = start + SPACING;
        assert_eq!(later_writer.next(due), Some(3));
        assert_eq!(writes.lock().unwrap().ask(4, due, SPACING), CursorTurn::Done, "asked during the write");
        later_writer.saved(3);
        // Newer work asked during the write waits for the spacing again, and the role stays taken.
        let after = due + Duration::from_millis(5);
        assert_eq!(later_writer.after_write(after, SPACING), CursorTurn::After(Duration::from_millis(45)));
        drop(later_writer);
        assert_eq!(writes.lock().unwrap().ask(5, after, SPACING), CursorTurn::Done, "still handed on, not freed");
        // No spacing (shutdown): every write at once.
        let mut last_writer = CursorWriter::new(&writes);
        assert_eq!(last_writer.next(after), Some(5));
        last_writer.saved(5);
        assert_eq!(writes.lock().unwrap().ask(6, after, Duration::ZERO), CursorTurn::Done);
        assert_eq!(last_writer.after_write(after, Duration::ZERO), CursorTurn::Now);
        assert_eq!(last_writer.next(after), Some(6));
    }

    #[test]
    fn a_writer_cut_off_mid_write_hands_its_role_back() {
        let writes = Mutex::new(CursorWrites::default());
        let start = Instant::now();
        assert_eq!(writes.lock().unwrap().ask(1, start, SPACING), CursorTurn::Now);
        let mut writer = CursorWriter::new(&writes);
        assert_eq!(writer.next(start), Some(1));
        drop(writer);
        let turn = writes.lock().unwrap().ask(2, start + SPACING, SPACING);
        assert_eq!(turn, CursorTurn::Now, "the next caller writes");
    }
}
