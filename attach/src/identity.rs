//! Who may attach to whom, as HotSpot decides it (JDK 11 to 25,
//! `attachListener_linux.cpp`): the JVM accepts a peer whose SO_PEERCRED
//! uid is 0, or whose uid *and* gid are its own effective ones.
//!
//! metascope never works on another user's JVM with more rights than that
//! user: root attaching to a JVM of another user first becomes that user,
//! completely and for good (the JVM's supplementary groups and none of
//! root's; real, effective and saved ids all the JVM's; no capabilities
//! left), before it opens any file of the target. Everything after that (trigger file, agent copy,
//! sockets, status file, recording) happens as the JVM's user.

use nix::sys::prctl::set_dumpable;
use nix::unistd::{getegid, geteuid, getgroups, getresgid, getresuid, setgroups, Gid, Uid};
use nix::unistd::{setresgid, setresuid};

use crate::error::AttachError;
use crate::process::ProcStatus;

/// Makes this process able to attach to `target`, or says why it cannot.
///
/// - root and a root JVM: nothing to change (HotSpot accepts uid 0).
/// - root and a JVM of another user: becomes that user irreversibly.
/// - anyone else: must already have the JVM's effective uid and gid.
pub fn become_target_user(pid: u32, target: &ProcStatus) -> Result<(), AttachError> {
    let (our_uid, our_gid) = (geteuid().as_raw(), getegid().as_raw());
    if our_uid == 0 {
        if target.euid == 0 {
            return Ok(());
        }
        return drop_to(pid, target);
    }
    if our_uid != target.euid {
        return Err(AttachError::OtherUser {
            pid,
            target_uid: target.euid,
            our_uid,
        });
    }
    if our_gid != target.egid {
        return Err(AttachError::OtherGroup {
            pid,
            uid: our_uid,
            target_gid: target.egid,
            our_gid,
        });
    }
    Ok(())
}

fn drop_to(pid: u32, target: &ProcStatus) -> Result<(), AttachError> {
    let (uid, gid) = (target.euid, target.egid);
    let fail = |why: String| AttachError::SwitchUser { pid, uid, gid, why };
    // Groups first, while we still may change them; the uid last.
    let mut wanted: Vec<Gid> = target.groups.iter().map(|&g| Gid::from_raw(g)).collect();
    setgroups(&wanted).map_err(|e| fail(format!("setgroups: {e}")))?;
    let g = Gid::from_raw(gid);
    setresgid(g, g, g).map_err(|e| fail(format!("setresgid: {e}")))?;
    let u = Uid::from_raw(uid);
    setresuid(u, u, u).map_err(|e| fail(format!("setresuid: {e}")))?;
    // Check, rather than trust, that nothing of root is left.
    let ids = getresuid().map_err(|e| fail(format!("getresuid: {e}")))?;
    let gids = getresgid().map_err(|e| fail(format!("getresgid: {e}")))?;
    let mut groups = getgroups().map_err(|e| fail(format!("getgroups: {e}")))?;
    groups.sort_by_key(|g| g.as_raw());
    wanted.sort_by_key(|g| g.as_raw());
    if [ids.real, ids.effective, ids.saved] != [u; 3]
        || [gids.real, gids.effective, gids.saved] != [g; 3]
        || groups != wanted
    {
        return Err(fail(format!(
            "after switching, uids are {ids:?}, gids {gids:?}, groups {groups:?}"
        )));
    }
    // The kernel makes a process that changed its ids non-dumpable when
    // fs.suid_dumpable is 0; make sure of it, so that the JVM's user
    // cannot ptrace what root opened before the switch (our agent file).
    set_dumpable(false).map_err(|e| fail(format!("prctl(PR_SET_DUMPABLE): {e}")))?;
    match effective_capabilities() {
        Some(0) => Ok(()),
        Some(caps) => Err(fail(format!(
            "capabilities {caps:#x} are still effective after switching"
        ))),
        None => Err(fail("cannot read /proc/self/status".into())),
    }
}

/// `CapEff` of this process.
fn effective_capabilities() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let value = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(value.trim(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(euid: u32, egid: u32) -> ProcStatus {
        ProcStatus {
            ns_pid: 1,
            euid,
            egid,
            groups: Vec::new(),
            handles_sigquit: true,
        }
    }

    #[test]
    fn our_own_user_and_group_need_no_change() {
        let (uid, gid) = (geteuid().as_raw(), getegid().as_raw());
        become_target_user(1, &target(uid, gid)).unwrap();
        assert_eq!(geteuid().as_raw(), uid);
    }

    #[test]
    fn a_non_root_user_is_told_which_ids_are_missing() {
        if geteuid().is_root() {
            return; // root switches instead (tested end to end in tests/security.rs)
        }
        let (uid, gid) = (geteuid().as_raw(), getegid().as_raw());
        let e = become_target_user(1, &target(uid + 1, gid)).unwrap_err();
        assert!(matches!(e, AttachError::OtherUser { .. }), "{e}");
        let e = become_target_user(1, &target(uid, gid + 1)).unwrap_err();
        assert!(matches!(e, AttachError::OtherGroup { .. }), "{e}");
    }
}
