//! Client connection rules: `client.*`.

use super::{need, Eval};
use crate::report::Location;
use crate::snapshot::{TlsVerification, Transport};

/// `client.sslmode_weak`: a TCP connection that does not verify chain and host name.
pub(super) fn sslmode_weak(ev: &mut Eval<'_>) {
    let c = need!(ev, ev.snap.client.get().map_err(str::to_owned));
    if c.transport == Transport::UnixSocket || c.verification == TlsVerification::ChainAndHost {
        return;
    }
    let what = match c.verification {
        TlsVerification::None => "does not use TLS",
        TlsVerification::EncryptedOnly => "encrypts without checking the certificate",
        TlsVerification::Chain => "checks the certificate chain but not the host name",
        _ => "does not verify the server",
    };
    ev.emit(
        c.host.as_str(),
        Location::object("connection", c.host.clone()),
        format!("sslmode={}: the connection to {} {what}", c.sslmode, c.host),
        "sslmode=verify-full sslrootcert=/path/to/ca.crt",
    );
}

/// `client.channel_binding`: SCRAM without channel binding although the server offers it.
pub(super) fn channel_binding(ev: &mut Eval<'_>) {
    let c = need!(ev, ev.snap.client.get().map_err(str::to_owned));
    let cb = need!(
        ev,
        c.channel_binding
            .ok_or("channel binding facts not collected")
    );
    if cb.scram_used && cb.offered && !cb.used {
        let (why, fix) = if cb.certificate_allows_binding {
            ("", "channel_binding=require")
        } else {
            (
                " (the server certificate's signature algorithm has no tls-server-end-point hash)",
                "reissue the server certificate signed with RSA or ECDSA and SHA-256 or stronger, then connect with channel_binding=require",
            )
        };
        ev.emit(
            c.host.as_str(),
            Location::object("connection", c.host.clone()),
            format!(
                "the connection to {} authenticated with SCRAM without channel binding although the server offers SCRAM-SHA-256-PLUS{why}",
                c.host
            ),
            fix,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::snapshot::{ChannelBindingFacts, ClientFacts, TlsVerification, Transport};
    use crate::Snapshot;

    fn client(t: Transport, mode: &str, v: TlsVerification) -> Snapshot {
        Snapshot::new("t", 0).with_client(ClientFacts::new("db", t, mode, v))
    }

    #[test]
    fn sslmode_weak() {
        for (mode, v) in [
            ("require", TlsVerification::EncryptedOnly),
            ("verify-ca", TlsVerification::Chain),
            ("disable", TlsVerification::None),
        ] {
            let r = run(&client(Transport::Tcp, mode, v));
            assert_eq!(of(&r, "client.sslmode_weak").len(), 1, "{mode}");
        }
        assert_quiet(
            &run(&client(
                Transport::Tcp,
                "verify-full",
                TlsVerification::ChainAndHost,
            )),
            "client.sslmode_weak",
        );
        assert_quiet(
            &run(&client(
                Transport::UnixSocket,
                "disable",
                TlsVerification::None,
            )),
            "client.sslmode_weak",
        );
        assert!(run(&Snapshot::new("t", 0)).is_skipped("client.sslmode_weak"));
    }

    #[test]
    fn channel_binding() {
        let base = ClientFacts::new(
            "db",
            Transport::Tcp,
            "verify-full",
            TlsVerification::ChainAndHost,
        );
        let s = |cb| Snapshot::new("t", 0).with_client(base.clone().with_channel_binding(cb));
        assert_eq!(
            of(
                &run(&s(ChannelBindingFacts::new(true, true, false))),
                "client.channel_binding"
            )
            .len(),
            1
        );
        assert_quiet(
            &run(&s(ChannelBindingFacts::new(true, true, true))),
            "client.channel_binding",
        );
        let no_hash = run(&s(
            ChannelBindingFacts::new(true, true, false).with_certificate_allows_binding(false)
        ));
        let f = of(&no_hash, "client.channel_binding");
        assert_eq!(f.len(), 1);
        assert!(f[0]
            .remediation()
            .starts_with("reissue the server certificate"));
        assert_quiet(
            &run(&s(ChannelBindingFacts::new(true, false, false))),
            "client.channel_binding",
        );
        assert!(run(&Snapshot::new("t", 0).with_client(base)).is_skipped("client.channel_binding"));
    }
}
