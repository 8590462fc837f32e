//! A client that holds a server's connection without finishing its request: what every
//! server of the project must drop (header, body and idle timeouts). Shared by the webhook
//! receiver's tests and the command line's.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// What a slow client does after connecting.
#[derive(Clone, Copy, Debug)]
pub enum Slow {
    /// Sends nothing.
    Silent,
    /// Sends its head a header line at a time, without end.
    Head,
    /// Sends a whole head (with the token) and then its body a byte at a time.
    Body,
}

/// A slow client of `url` (`http://ADDR/PATH`), `token` in its head when it sends one: how
/// long until the server closed its connection (`None`: still open after `give_up`).
pub async fn slow_client(
    url: String,
    slow: Slow,
    token: String,
    give_up: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    let (addr, path) = url["http://".len()..].split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = match slow {
        Slow::Silent => String::new(),
        Slow::Head => format!("POST /{path} HTTP/1.1\r\nhost: {addr}\r\n"),
        Slow::Body => format!(
            "POST /{path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: {token}\r\ncontent-type: application/json\r\ncontent-length: 4000\r\n\r\n{{"
        ),
    };
    if stream.write_all(head.as_bytes()).await.is_err() {
        return Some(started.elapsed());
    }
    let mut buf = [0u8; 1024];
    while started.elapsed() < give_up {
        // An answer (408) is read on: the close follows.
        let read = tokio::time::timeout(Duration::from_millis(250), stream.read(&mut buf)).await;
        if let Ok(Ok(0) | Err(_)) = read {
            return Some(started.elapsed());
        }
        let piece: &[u8] = match slow {
            Slow::Silent => b"",
            Slow::Head => b"x-slow: 1\r\n",
            Slow::Body => b" ",
        };
        if !piece.is_empty() && stream.write_all(piece).await.is_err() {
            return Some(started.elapsed());
        }
    }
    None
}
