//! A TCP relay on a loopback ephemeral port that forwards to another loopback port with a
//! delay that can change while it runs: a slow network between two components, or a slow
//! Redis. Its target can change too (a restarted process on a new port); connections already
//! open keep theirs. Stopped, with its connections, when dropped.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Which way the delay applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// Bytes from the client to the target and back.
    Both,
    /// Only the target's answers: the target works, its answers come late.
    Answers,
}

struct Shared {
    target_port: AtomicU16,
    delay_ms: AtomicU64,
    way: Mutex<Way>,
    stop: AtomicBool,
    open: Mutex<Vec<TcpStream>>,
}

pub struct Relay {
    pub port: u16,
    shared: Arc<Shared>,
}

impl Relay {
    pub fn start(target_port: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("the relay listens");
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let shared = Arc::new(Shared {
            target_port: AtomicU16::new(target_port),
            delay_ms: AtomicU64::new(0),
            way: Mutex::new(Way::Both),
            stop: AtomicBool::new(false),
            open: Mutex::new(Vec::new()),
        });
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for conn in listener.incoming() {
                if accepting.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                let target = accepting.target_port.load(Ordering::SeqCst);
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)) else {
                    // Nothing listens there (the target is down): the client sees a close.
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                if let Ok(mut open) = accepting.open.lock() {
                    open.retain(|s| s.peer_addr().is_ok());
                    for s in [&client, &upstream] {
                        if let Ok(c) = s.try_clone() {
                            open.push(c);
                        }
                    }
                }
                pipe(&accepting, &client, &upstream, false);
                pipe(&accepting, &upstream, &client, true);
            }
        });
        Relay { port, shared }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// New connections go to `port` from now on.
    pub fn set_target(&self, port: u16) {
        self.shared.target_port.store(port, Ordering::SeqCst);
    }

    /// Every chunk waits `delay` before it is forwarded (0: none), the way `way` says.
    pub fn set_delay(&self, delay: Duration, way: Way) {
        if let Ok(mut w) = self.shared.way.lock() {
            *w = way;
        }
        self.shared
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Closes every connection open through the relay now.
    pub fn cut(&self) {
        if let Ok(mut open) = self.shared.open.lock() {
            for s in open.drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Copies `from` to `to` on a thread of its own until either side closes.
fn pipe(shared: &Arc<Shared>, from: &TcpStream, to: &TcpStream, answers: bool) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    let shared = Arc::clone(shared);
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let delay_ms = shared.delay_ms.load(Ordering::SeqCst);
            let way = shared.way.lock().map(|w| *w).unwrap_or(Way::Both);
            if delay_ms > 0 && (way == Way::Both || answers) {
                // The latency this relay stands for, not a wait for a condition.
                thread::sleep(Duration::from_millis(delay_ms));
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
        let _ = from.shutdown(Shutdown::Read);
    });
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread up so that it sees the flag.
        let _ = TcpStream::connect(self.addr());
        self.cut();
    }
}
