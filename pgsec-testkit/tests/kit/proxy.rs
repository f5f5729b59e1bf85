//! The fault-injecting proxy against a real server: TLS passes through and verifies,
//! latency is added, round trips are counted, faults do what they say.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pgsec_client::Config;
use pgsec_testkit::{shared, Fault, Proxy, TestDatabase};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Generous bound for "promptly": far above a healthy loopback, far below a hang.
const PROMPT: Duration = Duration::from_secs(5);

async fn database_and_proxy() -> (TestDatabase, Proxy) {
    let server = shared().await.unwrap();
    let db = server.fresh_database().await.unwrap();
    let proxy = Proxy::start(server.info().addr()).await.unwrap();
    (db, proxy)
}

async fn connect_via(
    db: &TestDatabase,
    proxy: &Proxy,
) -> Result<tokio_postgres::Client, pgsec_client::Error> {
    let config = Config::parse(&db.app_conninfo_via(proxy)).unwrap();
    pgsec_client::connect(&config)
        .await
        .map(|(client, _)| client)
}

#[tokio::test]
async fn a_verify_full_connection_through_the_proxy_verifies_the_real_server() {
    let (db, proxy) = database_and_proxy().await;
    let conninfo = db.app_conninfo_via(&proxy);
    assert!(conninfo.contains("sslmode=verify-full"), "{conninfo}");
    assert!(conninfo.contains("host=localhost"), "{conninfo}");
    let (client, details) = pgsec_client::connect(&Config::parse(&conninfo).unwrap())
        .await
        .unwrap();
    assert!(details.is_verified(), "{details:?}");
    let row = client
        .query_one(
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "connection is not TLS");
    let stats = proxy.stats();
    assert_eq!(stats.connections, 1);
    assert!(
        stats.bytes_to_upstream > 0 && stats.bytes_to_client > 0,
        "{stats:?}"
    );
}

#[tokio::test]
async fn a_simple_query_is_one_round_trip() {
    let (db, proxy) = database_and_proxy().await;
    let client = connect_via(&db, &proxy).await.unwrap();
    proxy.reset_counters();
    for n in 1..=3 {
        client.simple_query("select 1").await.unwrap();
        assert_eq!(proxy.round_trips(), n);
    }
    let stats = proxy.stats();
    assert_eq!(stats.connections, 0, "counters were reset");
    assert!(
        stats.bytes_to_upstream > 0 && stats.bytes_to_client > 0,
        "{stats:?}"
    );
}

/// An upstream that echoes every byte back, for round trips without a server's
/// own jitter.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = s.set_nodelay(true);
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// Round-trip times of one-byte ping-pongs through `proxy`.
async fn ping_pong(proxy: &Proxy, rounds: usize) -> Vec<Duration> {
    let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
    s.set_nodelay(true).unwrap();
    let mut byte = [0u8; 1];
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        s.write_all(b"x").await.unwrap();
        s.read_exact(&mut byte).await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    times
}

fn median(sorted: &[Duration]) -> Duration {
    sorted[sorted.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_is_added_to_each_direction() {
    let echo = echo_server().await;
    let plain = Proxy::start(echo).await.unwrap();
    let baseline = median(&ping_pong(&plain, 200).await);
    for each_way in [Duration::from_micros(500), Duration::from_millis(5)] {
        let slow = Proxy::builder(echo)
            .latency(each_way)
            .start()
            .await
            .unwrap();
        let rounds = if each_way < Duration::from_millis(1) {
            200
        } else {
            40
        };
        let times = ping_pong(&slow, rounds).await;
        let added = median(&times).saturating_sub(baseline);
        eprintln!(
            "latency {each_way:?} each way: round trip min {:?}, median {:?}, baseline median \
             {baseline:?}, added {added:?} (configured {:?})",
            times[0],
            median(&times),
            2 * each_way
        );
        // Every byte waits its delay in each direction: no round trip can be faster.
        assert!(
            times[0] >= 2 * each_way,
            "fastest round trip {:?}",
            times[0]
        );
        assert!(
            added < 2 * each_way + Duration::from_millis(50),
            "added {added:?}"
        );
    }
    // Changed at run time, for open connections too.
    plain.set_latency(Duration::from_millis(2));
    assert!(ping_pong(&plain, 5).await[0] >= Duration::from_millis(4));
}

#[tokio::test]
async fn latency_applies_to_postgres_queries() {
    let (db, proxy) = database_and_proxy().await;
    let client = connect_via(&db, &proxy).await.unwrap();
    proxy.set_latency(Duration::from_millis(5));
    let started = Instant::now();
    for _ in 0..5 {
        client.simple_query("select 1").await.unwrap();
    }
    let each = started.elapsed() / 5;
    eprintln!("select 1 with 5 ms each way: {each:?}");
    assert!(each >= Duration::from_millis(10), "{each:?}");
}

#[tokio::test]
async fn reset_breaks_open_connections_and_refuses_new_ones_until_cleared() {
    let (db, proxy) = database_and_proxy().await;
    let client = connect_via(&db, &proxy).await.unwrap();
    client.simple_query("select 1").await.unwrap();

    proxy.set_fault(Fault::Reset);
    let started = Instant::now();
    let err = tokio::time::timeout(PROMPT, client.simple_query("select 1"))
        .await
        .expect("the query hangs instead of failing")
        .expect_err("the query succeeded through a reset");
    eprintln!("after reset ({:?}): {err}", started.elapsed());
    assert!(client.is_closed());

    let refused = tokio::time::timeout(PROMPT, connect_via(&db, &proxy))
        .await
        .expect("the connect hangs instead of failing");
    assert!(refused.is_err(), "connected through a reset");

    proxy.clear_fault();
    let again = connect_via(&db, &proxy).await.unwrap();
    again.simple_query("select 1").await.unwrap();
}

#[tokio::test]
async fn blackhole_stalls_connects_and_queries_until_cleared() {
    let (db, proxy) = database_and_proxy().await;
    let client = connect_via(&db, &proxy).await.unwrap();

    proxy.set_fault(Fault::Blackhole);
    let timed_out =
        tokio::time::timeout(Duration::from_millis(500), connect_via(&db, &proxy)).await;
    assert!(
        timed_out.is_err(),
        "a connect through a black hole finished"
    );
    assert_eq!(proxy.stats().connections, 2, "the connection was accepted");

    let query = client.simple_query("select 1");
    tokio::pin!(query);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut query)
            .await
            .is_err(),
        "a query through a black hole finished"
    );
    proxy.clear_fault();
    tokio::time::timeout(PROMPT, query)
        .await
        .expect("the stalled query did not resume")
        .unwrap();
}

#[tokio::test]
async fn close_after_bytes_closes_the_connection() {
    let (db, proxy) = database_and_proxy().await;
    let client = connect_via(&db, &proxy).await.unwrap();
    client.simple_query("select 1").await.unwrap();
    let before = proxy.stats();

    proxy.set_fault(Fault::CloseAfterBytes(1000));
    let err = tokio::time::timeout(PROMPT, client.simple_query("select repeat('x', 100000)"))
        .await
        .expect("the query hangs")
        .expect_err("100 kB went through a 1000-byte budget");
    eprintln!("after the byte budget: {err}");
    let after = proxy.stats();
    let forwarded = (after.bytes_to_upstream + after.bytes_to_client)
        - (before.bytes_to_upstream + before.bytes_to_client);
    assert_eq!(forwarded, 1000);
    assert!(client.is_closed());
}

#[tokio::test]
async fn a_bandwidth_limit_slows_a_large_result() {
    let (db, proxy) = database_and_proxy().await;
    let client = connect_via(&db, &proxy).await.unwrap();
    let rate: u64 = 200_000;
    proxy.set_fault(Fault::Bandwidth(rate));
    let before = proxy.stats().bytes_to_client;
    let started = Instant::now();
    client
        .simple_query("select repeat('x', 300000)")
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let bytes = proxy.stats().bytes_to_client - before;
    // Everything but the first 20 ms piece waits its turn.
    let floor = Duration::from_secs_f64((bytes - rate / 50) as f64 / rate as f64);
    eprintln!("{bytes} bytes at {rate} B/s: {elapsed:?} (floor {floor:?})");
    assert!(bytes >= 300_000);
    assert!(elapsed >= floor, "{elapsed:?} < {floor:?}");
}

#[tokio::test]
async fn close_ends_every_connection() {
    let (db, proxy) = database_and_proxy().await;
    let client = connect_via(&db, &proxy).await.unwrap();
    let addr = proxy.addr();
    tokio::time::timeout(PROMPT, proxy.close())
        .await
        .expect("close hangs");
    let err = tokio::time::timeout(PROMPT, client.simple_query("select 1"))
        .await
        .expect("the query hangs after close");
    assert!(err.is_err());
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}

#[tokio::test]
async fn dropping_the_proxy_ends_every_connection() {
    let (db, proxy) = database_and_proxy().await;
    let client = connect_via(&db, &proxy).await.unwrap();
    drop(proxy);
    let err = tokio::time::timeout(PROMPT, client.simple_query("select 1"))
        .await
        .expect("the query hangs after drop");
    assert!(err.is_err());
}
