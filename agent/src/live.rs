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
    pending: Vec<u8>,
    /// Bytes of `pending` already sent.
    sent: usize,
}

impl LiveSocket {
    /// Creates the socket with mode 0600 from the start: it is bound in a
    /// fresh private directory and renamed into place, so no other user
    /// can ever connect to it.
    pub fn bind(path: &Path) -> Result<LiveSocket, String> {
        let fail = |e: io::Error| {
            format!(
                "metascope: cannot create the live socket {}: {e} (choose another path with socket=PATH)",
                path.display()
            )
        };
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let private = parent.join(format!(".metascope-sock-{}", std::process::id()));
        std::fs::create_dir(&private).map_err(fail)?;
        let result = (|| {
            std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700))?;
            let staged = private.join("s");
            let listener = UnixListener::bind(&staged)?;
            std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
            listener.set_nonblocking(true)?;
            if path.exists() {
                return Err(io::Error::new(ErrorKind::AlreadyExists, "the path exists"));
            }
            std::fs::rename(&staged, path)?;
            Ok(listener)
        })();
        let _ = std::fs::remove_dir_all(&private);
        let listener = result.map_err(fail)?;
        Ok(LiveSocket {
            path: path.to_path_buf(),
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
                            pending: self.context.clone(),
                            sent: 0,
                        });
                    }
                }
                Err(_) => break, // WouldBlock, or a transient error
            }
        }
        self.clients
            .retain_mut(|c| c.send() && c.pending.len() - c.sent <= CLIENT_BACKLOG);
    }
}

impl Client {
    /// Writes what it can; false when the client is gone.
    fn send(&mut self) -> bool {
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

impl Drop for LiveSocket {
    fn drop(&mut self) {
        // Let connected clients read the end, then remove the socket file.
        for client in &mut self.clients {
            let _ = client.stream.set_nonblocking(false);
            let _ = client
                .stream
                .set_write_timeout(Some(std::time::Duration::from_millis(500)));
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
}
