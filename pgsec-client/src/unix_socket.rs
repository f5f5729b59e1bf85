//! Unix-domain socket connections, opened by pgsec-client itself so that the peer can be
//! checked (`requirepeer`, `SO_PEERCRED`) before anything is sent, and the
//! authentication request read through `require_auth`'s watch.
//!
//! The socket path protects the server only as well as its directory's permissions do:
//! whoever can create `<dir>/.s.PGSQL.<port>` first (a world-writable `/tmp`) receives
//! the startup message and the password. `requirepeer` is libpq's answer.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use tokio::net::UnixStream;
use tokio_postgres::{NoTls, SimpleQueryMessage};

use crate::auth::{AuthWatch, AuthWatched};
use crate::details::{ConnectionDetails, SocketPeer};
use crate::error::{Error, Result};
use crate::options::{Config, Host, TargetSessionAttrs};

/// Connects to the first Unix-socket host that answers, as tokio-postgres would, with
/// the peer checked and the authentication request watched. A `requirepeer` or
/// `require_auth` refusal ends the attempt (libpq does not try the next host then).
pub(crate) async fn connect(
    config: &Config,
    pg: &tokio_postgres::Config,
) -> Result<(tokio_postgres::Client, ConnectionDetails)> {
    let mut sockets: Vec<PathBuf> = config
        .hosts()?
        .into_iter()
        .filter_map(|h| match h {
            Host::Unix { dir, port } => Some(dir.join(format!(".s.PGSQL.{port}"))),
            Host::Tcp { .. } => None,
        })
        .collect();
    if config.load_balance_random {
        let state = RandomState::new();
        sockets.sort_by_cached_key(|s| state.hash_one(s));
    }
    let mut last = None;
    for socket in sockets {
        match connect_one(config, pg, socket).await {
            Ok(ok) => return Ok(ok),
            Err(e @ (Error::RequirePeer { .. } | Error::AuthMethodRefused { .. })) => {
                return Err(e)
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::Missing {
        what: "socket directory".into(),
        fix: "set host=/path/to/socket/directory".into(),
    }))
}

async fn connect_one(
    config: &Config,
    pg: &tokio_postgres::Config,
    socket: PathBuf,
) -> Result<(tokio_postgres::Client, ConnectionDetails)> {
    let open = UnixStream::connect(&socket);
    let opened = match pg.get_connect_timeout() {
        Some(limit) => tokio::time::timeout(*limit, open)
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))),
        None => open.await,
    };
    let stream = opened.map_err(|source| Error::Socket {
        socket: socket.clone(),
        source,
    })?;

    let uid = stream.peer_cred().ok().map(|c| c.uid());
    let user = uid.and_then(user_name);
    if let Some(expected) = config.requirepeer.as_deref() {
        if user.as_deref() != Some(expected) {
            return Err(Error::RequirePeer {
                socket,
                expected: expected.to_owned(),
                peer_uid: uid,
                peer_user: user,
            });
        }
    }
    let peer = SocketPeer {
        socket,
        uid,
        user,
        required: config.requirepeer.clone(),
    };

    let server = peer.socket.display().to_string();
    let watch = config
        .require_auth
        .map(|p| AuthWatch::new(p, server.clone()));
    let (client, connection) = pg
        .connect_raw(AuthWatched::new(stream, watch), NoTls)
        .await
        .map_err(Error::from_connect)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(
                error = %pgsec_core::display_chain(&e),
                "PostgreSQL connection closed with an error"
            );
        }
    });

    // tokio-postgres' connect_raw leaves target_session_attrs to the caller.
    if config.target_session_attrs != TargetSessionAttrs::Any {
        let rows = client
            .simple_query("SHOW transaction_read_only")
            .await
            .map_err(Error::Query)?;
        let read_only = rows.iter().any(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0) == Some("on"),
            _ => false,
        });
        if read_only != (config.target_session_attrs == TargetSessionAttrs::ReadOnly) {
            return Err(Error::TargetSessionAttrs {
                server,
                wanted: config.target_session_attrs,
            });
        }
    }

    let details = ConnectionDetails {
        tls: None,
        ssl_mode: config.get_ssl_mode(),
        verification: pgsec_core::snapshot::TlsVerification::None,
        channel_binding: config.get_channel_binding(),
        unix_socket: true,
        peer: Some(peer),
    };
    Ok((client, details))
}

/// The user name of `uid` in `/etc/passwd` (what libpq's getpwuid finds on a system
/// without other NSS sources; pgsec-client links no C library for it).
fn user_name(uid: u32) -> Option<String> {
    user_name_in(Path::new("/etc/passwd"), uid)
}

fn user_name_in(passwd: &Path, uid: u32) -> Option<String> {
    // Bounded: a passwd file of millions of users is not read whole.
    const LIMIT: u64 = 16 << 20;
    let mut text = String::new();
    std::fs::File::open(passwd)
        .ok()?
        .take(LIMIT)
        .read_to_string(&mut text)
        .ok()?;
    let uid = uid.to_string();
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        (fields.next()? == uid && !name.is_empty()).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_come_from_the_passwd_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("passwd");
        std::fs::write(
            &file,
            "root:x:0:0:root:/root:/bin/sh\n# comment\npostgres:x:104:110::/var/lib:/bin/sh\n",
        )
        .unwrap();
        assert_eq!(user_name_in(&file, 104).as_deref(), Some("postgres"));
        assert_eq!(user_name_in(&file, 0).as_deref(), Some("root"));
        assert_eq!(user_name_in(&file, 1), None);
        assert_eq!(user_name_in(&dir.path().join("absent"), 0), None);
    }
}
