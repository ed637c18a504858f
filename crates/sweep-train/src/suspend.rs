//! Stopping early on request: SLURM sends SIGUSR1 shortly before a job's
//! time limit (`--signal=USR1@SECONDS`). The handler only sets a flag; the
//! training loop looks at it between batches and ends the run as
//! [`crate::Outcome::Suspended`], after saving a checkpoint when it is at an
//! epoch's end.

use std::sync::atomic::{AtomicBool, Ordering};

static SIGUSR1_SEEN: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigusr1(_: libc::c_int) {
    // Async-signal-safe: one atomic store.
    SIGUSR1_SEEN.store(true, Ordering::SeqCst);
}

/// Installs a SIGUSR1 handler that sets the returned flag (instead of the
/// default action, which ends the process). Call once, before training.
pub fn on_sigusr1_flag() -> std::io::Result<&'static AtomicBool> {
    #[cfg(unix)]
    // SAFETY: a zeroed sigaction is valid; the handler only stores to an
    // atomic, which is async-signal-safe; SA_RESTART keeps interrupted
    // reads and writes (checkpoint files, stdout) going.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigusr1 as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(&SIGUSR1_SEEN)
}
