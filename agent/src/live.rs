//! `socket=PATH`: the recording, streamed live to `metascope live` / `top`.
//!
//! The writer tees every line here as well as to the file. Clients that
//! connect late first get the context they need (header, census, stacks),
//! kept in a bounded replay buffer. Nothing here may block the writer: the
//! sockets are non-blocking and a client that falls too far behind is
//! disconnected.

use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use crate::files::{self, Dir};

/// Replay buffer for late clients (header, census, stack records).
const CONTEXT_BUDGET: usize = 32 << 20;
/// A client further behind than this is dropped.
const CLIENT_BACKLOG: usize = 16 << 20;
const MAX_CLIENTS: usize = 16;

pub struct LiveSocket {
    path: PathBuf,
    listener: UnixListener,
    clients: Vec<Client>,
    context: Vec<u8>,
    /// Stacks past the replay budget: late clients miss some.
    context_truncated: bool,
}

struct Client {
    stream: UnixStream,
    /// How much of the shared replay buffer this client still needs: the
    /// context as it was when it connected (later context lines reach it
    /// through `pending` like any other line).
    replay_end: usize,
    /// Bytes of the replay already sent.
    replayed: usize,
    /// Lines written since the client connected.
    pending: Vec<u8>,
    /// Bytes of `pending` already sent.
    sent: usize,
}

impl LiveSocket {
    /// Creates the socket with mode 0600 from the start: it is bound in a
    /// fresh private directory (0700, unpredictable name) and renamed into
    /// place without ever replacing an existing file, so no other user can
    /// connect to it or have us clobber something of theirs.
    pub fn bind(path: &Path) -> Result<LiveSocket, String> {
        let fail = |why: String| {
            format!(
                "metascope: cannot create the live socket {}: {why} (choose another path with socket=PATH)",
                path.display()
            )
        };
        let (parent, name) =
            files::split(path).ok_or_else(|| fail("it does not name a file".into()))?;
        let dir = Dir::open(&parent).map_err(|e| fail(files::describe_open_error(&e)))?;
        let private_name = format!(
            ".metascope-sock-{}-{:016x}",
            std::process::id(),
            random_u64()
        );
        let private = dir
            .create_private_dir(&private_name)
            .map_err(|e| fail(e.to_string()))?;
        let result = (|| {
            // bind() takes a path: this one is inside our 0700 directory.
            let staged = private.join("s");
            let listener = UnixListener::bind(&staged)?;
            std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
            listener.set_nonblocking(true)?;
            files::rename_between(&private, "s", &dir, &name)?;
            Ok::<_, io::Error>(listener)
        })();
        private.remove_entry("s");
        dir.remove_dir(&private_name);
        let listener = result.map_err(|e| {
            if e.kind() == ErrorKind::AlreadyExists {
                fail("the path exists".into())
            } else {
                fail(e.to_string())
            }
        })?;
        Ok(LiveSocket {
            path: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
            listener,
            clients: Vec::new(),
            context: Vec::new(),
            context_truncated: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One JSON line. `context` lines (header, census, stacks) are also kept
    /// for clients that connect later.
    pub fn line(&mut self, line: &[u8], context: bool) {
        if context {
            if self.context.len() + line.len() <= CONTEXT_BUDGET {
                self.context.extend_from_slice(line);
            } else {
                self.context_truncated = true;
            }
        }
        for client in &mut self.clients {
            client.pending.extend_from_slice(line);
        }
    }

    /// Accepts new clients and sends what is pending, without blocking.
    pub fn pump(&mut self) {
        while self.clients.len() < MAX_CLIENTS {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_ok() {
                        self.clients.push(Client {
                            stream,
                            replay_end: self.context.len(),
                            replayed: 0,
                            pending: Vec::new(),
                            sent: 0,
                        });
                    }
                }
                Err(_) => break, // WouldBlock, or a transient error
            }
        }
        let context = &self.context;
        // The replay is shared and bounded by CONTEXT_BUDGET; only lines a
        // client has not read since it connected count as its backlog.
        self.clients
            .retain_mut(|c| c.send(context) && c.pending.len() - c.sent <= CLIENT_BACKLOG);
    }
}

impl Client {
    /// Writes what it can, replay first; false when the client is gone.
    fn send(&mut self, context: &[u8]) -> bool {
        while self.replayed < self.replay_end {
            match self.stream.write(&context[self.replayed..self.replay_end]) {
                Ok(0) => return false,
                Ok(n) => self.replayed += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        while self.sent < self.pending.len() {
            match self.stream.write(&self.pending[self.sent..]) {
                Ok(0) => return false,
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        if self.sent == self.pending.len() {
            self.pending.clear();
            self.sent = 0;
        } else if self.sent > 1 << 20 {
            self.pending.drain(..self.sent);
            self.sent = 0;
        }
        true
    }
}

/// An unpredictable number (no dependency on a RNG crate: the kernel's).
fn random_u64() -> u64 {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    match std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)) {
        Ok(()) => u64::from_ne_bytes(bytes),
        // Falls back to time and address entropy; the directory is still
        // created with O_EXCL semantics, so a guess only makes bind fail.
        Err(_) => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            t ^ (&bytes as *const _ as u64)
        }
    }
}

impl Drop for LiveSocket {
    fn drop(&mut self) {
        // Let connected clients read the end, then remove the socket file.
        for client in &mut self.clients {
            let _ = client.stream.set_nonblocking(false);
            let _ = client
                .stream
                .set_write_timeout(Some(std::time::Duration::from_millis(500)));
            let _ = client
                .stream
                .write_all(&self.context[client.replayed..client.replay_end]);
            let _ = client.stream.write_all(&client.pending[client.sent..]);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    #[test]
    fn late_clients_get_the_context_then_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.sock");
        let mut live = LiveSocket::bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        live.line(b"{\"type\":\"header\"}\n", true);
        live.line(b"{\"type\":\"class\",\"seq\":1}\n", false);
        let client = UnixStream::connect(&path).unwrap();
        live.pump();
        live.line(b"{\"type\":\"class\",\"seq\":2}\n", false);
        live.pump();
        drop(live);
        let lines: Vec<String> = BufReader::new(client).lines().map(Result::unwrap).collect();
        assert_eq!(
            lines,
            ["{\"type\":\"header\"}", "{\"type\":\"class\",\"seq\":2}"]
        );
        assert!(!path.exists(), "the socket file is removed at the end");
    }

    #[test]
    fn an_existing_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("taken");
        std::fs::write(&path, "x").unwrap();
        let err = LiveSocket::bind(&path).err().unwrap();
        assert!(err.contains("cannot create the live socket"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x");
    }

    #[test]
    fn a_client_that_does_not_read_is_dropped_not_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.sock");
        let mut live = LiveSocket::bind(&path).unwrap();
        let _stuck = UnixStream::connect(&path).unwrap();
        live.pump();
        let line = vec![b'x'; 1 << 20];
        for _ in 0..40 {
            live.line(&line, false);
            live.pump();
        }
        assert!(live.clients.is_empty(), "the stuck client was dropped");
    }

    #[test]
    fn a_late_client_gets_a_replay_larger_than_the_backlog_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.sock");
        let mut live = LiveSocket::bind(&path).unwrap();
        let stack = [vec![b's'; 1 << 20], b"\n".to_vec()].concat();
        for _ in 0..24 {
            live.line(&stack, true); // 24 MiB of stacks: more than CLIENT_BACKLOG
        }
        let client = UnixStream::connect(&path).unwrap();
        let reader =
            std::thread::spawn(move || BufReader::new(client).lines().map(Result::unwrap).count());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while live
            .clients
            .first()
            .is_none_or(|c| c.replayed < c.replay_end)
        {
            live.pump();
            assert!(!live.clients.is_empty() || std::time::Instant::now() < deadline);
            assert!(
                std::time::Instant::now() < deadline,
                "replay did not finish"
            );
        }
        live.line(b"{\"type\":\"class\"}\n", false);
        live.pump();
        drop(live);
        assert_eq!(
            reader.join().unwrap(),
            25,
            "every replayed stack and the new line"
        );
    }

    #[test]
    fn the_socket_never_replaces_an_existing_path() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = dir.path().join("live.sock");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(LiveSocket::bind(&link).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 2, "no staging directory left behind");
    }
}
