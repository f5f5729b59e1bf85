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
    ///
    /// The order is the server's: realm, map, client certificate, PAM service, then
    /// the options of the method's own family.
    pub(crate) fn render(&self, method: AuthMethod, expose_secrets: bool) -> Option<Vec<String>> {
        let mut out = Vec::new();
        if matches!(method, AuthMethod::Gss | AuthMethod::Sspi) {
            self.render_realm(&mut out);
        }
        self.render_common(&mut out);
        match method {
            AuthMethod::Ldap => self.render_ldap(&mut out, expose_secrets),
            AuthMethod::Radius => self.render_radius(&mut out, expose_secrets),
            AuthMethod::OAuth => self.render_oauth(&mut out),
            _ => {}
        }
        if out.is_empty() {
            None
        } else {
            Some(out)
        }
    }

    /// GSSAPI and SSPI: whether the realm is kept in the user name, and which realm.
    fn render_realm(&self, out: &mut Vec<String>) {
        if self.include_realm {
            out.push("include_realm=true".to_owned());
        }
        push_set(out, &[("krb_realm", &self.krb_realm)]);
    }

    /// The options the server shows before any method's family: the user name map,
    /// the client certificate check and the PAM service.
    fn render_common(&self, out: &mut Vec<String>) {
        push_set(out, &[("map", &self.usermap)]);
        match self.clientcert {
            ClientCert::Off => {}
            ClientCert::Ca => out.push("clientcert=verify-ca".to_owned()),
            ClientCert::Full => out.push("clientcert=verify-full".to_owned()),
        }
        push_set(out, &[("pamservice", &self.pamservice)]);
    }

    /// LDAP: the server and how to reach it, then simple bind (prefix, suffix) or
    /// search+bind (base DN, bind DN and password, search attribute or filter).
    fn render_ldap(&self, out: &mut Vec<String>, expose_secrets: bool) {
        push_set(out, &[("ldapserver", &self.ldapserver)]);
        if self.ldapport != 0 {
            out.push(format!("ldapport={}", self.ldapport));
        }
        push_set(out, &[("ldapscheme", &self.ldapscheme)]);
        if self.ldaptls {
            out.push("ldaptls=true".to_owned());
        }
        push_set(
            out,
            &[
                ("ldapprefix", &self.ldapprefix),
                ("ldapsuffix", &self.ldapsuffix),
                ("ldapbasedn", &self.ldapbasedn),
                ("ldapbinddn", &self.ldapbinddn),
            ],
        );
        if let Some(s) = self.ldapbindpasswd {
            out.push(format!("ldapbindpasswd={}", secret_text(s, expose_secrets)));
        }
        push_set(
            out,
            &[
                ("ldapsearchattribute", &self.ldapsearchattribute),
                ("ldapsearchfilter", &self.ldapsearchfilter),
            ],
        );
        if self.ldapscope != 0 {
            out.push(format!("ldapscope={}", self.ldapscope));
        }
    }

    /// RADIUS: each list as written (the server keeps the raw text for the view).
    fn render_radius(&self, out: &mut Vec<String>, expose_secrets: bool) {
        if let Some((_, raw)) = self.radiusservers {
            out.push(format!("radiusservers={raw}"));
        }
        if let Some((_, s)) = self.radiussecrets {
            out.push(format!("radiussecrets={}", secret_text(s, expose_secrets)));
        }
        let lists = [
            ("radiusidentifiers", &self.radiusidentifiers),
            ("radiusports", &self.radiusports),
        ];
        for (k, v) in lists {
            if let Some((_, raw)) = v {
                out.push(format!("{k}={raw}"));
            }
        }
    }

    /// OAuth (18+): issuer, scope, the validator (defaulted from
    /// `oauth_validator_libraries` when there is one) and whether it maps identities.
    fn render_oauth(&self, out: &mut Vec<String>) {
        push_set(
            out,
            &[
                ("issuer", &self.oauth_issuer),
                ("scope", &self.oauth_scope),
                ("validator", &self.oauth_validator),
            ],
        );
        if self.oauth_skip_usermap {
            out.push("delegate_ident_mapping=true".to_owned());
        }
    }
}

/// Appends `name=value` for each option that is set, in the order given.
fn push_set(out: &mut Vec<String>, options: &[(&str, &Option<Cow<'_, str>>)]) {
    for (k, v) in options {
        if let Some(v) = v {
            out.push(format!("{k}={v}"));
        }
    }
}

/// A secret option's value for the view: [`REDACTED`] unless the caller asked to see it.
fn secret_text(s: &Secret, expose_secrets: bool) -> String {
    if expose_secrets {
        s.expose_secret().to_owned()
    } else {
        REDACTED.to_owned()
    }
}

/// `parse_hba_line()`: the fields in the server's order (connection type, databases,
/// roles, address unless `local`, method, options), each refused with the server's
/// message; the options then pass `parse_hba_auth_opt()`'s checks.
pub(crate) fn parse_line(
    line: &TokLine<'_, '_>,
    opts: &HbaParseOptions,
    lists: &mut ListInterner,
) -> Result<HbaRule, LineError> {
    let major = opts.version.major();
    let mut fields = line.fields();
    let (conn_type, pending) = connection_type(fields.next(), opts)?;
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
    let address = if conn_type == ConnType::Local {
        None
    } else {
        Some(address(&mut fields)?)
    };
    let method = method_for(fields.next(), conn_type, major, &opts.build)?;
    let options = option_list(fields)?;
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

/// The connection type (the first field), and the problem it has on this server if
/// any. That problem is returned apart because the server reports it without
/// stopping: an error later on the line replaces it.
fn connection_type(
    field: Option<&[Token<'_>]>,
    opts: &HbaParseOptions,
) -> Result<(ConnType, Option<&'static str>), LineError> {
    // The server's own text, though the field missing is the connection type.
    let Some(field) = field else {
        return Err(LineError::shown(
            "end-of-line before database specification",
        ));
    };
    if field.len() > 1 {
        return Err(LineError::shown(
            "multiple values specified for connection type",
        ));
    }
    let build = &opts.build;
    let mut pending = None;
    let conn_type = match field.first().map(|t| t.text.as_ref()).unwrap_or_default() {
        "local" => ConnType::Local,
        "host" => ConnType::Host,
        "hostssl" => {
            if !build.ssl {
                pending =
                    Some("hostssl record cannot match because SSL is not supported by this build");
            } else if !opts.ssl_enabled {
                pending = Some("hostssl record cannot match because SSL is disabled");
            }
            ConnType::HostSsl
        }
        "hostnossl" => ConnType::HostNoSsl,
        "hostgssenc" => {
            if !build.gss {
                pending = Some(
                    "hostgssenc record cannot match because GSSAPI is not supported by this build",
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
    Ok((conn_type, pending))
}

/// The address field: a keyword (`all`, `samehost`, `samenet`, unquoted), a host name,
/// or a numeric address whose mask follows as `/bits` or in the next field.
fn address<'f, 't: 'f>(
    fields: &mut impl Iterator<Item = &'f [Token<'t>]>,
) -> Result<HbaAddress, LineError> {
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
        return Ok(HbaAddress::All);
    } else if kw("samehost") {
        return Ok(HbaAddress::SameHost);
    } else if kw("samenet") {
        return Ok(HbaAddress::SameNet);
    }
    let (host, cidr) = match split_at_byte(text, b'/') {
        Some((host, cidr)) => (host, Some(cidr)),
        None => (text, None),
    };
    match parse_numeric_host(host) {
        None if cidr.is_some() => Err(LineError::shown(format!(
            "specifying both host name and CIDR mask is invalid: \"{}\"",
            shown(text)
        ))),
        None => Ok(HbaAddress::HostName(host.to_owned())),
        Some(ip) => {
            let v6 = ip.is_ipv6();
            let mask = match cidr {
                Some(bits) => {
                    let Some(prefix) = cidr_bits(bits, v6) else {
                        return Err(LineError::shown(format!(
                            "invalid CIDR mask in address \"{}\"",
                            shown(text)
                        )));
                    };
                    mask_of(prefix, v6)
                }
                None => netmask(fields, v6)?,
            };
            network(ip, mask)
        }
    }
}

/// The netmask field that follows an address written without `/bits`; it must be of
/// the address's family.
fn netmask<'f, 't: 'f>(
    fields: &mut impl Iterator<Item = &'f [Token<'t>]>,
    v6: bool,
) -> Result<IpAddr, LineError> {
    let Some(mask_field) = fields.next() else {
        return Err(LineError::shown("end-of-line before netmask specification"));
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
    Ok(mask)
}

/// A numeric address and its mask: a network when the mask is a prefix, else the pair
/// as written (the server matches such a mask bit by bit).
fn network(ip: IpAddr, mask: IpAddr) -> Result<HbaAddress, LineError> {
    let prefix = leading_ones(mask);
    Ok(if mask_of(prefix, ip.is_ipv6()) == mask {
        let net = ipnet::IpNet::new(ip, prefix)
            .map_err(|_| LineError::shown("IP address and mask do not match"))?;
        HbaAddress::Net(net)
    } else {
        HbaAddress::Masked { addr: ip, mask }
    })
}

/// The method field, as the connection type allows it: `ident` on a local socket is
/// `peer`, `gss` needs TCP, `peer` a local socket and `cert` `hostssl`.
fn method_for(
    field: Option<&[Token<'_>]>,
    conn_type: ConnType,
    major: u32,
    build: &BuildFeatures,
) -> Result<AuthMethod, LineError> {
    let Some(field) = field else {
        return Err(LineError::shown("end-of-line before authentication method"));
    };
    if field.len() > 1 {
        return Err(LineError::shown(
            "multiple values specified for authentication type",
        ));
    }
    let mtext = field.first().map(|t| t.text.as_ref()).unwrap_or_default();
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
    Ok(method)
}

/// The `name=value` options after the method, every token of every remaining field.
fn option_list<'f, 't: 'f>(
    fields: impl Iterator<Item = &'f [Token<'t>]>,
) -> Result<Vec<HbaOption>, LineError> {
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
    Ok(options)
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
///
/// Each option family decides its own names (user name mapping and realms, OAuth,
/// client certificates, PAM, LDAP, RADIUS); a name none of them knows is refused.
/// Then the method's family must be complete and consistent.
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
    for option in &rule.options {
        // The server resets the scope before each option, so only an ldapurl that is
        // the last option keeps its own.
        if opts.build.ldap {
            r.ldapscope = LDAP_SCOPE_SUBTREE;
        }
        r.set_option(option, rule, major)?;
    }
    match method {
        AuthMethod::Ldap => r.check_ldap(major)?,
        AuthMethod::Radius => r.check_radius()?,
        AuthMethod::OAuth => r.check_oauth(&opts.oauth_validator_libraries)?,
        // `cert` always checks the certificate: as verify-ca up to 13, verify-full
        // from 14 (what the view shows).
        AuthMethod::Cert => {
            r.clientcert = if major <= 13 {
                ClientCert::Ca
            } else {
                ClientCert::Full
            };
        }
        _ => {}
    }
    Ok(r)
}

const LDAP_SCOPE_SUBTREE: i64 = 2;

/// The error for an option written with a method it does not belong to.
fn invalid(name: &str, methods: &str) -> LineError {
    LineError::shown(format!(
        "authentication option \"{name}\" is only valid for authentication methods {methods}"
    ))
}

/// Refuses option `name` unless the rule's `method` is `wanted` (`methods` names it as
/// the server's message does).
fn require(
    method: AuthMethod,
    wanted: AuthMethod,
    name: &str,
    methods: &str,
) -> Result<(), LineError> {
    if method == wanted {
        Ok(())
    } else {
        Err(invalid(name, methods))
    }
}

/// Refuses a client certificate option on a line that is not `hostssl`.
fn hostssl_only(conn_type: ConnType, name: &str) -> Result<(), LineError> {
    if conn_type == ConnType::HostSsl {
        Ok(())
    } else {
        Err(LineError::shown(format!(
            "{name} can only be configured for \"hostssl\" rows"
        )))
    }
}

/// The LDAP options; each is valid only with `ldap`.
const LDAP_OPTIONS: [&str; 12] = [
    "ldapurl",
    "ldaptls",
    "ldapscheme",
    "ldapserver",
    "ldapport",
    "ldapbinddn",
    "ldapbindpasswd",
    "ldapsearchattribute",
    "ldapsearchfilter",
    "ldapbasedn",
    "ldapprefix",
    "ldapsuffix",
];

/// The RADIUS options; each is valid only with `radius`.
const RADIUS_OPTIONS: [&str; 4] = [
    "radiusservers",
    "radiusports",
    "radiussecrets",
    "radiusidentifiers",
];

impl<'a> ResolvedOptions<'a> {
    /// One option, handed to the family that knows its name. An LDAP or RADIUS
    /// option is refused with any other method before its value is looked at.
    fn set_option(
        &mut self,
        option: &'a HbaOption,
        rule: &HbaRule,
        major: u32,
    ) -> Result<(), LineError> {
        let (name, val) = (option.name(), option.expose_value());
        let known = self.set_mapping_option(name, val, rule.method, major)?
            || (major >= 18 && self.set_oauth_option(name, val, rule.method)?)
            || self.set_certificate_option(name, val, rule, major)?
            || self.set_pam_option(name, val, rule.method)?;
        if known {
            Ok(())
        } else if LDAP_OPTIONS.contains(&name) {
            require(rule.method, AuthMethod::Ldap, name, "ldap")?;
            self.set_ldap_option(option)
        } else if RADIUS_OPTIONS.contains(&name) {
            require(rule.method, AuthMethod::Radius, name, "radius")?;
            self.set_radius_option(option)
        } else {
            Err(LineError::shown(format!(
                "unrecognized authentication option name: \"{name}\""
            )))
        }
    }

    /// User name mapping and Kerberos realms: `map` (ident, peer, gssapi, sspi, cert;
    /// oauth from 18), `krb_realm` and `include_realm` (gssapi, sspi), `compat_realm`
    /// and `upn_username` (sspi; nothing to keep). `Ok(false)` when `name` is not of
    /// this family.
    fn set_mapping_option(
        &mut self,
        name: &str,
        val: &'a str,
        method: AuthMethod,
        major: u32,
    ) -> Result<bool, LineError> {
        let kerberos = matches!(method, AuthMethod::Gss | AuthMethod::Sspi);
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
                self.usermap = Some(Cow::Borrowed(val));
            }
            "krb_realm" => {
                if !kerberos {
                    return Err(invalid("krb_realm", "gssapi and sspi"));
                }
                self.krb_realm = Some(Cow::Borrowed(val));
            }
            "include_realm" => {
                if !kerberos {
                    return Err(invalid("include_realm", "gssapi and sspi"));
                }
                self.include_realm = val == "1";
            }
            "compat_realm" | "upn_username" => {
                if method != AuthMethod::Sspi {
                    return Err(invalid(name, "sspi"));
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// PostgreSQL 18's OAuth options (earlier majors: unrecognized names, so the caller
    /// asks only from 18 on). `Ok(false)` when `name` is not of this family.
    fn set_oauth_option(
        &mut self,
        name: &str,
        val: &'a str,
        method: AuthMethod,
    ) -> Result<bool, LineError> {
        let field = match name {
            "issuer" => &mut self.oauth_issuer,
            "scope" => &mut self.oauth_scope,
            "validator" => &mut self.oauth_validator,
            "delegate_ident_mapping" => {
                require(method, AuthMethod::OAuth, name, "oauth")?;
                self.oauth_skip_usermap = val == "1";
                return Ok(true);
            }
            _ => return Ok(false),
        };
        require(method, AuthMethod::OAuth, name, "oauth")?;
        *field = Some(Cow::Borrowed(val));
        Ok(true)
    }

    /// Client certificates, on `hostssl` lines only: `clientcert` (the check's level)
    /// and, from 14, `clientname` (CN or DN; nothing to keep). `Ok(false)` when `name`
    /// is not of this family.
    fn set_certificate_option(
        &mut self,
        name: &str,
        val: &str,
        rule: &HbaRule,
        major: u32,
    ) -> Result<bool, LineError> {
        match name {
            "clientcert" => {
                hostssl_only(rule.conn_type, name)?;
                self.clientcert = clientcert_level(val, rule.method, major)?;
            }
            "clientname" if major >= 14 => {
                hostssl_only(rule.conn_type, name)?;
                if val != "CN" && val != "DN" {
                    return Err(LineError::hidden(format!(
                        "invalid value for clientname: \"{val}\""
                    )));
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// PAM: `pamservice` and `pam_use_hostname` (nothing to keep). `Ok(false)` when
    /// `name` is not of this family.
    fn set_pam_option(
        &mut self,
        name: &str,
        val: &'a str,
        method: AuthMethod,
    ) -> Result<bool, LineError> {
        match name {
            "pamservice" => {
                require(method, AuthMethod::Pam, name, "pam")?;
                self.pamservice = Some(Cow::Borrowed(val));
            }
            "pam_use_hostname" => require(method, AuthMethod::Pam, name, "pam")?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// LDAP: the server (`ldapurl`, or `ldapscheme`, `ldapserver`, `ldapport`,
    /// `ldaptls`), simple bind (`ldapprefix`, `ldapsuffix`) and search+bind (the rest).
    /// An invalid `ldapscheme` is only logged by the server: the value is kept.
    fn set_ldap_option(&mut self, option: &'a HbaOption) -> Result<(), LineError> {
        let (name, val) = (option.name(), option.expose_value());
        let text = Some(Cow::Borrowed(val));
        match name {
            "ldapurl" => self.set_ldap_url(val)?,
            "ldaptls" => self.ldaptls = val == "1",
            "ldapport" => {
                self.ldapport = atoi(val);
                if self.ldapport == 0 {
                    return Err(LineError::shown(format!(
                        "invalid LDAP port number: \"{val}\""
                    )));
                }
            }
            "ldapbindpasswd" => self.ldapbindpasswd = option.secret(),
            "ldapscheme" => self.ldapscheme = text,
            "ldapserver" => self.ldapserver = text,
            "ldapbinddn" => self.ldapbinddn = text,
            "ldapsearchattribute" => self.ldapsearchattribute = text,
            "ldapsearchfilter" => self.ldapsearchfilter = text,
            "ldapbasedn" => self.ldapbasedn = text,
            "ldapprefix" => self.ldapprefix = text,
            "ldapsuffix" => self.ldapsuffix = text,
            // Not of LDAP_OPTIONS: `set_option` does not hand it here.
            _ => {}
        }
        Ok(())
    }

    /// `ldapurl`: the scheme, server, port, base DN, first attribute, scope and filter
    /// of the URL, each replacing what earlier options set (the port always, the others
    /// only where the URL has them).
    fn set_ldap_url(&mut self, val: &str) -> Result<(), LineError> {
        let url = parse_ldap_url(val)
            .map_err(|rc| LineError::shown(format!("could not parse LDAP URL \"{val}\": {rc}")))?;
        if url.scheme != "ldap" && url.scheme != "ldaps" {
            return Err(LineError::shown(format!(
                "unsupported LDAP URL scheme: {}",
                url.scheme
            )));
        }
        self.ldapscheme = Some(Cow::Owned(url.scheme.clone()));
        if let Some(h) = url.host {
            self.ldapserver = Some(Cow::Owned(h));
        }
        self.ldapport = url.port;
        if let Some(dn) = url.dn {
            self.ldapbasedn = Some(Cow::Owned(dn));
        }
        if let Some(a) = url.first_attr {
            self.ldapsearchattribute = Some(Cow::Owned(a));
        }
        self.ldapscope = url.scope;
        if let Some(f) = url.filter {
            self.ldapsearchfilter = Some(Cow::Owned(f));
        }
        Ok(())
    }

    /// RADIUS: each option a list; the view shows it as written, the final checks
    /// count its elements. Some errors are only logged by the server (hidden).
    fn set_radius_option(&mut self, option: &'a HbaOption) -> Result<(), LineError> {
        let (name, val) = (option.name(), option.expose_value());
        match name {
            "radiusservers" => {
                let list = split_guc_list(val).ok_or_else(|| {
                    LineError::hidden(format!("could not parse RADIUS server list \"{val}\""))
                })?;
                self.radiusservers = Some((list.len(), val));
            }
            "radiusports" => {
                let list = split_guc_list(val).ok_or_else(|| {
                    LineError::shown(format!("invalid RADIUS port number: \"{val}\""))
                })?;
                if list.iter().any(|p| atoi(p) == 0) {
                    return Err(LineError::hidden(format!(
                        "invalid RADIUS port number: \"{val}\""
                    )));
                }
                self.radiusports = Some((list.len(), val));
            }
            "radiussecrets" => {
                let list = split_guc_list(val).ok_or_else(|| {
                    LineError::hidden(format!("could not parse RADIUS secret list \"{REDACTED}\""))
                })?;
                self.radiussecrets = option.secret().map(|s| (list.len(), s));
            }
            "radiusidentifiers" => {
                let list = split_guc_list(val).ok_or_else(|| {
                    LineError::hidden(format!("could not parse RADIUS identifiers list \"{val}\""))
                })?;
                self.radiusidentifiers = Some((list.len(), val));
            }
            // Not of RADIUS_OPTIONS: `set_option` does not hand it here.
            _ => {}
        }
        Ok(())
    }

    /// `ldap` needs one bind mode: simple bind (a prefix or suffix) or search+bind (a
    /// base DN), not options of both, and not both a search attribute and a filter.
    fn check_ldap(&self, major: u32) -> Result<(), LineError> {
        if self.ldapprefix.is_some() || self.ldapsuffix.is_some() {
            if self.ldapbasedn.is_some()
                || self.ldapbinddn.is_some()
                || self.ldapbindpasswd.is_some()
                || self.ldapsearchattribute.is_some()
                || self.ldapsearchfilter.is_some()
            {
                return Err(LineError::shown(if major >= 18 {
                    "cannot mix options for simple bind and search+bind modes"
                } else {
                    "cannot use ldapbasedn, ldapbinddn, ldapbindpasswd, ldapsearchattribute, ldapsearchfilter, or ldapurl together with ldapprefix"
                }));
            }
        } else if self.ldapbasedn.is_none() {
            return Err(LineError::shown(
                "authentication method \"ldap\" requires argument \"ldapbasedn\", \"ldapprefix\", or \"ldapsuffix\" to be set",
            ));
        }
        if self.ldapsearchattribute.is_some() && self.ldapsearchfilter.is_some() {
            return Err(LineError::shown(
                "cannot use ldapsearchattribute together with ldapsearchfilter",
            ));
        }
        Ok(())
    }

    /// `radius` needs servers and secrets; each other list has one element, or one
    /// per server.
    fn check_radius(&self) -> Result<(), LineError> {
        let count = |o: Option<usize>| o.unwrap_or(0);
        let (servers, secrets) = (
            count(self.radiusservers.map(|(n, _)| n)),
            count(self.radiussecrets.map(|(n, _)| n)),
        );
        let (ports, idents) = (
            count(self.radiusports.map(|(n, _)| n)),
            count(self.radiusidentifiers.map(|(n, _)| n)),
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
        Ok(())
    }

    /// `oauth` needs a scope and an issuer (checked in that order), a validator the
    /// server's `oauth_validator_libraries` permits (`check_oauth_validator()`), and
    /// no `map` when identities are delegated to the validator.
    fn check_oauth(&mut self, libraries: &str) -> Result<(), LineError> {
        if self.oauth_scope.is_none() {
            return Err(LineError::shown(
                "authentication method \"oauth\" requires argument \"scope\" to be set",
            ));
        }
        if self.oauth_issuer.is_none() {
            return Err(LineError::shown(
                "authentication method \"oauth\" requires argument \"issuer\" to be set",
            ));
        }
        self.check_validator(libraries)?;
        if self.oauth_skip_usermap && self.usermap.is_some() {
            return Err(LineError::shown(
                "map cannot be used in combination with delegate_ident_mapping",
            ));
        }
        Ok(())
    }

    /// The line's validator against `oauth_validator_libraries` (raw): with one
    /// library, an unnamed validator is that one; with several, it must be named.
    fn check_validator(&mut self, raw: &str) -> Result<(), LineError> {
        if raw.is_empty() {
            return Err(LineError::shown(
                "oauth_validator_libraries must be set for authentication method oauth",
            ));
        }
        let libraries = split_guc_list(raw).ok_or_else(|| {
            LineError::shown("invalid list syntax in parameter \"oauth_validator_libraries\"")
        })?;
        match &self.oauth_validator {
            None if libraries.len() == 1 => {
                self.oauth_validator = libraries.into_iter().next().map(Cow::Owned);
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
        Ok(())
    }
}

/// The `clientcert` level. Up to 13 the values are `1`/`verify-ca`, `verify-full` and
/// `0`/`no-verify` (refused with `cert`); from 14 only `verify-ca` (refused with `cert`)
/// and `verify-full`. An unknown value is only logged by the server (hidden).
fn clientcert_level(val: &str, method: AuthMethod, major: u32) -> Result<ClientCert, LineError> {
    let unknown = || {
        Err(LineError::hidden(format!(
            "invalid value for clientcert: \"{val}\""
        )))
    };
    if major <= 13 {
        match val {
            "1" | "verify-ca" => Ok(ClientCert::Ca),
            "verify-full" => Ok(ClientCert::Full),
            "0" | "no-verify" if method == AuthMethod::Cert => Err(LineError::shown(
                "clientcert can not be set to \"no-verify\" when using \"cert\" authentication",
            )),
            "0" | "no-verify" => Ok(ClientCert::Off),
            _ => unknown(),
        }
    } else {
        match val {
            "verify-full" => Ok(ClientCert::Full),
            "verify-ca" if method == AuthMethod::Cert => Err(LineError::shown(
                "clientcert can only be set to \"verify-full\" when using \"cert\" authentication",
            )),
            "verify-ca" => Ok(ClientCert::Ca),
            _ => unknown(),
        }
    }
}

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

/// `ldap_err2string()` of OpenLDAP's `LDAP_URL_ERR_*` codes, which it maps onto
/// unrelated result-code texts; the server shows them as they are.
const LDAP_URL_ERR_BADSCHEME: &str = "Time limit exceeded"; // LDAP_URL_ERR_BADSCHEME = 3
const LDAP_URL_ERR_BADENCLOSURE: &str = "Size limit exceeded"; // 4
const LDAP_URL_ERR_BADURL: &str = "Compare False"; // 5
const LDAP_URL_ERR_BADSCOPE: &str = "Strong(er) authentication required"; // 8

/// A subset of OpenLDAP's `ldap_url_parse()`. The error is `ldap_err2string()` of the
/// `LDAP_URL_ERR_*` code.
///
/// The steps follow OpenLDAP's, so that a URL with several faults reports the one
/// OpenLDAP finds first: scheme, enclosure, host and port, DN, then the query.
fn parse_ldap_url(url: &str) -> Result<LdapUrl, &'static str> {
    let (s, enclosed) = unwrap_ldap_url(url);
    let (scheme, rest) = s.split_once("://").ok_or(LDAP_URL_ERR_BADSCHEME)?;
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "ldap" | "ldaps" | "ldapi" | "cldap") {
        return Err(LDAP_URL_ERR_BADSCHEME);
    }
    let rest = if enclosed {
        rest.strip_suffix('>').ok_or(LDAP_URL_ERR_BADENCLOSURE)?
    } else {
        rest
    };
    let (hostport, dn_part, query) = split_ldap_url(rest);
    let (host, port) = split_host_port(hostport)?;
    let mut out = LdapUrl {
        port: ldap_port(port, &scheme)?,
        scheme,
        ..LdapUrl::default()
    };
    let host = percent_decode(host).ok_or(LDAP_URL_ERR_BADURL)?;
    if !host.is_empty() {
        out.host = Some(host);
    }
    out.scope = 0; // LDAP_SCOPE_DEFAULT becomes LDAP_SCOPE_BASE
    if let Some(dn) = dn_part {
        out.dn = Some(percent_decode(dn).ok_or(LDAP_URL_ERR_BADURL)?);
    }
    if let Some(query) = query {
        read_ldap_query(query, &mut out)?;
    }
    Ok(out)
}

/// The URL without leading blanks, an opening `<` (whether there was one: then the
/// URL must end in `>`) and a `URL:` prefix.
fn unwrap_ldap_url(url: &str) -> (&str, bool) {
    let mut s = url.trim_start();
    let enclosed = s.starts_with('<');
    if enclosed {
        s = &s[1..];
    }
    if s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("URL:")) {
        s = &s[4..];
    }
    (s, enclosed)
}

/// `host/dn?attrs?scope?filter` into the host and port, the DN and the query. Without
/// a `/`, a `?` after the host starts the attributes and there is no DN (OpenLDAP's
/// "Novell kludge").
fn split_ldap_url(rest: &str) -> (&str, Option<&str>, Option<&str>) {
    match rest.find('/') {
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
    }
}

/// `host:port`, `[v6]:port`, or either without the port.
fn split_host_port(hostport: &str) -> Result<(&str, Option<&str>), &'static str> {
    if let Some(h) = hostport.strip_prefix('[') {
        let close = h.find(']').ok_or(LDAP_URL_ERR_BADURL)?;
        let after = &h[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(LDAP_URL_ERR_BADURL),
        };
        Ok((&h[..close], port))
    } else {
        Ok(match hostport.rfind(':') {
            Some(i) => (&hostport[..i], Some(&hostport[i + 1..])),
            None => (hostport, None),
        })
    }
}

/// The port written in the URL, else the scheme's (636 for `ldaps`, else 389).
fn ldap_port(port: Option<&str>, scheme: &str) -> Result<i64, &'static str> {
    let explicit = match port {
        Some(p) if !p.is_empty() => {
            let v: i64 = p.parse().map_err(|_| LDAP_URL_ERR_BADURL)?;
            if !(0..=65535).contains(&v) {
                return Err(LDAP_URL_ERR_BADURL);
            }
            v
        }
        _ => 0,
    };
    Ok(match (explicit, scheme) {
        (0, "ldaps") => 636,
        (0, _) => 389,
        (p, _) => p,
    })
}

/// `attrs?scope?filter`: the first attribute (PostgreSQL searches by one), the scope
/// and the filter, each optional.
fn read_ldap_query(query: &str, out: &mut LdapUrl) -> Result<(), &'static str> {
    let mut parts = query.splitn(4, '?');
    if let Some(attrs) = parts.next() {
        let first = attrs.split(',').next().unwrap_or_default();
        if !attrs.is_empty() {
            out.first_attr = Some(percent_decode(first).ok_or(LDAP_URL_ERR_BADURL)?);
        }
    }
    if let Some(scope) = parts.next() {
        out.scope = match scope.to_ascii_lowercase().as_str() {
            "" | "base" => 0,
            "one" | "onelevel" => 1,
            "sub" | "subtree" => 2,
            "subord" | "subordinate" | "children" => 3,
            _ => return Err(LDAP_URL_ERR_BADSCOPE),
        };
    }
    if let Some(filter) = parts.next() {
        if !filter.is_empty() {
            out.filter = Some(percent_decode(filter).ok_or(LDAP_URL_ERR_BADURL)?);
        }
    }
    Ok(())
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
///
/// One pass from left to right; escapes, bracket expressions and bounds are skipped
/// whole by their own steps, and `operand` says whether the item before can take a
/// quantifier.
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
                i = bracket_end(b, i)? + 1;
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
                i = quantifier_end(b, i, operand)?;
                operand = false;
            }
            b'{' => {
                i = bound_end(re, i, operand)?;
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

/// Where the bracket expression opened at `start` closes. A `]` first (after an
/// optional `^`) is a member, and `[:class:]`, `[.coll.]` and `[=equiv=]` inside are
/// skipped whole, so their `]` does not close it.
fn bracket_end(b: &[u8], start: usize) -> Result<usize, &'static str> {
    let mut j = start + 1;
    if b.get(j) == Some(&b'^') {
        j += 1;
    }
    if b.get(j) == Some(&b']') {
        j += 1;
    }
    loop {
        match b.get(j) {
            None => return Err("brackets [] not balanced"),
            Some(b']') => return Ok(j),
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
}

/// The last byte of the quantifier `*`, `+` or `?` at `at`: ARE allows one non-greedy
/// `?` after it, but not another quantifier.
fn quantifier_end(b: &[u8], at: usize, operand: bool) -> Result<usize, &'static str> {
    if !operand {
        return Err("quantifier operand invalid");
    }
    let mut i = at;
    if b.get(i + 1) == Some(&b'?') {
        i += 1;
    }
    if matches!(b.get(i + 1), Some(b'*' | b'+' | b'{')) {
        return Err("quantifier operand invalid");
    }
    Ok(i)
}

/// The last byte of the bound `{m}`, `{m,}` or `{m,n}` at `at` (and of a non-greedy
/// `?` after it): counts up to 255, `m` present, `n` not below `m`.
fn bound_end(re: &str, at: usize, operand: bool) -> Result<usize, &'static str> {
    if !operand {
        return Err("quantifier operand invalid");
    }
    let b = re.as_bytes();
    let Some(close) = b[at..].iter().position(|&c| c == b'}').map(|p| p + at) else {
        return Err("braces {} not balanced");
    };
    let inner = &re[at + 1..close];
    let (lo, hi) = match inner.split_once(',') {
        Some((lo, hi)) => (lo, Some(hi)),
        None => (inner, None),
    };
    let lo = repetition_count(lo)?.ok_or("invalid repetition count(s)")?;
    if let Some(hi) = hi {
        if let Some(h) = repetition_count(hi)? {
            if h < lo {
                return Err("invalid repetition count(s)");
            }
        }
    }
    if b.get(close + 1) == Some(&b'?') {
        return Ok(close + 1);
    }
    Ok(close)
}

/// One count of a bound: None when empty, else digits up to 255.
fn repetition_count(s: &str) -> Result<Option<u32>, &'static str> {
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
