//! A TCP proxy in front of a test server that adds latency, counts round trips and
//! injects faults, in the spirit of Toxiproxy.
//!
//! [`Proxy`] listens on `127.0.0.1` (a free port) and forwards every accepted connection
//! to one upstream address. It works on the byte stream, so TLS passes through
//! untouched: a client connecting through it with `sslmode=verify-full` still verifies
//! the real server's certificate ([`TestDatabase::app_conninfo_via`] builds such a
//! connection string).
//!
//! - **Latency** ([`ProxyBuilder::latency`], [`Proxy::set_latency`]): bytes read at `t`
//!   are delivered at `t + latency` in each direction while reading goes on, so latency
//!   does not cap throughput. No byte is ever delivered early. The last 2 ms of a delay
//!   are met by yielding in a loop (tokio's timer ticks in milliseconds), which keeps a
//!   worker thread busy meanwhile: measured on loopback, 0.5 ms each way made round trips
//!   of 1.04 ms at the fastest and added 0.95–1.08 ms (median) to the proxy's own
//!   0.05–0.1 ms.
//! - **Counters** ([`Proxy::stats`]): connections accepted, bytes forwarded each way and
//!   round trips, counted as turns: each time a client sends after its server last spoke
//!   is one round trip (TLS hides the messages, not the turns).
//! - **Faults** ([`Proxy::set_fault`], [`Fault`]), switched at run time: resets,
//!   a black hole, closing after a byte budget, a bandwidth limit.
//!
//! Buffering is bounded (a few hundred KiB per direction and connection); I/O errors
//! close the pair of connections and are logged with `tracing`, never panic. The proxy's
//! tasks run on the runtime that started it and end with [`Proxy::close`] or on drop.
//! It needs a real clock (not `tokio::time::pause`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), pgsec_testkit::Error> {
//! use std::time::Duration;
//! use pgsec_testkit::{Fault, Proxy};
//!
//! let server = pgsec_testkit::shared().await?;
//! let db = server.fresh_database().await?;
//! let proxy = Proxy::builder(server.info().addr())
//!     .latency(Duration::from_micros(500))
//!     .start()
//!     .await?;
//! let conninfo = db.app_conninfo_via(&proxy); // verify-full, through the proxy
//! // ... connect with `conninfo`, run queries ...
//! println!("{} round trips", proxy.round_trips());
//! proxy.set_fault(Fault::Reset); // every connection through it is reset
//! proxy.clear_fault();
//! # let _ = conninfo; Ok(()) }
//! ```
//!
//! [`TestDatabase::app_conninfo_via`]: crate::TestDatabase::app_conninfo_via

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::error::Result;

/// Largest chunk read at once.
const CHUNK: usize = 16 * 1024;
/// Chunks in flight per direction and connection: with [`CHUNK`], at most 512 KiB are
/// buffered, which covers 50 MB/s at 10 ms of latency.
const CHUNKS_IN_FLIGHT: usize = 32;
/// Below this much waiting, the delay is met by yielding, not by tokio's 1 ms timer.
const SPIN_WINDOW: Duration = Duration::from_millis(2);

/// A fault the proxy injects until it is cleared or replaced (one at a time; latency is
/// set separately and combines with any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Resets (TCP RST) every open connection at once, and every new one as soon as it
    /// is accepted.
    Reset,
    /// Nothing moves: new connections are accepted but not forwarded, open ones stall
    /// (bytes already read wait, then reading stops). Clearing the fault lets them
    /// carry on where they were.
    Blackhole,
    /// Each connection forwards this many more bytes (both directions together, counted
    /// from when the fault is set or the connection opens, whichever is later), then
    /// is closed.
    CloseAfterBytes(u64),
    /// Each direction of each connection forwards at most this many bytes per second
    /// (0 counts as 1).
    Bandwidth(u64),
}

/// The proxy's counters since it started or since [`Proxy::reset_counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyStats {
    /// Connections accepted (refused ones included).
    pub connections: u64,
    /// Round trips: each time a client sent after its server last spoke, summed over
    /// connections.
    pub round_trips: u64,
    /// Bytes forwarded from clients to the upstream server.
    pub bytes_to_upstream: u64,
    /// Bytes forwarded from the upstream server to clients.
    pub bytes_to_client: u64,
}

/// Options for a [`Proxy`].
///
/// ```no_run
/// # async fn demo(upstream: std::net::SocketAddr) -> Result<(), pgsec_testkit::Error> {
/// use std::time::Duration;
/// let proxy = pgsec_testkit::Proxy::builder(upstream)
///     .latency(Duration::from_millis(5))
///     .start()
///     .await?;
/// # let _ = proxy; Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until start() is awaited"]
pub struct ProxyBuilder {
    upstream: SocketAddr,
    latency: Duration,
    fault: Option<Fault>,
}

impl ProxyBuilder {
    /// Delay added to each direction (default none): a round trip takes twice this
    /// much longer.
    pub fn latency(mut self, each_way: Duration) -> Self {
        self.latency = each_way;
        self
    }

    /// A fault in force from the start.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.fault = Some(fault);
        self
    }

    /// Binds `127.0.0.1:0` and starts forwarding (on the current tokio runtime).
    ///
    /// # Errors
    /// [`Error::IoOther`](crate::Error::IoOther) when no port can be bound.
    pub async fn start(self) -> Result<Proxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (faults, _) = watch::channel(FaultState {
            fault: self.fault,
            generation: 0,
        });
        let shared = Arc::new(Shared {
            upstream: self.upstream,
            latency_nanos: AtomicU64::new(nanos(self.latency)),
            faults,
            connections: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
            bytes_to_upstream: AtomicU64::new(0),
            bytes_to_client: AtomicU64::new(0),
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), stopped));
        tracing::debug!(%addr, upstream = %self.upstream, "proxy listening");
        Ok(Proxy {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A TCP proxy on `127.0.0.1` in front of one upstream address (see the
/// [module documentation](self)). Stops, closing every connection, on
/// [`close`](Proxy::close) or drop.
///
/// ```no_run
/// # async fn demo() -> Result<(), pgsec_testkit::Error> {
/// let server = pgsec_testkit::shared().await?;
/// let db = server.fresh_database().await?;
/// let proxy = pgsec_testkit::Proxy::start(server.info().addr()).await?;
/// let (client, _) = pgsec_client::connect(
///     &pgsec_client::Config::parse(&db.app_conninfo_via(&proxy)).unwrap(),
/// )
/// .await
/// .unwrap();
/// proxy.reset_counters();
/// client.simple_query("select 1").await?;
/// assert_eq!(proxy.round_trips(), 1);
/// # Ok(()) }
/// ```
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .field("latency", &self.latency())
            .field("fault", &self.fault())
            .field("stats", &self.stats())
            .finish()
    }
}

impl Proxy {
    /// A builder for a proxy in front of `upstream` (e.g.
    /// [`ConnectionInfo::addr`](crate::ConnectionInfo::addr)).
    pub fn builder(upstream: SocketAddr) -> ProxyBuilder {
        ProxyBuilder {
            upstream,
            latency: Duration::ZERO,
            fault: None,
        }
    }

    /// Starts a proxy in front of `upstream` without latency or faults.
    ///
    /// # Errors
    /// See [`ProxyBuilder::start`].
    pub async fn start(upstream: SocketAddr) -> Result<Proxy> {
        Proxy::builder(upstream).start().await
    }

    /// The address clients connect to (`127.0.0.1` and a free port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Where connections are forwarded to.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// The delay added to each direction.
    pub fn latency(&self) -> Duration {
        Duration::from_nanos(self.shared.latency_nanos.load(Ordering::Relaxed))
    }

    /// Changes the delay added to each direction, for bytes read from now on (open
    /// connections included).
    pub fn set_latency(&self, each_way: Duration) {
        self.shared
            .latency_nanos
            .store(nanos(each_way), Ordering::Relaxed);
    }

    /// The fault in force, if any.
    pub fn fault(&self) -> Option<Fault> {
        self.shared.faults.borrow().fault
    }

    /// Injects `fault` into open and new connections, replacing any other.
    pub fn set_fault(&self, fault: Fault) {
        tracing::debug!(addr = %self.addr, ?fault, "proxy fault set");
        self.shared.faults.send_modify(|s| {
            s.fault = Some(fault);
            s.generation += 1;
        });
    }

    /// Stops injecting faults: stalled connections carry on, new ones are forwarded.
    /// Connections already reset or closed stay closed.
    pub fn clear_fault(&self) {
        tracing::debug!(addr = %self.addr, "proxy fault cleared");
        self.shared.faults.send_modify(|s| {
            s.fault = None;
            s.generation += 1;
        });
    }

    /// Every counter at once.
    pub fn stats(&self) -> ProxyStats {
        let s = &self.shared;
        ProxyStats {
            connections: s.connections.load(Ordering::SeqCst),
            round_trips: s.round_trips.load(Ordering::SeqCst),
            bytes_to_upstream: s.bytes_to_upstream.load(Ordering::SeqCst),
            bytes_to_client: s.bytes_to_client.load(Ordering::SeqCst),
        }
    }

    /// Round trips so far (see [`ProxyStats::round_trips`]).
    pub fn round_trips(&self) -> u64 {
        self.shared.round_trips.load(Ordering::SeqCst)
    }

    /// Sets every counter back to zero.
    pub fn reset_counters(&self) {
        let s = &self.shared;
        for c in [
            &s.connections,
            &s.round_trips,
            &s.bytes_to_upstream,
            &s.bytes_to_client,
        ] {
            c.store(0, Ordering::SeqCst);
        }
    }

    /// Stops listening and closes every connection; returns when all of the proxy's
    /// tasks have ended.
    pub async fn close(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                if e.is_panic() {
                    tracing::warn!(addr = %self.addr, error = %e, "proxy task panicked");
                }
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Aborting the acceptor drops its JoinSet, which aborts every connection task.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[derive(Debug, Clone, Copy)]
struct FaultState {
    fault: Option<Fault>,
    /// Bumped on every change, so a byte budget starts afresh when set again.
    generation: u64,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    latency_nanos: AtomicU64,
    faults: watch::Sender<FaultState>,
    connections: AtomicU64,
    round_trips: AtomicU64,
    bytes_to_upstream: AtomicU64,
    bytes_to_client: AtomicU64,
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, peer)) => {
                    shared.connections.fetch_add(1, Ordering::SeqCst);
                    if shared.faults.borrow().fault == Some(Fault::Reset) {
                        tracing::debug!(%peer, "proxy resets a new connection");
                        reset(&client);
                        continue;
                    }
                    conns.spawn(serve(client, Arc::clone(&shared)));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "proxy accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(done) = conns.join_next(), if !conns.is_empty() => {
                if let Err(e) = done {
                    if e.is_panic() {
                        tracing::warn!(error = %e, "proxy connection task panicked");
                    }
                }
            }
            _ = &mut stop => break,
        }
    }
    drop(listener);
    conns.shutdown().await;
}

/// Makes the close of `stream` (on drop) a TCP reset.
fn reset(stream: &TcpStream) {
    if let Err(e) = stream.set_zero_linger() {
        tracing::debug!(error = %e, "proxy could not set SO_LINGER");
    }
}

/// Why forwarding on a connection ended early.
#[derive(Debug)]
enum Stop {
    Io(std::io::Error),
    Reset,
    ByteLimit,
}

/// State of one proxied connection shared by its two directions.
#[derive(Debug, Default)]
struct ConnState {
    client_spoke_last: AtomicBool,
    /// (fault generation, bytes forwarded under it) for [`Fault::CloseAfterBytes`].
    budget: Mutex<(u64, u64)>,
}

impl ConnState {
    /// How many of `wanted` bytes may still go under `CloseAfterBytes(limit)` of
    /// `generation`, and whether the budget is then spent. Takes them.
    fn take_budget(&self, generation: u64, limit: u64, wanted: usize) -> (usize, bool) {
        let mut b = self.budget.lock().unwrap_or_else(|e| e.into_inner());
        if b.0 != generation {
            *b = (generation, 0);
        }
        let left = limit.saturating_sub(b.1);
        let take = usize::try_from(left).map_or(wanted, |l| l.min(wanted));
        b.1 += take as u64;
        (take, b.1 >= limit)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToUpstream,
    ToClient,
}

async fn serve(client: TcpStream, shared: Arc<Shared>) {
    let mut faults = shared.faults.subscribe();
    // A black hole holds new connections before the upstream is even dialled.
    loop {
        let fault = faults.borrow_and_update().fault;
        match fault {
            Some(Fault::Reset) => return reset(&client),
            Some(Fault::Blackhole) => {
                if faults.changed().await.is_err() {
                    return;
                }
            }
            _ => break,
        }
    }
    let mut server = match TcpStream::connect(shared.upstream).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(upstream = %shared.upstream, error = %e, "proxy cannot reach upstream");
            return reset(&client);
        }
    };
    let mut client = client;
    // Latency is what the proxy adds; Nagle's algorithm would add its own.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);

    let conn = ConnState::default();
    let outcome = {
        let (client_rd, client_wr) = client.split();
        let (server_rd, server_wr) = server.split();
        let up = pump(
            client_rd,
            server_wr,
            Direction::ToUpstream,
            &conn,
            &shared,
            shared.faults.subscribe(),
        );
        let down = pump(
            server_rd,
            client_wr,
            Direction::ToClient,
            &conn,
            &shared,
            shared.faults.subscribe(),
        );
        tokio::select! {
            done = async { tokio::try_join!(up, down) } => done.err(),
            () = until_reset(&mut faults) => Some(Stop::Reset),
        }
    };
    match outcome {
        None => {}
        Some(Stop::ByteLimit) => tracing::debug!("proxy closes a connection: byte budget spent"),
        Some(Stop::Reset) => {
            tracing::debug!("proxy resets a connection");
            reset(&client);
            reset(&server);
        }
        Some(Stop::Io(e)) => {
            // Pass the abruptness on to the other side.
            tracing::debug!(error = %e, "proxy closes a connection after an I/O error");
            reset(&client);
            reset(&server);
        }
    }
}

async fn until_reset(faults: &mut watch::Receiver<FaultState>) {
    if faults
        .wait_for(|s| s.fault == Some(Fault::Reset))
        .await
        .is_err()
    {
        std::future::pending::<()>().await;
    }
}

struct Chunk {
    due: Instant,
    bytes: Vec<u8>,
}

/// One direction: a reader stamping chunks with their due time and a writer
/// delivering them then, joined so that delay does not hold up reading.
async fn pump<R, W>(
    rd: R,
    wr: W,
    dir: Direction,
    conn: &ConnState,
    shared: &Shared,
    faults: watch::Receiver<FaultState>,
) -> Result<(), Stop>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::try_join!(
        read_side(rd, tx, dir, conn, shared),
        write_side(wr, rx, dir, conn, shared, faults),
    )
    .map(|_| ())
}

async fn read_side<R: AsyncRead + Unpin>(
    mut rd: R,
    tx: mpsc::Sender<Chunk>,
    dir: Direction,
    conn: &ConnState,
    shared: &Shared,
) -> Result<(), Stop> {
    loop {
        let mut bytes = vec![0u8; CHUNK];
        let n = rd.read(&mut bytes).await.map_err(Stop::Io)?;
        if n == 0 {
            return Ok(());
        }
        let now = Instant::now();
        match dir {
            Direction::ToUpstream => {
                if !conn.client_spoke_last.swap(true, Ordering::SeqCst) {
                    shared.round_trips.fetch_add(1, Ordering::SeqCst);
                }
            }
            Direction::ToClient => conn.client_spoke_last.store(false, Ordering::SeqCst),
        }
        bytes.truncate(n);
        let latency = Duration::from_nanos(shared.latency_nanos.load(Ordering::Relaxed));
        let due = now.checked_add(latency).unwrap_or(now);
        if tx.send(Chunk { due, bytes }).await.is_err() {
            // The writer has ended, and with it this direction.
            return Ok(());
        }
    }
}

async fn write_side<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::Receiver<Chunk>,
    dir: Direction,
    conn: &ConnState,
    shared: &Shared,
    mut faults: watch::Receiver<FaultState>,
) -> Result<(), Stop> {
    let counter = match dir {
        Direction::ToUpstream => &shared.bytes_to_upstream,
        Direction::ToClient => &shared.bytes_to_client,
    };
    // When the bandwidth limit lets the next bytes go.
    let mut next_free: Option<Instant> = None;
    while let Some(chunk) = rx.recv().await {
        wait_precisely(chunk.due).await;
        let mut rest = &chunk.bytes[..];
        while !rest.is_empty() {
            let state = unstalled(&mut faults).await;
            let mut take = rest.len();
            let mut spent = false;
            match state.fault {
                Some(Fault::Reset) => return Err(Stop::Reset),
                Some(Fault::CloseAfterBytes(limit)) => {
                    (take, spent) = conn.take_budget(state.generation, limit, take);
                }
                Some(Fault::Bandwidth(rate)) => {
                    let rate = rate.max(1);
                    // Pieces of 20 ms at the limit keep the rate smooth.
                    let piece = usize::try_from(rate / 50).unwrap_or(CHUNK).clamp(1, CHUNK);
                    take = take.min(piece);
                    let now = Instant::now();
                    let start = next_free.map_or(now, |t| t.max(now));
                    if start > now {
                        tokio::time::sleep(start - now).await;
                    }
                    let cost = Duration::from_secs_f64(take as f64 / rate as f64);
                    next_free = Some(start + cost);
                }
                _ => next_free = None,
            }
            if take > 0 {
                wr.write_all(&rest[..take]).await.map_err(Stop::Io)?;
                counter.fetch_add(take as u64, Ordering::SeqCst);
                rest = &rest[take..];
            }
            if spent {
                return Err(Stop::ByteLimit);
            }
        }
    }
    // The reader saw end of file: pass the half-close on.
    match wr.shutdown().await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotConnected => Ok(()),
        Err(e) => Err(Stop::Io(e)),
    }
}

/// The fault state once no black hole holds this direction back.
async fn unstalled(faults: &mut watch::Receiver<FaultState>) -> FaultState {
    loop {
        let state = *faults.borrow_and_update();
        if state.fault != Some(Fault::Blackhole) {
            return state;
        }
        if faults.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Sleeps until `due` to well under a millisecond: tokio's timer for all but the last
/// [`SPIN_WINDOW`], then yielding until the clock says so.
async fn wait_precisely(due: Instant) {
    let now = Instant::now();
    if due <= now {
        return;
    }
    let left = due - now;
    if left > SPIN_WINDOW {
        tokio::time::sleep(left - SPIN_WINDOW).await;
    }
    while Instant::now() < due {
        tokio::task::yield_now().await;
    }
}
