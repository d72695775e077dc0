//! A TCP proxy between hubs and the shared PostgreSQL (or Redis) that a scenario slows
//! down, cuts and restores, so the store fails for those hubs alone.
//!
//! Cut, it behaves as a stopped server does to its clients: every open connection is
//! closed at once and new ones are refused (the listening socket is closed, so a
//! connect gets `ECONNREFUSED`); restored, it listens on the same port again. Slowed, it
//! holds every chunk it forwards, in both directions, for a while.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

/// What the proxy does to the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Forwards as it comes.
    Pass,
    /// Holds every chunk this long before forwarding it.
    Slow(Duration),
    /// Closes every connection and refuses new ones.
    Down,
}

/// What the accepting thread and the pumps share.
struct Shared {
    mode: Mutex<Mode>,
    /// Both ends of every open connection, to cut them.
    open: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
    /// Connections accepted, and cut by [`DbProxy::set`]`(Mode::Down)`.
    accepted: Mutex<(usize, usize)>,
}

impl Shared {
    fn mode(&self) -> Mode {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cut_all(&self) -> usize {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        for s in open.iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let n = open.len() / 2;
        open.clear();
        n
    }
}

/// A proxy on a loopback port to `upstream`; dropping it cuts everything.
pub(crate) struct DbProxy {
    /// The port the hub connects to.
    pub(crate) port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl DbProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub(crate) fn start(upstream: SocketAddr) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the database proxy")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Pass),
            open: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            accepted: Mutex::new((0, 0)),
        });
        let s = Arc::clone(&shared);
        let acceptor = std::thread::Builder::new()
            .name("db-proxy".to_owned())
            .spawn(move || accept_loop(Some(listener), port, upstream, &s))?;
        Ok(Self {
            port,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Changes what the proxy does; `Down` cuts every open connection at once.
    pub(crate) fn set(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
        if mode == Mode::Down {
            let cut = self.shared.cut_all();
            self.shared.accepted.lock().unwrap_or_else(PoisonError::into_inner).1 += cut;
        }
    }

    /// Connections accepted so far, and how many of them were cut.
    pub(crate) fn counts(&self) -> (usize, usize) {
        *self.shared.accepted.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.cut_all();
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

/// Accepts while the mode is not `Down`; closes the listening socket while it is.
fn accept_loop(mut listener: Option<TcpListener>, port: u16, upstream: SocketAddr, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        if shared.mode() == Mode::Down {
            listener = None;
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let Some(l) = listener.as_ref() else {
            // std sets SO_REUSEADDR, so the port is ours again at once.
            listener = TcpListener::bind(("127.0.0.1", port))
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .ok();
            if listener.is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
            continue;
        };
        if l.set_nonblocking(true).is_err() {
            listener = None;
            continue;
        }
        match l.accept() {
            Ok((client, _)) => {
                if let Err(e) = connect(client, upstream, shared) {
                    eprintln!("xtask: database proxy: {e:#}");
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Connects an accepted client to the database and starts its two pumps.
fn connect(client: TcpStream, upstream: SocketAddr, shared: &Arc<Shared>) -> Result<()> {
    client.set_nonblocking(false)?;
    let server = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))
        .with_context(|| format!("connecting to {upstream}"))?;
    for s in [&client, &server] {
        s.set_nodelay(true)?;
    }
    {
        let mut open = shared.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.push(client.try_clone()?);
        open.push(server.try_clone()?);
    }
    shared.accepted.lock().unwrap_or_else(PoisonError::into_inner).0 += 1;
    for (from, to) in [(client.try_clone()?, server.try_clone()?), (server, client)] {
        let s = Arc::clone(shared);
        std::thread::Builder::new()
            .name("db-proxy-pump".to_owned())
            .spawn(move || pump(from, to, &s))?;
    }
    Ok(())
}

/// Copies `from` to `to`, holding each chunk while the mode is `Slow`; on the end or an
/// error of either side, closes both.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match shared.mode() {
            Mode::Slow(d) => std::thread::sleep(d),
            Mode::Down => break,
            Mode::Pass => {}
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on a free port; its address.
    fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut s = s;
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    fn round_trip(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
        s.write_all(b"ping")?;
        let mut got = [0u8; 4];
        s.read_exact(&mut got)?;
        Ok(got.to_vec())
    }

    #[test]
    fn forwards_cuts_refuses_and_comes_back_on_the_same_port() {
        let proxy = DbProxy::start(echo()).unwrap();
        let addr = ("127.0.0.1", proxy.port);
        let mut open = TcpStream::connect(addr).unwrap();
        assert_eq!(round_trip(&mut open).unwrap(), b"ping");

        proxy.set(Mode::Down);
        assert!(round_trip(&mut open).is_err(), "an open connection survived the cut");
        // The listener closes within the accept loop's 10 ms tick.
        let refused = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            TcpStream::connect(addr).is_err()
        });
        assert!(refused, "new connections were still accepted while down");

        proxy.set(Mode::Pass);
        let back = (0..200).find_map(|_| {
            std::thread::sleep(Duration::from_millis(10));
            TcpStream::connect(addr).ok()
        });
        let mut back = back.expect("the proxy did not listen again");
        assert_eq!(round_trip(&mut back).unwrap(), b"ping");
        let (accepted, cut) = proxy.counts();
        assert!(accepted >= 2 && cut == 1, "accepted {accepted}, cut {cut}");
    }
}
