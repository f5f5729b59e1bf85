//! Authentication setting rules: `auth.password_encryption`, `auth.timeout_long`
//! (`auth.md5_stored` is with the role rules, `auth.scram_iterations` with the majors').

use super::{need, Eval};

/// `auth.password_encryption`: not `scram-sha-256`.
pub(super) fn password_encryption(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("password_encryption"));
    if !s.value.trim().eq_ignore_ascii_case("scram-sha-256") {
        ev.emit(
            "password_encryption",
            s.location.clone(),
            format!("{}: new passwords are stored as md5 hashes", s.describe()),
            "password_encryption = 'scram-sha-256'",
        );
    }
}

/// `auth.timeout_long`: `authentication_timeout` over 60 s.
pub(super) fn timeout_long(ev: &mut Eval<'_>) {
    let s = need!(ev, ev.setting("authentication_timeout"));
    match s.as_millis("s") {
        Some(ms) if ms > 60_000.0 => ev.emit(
            "authentication_timeout",
            s.location.clone(),
            format!("{}: {} s is over 60 s", s.describe(), ms / 1000.0),
            "authentication_timeout = '30s'",
        ),
        Some(_) => {}
        None => ev.skip(format!("{} is not a time", s.describe())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::snapshot::Collected;

    #[test]
    fn password_encryption() {
        assert_eq!(
            of(
                &run(&conf_snapshot(&["password_encryption = md5"])),
                "auth.password_encryption"
            )
            .len(),
            1
        );
        assert_quiet(
            &run(&conf_snapshot(&["ssl = on"])),
            "auth.password_encryption",
        );
        assert_quiet(
            &run(&conf_snapshot(&["password_encryption = 'SCRAM-SHA-256'"])),
            "auth.password_encryption",
        );
    }

    #[test]
    fn authentication_timeout() {
        assert_eq!(
            of(
                &run(&conf_snapshot(&["authentication_timeout = 2min"])),
                "auth.timeout_long"
            )
            .len(),
            1
        );
        assert_eq!(
            of(
                &run(&conf_snapshot(&["authentication_timeout = 61"])),
                "auth.timeout_long"
            )
            .len(),
            1
        );
        assert_quiet(
            &run(&conf_snapshot(&["authentication_timeout = 60s"])),
            "auth.timeout_long",
        );
        assert_quiet(&run(&conf_snapshot(&["ssl = on"])), "auth.timeout_long");
        let r = run(&live_snapshot(|l| {
            l.settings = Collected::Present(
                [(
                    "authentication_timeout".to_owned(),
                    crate::snapshot::LiveSetting::new(
                        "authentication_timeout",
                        "120",
                        "configuration file",
                    )
                    .with_unit("s"),
                )]
                .into_iter()
                .collect(),
            )
        }));
        assert_eq!(of(&r, "auth.timeout_long").len(), 1);
    }
}
