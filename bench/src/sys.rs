//! The benchmark's only raw system call: `wait4`, for a child's own peak
//! RSS and CPU time (std's `Child::wait` discards the rusage).
#![allow(unsafe_code)]

use std::time::Duration;

/// How a reaped child ended and what it used.
pub struct Reaped {
    /// `true` if it exited with status 0.
    pub success: bool,
    /// The raw wait status, for messages.
    pub status: i32,
    /// Peak RSS, KiB (`ru_maxrss`).
    pub maxrss_kib: u64,
    /// User + system CPU time.
    pub cpu: Duration,
}

/// Waits for our child `pid` with `wait4`, retrying on EINTR.
pub fn wait4(pid: u32) -> std::io::Result<Reaped> {
    let pid = pid as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 on a child of ours, with valid out pointers.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if r == -1 && e.kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return Err(e);
    }
    Ok(Reaped {
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        status,
        maxrss_kib: usage.ru_maxrss.max(0) as u64,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
    })
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}
