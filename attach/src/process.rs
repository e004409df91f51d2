//! What /proc tells about the target process: its ids, its pid inside its
//! own namespace, whether it handles SIGQUIT, and which files it maps.
//! /proc is the kernel's word, not a file another user could write.

/// `/proc/PID/status`, the parts attaching needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStatus {
    /// The pid in the target's innermost pid namespace (last `NStgid`):
    /// the number in its `.java_pid<N>` and `.attach_pid<N>` files.
    pub ns_pid: u32,
    pub euid: u32,
    pub egid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// SIGQUIT has a handler (`SigCgt` bit 3).
    pub handles_sigquit: bool,
}

/// Parses `/proc/PID/status`.
pub fn parse_status(text: &str, pid: u32) -> Option<ProcStatus> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|rest| rest.trim().to_string()))
    };
    let ns_pid = field("NStgid:")
        .and_then(|v| v.split_whitespace().last().and_then(|n| n.parse().ok()))
        .unwrap_or(pid);
    // Uid/Gid: real, effective, saved, filesystem.
    let second = |v: String| v.split_whitespace().nth(1).and_then(|n| n.parse().ok());
    let euid = second(field("Uid:")?)?;
    let egid = second(field("Gid:")?)?;
    let groups = field("Groups:")?
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let caught = u64::from_str_radix(&field("SigCgt:")?, 16).ok()?;
    Some(ProcStatus {
        ns_pid,
        euid,
        egid,
        groups,
        handles_sigquit: caught & (1 << (nix::sys::signal::Signal::SIGQUIT as i32 - 1)) != 0,
    })
}

/// One file-backed line of `/proc/PID/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub dev_major: u64,
    pub dev_minor: u64,
    pub inode: u64,
    /// As the kernel prints it for us (for a process in another mount
    /// namespace, often the path inside its root).
    pub path: String,
}

/// The file-backed mappings of a `/proc/PID/maps` text.
pub fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines()
        .filter_map(|line| {
            // address perms offset dev inode path (the path may hold spaces)
            let mut fields = line.splitn(6, ' ');
            let (_, _, _) = (fields.next()?, fields.next()?, fields.next()?);
            let (major, minor) = fields.next()?.split_once(':')?;
            let inode: u64 = fields.next()?.parse().ok()?;
            let path = fields.next()?.trim_start().to_string();
            let (dev_major, dev_minor) = (
                u64::from_str_radix(major, 16).ok()?,
                u64::from_str_radix(minor, 16).ok()?,
            );
            (inode != 0 && path.starts_with('/')).then_some(Mapping {
                dev_major,
                dev_minor,
                inode,
                path,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tjava\nTgid:\t4242\nNgid:\t0\nPid:\t4242\nPPid:\t1\nUid:\t1000\t1001\t1001\t1001\nGid:\t100\t101\t101\t101\nGroups:\t4 24 \nNStgid:\t4242\t7\nSigIgn:\t0000000000000000\nSigCgt:\t2000000181005ccf\n";

    #[test]
    fn status_gives_namespace_pid_effective_ids_and_sigquit() {
        let s = parse_status(STATUS, 4242).unwrap();
        assert_eq!(
            s,
            ProcStatus {
                ns_pid: 7,
                euid: 1001,
                egid: 101,
                groups: vec![4, 24],
                handles_sigquit: true
            }
        );
        let no_quit = STATUS.replace("2000000181005ccf", "0000000000004a02");
        assert!(!parse_status(&no_quit, 4242).unwrap().handles_sigquit);
        let no_ns = STATUS.replace("NStgid:\t4242\t7\n", "");
        assert_eq!(parse_status(&no_ns, 4242).unwrap().ns_pid, 4242);
        let no_groups = STATUS.replace("Groups:\t4 24 \n", "Groups:\t\n");
        assert!(parse_status(&no_groups, 4242).unwrap().groups.is_empty());
    }

    #[test]
    fn maps_give_device_inode_and_path_of_files() {
        let maps = "\
7f0000000000-7f0000001000 r--p 00000000 fe:00 247774                     /usr/lib/jvm/lib/server/libjvm.so
7f0000001000-7f0000002000 rw-p 00000000 00:00 0 
7f0000002000-7f0000003000 r-xp 00001000 103:0a 42                         /tmp/a b/libmetascope_agent.so
7ffd00000000-7ffd00001000 rw-p 00000000 00:00 0                          [stack]
7f0000004000-7f0000005000 r--p 00000000 00:05 7                          /memfd:x (deleted)
";
        let m = parse_maps(maps);
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(
            m[1],
            Mapping {
                dev_major: 0x103,
                dev_minor: 0x0a,
                inode: 42,
                path: "/tmp/a b/libmetascope_agent.so".into()
            }
        );
        assert_eq!((m[0].dev_major, m[0].dev_minor), (0xfe, 0));
    }
}
