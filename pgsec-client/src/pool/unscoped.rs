//! The one way to use a pooled connection without a tenant.

use std::fmt;
use std::ops::{Deref, DerefMut};

use deadpool::managed::Object;
use deadpool_postgres::ClientWrapper;
use futures_util::FutureExt;

use super::tracked::{ConnState, TrackedConnections};

/// A pooled connection with **no tenant scope**, from
/// [`crate::TenantPool::dangerous_unscoped_connection`].
///
/// Statements run with whatever the session has: no tenant setting, so row-level
/// security policies that read it see no tenant. Use it for migrations or maintenance
/// that must not be tenant-scoped, never for request handling.
///
/// The session may be left in any state (a transaction, `SET ROLE`, session settings),
/// so the connection is never reused: when this guard is dropped, an open transaction
/// is rolled back at once, and the connection is closed at the pool's next checkout
/// instead of being handed out.
pub struct UnscopedConnection {
    conn: Object<TrackedConnections>,
}

impl UnscopedConnection {
    pub(crate) fn new(mut conn: Object<TrackedConnections>) -> Self {
        conn.state = ConnState::Discard;
        Self { conn }
    }
}

impl Deref for UnscopedConnection {
    type Target = ClientWrapper;

    fn deref(&self) -> &ClientWrapper {
        &self.conn.client
    }
}

impl DerefMut for UnscopedConnection {
    fn deref_mut(&mut self) -> &mut ClientWrapper {
        &mut self.conn.client
    }
}

impl Drop for UnscopedConnection {
    fn drop(&mut self) {
        // Release any open transaction now; the Discard mark makes the next checkout
        // close the connection instead of handing it out.
        let _ = self.conn.client.batch_execute("ROLLBACK").now_or_never();
        tracing::debug!(
            target: "pgsec_client::pool",
            "unscoped connection returned; it will be closed, not reused"
        );
    }
}

impl fmt::Debug for UnscopedConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnscopedConnection").finish_non_exhaustive()
    }
}
