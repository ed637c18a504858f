//! The table writer: a thread of its own that keeps `leaderboard.csv` and
//! `epochs.csv` up to date from the journal's entries, so that rewriting and
//! syncing them never runs on the async runtime. It is one more consumer of
//! the dispatcher's journal stream: it folds the entries into its own replay.
//!
//! Rewrites are coalesced: at most one per [`TABLES_EVERY`], and never more
//! than one part in [`TABLES_SHARE`] of the time (a rewrite that took 20 ms
//! waits 1 s for the next), so the tables of a huge sweep cost a bounded
//! share of a core: the cost per trial of all rewrites stays flat as a sweep
//! grows, instead of growing with the rows rewritten each time.
//! Between rewrites the thread sleeps and takes the entries in one go when it
//! wakes: it is not woken for each entry (three a trial).

use std::collections::VecDeque;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use sweep_core::Metric;
use sweep_results::{Entry, Replay, ResultsDir, TrialInfo, write_tables};
use sweep_spec::Trial;

/// The most often the CSV tables are rewritten while trials finish.
pub const TABLES_EVERY: Duration = Duration::from_millis(500);

/// A rewrite that took `t` waits `t * TABLES_SHARE` for the next one: 2% of
/// a core at most.
pub const TABLES_SHARE: u32 = 50;

/// How long the writer waits after a rewrite that took `took`.
fn wait_after(took: Duration) -> Duration {
    TABLES_EVERY.max(took * TABLES_SHARE)
}

enum Msg {
    Entry(Box<Entry>),
    Upcoming(Trial),
    DropUpcoming,
    Flush(mpsc::Sender<std::io::Result<()>>),
}

/// A handle on the table-writer thread.
#[derive(Debug, Clone)]
pub struct TableWriter {
    tx: mpsc::Sender<Msg>,
    /// The writer thread, unparked by a flush.
    thread: std::thread::Thread,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

struct State {
    dir: ResultsDir,
    columns: Vec<String>,
    metric: Metric,
    replay: Replay,
    upcoming: VecDeque<Trial>,
    error: Option<std::io::Error>,
}

impl State {
    /// Folds one message in; a flush writes at once and answers.
    fn handle(&mut self, msg: Msg, dirty: &mut bool) {
        match msg {
            Msg::Entry(e) => {
                if let Entry::TrialCreated { trial, .. } = e.as_ref()
                    && self.upcoming.front().is_some_and(|t| t.id == *trial)
                {
                    self.upcoming.pop_front();
                }
                self.replay.apply(*e);
                *dirty = true;
            }
            Msg::Upcoming(t) => {
                self.upcoming.push_back(t);
                *dirty = true;
            }
            Msg::DropUpcoming => {
                self.upcoming.clear();
                *dirty = true;
            }
            Msg::Flush(ack) => {
                self.write();
                *dirty = false;
                let _ = ack.send(match self.error.take() {
                    Some(e) => Err(e),
                    None => Ok(()),
                });
            }
        }
    }

    fn write(&mut self) -> Duration {
        let began = Instant::now();
        let mut infos: Vec<TrialInfo<'_>> = self.replay.infos();
        infos.extend(self.upcoming.iter().map(|t| TrialInfo {
            id: &t.id,
            ordinal: t.ordinal,
            params: &t.params,
            seed: t.seed,
        }));
        if let Err(e) = write_tables(&self.dir, &infos, &self.columns, &self.replay, &self.metric) {
            self.error.get_or_insert(e);
        }
        began.elapsed()
    }
}

impl TableWriter {
    /// Starts the writer for `dir`, from the state `replay` holds.
    pub fn start(dir: ResultsDir, columns: Vec<String>, metric: Metric, replay: Replay) -> TableWriter {
        let (tx, rx) = mpsc::channel::<Msg>();
        let mut state = State {
            dir,
            columns,
            metric,
            replay,
            upcoming: VecDeque::new(),
            error: None,
        };
        let thread = std::thread::Builder::new()
            .name("tables".into())
            .spawn(move || {
                // The first write is the caller's flush, once the sweep's
                // first entries are in: a table is never written half-known.
                let mut dirty = false;
                let mut next = Instant::now();
                loop {
                    if !dirty {
                        // Nothing to write: sleep until a message comes.
                        match rx.recv() {
                            Ok(msg) => state.handle(msg, &mut dirty),
                            Err(mpsc::RecvError) => return,
                        }
                    } else if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        // A write is due at `next`: sleep until then, not
                        // woken by each entry (senders do not wake a thread
                        // that is not waiting on the channel); a flush
                        // unparks it.
                        std::thread::park_timeout(wait);
                    }
                    loop {
                        match rx.try_recv() {
                            Ok(msg) => state.handle(msg, &mut dirty),
                            Err(mpsc::TryRecvError::Empty) => break,
                            Err(mpsc::TryRecvError::Disconnected) => {
                                if dirty {
                                    state.write();
                                }
                                return;
                            }
                        }
                    }
                    if dirty && Instant::now() >= next {
                        let took = state.write();
                        dirty = false;
                        next = Instant::now() + wait_after(took);
                    }
                }
            })
            .expect("spawn the table writer")
            .thread()
            .clone();
        TableWriter { tx, thread }
    }

    /// A journal entry, as written.
    pub fn entry(&self, e: &Entry) {
        let _ = self.tx.send(Msg::Entry(Box::new(e.clone())));
    }

    /// A trial that will come, listed as pending.
    pub fn upcoming(&self, t: Trial) {
        let _ = self.tx.send(Msg::Upcoming(t));
    }

    /// None of the trials announced as upcoming will come.
    pub fn drop_upcoming(&self) {
        let _ = self.tx.send(Msg::DropUpcoming);
    }

    /// Writes the tables now and waits for it (blocking): the first error
    /// since the last flush, if any.
    pub fn flush(&self) -> std::io::Result<()> {
        let (ack, done) = mpsc::channel();
        if self.tx.send(Msg::Flush(ack)).is_err() {
            return Err(std::io::Error::other("the table writer stopped"));
        }
        self.thread.unpark();
        done.recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the table writer stopped")))
    }
}

#[cfg(test)]
mod tests {
    use super::{TABLES_EVERY, wait_after};
    use std::time::Duration;

    #[test]
    fn big_tables_are_rewritten_less_often() {
        assert_eq!(
            wait_after(Duration::from_millis(1)),
            TABLES_EVERY,
            "small tables: twice a second"
        );
        assert_eq!(wait_after(Duration::from_millis(20)), Duration::from_secs(1));
        assert_eq!(
            wait_after(Duration::from_millis(400)),
            Duration::from_secs(20),
            "rewrites take at most 2% of the time"
        );
    }
}
