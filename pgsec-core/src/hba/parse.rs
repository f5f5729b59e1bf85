//! `parse_hba_line()` and `parse_hba_auth_opt()` of the server's `hba.c`: one tokenized
//! line to an [`HbaRule`] or the error text the server reports for it.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use super::addr::{c_number_start, cidr_bits, leading_ones, mask_of, parse_numeric_host};
use super::lexer::{TokLine, Token};
use super::{
    AuthMethod, BuildFeatures, ConnType, HbaAddress, HbaOption, HbaParseOptions, HbaRule, HbaToken,
};
use crate::hash::{mix, mix_bytes, KeyMap};
use crate::secret::{Secret, REDACTED};

/// A line the server rejects: its message, and whether `pg_hba_file_rules.error`
/// shows it (a few option errors are only logged, the view then has a null error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineError {
    pub(crate) msg: String,
    pub(crate) hidden: bool,
}

impl LineError {
    fn shown(msg: impl Into<String>) -> Self {
        LineError {
            msg: msg.into(),
            hidden: false,
        }
    }

    fn hidden(msg: impl Into<String>) -> Self {
        LineError {
            msg: msg.into(),
            hidden: true,
        }
    }
}

/// `clientcert` level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ClientCert {
    #[default]
    Off,
    Ca,
    Full,
}

/// Options after `parse_hba_auth_opt()`, with the defaults the server adds: what
/// `get_hba_options()` renders into `pg_hba_file_rules.options`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ResolvedOptions<'a> {
    pub(crate) include_realm: bool,
    pub(crate) krb_realm: Option<Cow<'a, str>>,
    pub(crate) usermap: Option<Cow<'a, str>>,
    pub(crate) clientcert: ClientCert,
    pub(crate) pamservice: Option<Cow<'a, str>>,
    pub(crate) ldapserver: Option<Cow<'a, str>>,
    pub(crate) ldapport: i64,
    pub(crate) ldapscheme: Option<Cow<'a, str>>,
    pub(crate) ldaptls: bool,
    pub(crate) ldapprefix: Option<Cow<'a, str>>,
    pub(crate) ldapsuffix: Option<Cow<'a, str>>,
    pub(crate) ldapbasedn: Option<Cow<'a, str>>,
    pub(crate) ldapbinddn: Option<Cow<'a, str>>,
    pub(crate) ldapbindpasswd: Option<&'a Secret>,
    pub(crate) ldapsearchattribute: Option<Cow<'a, str>>,
    pub(crate) ldapsearchfilter: Option<Cow<'a, str>>,
    pub(crate) ldapscope: i64,
    pub(crate) radiusservers: Option<(usize, &'a str)>,
    pub(crate) radiussecrets: Option<(usize, &'a Secret)>,
    pub(crate) radiusidentifiers: Option<(usize, &'a str)>,
    pub(crate) radiusports: Option<(usize, &'a str)>,
    pub(crate) oauth_issuer: Option<Cow<'a, str>>,
    pub(crate) oauth_scope: Option<Cow<'a, str>>,
    pub(crate) oauth_validator: Option<Cow<'a, str>>,
    pub(crate) oauth_skip_usermap: bool,
}

impl ResolvedOptions<'_> {
    /// `get_hba_options()`: the `options` array of the view, None when empty. Secret
    /// values are [`REDACTED`] unless `expose_secrets`.
    pub(crate) fn render(&self, method: AuthMethod, expose_secrets: bool) -> Option<Vec<String>> {
        let secret = |s: &Secret| -> String {
            if expose_secrets {
                s.expose_secret().to_owned()
            } else {
                REDACTED.to_owned()
            }
        };
        let mut out = Vec::new();
        if matches!(method, AuthMethod::Gss | AuthMethod::Sspi) {
            if self.include_realm {
                out.push("include_realm=true".to_owned());
            }
            if let Some(r) = &self.krb_realm {
                out.push(format!("krb_realm={r}"));
            }
        }
        if let Some(m) = &self.usermap {
            out.push(format!("map={m}"));
        }
        match self.clientcert {
            ClientCert::Off => {}
            ClientCert::Ca => out.push("clientcert=verify-ca".to_owned()),
            ClientCert::Full => out.push("clientcert=verify-full".to_owned()),
        }
        if let Some(p) = &self.pamservice {
            out.push(format!("pamservice={p}"));
        }
        if method == AuthMethod::Ldap {
            let kv = [("ldapserver", &self.ldapserver)];
            for (k, v) in kv {
                if let Some(v) = v {
                    out.push(format!("{k}={v}"));
                }
            }
            if self.ldapport != 0 {
                out.push(format!("ldapport={}", self.ldapport));
            }
            if let Some(s) = &self.ldapscheme {
                out.push(format!("ldapscheme={s}"));
            }
            if self.ldaptls {
                out.push("ldaptls=true".to_owned());
            }
            let kv = [
                ("ldapprefix", &self.ldapprefix),
                ("ldapsuffix", &self.ldapsuffix),
                ("ldapbasedn", &self.ldapbasedn),
                ("ldapbinddn", &self.ldapbinddn),
            ];
            for (k, v) in kv {
                if let Some(v) = v {
                    out.push(format!("{k}={v}"));
                }
            }
            if let Some(s) = self.ldapbindpasswd {
                out.push(format!("ldapbindpasswd={}", secret(s)));
            }
            let kv = [
                ("ldapsearchattribute", &self.ldapsearchattribute),
                ("ldapsearchfilter", &self.ldapsearchfilter),
            ];
            for (k, v) in kv {
                if let Some(v) = v {
                    out.push(format!("{k}={v}"));
                }
            }
            if self.ldapscope != 0 {
                out.push(format!("ldapscope={}", self.ldapscope));
            }
        }
        if method == AuthMethod::Radius {
            if let Some((_, raw)) = self.radiusservers {
                out.push(format!("radiusservers={raw}"));
            }
            if let Some((_, s)) = self.radiussecrets {
                out.push(format!("radiussecrets={}", secret(s)));
            }
            let kv = [
                ("radiusidentifiers", &self.radiusidentifiers),
                ("radiusports", &self.radiusports),
            ];
            for (k, v) in kv {
                if let Some((_, raw)) = v {
                    out.push(format!("{k}={raw}"));
                }
            }
        }
        if method == AuthMethod::OAuth {
            let kv = [
                ("issuer", &self.oauth_issuer),
                ("scope", &self.oauth_scope),
                ("validator", &self.oauth_validator),
            ];
            for (k, v) in kv {
                if let Some(v) = v {
                    out.push(format!("{k}={v}"));
                }
            }
            if self.oauth_skip_usermap {
                out.push("delegate_ident_mapping=true".to_owned());
            }
        }
        if out.is_empty() {
            None
        } else {
            Some(out)
        }
    }
}

/// `parse_hba_line()`.
pub(crate) fn parse_line(
    line: &TokLine<'_, '_>,
    opts: &HbaParseOptions,
    lists: &mut ListInterner,
) -> Result<HbaRule, LineError> {
    let major = opts.version.major();
    let build = &opts.build;
    let mut fields = line.fields();
    let Some(first) = fields.next() else {
        return Err(LineError::shown(
            "end-of-line before database specification",
        ));
    };
    if first.len() > 1 {
        return Err(LineError::shown(
            "multiple values specified for connection type",
        ));
    }
    let ctype = first.first().map(|t| t.text.as_ref()).unwrap_or_default();
    // Some problems are reported but do not stop parsing: a later error replaces them.
    let mut pending: Option<String> = None;
    let conn_type = match ctype {
        "local" => ConnType::Local,
        "host" => ConnType::Host,
        "hostssl" => {
            if !build.ssl {
                pending = Some(
                    "hostssl record cannot match because SSL is not supported by this build"
                        .to_owned(),
                );
            } else if !opts.ssl_enabled {
                pending = Some("hostssl record cannot match because SSL is disabled".to_owned());
            }
            ConnType::HostSsl
        }
        "hostnossl" => ConnType::HostNoSsl,
        "hostgssenc" => {
            if !build.gss {
                pending = Some(
                    "hostgssenc record cannot match because GSSAPI is not supported by this build"
                        .to_owned(),
                );
            }
            ConnType::HostGssEnc
        }
        "hostnogssenc" => ConnType::HostNoGssEnc,
        other => {
            return Err(LineError::shown(format!(
                "invalid connection type \"{}\"",
                shown(other)
            )))
        }
    };

    let Some(dbs) = fields.next() else {
        return Err(LineError::shown(
            "end-of-line before database specification",
        ));
    };
    let databases = names(dbs, major, lists)?;
    let Some(roles) = fields.next() else {
        return Err(LineError::shown("end-of-line before role specification"));
    };
    let users = names(roles, major, lists)?;

    let mut address = None;
    if conn_type != ConnType::Local {
        let Some(addr_field) = fields.next() else {
            return Err(LineError::shown(
                "end-of-line before IP address specification",
            ));
        };
        if addr_field.len() > 1 {
            return Err(LineError::shown(
                "multiple values specified for host address",
            ));
        }
        let Some(token) = addr_field.first() else {
            return Err(LineError::shown(
                "end-of-line before IP address specification",
            ));
        };
        let text: &str = &token.text;
        let kw = |k: &str| !token.quoted && text == k;
        if kw("all") {
            address = Some(HbaAddress::All);
        } else if kw("samehost") {
            address = Some(HbaAddress::SameHost);
        } else if kw("samenet") {
            address = Some(HbaAddress::SameNet);
        } else {
            let (host, cidr) = match split_at_byte(text, b'/') {
                Some((host, cidr)) => (host, Some(cidr)),
                None => (text, None),
            };
            match parse_numeric_host(host) {
                None => {
                    if cidr.is_some() {
                        return Err(LineError::shown(format!(
                            "specifying both host name and CIDR mask is invalid: \"{}\"",
                            shown(text)
                        )));
                    }
                    address = Some(HbaAddress::HostName(host.to_owned()));
                }
                Some(ip) => {
                    let v6 = ip.is_ipv6();
                    let mask = if let Some(bits) = cidr {
                        let Some(prefix) = cidr_bits(bits, v6) else {
                            return Err(LineError::shown(format!(
                                "invalid CIDR mask in address \"{}\"",
                                shown(text)
                            )));
                        };
                        mask_of(prefix, v6)
                    } else {
                        let Some(mask_field) = fields.next() else {
                            return Err(LineError::shown(
                                "end-of-line before netmask specification",
                            ));
                        };
                        if mask_field.len() > 1 {
                            return Err(LineError::shown("multiple values specified for netmask"));
                        }
                        let mtext = mask_field
                            .first()
                            .map(|t| t.text.as_ref())
                            .unwrap_or_default();
                        let Some(mask) = parse_numeric_host(mtext) else {
                            return Err(LineError::shown(format!(
                                "invalid IP mask \"{}\": Name or service not known",
                                shown(mtext)
                            )));
                        };
                        if mask.is_ipv6() != v6 {
                            return Err(LineError::shown("IP address and mask do not match"));
                        }
                        mask
                    };
                    let prefix = leading_ones(mask);
                    address = Some(if mask_of(prefix, v6) == mask {
                        let net = ipnet::IpNet::new(ip, prefix)
                            .map_err(|_| LineError::shown("IP address and mask do not match"))?;
                        HbaAddress::Net(net)
                    } else {
                        HbaAddress::Masked { addr: ip, mask }
                    });
                }
            }
        }
    }

    let Some(method_field) = fields.next() else {
        return Err(LineError::shown("end-of-line before authentication method"));
    };
    if method_field.len() > 1 {
        return Err(LineError::shown(
            "multiple values specified for authentication type",
        ));
    }
    let mtext = method_field
        .first()
        .map(|t| t.text.as_ref())
        .unwrap_or_default();
    let mut method = parse_method(mtext, major, build)?;
    if conn_type == ConnType::Local && method == AuthMethod::Ident {
        method = AuthMethod::Peer;
    }
    if conn_type == ConnType::Local && method == AuthMethod::Gss {
        return Err(LineError::shown(
            "gssapi authentication is not supported on local sockets",
        ));
    }
    if conn_type != ConnType::Local && method == AuthMethod::Peer {
        return Err(LineError::shown(
            "peer authentication is only supported on local sockets",
        ));
    }
    if conn_type != ConnType::HostSsl && method == AuthMethod::Cert {
        return Err(LineError::shown(
            "cert authentication is only supported on hostssl connections",
        ));
    }

    let mut options: Vec<HbaOption> = Vec::new();
    for field in fields {
        for token in field {
            match split_at_byte(&token.text, b'=') {
                None => {
                    // Right after a secret, most likely the rest of an unquoted value
                    // with a blank in it.
                    let after_secret = options.last().is_some_and(HbaOption::is_secret);
                    return Err(LineError::shown(format!(
                        "authentication option not in name=value format: {}",
                        if after_secret { REDACTED } else { &token.text }
                    )));
                }
                Some((n, v)) => options.push(HbaOption::new(n, v)),
            }
        }
    }
    let rule = HbaRule {
        conn_type,
        databases,
        users,
        address,
        method,
        options,
    };
    // Without options, only an LDAP, RADIUS or OAuth line can fail the option checks.
    if !rule.options.is_empty()
        || matches!(
            rule.method,
            AuthMethod::Ldap | AuthMethod::Radius | AuthMethod::OAuth
        )
    {
        resolve_options(&rule, opts)?;
    }
    match pending {
        Some(msg) => Err(LineError::shown(msg)),
        None => Ok(rule),
    }
}

fn names(
    field: &[Token<'_>],
    major: u32,
    lists: &mut ListInterner,
) -> Result<Arc<[HbaToken]>, LineError> {
    if major >= 16 {
        for t in field {
            if let Some(re) = t.text.strip_prefix('/') {
                if let Err(e) = check_regex(re) {
                    return Err(LineError::shown(format!(
                        "invalid regular expression \"{re}\": {e}"
                    )));
                }
            }
        }
    }
    Ok(lists.intern(field))
}

/// A token as an error message may show it: `name=<redacted>` for a secret option
/// written where another field was expected.
fn shown(token: &str) -> Cow<'_, str> {
    crate::secret::redact_hba_option_entry(token)
}

/// `s` split around the first `b` (an ASCII byte); for the short strings of a line,
/// a plain scan beats `str::split_once`'s searcher.
fn split_at_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|c| c == b)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Hands out one shared list for equal database or user columns: a file of 100,000
/// lines names a few thousand distinct lists, so most lines cost a hash lookup instead
/// of two allocations (and two frees when the file is dropped).
#[derive(Default)]
pub(crate) struct ListInterner {
    /// By [`list_hash`]; one list per hash (on a collision the newcomer is not kept).
    table: KeyMap<Arc<[HbaToken]>>,
}

impl ListInterner {
    /// The list for `field`, shared with every equal list interned before.
    pub(crate) fn intern(&mut self, field: &[Token<'_>]) -> Arc<[HbaToken]> {
        let hash = list_hash(field);
        if let Some(list) = self.table.get(&hash) {
            let equal = list.len() == field.len()
                && list
                    .iter()
                    .zip(field)
                    .all(|(a, b)| a.quoted == b.quoted && a.text == b.text);
            if equal {
                return Arc::clone(list);
            }
        }
        let list: Arc<[HbaToken]> = field
            .iter()
            .map(|t| HbaToken {
                text: t.text.as_ref().to_owned(),
                quoted: t.quoted,
            })
            .collect();
        self.table.entry(hash).or_insert_with(|| Arc::clone(&list));
        list
    }
}

/// A 64-bit hash of a token list (texts, quoting, boundaries).
fn list_hash(field: &[Token<'_>]) -> u64 {
    field.iter().fold(field.len() as u64, |h, t| {
        mix_bytes(mix(h, u64::from(t.quoted)), t.text.as_bytes())
    })
}

fn parse_method(text: &str, major: u32, build: &BuildFeatures) -> Result<AuthMethod, LineError> {
    let (method, supported) = match text {
        "oauth" if major >= 18 => (AuthMethod::OAuth, true),
        "trust" => (AuthMethod::Trust, true),
        "ident" => (AuthMethod::Ident, true),
        "peer" => (AuthMethod::Peer, true),
        "password" => (AuthMethod::Password, true),
        "gss" => (AuthMethod::Gss, build.gss),
        "sspi" => (AuthMethod::Sspi, build.sspi),
        "reject" => (AuthMethod::Reject, true),
        "md5" => (AuthMethod::Md5, true),
        "scram-sha-256" => (AuthMethod::ScramSha256, true),
        "pam" => (AuthMethod::Pam, build.pam),
        "bsd" => (AuthMethod::Bsd, build.bsd),
        "ldap" => (AuthMethod::Ldap, build.ldap),
        "cert" => (AuthMethod::Cert, build.ssl),
        "radius" => (AuthMethod::Radius, true),
        other => {
            return Err(LineError::shown(format!(
                "invalid authentication method \"{}\"",
                shown(other)
            )))
        }
    };
    if !supported {
        return Err(LineError::shown(format!(
            "invalid authentication method \"{}\": not supported by this build",
            shown(text)
        )));
    }
    Ok(method)
}

/// Runs `parse_hba_auth_opt()` over the rule's options and the method's final checks.
pub(crate) fn resolve_options<'a>(
    rule: &'a HbaRule,
    opts: &HbaParseOptions,
) -> Result<ResolvedOptions<'a>, LineError> {
    let major = opts.version.major();
    let method = rule.method;
    let mut r = ResolvedOptions {
        include_realm: matches!(method, AuthMethod::Gss | AuthMethod::Sspi),
        ..ResolvedOptions::default()
    };
    let invalid = |name: &str, methods: &str| {
        LineError::shown(format!(
            "authentication option \"{name}\" is only valid for authentication methods {methods}"
        ))
    };
    let require = |m: AuthMethod, name: &str, methods: &str| {
        if method == m {
            Ok(())
        } else {
            Err(invalid(name, methods))
        }
    };
    for option in &rule.options {
        if opts.build.ldap {
            r.ldapscope = LDAP_SCOPE_SUBTREE;
        }
        let (name, val) = (option.name(), option.expose_value());
        match name {
            "map" => {
                let oauth = major >= 18 && method == AuthMethod::OAuth;
                if !oauth
                    && !matches!(
                        method,
                        AuthMethod::Ident
                            | AuthMethod::Peer
                            | AuthMethod::Gss
                            | AuthMethod::Sspi
                            | AuthMethod::Cert
                    )
                {
                    return Err(invalid(
                        "map",
                        if major >= 18 {
                            "ident, peer, gssapi, sspi, cert, and oauth"
                        } else {
                            "ident, peer, gssapi, sspi, and cert"
                        },
                    ));
                }
                r.usermap = Some(Cow::Borrowed(val));
            }
            // PostgreSQL 18's OAuth options (earlier majors: unrecognized names).
            "issuer" if major >= 18 => {
                require(AuthMethod::OAuth, "issuer", "oauth")?;
                r.oauth_issuer = Some(Cow::Borrowed(val));
            }
            "scope" if major >= 18 => {
                require(AuthMethod::OAuth, "scope", "oauth")?;
                r.oauth_scope = Some(Cow::Borrowed(val));
            }
            "validator" if major >= 18 => {
                require(AuthMethod::OAuth, "validator", "oauth")?;
                r.oauth_validator = Some(Cow::Borrowed(val));
            }
            "delegate_ident_mapping" if major >= 18 => {
                require(AuthMethod::OAuth, "delegate_ident_mapping", "oauth")?;
                r.oauth_skip_usermap = val == "1";
            }
            "clientcert" => {
                if rule.conn_type != ConnType::HostSsl {
                    return Err(LineError::shown(
                        "clientcert can only be configured for \"hostssl\" rows",
                    ));
                }
                if major <= 13 {
                    match val {
                        "1" | "verify-ca" => r.clientcert = ClientCert::Ca,
                        "verify-full" => r.clientcert = ClientCert::Full,
                        "0" | "no-verify" => {
                            if method == AuthMethod::Cert {
                                return Err(LineError::shown(
                                    "clientcert can not be set to \"no-verify\" when using \"cert\" authentication",
                                ));
                            }
                            r.clientcert = ClientCert::Off;
                        }
                        _ => {
                            return Err(LineError::hidden(format!(
                                "invalid value for clientcert: \"{val}\""
                            )))
                        }
                    }
                } else {
                    match val {
                        "verify-full" => r.clientcert = ClientCert::Full,
                        "verify-ca" => {
                            if method == AuthMethod::Cert {
                                return Err(LineError::shown(
                                    "clientcert can only be set to \"verify-full\" when using \"cert\" authentication",
                                ));
                            }
                            r.clientcert = ClientCert::Ca;
                        }
                        _ => {
                            return Err(LineError::hidden(format!(
                                "invalid value for clientcert: \"{val}\""
                            )))
                        }
                    }
                }
            }
            "clientname" if major >= 14 => {
                if rule.conn_type != ConnType::HostSsl {
                    return Err(LineError::shown(
                        "clientname can only be configured for \"hostssl\" rows",
                    ));
                }
                if val != "CN" && val != "DN" {
                    return Err(LineError::hidden(format!(
                        "invalid value for clientname: \"{val}\""
                    )));
                }
            }
            "pamservice" => {
                require(AuthMethod::Pam, "pamservice", "pam")?;
                r.pamservice = Some(Cow::Borrowed(val));
            }
            "pam_use_hostname" => require(AuthMethod::Pam, "pam_use_hostname", "pam")?,
            "ldapurl" => {
                require(AuthMethod::Ldap, "ldapurl", "ldap")?;
                let url = parse_ldap_url(val).map_err(|rc| {
                    LineError::shown(format!("could not parse LDAP URL \"{val}\": {rc}"))
                })?;
                if url.scheme != "ldap" && url.scheme != "ldaps" {
                    return Err(LineError::shown(format!(
                        "unsupported LDAP URL scheme: {}",
                        url.scheme
                    )));
                }
                r.ldapscheme = Some(Cow::Owned(url.scheme.clone()));
                if let Some(h) = url.host {
                    r.ldapserver = Some(Cow::Owned(h));
                }
                r.ldapport = url.port;
                if let Some(dn) = url.dn {
                    r.ldapbasedn = Some(Cow::Owned(dn));
                }
                if let Some(a) = url.first_attr {
                    r.ldapsearchattribute = Some(Cow::Owned(a));
                }
                r.ldapscope = url.scope;
                if let Some(f) = url.filter {
                    r.ldapsearchfilter = Some(Cow::Owned(f));
                }
            }
            "ldaptls" => {
                require(AuthMethod::Ldap, "ldaptls", "ldap")?;
                r.ldaptls = val == "1";
            }
            "ldapscheme" => {
                // An invalid scheme is only logged; the value is kept.
                require(AuthMethod::Ldap, "ldapscheme", "ldap")?;
                r.ldapscheme = Some(Cow::Borrowed(val));
            }
            "ldapserver" => {
                require(AuthMethod::Ldap, "ldapserver", "ldap")?;
                r.ldapserver = Some(Cow::Borrowed(val));
            }
            "ldapport" => {
                require(AuthMethod::Ldap, "ldapport", "ldap")?;
                r.ldapport = atoi(val);
                if r.ldapport == 0 {
                    return Err(LineError::shown(format!(
                        "invalid LDAP port number: \"{val}\""
                    )));
                }
            }
            "ldapbinddn" => {
                require(AuthMethod::Ldap, "ldapbinddn", "ldap")?;
                r.ldapbinddn = Some(Cow::Borrowed(val));
            }
            "ldapbindpasswd" => {
                require(AuthMethod::Ldap, "ldapbindpasswd", "ldap")?;
                r.ldapbindpasswd = option.secret();
            }
            "ldapsearchattribute" => {
                require(AuthMethod::Ldap, "ldapsearchattribute", "ldap")?;
                r.ldapsearchattribute = Some(Cow::Borrowed(val));
            }
            "ldapsearchfilter" => {
                require(AuthMethod::Ldap, "ldapsearchfilter", "ldap")?;
                r.ldapsearchfilter = Some(Cow::Borrowed(val));
            }
            "ldapbasedn" => {
                require(AuthMethod::Ldap, "ldapbasedn", "ldap")?;
                r.ldapbasedn = Some(Cow::Borrowed(val));
            }
            "ldapprefix" => {
                require(AuthMethod::Ldap, "ldapprefix", "ldap")?;
                r.ldapprefix = Some(Cow::Borrowed(val));
            }
            "ldapsuffix" => {
                require(AuthMethod::Ldap, "ldapsuffix", "ldap")?;
                r.ldapsuffix = Some(Cow::Borrowed(val));
            }
            "krb_realm" => {
                if !matches!(method, AuthMethod::Gss | AuthMethod::Sspi) {
                    return Err(invalid("krb_realm", "gssapi and sspi"));
                }
                r.krb_realm = Some(Cow::Borrowed(val));
            }
            "include_realm" => {
                if !matches!(method, AuthMethod::Gss | AuthMethod::Sspi) {
                    return Err(invalid("include_realm", "gssapi and sspi"));
                }
                r.include_realm = val == "1";
            }
            "compat_realm" | "upn_username" => {
                if method != AuthMethod::Sspi {
                    return Err(invalid(name, "sspi"));
                }
            }
            "radiusservers" => {
                require(AuthMethod::Radius, "radiusservers", "radius")?;
                let list = split_guc_list(val).ok_or_else(|| {
                    LineError::hidden(format!("could not parse RADIUS server list \"{val}\""))
                })?;
                r.radiusservers = Some((list.len(), val));
            }
            "radiusports" => {
                require(AuthMethod::Radius, "radiusports", "radius")?;
                let list = split_guc_list(val).ok_or_else(|| {
                    LineError::shown(format!("invalid RADIUS port number: \"{val}\""))
                })?;
                if list.iter().any(|p| atoi(p) == 0) {
                    return Err(LineError::hidden(format!(
                        "invalid RADIUS port number: \"{val}\""
                    )));
                }
                r.radiusports = Some((list.len(), val));
            }
            "radiussecrets" => {
                require(AuthMethod::Radius, "radiussecrets", "radius")?;
                let list = split_guc_list(val).ok_or_else(|| {
                    LineError::hidden(format!("could not parse RADIUS secret list \"{REDACTED}\""))
                })?;
                r.radiussecrets = option.secret().map(|s| (list.len(), s));
            }
            "radiusidentifiers" => {
                require(AuthMethod::Radius, "radiusidentifiers", "radius")?;
                let list = split_guc_list(val).ok_or_else(|| {
                    LineError::hidden(format!("could not parse RADIUS identifiers list \"{val}\""))
                })?;
                r.radiusidentifiers = Some((list.len(), val));
            }
            other => {
                return Err(LineError::shown(format!(
                    "unrecognized authentication option name: \"{other}\""
                )))
            }
        }
    }

    if method == AuthMethod::Ldap {
        if r.ldapprefix.is_some() || r.ldapsuffix.is_some() {
            if r.ldapbasedn.is_some()
                || r.ldapbinddn.is_some()
                || r.ldapbindpasswd.is_some()
                || r.ldapsearchattribute.is_some()
                || r.ldapsearchfilter.is_some()
            {
                return Err(LineError::shown(if major >= 18 {
                    "cannot mix options for simple bind and search+bind modes"
                } else {
                    "cannot use ldapbasedn, ldapbinddn, ldapbindpasswd, ldapsearchattribute, ldapsearchfilter, or ldapurl together with ldapprefix"
                }));
            }
        } else if r.ldapbasedn.is_none() {
            return Err(LineError::shown(
                "authentication method \"ldap\" requires argument \"ldapbasedn\", \"ldapprefix\", or \"ldapsuffix\" to be set",
            ));
        }
        if r.ldapsearchattribute.is_some() && r.ldapsearchfilter.is_some() {
            return Err(LineError::shown(
                "cannot use ldapsearchattribute together with ldapsearchfilter",
            ));
        }
    }
    if method == AuthMethod::Radius {
        let count = |o: Option<usize>| o.unwrap_or(0);
        let (servers, secrets) = (
            count(r.radiusservers.map(|(n, _)| n)),
            count(r.radiussecrets.map(|(n, _)| n)),
        );
        let (ports, idents) = (
            count(r.radiusports.map(|(n, _)| n)),
            count(r.radiusidentifiers.map(|(n, _)| n)),
        );
        // An empty list is a NIL pointer to the server: "not set".
        if servers == 0 {
            return Err(LineError::shown(
                "authentication method \"radius\" requires argument \"radiusservers\" to be set",
            ));
        }
        if secrets == 0 {
            return Err(LineError::shown(
                "authentication method \"radius\" requires argument \"radiussecrets\" to be set",
            ));
        }
        if !(secrets == 1 || secrets == servers) {
            return Err(LineError::shown(format!("the number of RADIUS secrets ({secrets}) must be 1 or the same as the number of RADIUS servers ({servers})")));
        }
        if !(ports == 0 || ports == 1 || ports == servers) {
            return Err(LineError::shown(format!("the number of RADIUS ports ({ports}) must be 1 or the same as the number of RADIUS servers ({servers})")));
        }
        if !(idents == 0 || idents == 1 || idents == servers) {
            return Err(LineError::shown(format!("the number of RADIUS identifiers ({idents}) must be 1 or the same as the number of RADIUS servers ({servers})")));
        }
    }
    if method == AuthMethod::OAuth {
        // Scope is checked before issuer, then the validator against the server's
        // oauth_validator_libraries (`check_oauth_validator()`).
        if r.oauth_scope.is_none() {
            return Err(LineError::shown(
                "authentication method \"oauth\" requires argument \"scope\" to be set",
            ));
        }
        if r.oauth_issuer.is_none() {
            return Err(LineError::shown(
                "authentication method \"oauth\" requires argument \"issuer\" to be set",
            ));
        }
        let raw = opts.oauth_validator_libraries.as_str();
        if raw.is_empty() {
            return Err(LineError::shown(
                "oauth_validator_libraries must be set for authentication method oauth",
            ));
        }
        let libraries = split_guc_list(raw).ok_or_else(|| {
            LineError::shown("invalid list syntax in parameter \"oauth_validator_libraries\"")
        })?;
        match &r.oauth_validator {
            None if libraries.len() == 1 => {
                r.oauth_validator = libraries.into_iter().next().map(Cow::Owned);
            }
            None => {
                return Err(LineError::shown(
                    "authentication method \"oauth\" requires argument \"validator\" to be set when oauth_validator_libraries contains multiple options",
                ));
            }
            Some(v) if libraries.iter().any(|l| l == v) => {}
            Some(v) => {
                return Err(LineError::shown(format!(
                    "validator \"{v}\" is not permitted by oauth_validator_libraries"
                )));
            }
        }
        if r.oauth_skip_usermap && r.usermap.is_some() {
            return Err(LineError::shown(
                "map cannot be used in combination with delegate_ident_mapping",
            ));
        }
    }
    if method == AuthMethod::Cert {
        r.clientcert = if major <= 13 {
            ClientCert::Ca
        } else {
            ClientCert::Full
        };
    }
    Ok(r)
}

const LDAP_SCOPE_SUBTREE: i64 = 2;

/// C `atoi()`: leading white space, a sign, then digits; 0 when there are none.
pub(crate) fn atoi(s: &str) -> i64 {
    let b = s.as_bytes();
    let (neg, mut i) = c_number_start(b);
    let mut v: i64 = 0;
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        v = v.wrapping_mul(10).wrapping_add(i64::from(c - b'0'));
        i += 1;
    }
    // atoi() converts through long and truncates to int.
    let v = if neg { v.wrapping_neg() } else { v };
    i64::from(v as i32)
}

/// `SplitGUCList()`: a comma list of possibly double-quoted elements; None on a
/// syntax error (unbalanced quote, empty element).
pub(crate) fn split_guc_list(raw: &str) -> Option<Vec<String>> {
    let b = raw.as_bytes();
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'\x0b');
    let mut out = Vec::new();
    let mut i = 0;
    while b.get(i).copied().is_some_and(is_space) {
        i += 1;
    }
    if i == b.len() {
        return Some(out);
    }
    loop {
        let name: Vec<u8>;
        if b.get(i) == Some(&b'"') {
            let mut cur = Vec::new();
            i += 1;
            loop {
                let rel = b[i..].iter().position(|&c| c == b'"')?;
                cur.extend_from_slice(&b[i..i + rel]);
                i += rel;
                if b.get(i + 1) == Some(&b'"') {
                    cur.push(b'"');
                    i += 2;
                } else {
                    i += 1;
                    break;
                }
            }
            name = cur;
        } else {
            let start = i;
            let mut end = i;
            while i < b.len() && b[i] != b',' {
                if !is_space(b[i]) {
                    end = i + 1;
                }
                i += 1;
            }
            if end == start {
                return None;
            }
            name = b[start..end].to_vec();
        }
        while b.get(i).copied().is_some_and(is_space) {
            i += 1;
        }
        let done = match b.get(i) {
            Some(b',') => {
                i += 1;
                while b.get(i).copied().is_some_and(is_space) {
                    i += 1;
                }
                false
            }
            None => true,
            Some(_) => return None,
        };
        out.push(String::from_utf8_lossy(&name).into_owned());
        if done {
            return Some(out);
        }
    }
}

/// What OpenLDAP's `ldap_url_parse()` yields for the fields PostgreSQL uses.
#[derive(Debug, Default, PartialEq, Eq)]
struct LdapUrl {
    scheme: String,
    host: Option<String>,
    port: i64,
    dn: Option<String>,
    first_attr: Option<String>,
    scope: i64,
    filter: Option<String>,
}

/// A subset of OpenLDAP's `ldap_url_parse()`. The error is `ldap_err2string()` of the
/// `LDAP_URL_ERR_*` code, which OpenLDAP maps onto unrelated result-code texts.
fn parse_ldap_url(url: &str) -> Result<LdapUrl, &'static str> {
    const ERR_BADSCHEME: &str = "Time limit exceeded"; // LDAP_URL_ERR_BADSCHEME = 3
    const ERR_BADENCLOSURE: &str = "Size limit exceeded"; // 4
    const ERR_BADURL: &str = "Compare False"; // 5
    const ERR_BADSCOPE: &str = "Strong(er) authentication required"; // 8
    let mut s = url.trim_start();
    let enclosed = s.starts_with('<');
    if enclosed {
        s = &s[1..];
    }
    if s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("URL:")) {
        s = &s[4..];
    }
    let (scheme, rest) = s.split_once("://").ok_or(ERR_BADSCHEME)?;
    let scheme_l = scheme.to_ascii_lowercase();
    if !matches!(scheme_l.as_str(), "ldap" | "ldaps" | "ldapi" | "cldap") {
        return Err(ERR_BADSCHEME);
    }
    let mut rest = rest;
    if enclosed {
        rest = rest.strip_suffix('>').ok_or(ERR_BADENCLOSURE)?;
    }
    let mut out = LdapUrl {
        scheme: scheme_l.clone(),
        ..LdapUrl::default()
    };
    // `ldap://host/dn?attrs?scope?filter`; without a `/`, a `?` after the host starts
    // the attributes and there is no DN (OpenLDAP's "Novell kludge").
    let (hostport, dn_part, query) = match rest.find('/') {
        Some(i) => {
            let path = &rest[i + 1..];
            match path.split_once('?') {
                Some((dn, q)) => (&rest[..i], Some(dn), Some(q)),
                None => (&rest[..i], Some(path), None),
            }
        }
        None => match rest.split_once('?') {
            Some((h, q)) => (h, None, Some(q)),
            None => (rest, None, None),
        },
    };
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let close = h.find(']').ok_or(ERR_BADURL)?;
        let after = &h[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(ERR_BADURL),
        };
        (&h[..close], port)
    } else {
        match hostport.rfind(':') {
            Some(i) => (&hostport[..i], Some(&hostport[i + 1..])),
            None => (hostport, None),
        }
    };
    let explicit_port = match port {
        Some(p) if !p.is_empty() => {
            let v: i64 = p.parse().map_err(|_| ERR_BADURL)?;
            if !(0..=65535).contains(&v) {
                return Err(ERR_BADURL);
            }
            v
        }
        _ => 0,
    };
    out.port = match (explicit_port, scheme_l.as_str()) {
        (0, "ldaps") => 636,
        (0, _) => 389,
        (p, _) => p,
    };
    let host = percent_decode(host).ok_or(ERR_BADURL)?;
    if !host.is_empty() {
        out.host = Some(host);
    }
    out.scope = 0; // LDAP_SCOPE_DEFAULT becomes LDAP_SCOPE_BASE
    if let Some(dn) = dn_part {
        out.dn = Some(percent_decode(dn).ok_or(ERR_BADURL)?);
    }
    if let Some(query) = query {
        let mut parts = query.splitn(4, '?');
        if let Some(attrs) = parts.next() {
            let first = attrs.split(',').next().unwrap_or_default();
            if !attrs.is_empty() {
                out.first_attr = Some(percent_decode(first).ok_or(ERR_BADURL)?);
            }
        }
        if let Some(scope) = parts.next() {
            out.scope = match scope.to_ascii_lowercase().as_str() {
                "" | "base" => 0,
                "one" | "onelevel" => 1,
                "sub" | "subtree" => 2,
                "subord" | "subordinate" | "children" => 3,
                _ => return Err(ERR_BADSCOPE),
            };
        }
        if let Some(filter) = parts.next() {
            if !filter.is_empty() {
                out.filter = Some(percent_decode(filter).ok_or(ERR_BADURL)?);
            }
        }
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// A syntax check of PostgreSQL's advanced regular expressions for the errors people
/// make; returns the `pg_regerror()` text. Not a full ARE parser.
pub(crate) fn check_regex(re: &str) -> Result<(), &'static str> {
    let b = re.as_bytes();
    let mut depth = 0usize;
    let mut i = 0usize;
    // Whether the previous item can take a quantifier.
    let mut operand = false;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                if i + 1 >= b.len() {
                    return Err("invalid escape \\ sequence");
                }
                i += 2;
                operand = true;
                continue;
            }
            b'[' => {
                let mut j = i + 1;
                if b.get(j) == Some(&b'^') {
                    j += 1;
                }
                if b.get(j) == Some(&b']') {
                    j += 1;
                }
                loop {
                    match b.get(j) {
                        None => return Err("brackets [] not balanced"),
                        Some(b']') => break,
                        Some(b'[') if matches!(b.get(j + 1), Some(b':' | b'.' | b'=')) => {
                            let kind = b[j + 1];
                            let mut k = j + 2;
                            loop {
                                match b.get(k) {
                                    None => return Err("brackets [] not balanced"),
                                    Some(&c) if c == kind && b.get(k + 1) == Some(&b']') => break,
                                    Some(_) => k += 1,
                                }
                            }
                            j = k + 2;
                        }
                        Some(_) => j += 1,
                    }
                }
                i = j + 1;
                operand = true;
                continue;
            }
            b'(' => {
                depth += 1;
                if b.get(i + 1) == Some(&b'?') {
                    i += 1;
                }
                operand = false;
            }
            b')' => {
                if depth == 0 {
                    return Err("parentheses () not balanced");
                }
                depth -= 1;
                operand = true;
            }
            b'*' | b'+' | b'?' => {
                if !operand {
                    return Err("quantifier operand invalid");
                }
                // ARE allows one non-greedy `?` after a quantifier.
                if b.get(i + 1) == Some(&b'?') {
                    i += 1;
                }
                if matches!(b.get(i + 1), Some(b'*' | b'+' | b'{')) {
                    return Err("quantifier operand invalid");
                }
                operand = false;
            }
            b'{' => {
                if !operand {
                    return Err("quantifier operand invalid");
                }
                let close = b[i..].iter().position(|&c| c == b'}').map(|p| p + i);
                let Some(close) = close else {
                    return Err("braces {} not balanced");
                };
                let inner = &re[i + 1..close];
                let (lo, hi) = match inner.split_once(',') {
                    Some((lo, hi)) => (lo, Some(hi)),
                    None => (inner, None),
                };
                let num = |s: &str| -> Result<Option<u32>, &'static str> {
                    if s.is_empty() {
                        return Ok(None);
                    }
                    if !s.bytes().all(|c| c.is_ascii_digit()) {
                        return Err("invalid repetition count(s)");
                    }
                    let v: u32 = s.parse().map_err(|_| "invalid repetition count(s)")?;
                    if v > 255 {
                        return Err("invalid repetition count(s)");
                    }
                    Ok(Some(v))
                };
                let lo_v = num(lo)?.ok_or("invalid repetition count(s)")?;
                if let Some(hi) = hi {
                    if let Some(h) = num(hi)? {
                        if h < lo_v {
                            return Err("invalid repetition count(s)");
                        }
                    }
                }
                i = close;
                if b.get(i + 1) == Some(&b'?') {
                    i += 1;
                }
                operand = false;
            }
            b'|' => operand = false,
            b'^' | b'$' => operand = true,
            _ => operand = true,
        }
        i += 1;
    }
    if depth != 0 {
        return Err("parentheses () not balanced");
    }
    Ok(())
}

/// The address and mask the view shows for a numeric address.
pub(crate) fn addr_and_mask(address: &HbaAddress) -> Option<(IpAddr, IpAddr)> {
    match address {
        HbaAddress::Net(n) => Some((n.addr(), n.netmask())),
        HbaAddress::Masked { addr, mask } => Some((*addr, *mask)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi("389"), 389);
        assert_eq!(atoi(" 12abc"), 12);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi("-5"), -5);
        assert_eq!(atoi(""), 0);
    }

    #[test]
    fn guc_lists() {
        assert_eq!(split_guc_list("a, b ,c").unwrap(), vec!["a", "b", "c"]);
        assert_eq!(split_guc_list("\"a,b\",c").unwrap(), vec!["a,b", "c"]);
        assert_eq!(split_guc_list("\"a\"\"b\"").unwrap(), vec!["a\"b"]);
        assert_eq!(split_guc_list("  ").unwrap(), Vec::<String>::new());
        assert!(split_guc_list("a,,b").is_none());
        assert!(split_guc_list("\"a").is_none());
        assert!(split_guc_list("a,").is_none());
        assert!(split_guc_list("\"a\"b").is_none());
    }

    #[test]
    fn equal_lists_are_shared_and_different_ones_are_not() {
        use std::borrow::Cow;
        let tok = |t: &'static str, quoted: bool| Token {
            text: Cow::Borrowed(t),
            quoted,
        };
        let mut lists = ListInterner::default();
        let a = lists.intern(&[tok("app", false), tok("b", false)]);
        let again = lists.intern(&[
            tok("app", false),
            Token {
                text: Cow::Owned("b".into()),
                quoted: false,
            },
        ]);
        assert!(Arc::ptr_eq(&a, &again));
        assert_eq!(a.len(), 2);
        // Quoting, order, boundaries and length all make another list.
        for other in [
            vec![tok("app", true), tok("b", false)],
            vec![tok("b", false), tok("app", false)],
            vec![tok("ap", false), tok("pb", false)],
            vec![tok("app", false)],
            vec![tok("app", false), tok("b", false), tok("app", false)],
        ] {
            let list = lists.intern(&other);
            assert!(!Arc::ptr_eq(&a, &list), "{other:?}");
            let texts: Vec<(&str, bool)> =
                list.iter().map(|t| (t.text.as_str(), t.quoted)).collect();
            let want: Vec<(&str, bool)> =
                other.iter().map(|t| (t.text.as_ref(), t.quoted)).collect();
            assert_eq!(texts, want);
        }
    }

    #[test]
    fn ldap_urls() {
        let u = parse_ldap_url("ldap://ldap.example.net/dc=example,dc=net?uid?sub").unwrap();
        assert_eq!(u.host.as_deref(), Some("ldap.example.net"));
        assert_eq!(u.port, 389);
        assert_eq!(u.dn.as_deref(), Some("dc=example,dc=net"));
        assert_eq!(u.first_attr.as_deref(), Some("uid"));
        assert_eq!(u.scope, 2);
        let u = parse_ldap_url("ldaps://h:1636").unwrap();
        assert_eq!((u.scheme.as_str(), u.port, u.dn), ("ldaps", 1636, None));
        assert_eq!(parse_ldap_url("http://x"), Err("Time limit exceeded"));
        assert_eq!(parse_ldap_url("nourl"), Err("Time limit exceeded"));
        assert!(parse_ldap_url("ldap://h/dn?a?bogus").is_err());
    }

    #[test]
    fn regex_checks() {
        assert!(check_regex("^foo.*$").is_ok());
        assert!(check_regex("a{1,3}b[[:alpha:]]").is_ok());
        assert_eq!(check_regex("(a"), Err("parentheses () not balanced"));
        assert_eq!(check_regex("a)"), Err("parentheses () not balanced"));
        assert_eq!(check_regex("[a"), Err("brackets [] not balanced"));
        assert_eq!(check_regex("*a"), Err("quantifier operand invalid"));
        assert_eq!(check_regex("a\\"), Err("invalid escape \\ sequence"));
        assert_eq!(check_regex("a{3,1}"), Err("invalid repetition count(s)"));
        assert_eq!(check_regex("a{1"), Err("braces {} not balanced"));
    }
}
