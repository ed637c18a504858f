//! What a trial prints, read in bounded memory whatever it prints.
//!
//! A trainer may write a gigabyte without a newline (a tqdm bar redraws
//! itself with `\r` for a whole epoch; a bug dumps a tensor). Every byte
//! still goes to the trial's log file as it comes, but the orchestrator
//! holds at most [`LINE_LIMIT`] bytes of one stdout line (a longer line is
//! logged, not parsed) and a [`Tail`] of stderr of a couple of kilobytes for
//! the error message of a failed trial.
//!
//! - [`LineSplitter`] cuts a byte stream into lines, holding one line at most;
//! - [`copy_lines`] and [`copy_stderr`] read a child's pipe into a log file;
//! - [`FollowFile`] reads the lines appended to a file (a SLURM job's
//!   `events.jsonl`), and [`file_tail`] the end of one (its stderr);
//! - [`Protocol`] turns stdout lines into events for the dispatcher, and
//!   says once per trial what it ignored.

use crate::dispatcher::Event;
use crate::launcher::Ending;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use sweep_core::{ParsedLine, TrialId};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// The most bytes of one stdout line held in memory (and parsed).
pub const LINE_LIMIT: usize = 1 << 20;
/// Bytes read from a pipe or a file at a time.
const CHUNK: usize = 64 * 1024;
/// The first read buffer of a stream: most trials print little, and a
/// stream that fills it grows it to [`CHUNK`]. Kept under glibc's smallest
/// "large" request (1,008 bytes): each large request first merges all the
/// freed small chunks (`malloc_consolidate`), which, called from these
/// buffers when they were 4 KiB, was about 2% of the orchestrator's CPU in a
/// perf profile of a 10,000-trial sweep.
const FIRST_CHUNK: usize = 960;
/// Bytes kept of the start of a line that was too long.
const HEAD: usize = 200;
/// Lines of stderr kept for a failed trial's error message.
pub const TAIL_LINES: usize = 8;
/// The most bytes of stderr kept for a failed trial's error message.
pub const TAIL_BYTES: usize = 2048;

/// One line of a trial's output.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// A line, without its `\n` (and a `\r` before it), invalid UTF-8 replaced.
    Text(String),
    /// A line longer than the limit: logged, but neither held nor parsed.
    TooLong {
        /// Its length in bytes.
        len: u64,
        /// Its first bytes.
        head: String,
    },
}

/// Cuts a byte stream into lines, holding at most `limit` bytes of the
/// current line: its buffer's capacity never exceeds the limit.
#[derive(Debug)]
pub struct LineSplitter {
    limit: usize,
    held: Vec<u8>,
    /// While inside a line past the limit: its length so far and its head.
    long: Option<(u64, Vec<u8>)>,
    peak: usize,
}

impl LineSplitter {
    /// A splitter that holds at most `limit` bytes of a line.
    pub fn new(limit: usize) -> LineSplitter {
        LineSplitter {
            limit,
            held: Vec::new(),
            long: None,
            peak: 0,
        }
    }

    /// The largest capacity the line buffer ever had (memory held, for tests).
    pub fn peak_capacity(&self) -> usize {
        self.peak
    }

    /// Feeds bytes; `each` gets every line they complete.
    pub fn push(&mut self, mut bytes: &[u8], each: &mut impl FnMut(Line)) {
        while let Some(i) = bytes.iter().position(|&b| b == b'\n') {
            self.take(&bytes[..i]);
            self.end_line(each);
            bytes = &bytes[i + 1..];
        }
        self.take(bytes);
    }

    /// The end of the stream: a last line without `\n` is passed on too.
    pub fn finish(&mut self, each: &mut impl FnMut(Line)) {
        if self.long.is_some() || !self.held.is_empty() {
            self.end_line(each);
        }
    }

    fn take(&mut self, part: &[u8]) {
        if part.is_empty() {
            return;
        }
        if let Some((len, head)) = &mut self.long {
            *len += part.len() as u64;
            let room = HEAD - head.len();
            head.extend_from_slice(&part[..part.len().min(room)]);
            return;
        }
        let need = self.held.len() + part.len();
        if need > self.limit {
            let mut head = self.held[..self.held.len().min(HEAD)].to_vec();
            head.extend_from_slice(&part[..part.len().min(HEAD - head.len())]);
            self.long = Some((need as u64, head));
            self.held = Vec::new();
            return;
        }
        if need > self.held.capacity() {
            // Grow by doubling, but never past the limit.
            let target = (self.held.capacity() * 2).max(need).max(256).min(self.limit);
            self.held.reserve_exact(target - self.held.len());
        }
        self.held.extend_from_slice(part);
        self.peak = self.peak.max(self.held.capacity());
    }

    fn end_line(&mut self, each: &mut impl FnMut(Line)) {
        match self.long.take() {
            Some((len, head)) => each(Line::TooLong {
                len,
                head: String::from_utf8_lossy(&head).into_owned(),
            }),
            None => {
                let line = self.held.strip_suffix(b"\r").unwrap_or(&self.held);
                each(Line::Text(String::from_utf8_lossy(line).into_owned()));
                self.held.clear();
                // One long line does not keep its megabyte for the whole trial.
                self.held.shrink_to(CHUNK);
            }
        }
    }
}

/// Reads `src` to its end, copying every byte to `log` as it comes and
/// passing each line to `each`. A failing log does not stop the reading
/// (the child must never block on a full pipe).
pub async fn copy_lines<R, W>(
    src: &mut R,
    log: &mut W,
    split: &mut LineSplitter,
    mut each: impl FnMut(Line),
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // Read into spare capacity: nothing to zero for every trial.
    let mut chunk = Vec::with_capacity(FIRST_CHUNK);
    loop {
        grow_if_full(&mut chunk);
        if src.read_buf(&mut chunk).await? == 0 {
            break;
        }
        let _ = log.write_all(&chunk).await;
        split.push(&chunk, &mut each);
    }
    split.finish(&mut each);
    let _ = log.flush().await;
    Ok(())
}

/// Empties a read buffer for the next read; one the last read filled
/// grows to [`CHUNK`].
fn grow_if_full(chunk: &mut Vec<u8>) {
    if chunk.len() == chunk.capacity() && chunk.capacity() < CHUNK {
        *chunk = Vec::with_capacity(CHUNK);
    }
    chunk.clear();
}

/// The end of a stream: the last [`TAIL_LINES`] lines or the last
/// [`TAIL_BYTES`] bytes, whichever is smaller; lines end at `\n` or `\r`
/// (a progress bar's redraws), blank ones are skipped. It holds a few
/// kilobytes whatever it is fed.
#[derive(Debug, Clone)]
pub struct Tail {
    max_lines: usize,
    max_bytes: usize,
    lines: VecDeque<String>,
    bytes: usize,
    current: Vec<u8>,
}

impl Default for Tail {
    fn default() -> Tail {
        Tail::new(TAIL_LINES, TAIL_BYTES)
    }
}

impl Tail {
    /// A tail of at most `max_lines` lines and `max_bytes` bytes.
    pub fn new(max_lines: usize, max_bytes: usize) -> Tail {
        Tail {
            max_lines: max_lines.max(1),
            max_bytes: max_bytes.max(1),
            lines: VecDeque::new(),
            bytes: 0,
            current: Vec::new(),
        }
    }

    /// Bytes held now (the kept lines and the line being read), for tests.
    pub fn held(&self) -> usize {
        self.bytes + self.current.capacity()
    }

    /// Feeds bytes.
    pub fn push(&mut self, mut bytes: &[u8]) {
        while let Some(i) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.extend(&bytes[..i]);
            self.end_line();
            bytes = &bytes[i + 1..];
        }
        self.extend(bytes);
    }

    fn extend(&mut self, part: &[u8]) {
        let part = &part[part.len().saturating_sub(self.max_bytes)..];
        if self.current.len() + part.len() > 2 * self.max_bytes {
            let drop = self.current.len() + part.len() - self.max_bytes;
            self.current.drain(..drop.min(self.current.len()));
        }
        if self.current.capacity() < 2 * self.max_bytes {
            self.current.reserve_exact(2 * self.max_bytes - self.current.len());
        }
        self.current.extend_from_slice(part);
    }

    fn end_line(&mut self) {
        if self.current.iter().all(u8::is_ascii_whitespace) {
            self.current.clear();
            return;
        }
        let line = last_chars(&String::from_utf8_lossy(&self.current), self.max_bytes);
        self.current.clear();
        // Each line costs its bytes and the `\n` that joins it to the next.
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.lines.len() > self.max_lines {
            let gone = self.lines.pop_front().expect("more than one line");
            self.bytes -= gone.len() + 1;
        }
        // Over the byte limit: the oldest lines go, the last one kept in part.
        while self.bytes > self.max_bytes + 1 {
            let excess = self.bytes - self.max_bytes - 1;
            let front = self.lines.front_mut().expect("bytes are in lines");
            if front.len() > excess {
                let cut = last_chars(front, front.len() - excess);
                self.bytes -= front.len() - cut.len();
                *front = cut;
            } else {
                self.bytes -= front.len() + 1;
                self.lines.pop_front();
            }
        }
    }

    /// The tail as text, lines joined with `\n`; empty when nothing was printed.
    pub fn text(&self) -> String {
        let mut all = self.clone();
        all.end_line();
        let text = all.lines.iter().map(String::as_str).collect::<Vec<_>>().join("\n");
        if text.len() > self.max_bytes {
            format!("...{}", last_chars(&text, self.max_bytes))
        } else {
            text
        }
    }
}

/// The last `max` bytes of `text`, cut at a character boundary.
fn last_chars(text: &str, max: usize) -> String {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

/// Reads a child's stderr to its end into `log`, keeping its [`Tail`].
/// Notes from the orchestrator (`notes`, until every sender is gone) are
/// written to the log too, each on a line of its own.
pub async fn copy_stderr<R, W>(mut src: R, mut log: W, mut notes: mpsc::UnboundedReceiver<String>) -> Tail
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut tail = Tail::default();
    let mut chunk = Vec::with_capacity(FIRST_CHUNK);
    let (mut pipe_open, mut notes_open) = (true, true);
    // Whether the log's last byte ends a line (a note must not join one).
    let mut at_line_start = true;
    while pipe_open || notes_open {
        tokio::select! {
            read = { grow_if_full(&mut chunk); src.read_buf(&mut chunk) }, if pipe_open => match read {
                Ok(n) if n > 0 => {
                    let _ = log.write_all(&chunk).await;
                    at_line_start = chunk[n - 1] == b'\n';
                    tail.push(&chunk);
                }
                _ => pipe_open = false,
            },
            note = notes.recv(), if notes_open => match note {
                Some(note) => {
                    let sep = if at_line_start { "" } else { "\n" };
                    let _ = log.write_all(format!("{sep}{note}\n").as_bytes()).await;
                    at_line_start = true;
                }
                None => notes_open = false,
            },
        }
    }
    let _ = log.flush().await;
    tail
}

/// The [`Tail`] of a file's last bytes (a SLURM job's stderr), as text;
/// empty when it cannot be read. Only the end of the file is read.
pub fn file_tail(path: &Path) -> String {
    let mut tail = Tail::default();
    tail.push(&file_end(path, 2 * TAIL_BYTES as u64));
    tail.text()
}

/// The last `max` bytes of a file at most, from the first whole line in
/// them, as text (lossy): what a person needs of a log that may be huge.
pub fn file_tail_bytes(path: &Path, max: u64) -> String {
    String::from_utf8_lossy(&file_end(path, max)).into_owned()
}

/// The last `max` bytes of a file, starting after the first line break when
/// the read begins mid-line; empty when it cannot be read.
fn file_end(path: &Path, max: u64) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let start = len.saturating_sub(max);
    let mut bytes = Vec::new();
    if f.seek(SeekFrom::Start(start)).is_err() || f.take(max).read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    // Read from the middle of a line: start at the next one, if any.
    if start > 0
        && let Some(i) = bytes.iter().position(|&b| b == b'\n' || b == b'\r')
    {
        bytes.drain(..=i);
    }
    bytes
}

/// Follows a file that another process appends lines to (a SLURM job's
/// `events.jsonl`): each call reads only what was appended since the last,
/// in chunks, holding at most one line of [`LINE_LIMIT`] bytes between calls.
#[derive(Debug)]
pub struct FollowFile {
    path: PathBuf,
    offset: u64,
    split: LineSplitter,
}

impl FollowFile {
    /// Follows `path` from its start.
    pub fn new(path: &Path) -> FollowFile {
        FollowFile::with_limit(path, LINE_LIMIT)
    }

    /// Follows `path`, holding at most `limit` bytes of a line.
    pub fn with_limit(path: &Path, limit: usize) -> FollowFile {
        FollowFile {
            path: path.to_path_buf(),
            offset: 0,
            split: LineSplitter::new(limit),
        }
    }

    /// Bytes read so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The largest capacity its line buffer had (memory held, for tests).
    pub fn peak_capacity(&self) -> usize {
        self.split.peak_capacity()
    }

    /// Passes each whole line appended since the last call to `each`; a
    /// line still being written is kept (up to the limit) for the next call.
    pub fn read_new(&mut self, mut each: impl FnMut(Line)) {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut chunk = vec![0u8; CHUNK];
        loop {
            match f.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    self.offset += n as u64;
                    self.split.push(&chunk[..n], &mut each);
                }
            }
        }
    }

    /// The writer is gone: reads what is new, and a last line without `\n`.
    pub fn finish(&mut self, mut each: impl FnMut(Line)) {
        self.read_new(&mut each);
        self.split.finish(&mut each);
    }
}

/// Notes on ignored protocol lines kept for a SLURM trial's stderr.log,
/// written once the job has ended (the job itself writes that file).
const NOTES_KEPT: usize = 20;

/// The notes of a [`Protocol`] waiting to be written to a file: the first
/// few, and how many more there were.
#[derive(Debug, Default)]
pub struct Notes {
    kept: Vec<String>,
    more: usize,
}

impl Notes {
    /// Keeps a note, if any.
    pub fn add(&mut self, note: Option<String>) {
        match note {
            Some(n) if self.kept.len() < NOTES_KEPT => self.kept.push(n),
            Some(_) => self.more += 1,
            None => {}
        }
    }

    /// Appends the notes to `path` (a trial's stderr.log), each on a line.
    pub fn append_to(&self, path: &Path) {
        use std::io::Write;
        if self.kept.is_empty() {
            return;
        }
        let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) else {
            return;
        };
        let mut text = format!("\n{}\n", self.kept.join("\n"));
        if self.more > 0 {
            text.push_str(&format!("sweep: and {} more ignored lines\n", self.more));
        }
        let _ = f.write_all(text.as_bytes());
    }
}

/// Reads a trial's stdout lines as the worker protocol: sends each event to
/// the dispatcher, notes how the trial ends ([`Ending`]), and says what it
/// ignored: a line for the trial's stderr.log each time (returned by
/// [`Protocol::see`]), an [`Event::Warning`] once per trial.
#[derive(Debug)]
pub struct Protocol {
    trial: TrialId,
    attempt: u32,
    tx: mpsc::UnboundedSender<Event>,
    ending: Ending,
    warned: bool,
    noted_long: bool,
}

impl Protocol {
    /// Reads the protocol of `trial`, reporting to `tx`.
    pub fn new(trial: TrialId, attempt: u32, tx: mpsc::UnboundedSender<Event>) -> Protocol {
        Protocol {
            trial,
            attempt,
            tx,
            ending: Ending::default(),
            warned: false,
            noted_long: false,
        }
    }

    /// Takes one stdout line; returns a note for the trial's stderr.log
    /// when the line was ignored.
    pub fn see(&mut self, line: Line) -> Option<String> {
        match line {
            Line::Text(text) => {
                // What a terminal shows of a line a progress bar redrew.
                let shown = text.rsplit('\r').next().unwrap_or("");
                match self.ending.see(shown) {
                    ParsedLine::Event(event) => {
                        let _ = self.tx.send(Event::Protocol {
                            trial: self.trial.clone(),
                            attempt: self.attempt,
                            event,
                        });
                        None
                    }
                    ParsedLine::NotAnEvent => None,
                    ParsedLine::Malformed(why) => Some(self.ignored(&why, shown)),
                }
            }
            Line::TooLong { len, head } if sweep_core::starts_like_event(&head) => {
                let why = format!("a line of {len} bytes is longer than the limit of {LINE_LIMIT} bytes");
                Some(self.ignored(&why, &head))
            }
            Line::TooLong { len, .. } => (!std::mem::replace(&mut self.noted_long, true)).then(|| {
                format!(
                    "sweep: a stdout line of {len} bytes is longer than the limit of {LINE_LIMIT} bytes: \
                     kept in stdout.log, not read as the protocol (said once per trial)"
                )
            }),
        }
    }

    fn ignored(&mut self, why: &str, line: &str) -> String {
        let start: String = line.trim().chars().take(200).collect();
        let message = format!("ignored a malformed protocol line: {why}: {start}");
        if !std::mem::replace(&mut self.warned, true) {
            let _ = self.tx.send(Event::Warning {
                trial: self.trial.clone(),
                message: message.clone(),
            });
        }
        format!("sweep: {message}")
    }

    /// What the lines said about how the trial ends.
    pub fn into_ending(self) -> Ending {
        self.ending
    }
}

/// A log file created by its first write: a trial that prints nothing
/// leaves no empty `stdout.log` or `stderr.log` (a new inode each, the
/// largest part of a short trial's cost to the orchestrator). The file is
/// opened and written on the trials' file thread
/// ([`crate::launcher::hand_over`]), one write at a time: a write returns
/// once handed over, and the next one (or a flush) waits for it, where it
/// also learns of its error.
#[derive(Debug)]
pub struct LazyFile {
    path: PathBuf,
    state: LogState,
}

#[derive(Debug)]
enum LogState {
    /// No write in flight: the file, once opened.
    Idle(Option<std::fs::File>),
    /// A write in flight: the file (if it could be opened) and its result.
    Busy(tokio::sync::oneshot::Receiver<(Option<std::fs::File>, std::io::Result<()>)>),
}

impl LazyFile {
    /// A log at `path`, appended to, created when first written.
    pub fn new(path: &Path) -> LazyFile {
        LazyFile {
            path: path.to_path_buf(),
            state: LogState::Idle(None),
        }
    }

    /// Waits for the write in flight, if any; its error, if it failed.
    fn poll_idle(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let LogState::Busy(rx) = &mut self.state else {
            return Poll::Ready(Ok(()));
        };
        let (file, result) = match std::pin::Pin::new(rx).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(done)) => done,
            Poll::Ready(Err(_)) => (None, Err(std::io::Error::other("writing a log panicked"))),
        };
        self.state = LogState::Idle(file);
        Poll::Ready(result)
    }
}

impl tokio::io::AsyncWrite for LazyFile {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::io::Write;
        use std::task::Poll;
        match self.poll_idle(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {}
        }
        let LogState::Idle(file) = &mut self.state else {
            unreachable!("idle above")
        };
        let (file, bytes) = (file.take(), buf.to_vec());
        let path = file.is_none().then(|| self.path.clone());
        self.state = LogState::Busy(crate::launcher::hand_over(move || {
            let mut file = match (file, path) {
                (Some(f), _) => f,
                (None, Some(path)) => match std::fs::OpenOptions::new().create(true).append(true).open(path) {
                    Ok(f) => f,
                    Err(e) => return (None, Err(e)),
                },
                (None, None) => unreachable!("a path when no file"),
            };
            let result = file.write_all(&bytes);
            (Some(file), result)
        }));
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.poll_idle(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.poll_idle(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use sweep_core::TrialEvent;

    /// A log that counts the bytes written to it and keeps their last few.
    #[derive(Default)]
    struct CountingLog {
        bytes: u64,
        newlines: u64,
        last: Vec<u8>,
    }

    impl AsyncWrite for CountingLog {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
            self.bytes += buf.len() as u64;
            self.newlines += buf.iter().filter(|&&b| b == b'\n').count() as u64;
            self.last.extend_from_slice(buf);
            let cut = self.last.len().saturating_sub(64);
            self.last.drain(..cut);
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn lines_of(bytes: &[u8], limit: usize) -> Vec<Line> {
        let mut split = LineSplitter::new(limit);
        let mut out = Vec::new();
        // Fed in awkward pieces: lines cross the pieces' ends.
        for piece in bytes.chunks(3) {
            split.push(piece, &mut |l| out.push(l));
        }
        split.finish(&mut |l| out.push(l));
        assert!(split.peak_capacity() <= limit);
        out
    }

    fn text(s: &str) -> Line {
        Line::Text(s.into())
    }

    #[test]
    fn lines_are_cut_at_newlines_and_long_ones_are_only_measured() {
        assert_eq!(
            lines_of(b"a\r\nbb\n\nlast", 16),
            [text("a"), text("bb"), text(""), text("last")]
        );
        assert_eq!(
            lines_of(b"short\n0123456789abcdefXYZ\nafter\n", 16),
            [
                text("short"),
                Line::TooLong {
                    len: 19,
                    head: "0123456789abcdefXYZ".into()
                },
                text("after")
            ]
        );
        assert_eq!(lines_of(b"\xff\n", 16), [text("\u{fffd}")]);
    }

    #[tokio::test]
    async fn a_50_mb_line_without_newline_is_logged_whole_and_never_held() {
        let size = 50 << 20;
        let mut src = tokio::io::repeat(b'x').take(size);
        let mut log = CountingLog::default();
        let mut split = LineSplitter::new(LINE_LIMIT);
        let mut lines = Vec::new();
        copy_lines(&mut src, &mut log, &mut split, |l| lines.push(l))
            .await
            .unwrap();
        assert_eq!(log.bytes, size, "the log gets every byte");
        assert!(
            split.peak_capacity() <= LINE_LIMIT,
            "held {} bytes",
            split.peak_capacity()
        );
        assert_eq!(
            lines,
            [Line::TooLong {
                len: size,
                head: "x".repeat(HEAD)
            }]
        );
    }

    #[tokio::test]
    async fn lines_after_a_long_one_are_read_again() {
        let mut input = vec![b'y'; 3 << 20];
        input.extend_from_slice(b"\n{\"event\":\"done\"}\n");
        let mut log = Vec::new();
        let mut split = LineSplitter::new(LINE_LIMIT);
        let mut lines = Vec::new();
        copy_lines(&mut &input[..], &mut log, &mut split, |l| lines.push(l))
            .await
            .unwrap();
        assert_eq!(log, input);
        assert!(matches!(&lines[0], Line::TooLong { len, .. } if *len == 3 << 20));
        assert_eq!(lines[1], text(r#"{"event":"done"}"#));
        assert!(split.peak_capacity() <= LINE_LIMIT);
    }

    #[test]
    fn the_tail_keeps_the_last_lines_or_bytes_whichever_is_smaller() {
        let mut tail = Tail::default();
        for i in 0..100 {
            tail.push(format!("line {i}\n").as_bytes());
        }
        assert_eq!(
            tail.text(),
            (92..100).map(|i| format!("line {i}")).collect::<Vec<_>>().join("\n")
        );
        let mut tail = Tail::default();
        tail.push(format!("first\n{}\n{}\nlast words", "z".repeat(1500), "y".repeat(600)).as_bytes());
        let t = tail.text();
        assert!(t.ends_with(&format!("zzz\n{}\nlast words", "y".repeat(600))), "{t}");
        assert!(!t.contains("first"));
        assert_eq!(t.len(), TAIL_BYTES, "the last 2 KB: the oldest line kept in part");
    }

    #[test]
    fn progress_bars_redrawn_with_cr_are_lines_of_the_tail() {
        let mut tail = Tail::default();
        for pct in 0..=100 {
            tail.push(format!("\r{pct:3}%|{}|", "#".repeat(pct / 10)).as_bytes());
        }
        tail.push(b"\nTraceback: CUDA out of memory\n");
        let t = tail.text();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines[TAIL_LINES - 1], "Traceback: CUDA out of memory");
        assert_eq!(lines[TAIL_LINES - 2], "100%|##########|");
    }

    #[test]
    fn the_tail_holds_a_few_kilobytes_whatever_it_is_fed() {
        let mut tail = Tail::default();
        let chunk = vec![b'q'; CHUNK];
        for _ in 0..(50 << 20) / CHUNK {
            tail.push(&chunk);
            assert!(tail.held() <= 4 * TAIL_BYTES, "{}", tail.held());
        }
        let t = tail.text();
        assert_eq!(t, "q".repeat(TAIL_BYTES));
        // Many short lines: bounded too.
        for _ in 0..10_000 {
            tail.push(b"a\rb\n");
        }
        assert!(tail.held() <= 4 * TAIL_BYTES);
        assert_eq!(tail.text(), ["a", "b"].repeat(4).join("\n"));
    }

    #[tokio::test]
    async fn stderr_is_copied_with_notes_on_their_own_lines() {
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send("sweep: a note".to_string()).unwrap();
        drop(tx);
        let mut log = Vec::new();
        let src: &[u8] = b"half a line";
        let tail = copy_stderr(src, &mut log, rx).await;
        let log = String::from_utf8(log).unwrap();
        // The note may come before or after the child's bytes, never inside.
        assert!(
            log == "sweep: a note\nhalf a line" || log == "half a line\nsweep: a note\n",
            "{log:?}"
        );
        assert_eq!(tail.text(), "half a line");
    }

    #[test]
    fn the_file_tail_reads_only_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("stderr.log");
        let mut text = "w".repeat(5 << 20);
        text.push_str("\nError: boom\r\n\n");
        std::fs::write(&p, &text).unwrap();
        assert_eq!(file_tail(&p), "Error: boom");
        std::fs::write(&p, "one\ntwo\n").unwrap();
        assert_eq!(file_tail(&p), "one\ntwo");
        assert_eq!(file_tail(&dir.path().join("absent")), "");
    }

    #[test]
    fn a_followed_file_gives_whole_lines_and_never_holds_a_long_one() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("events.jsonl");
        let mut f = std::fs::File::create(&p).unwrap();
        let mut follow = FollowFile::with_limit(&p, 1024);
        let mut got = Vec::new();
        f.write_all(b"a\nb\npart").unwrap();
        follow.read_new(|l| got.push(l));
        assert_eq!(got, [text("a"), text("b")]);
        f.write_all(b"ial\n").unwrap();
        follow.read_new(|l| got.push(l));
        assert_eq!(got[2], text("partial"));
        // A huge partial line: each call reads only what is new.
        for _ in 0..20 {
            f.write_all(&[b'z'; 100_000]).unwrap();
            let before = follow.offset();
            follow.read_new(|l| got.push(l));
            assert_eq!(follow.offset() - before, 100_000);
        }
        assert_eq!(got.len(), 3);
        f.write_all(b"\n{\"event\":\"done\"}").unwrap();
        follow.read_new(|l| got.push(l));
        assert!(matches!(got[3], Line::TooLong { len: 2_000_000, .. }));
        follow.finish(|l| got.push(l));
        assert_eq!(got[4], text(r#"{"event":"done"}"#), "a last line without newline");
        assert!(follow.peak_capacity() <= 1024);
    }

    #[test]
    fn notes_are_appended_to_a_file_the_first_few() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("stderr.log");
        std::fs::write(&p, "the job's own line").unwrap();
        let mut notes = Notes::default();
        notes.add(None);
        for i in 0..25 {
            notes.add(Some(format!("sweep: note {i}")));
        }
        notes.append_to(&p);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("the job's own line\nsweep: note 0\n"), "{text}");
        assert!(
            text.ends_with("sweep: note 19\nsweep: and 5 more ignored lines\n"),
            "{text}"
        );
    }

    #[test]
    fn the_protocol_sends_events_and_warns_once() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let trial = TrialId::from_string("t1");
        let mut p = Protocol::new(trial.clone(), 1, tx);
        assert_eq!(p.see(text("a log line")), None);
        assert_eq!(p.see(text(r#"{"event": "epoch", "epoch": 2, "loss": NaN}"#)), None);
        let note = p.see(text(r#"{"event": "epoch", "epoch": 3, "loss": 0.5"#)).unwrap();
        assert!(
            note.starts_with("sweep: ignored a malformed protocol line: EOF while parsing")
                && note.ends_with(r#": {"event": "epoch", "epoch": 3, "loss": 0.5"#),
            "{note}"
        );
        assert!(p.see(text(r#"{"event":"epok"}"#)).is_some(), "noted each time");
        let long = p.see(Line::TooLong {
            len: 5 << 20,
            head: "xxxx".into(),
        });
        assert!(long.unwrap().contains("5242880 bytes"));
        assert_eq!(
            p.see(Line::TooLong {
                len: 5 << 20,
                head: "xxxx".into()
            }),
            None,
            "said once per trial"
        );
        // A progress bar redrawn before an event: the event is read.
        assert_eq!(p.see(text("50%|###\r{\"event\":\"done\",\"acc\":1}")), None);
        let ending = p.into_ending();
        assert_eq!(ending.done.unwrap()["acc"], 1.0);
        let mut msgs = Vec::new();
        while let Ok(m) = rx.try_recv() {
            msgs.push(m);
        }
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        match &msgs[0] {
            Event::Protocol {
                event: TrialEvent::Epoch { epoch: 2, metrics },
                ..
            } => assert!(metrics["loss"].is_nan()),
            m => panic!("{m:?}"),
        }
        assert!(
            matches!(&msgs[1], Event::Warning { trial: t, message } if *t == trial && message.starts_with("ignored a malformed protocol line"))
        );
        assert!(matches!(
            &msgs[2],
            Event::Protocol {
                event: TrialEvent::Done { .. },
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_lazy_log_exists_only_once_written() {
        use tokio::io::AsyncWriteExt;
        let dir = tempfile::tempdir().unwrap();
        let (quiet, loud) = (dir.path().join("quiet.log"), dir.path().join("loud.log"));
        let mut q = LazyFile::new(&quiet);
        q.flush().await.unwrap();
        q.shutdown().await.unwrap();
        assert!(!quiet.exists(), "nothing written, no file");
        std::fs::write(&loud, "before\n").unwrap();
        let mut l = LazyFile::new(&loud);
        l.write_all(b"after\n").await.unwrap();
        l.flush().await.unwrap();
        assert_eq!(std::fs::read_to_string(&loud).unwrap(), "before\nafter\n", "appended");
    }
}
