//! pg_hba.conf rules: `hba.*`.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;

use super::{ident, need, Eval};
use crate::hash::{key_map, mix, mix_bytes, FxBuildHasher, KeyMap};
use crate::hba::{
    AuthMethod, ConnType, HbaAddress, HbaFile, HbaLine, HbaRule, HbaToken, PgVersion,
};
use crate::report::{FindingText, Location};

/// One accepted rule with its line.
#[derive(Clone, Copy)]
struct Line<'a> {
    line: &'a HbaLine,
    rule: &'a HbaRule,
}

fn accepted(hba: &HbaFile) -> impl DoubleEndedIterator<Item = Line<'_>> {
    hba.lines.iter().filter_map(|line| match &line.result {
        Ok(rule) => Some(Line { line, rule }),
        Err(_) => None,
    })
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn push_token(out: &mut String, t: &HbaToken) {
    if t.quoted {
        out.push('"');
        for (i, part) in t.text.split('"').enumerate() {
            if i > 0 {
                out.push_str("\"\"");
            }
            out.push_str(part);
        }
        out.push('"');
    } else {
        out.push_str(&t.text);
    }
}

fn push_list(out: &mut String, ts: &[HbaToken]) {
    for (i, t) in ts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_token(out, t);
    }
}

fn push_address(out: &mut String, a: &HbaAddress) {
    use std::fmt::Write as _;
    match a {
        HbaAddress::All => out.push_str("all"),
        HbaAddress::SameHost => out.push_str("samehost"),
        HbaAddress::SameNet => out.push_str("samenet"),
        // IPv4 by hand (the digits `Display` writes), without the formatting machinery.
        HbaAddress::Net(IpNet::V4(n)) => {
            for (i, octet) in n.addr().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_number(out, usize::from(octet));
            }
            out.push('/');
            push_number(out, usize::from(n.prefix_len()));
        }
        HbaAddress::Net(n) => {
            let _ = write!(out, "{}/{}", n.addr(), n.prefix_len());
        }
        HbaAddress::HostName(h) => out.push_str(h),
        HbaAddress::Masked { addr, mask } => {
            let _ = write!(out, "{addr} {mask}");
        }
        #[allow(unreachable_patterns)]
        _ => out.push('?'),
    }
}

/// How many decimal digits `n` has.
fn number_len(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// Decimal digits of `n`, without the formatting machinery.
fn push_number(out: &mut String, n: usize) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// A rule as one normalised line (`host all all 0.0.0.0/0 trust`), built into a buffer
/// reused from line to line, with the ends of its parts so that variants of the line
/// (another type, method, address or names) are sliced from it instead of rebuilt.
#[derive(Default)]
struct RuleText {
    buf: String,
    /// End of the connection type.
    conn_end: usize,
    /// End of `conn databases users ` (where the address starts).
    users_end: usize,
    /// End of `conn databases users [address] ` (where the method starts).
    head_end: usize,
}

impl RuleText {
    fn of(r: &HbaRule) -> Self {
        let mut t = RuleText::default();
        t.set(r);
        t
    }

    fn set(&mut self, r: &HbaRule) {
        let out = &mut self.buf;
        out.clear();
        out.push_str(r.conn_type.as_str());
        self.conn_end = out.len();
        out.push(' ');
        push_list(out, &r.databases);
        out.push(' ');
        push_list(out, &r.users);
        out.push(' ');
        self.users_end = out.len();
        if let Some(a) = &r.address {
            push_address(out, a);
            out.push(' ');
        }
        self.head_end = out.len();
        out.push_str(r.method.as_str());
        for o in &r.options {
            out.push(' ');
            out.push_str(o.name());
            out.push('=');
            // A secret option's value is `<redacted>`.
            out.push_str(o.value());
        }
    }

    fn as_str(&self) -> &str {
        &self.buf
    }

    // The ends are recorded while `buf` is built, so the slices below are in range and
    // on character boundaries.

    /// Appends the rule's line with `conn` (or its own type) and `method` and no
    /// options, then `extra`: a line to paste.
    fn push_with_method(&self, out: &mut String, conn: Option<&str>, method: &str, extra: &str) {
        out.push_str(conn.unwrap_or(&self.buf[..self.conn_end]));
        out.push_str(&self.buf[self.conn_end..self.head_end]);
        out.push_str(method);
        out.push_str(extra);
    }

    /// Appends the line with `address` in place of the rule's address.
    fn push_with_address(&self, out: &mut String, address: &str) {
        out.push_str(&self.buf[..self.users_end]);
        out.push_str(address);
        out.push(' ');
        out.push_str(&self.buf[self.head_end..]);
    }

    /// Appends the line with `names` (`databases users`) in place of the rule's lists.
    fn push_with_names(&self, out: &mut String, names: &str) {
        out.push_str(&self.buf[..self.conn_end]);
        out.push(' ');
        out.push_str(names);
        out.push(' ');
        out.push_str(&self.buf[self.users_end..]);
    }
}

/// A rule as one normalised line (`host all all 0.0.0.0/0 trust`).
pub(crate) fn rule_text(r: &HbaRule) -> String {
    RuleText::of(r).buf
}

impl Line<'_> {
    fn location(&self) -> Location {
        Location::file_line(self.line.file.clone(), self.line.line_number)
    }

    /// Appends the fingerprint object: the file name and the normalised rule `text`,
    /// not the line number, so suppressions survive edits above the line.
    fn push_object(&self, out: &mut String, text: &RuleText) {
        out.push_str(file_name(&self.line.file));
        out.push_str(": ");
        out.push_str(text.as_str());
    }

    /// A capacity for [`Self::push_object`].
    fn object_len(&self, text: &RuleText) -> usize {
        self.line.file.len() + 2 + text.as_str().len()
    }

    /// Appends `file:line: rule` (the rule's `text`), for evidence.
    fn push_at(&self, out: &mut String, text: &RuleText) {
        out.push_str(&self.line.file);
        out.push(':');
        push_number(out, self.line.line_number);
        out.push_str(": ");
        out.push_str(text.as_str());
    }

    /// The length of what [`Self::push_at`] appends.
    fn at_len(&self, text: &RuleText) -> usize {
        self.line.file.len() + 1 + number_len(self.line.line_number) + 2 + text.as_str().len()
    }
}

/// Emits one finding per accepted line `rule` fires on; `fix` gets the rule and its
/// text, and appends the remediation.
fn per_line(
    ev: &mut Eval<'_>,
    rule: LineRule,
    why: &str,
    fix: impl Fn(&HbaRule, &RuleText, &mut String),
) {
    let hba = need!(ev, ev.hba());
    let (mut text, mut remediation) = (RuleText::default(), String::new());
    each_hit(ev, hba, rule.bit(), |ev, line| {
        let Ok(r) = &line.result else { return };
        let l = Line { line, rule: r };
        text.set(r);
        // The remediation goes to a reused buffer first, so that the finding's texts
        // are allocated at their exact size.
        remediation.clear();
        fix(r, &text, &mut remediation);
        let capacity = l.at_len(&text) + 3 + why.len() + remediation.len() + l.object_len(&text);
        let finding = FindingText::write(
            capacity,
            |b| {
                l.push_at(b, &text);
                b.push_str(" (");
                b.push_str(why);
                b.push(')');
            },
            |b| b.push_str(&remediation),
            |b| l.push_object(b, &text),
        );
        ev.emit_text(l.location(), finding);
    });
}

/// The `hba.*` rules decided on one accepted line at a time.
#[derive(Clone, Copy)]
enum LineRule {
    TrustNetwork,
    TrustLocal,
    PasswordCleartext,
    Md5,
    IdentNetwork,
    PlaintextAllowed,
    WideAddress,
    AllDbAllUsers,
    ReplicationWide,
}

impl LineRule {
    const ALL: [LineRule; 9] = [
        LineRule::TrustNetwork,
        LineRule::TrustLocal,
        LineRule::PasswordCleartext,
        LineRule::Md5,
        LineRule::IdentNetwork,
        LineRule::PlaintextAllowed,
        LineRule::WideAddress,
        LineRule::AllDbAllUsers,
        LineRule::ReplicationWide,
    ];

    /// Whether the rule fires on `r`.
    fn fires(self, r: &HbaRule) -> bool {
        match self {
            LineRule::TrustNetwork => r.conn_type.is_network() && r.method == AuthMethod::Trust,
            LineRule::TrustLocal => {
                r.conn_type == ConnType::Local
                    && r.method == AuthMethod::Trust
                    && r.users.iter().any(|u| u.is_keyword("all"))
            }
            LineRule::PasswordCleartext => r.method == AuthMethod::Password,
            LineRule::Md5 => r.method == AuthMethod::Md5,
            LineRule::IdentNetwork => r.conn_type.is_network() && r.method == AuthMethod::Ident,
            LineRule::PlaintextAllowed => {
                matches!(r.conn_type, ConnType::Host | ConnType::HostNoSsl)
                    && r.method != AuthMethod::Reject
            }
            LineRule::WideAddress => {
                r.conn_type.is_network()
                    && r.method != AuthMethod::Reject
                    && is_wide(r.address.as_ref())
            }
            LineRule::AllDbAllUsers => {
                r.conn_type.is_network()
                    && r.method != AuthMethod::Reject
                    && r.databases.iter().any(|d| d.is_keyword("all"))
                    && r.users.iter().any(|u| u.is_keyword("all"))
            }
            LineRule::ReplicationWide => {
                r.conn_type.is_network()
                    && r.method != AuthMethod::Reject
                    && r.databases.iter().any(|d| d.is_keyword("replication"))
                    && (r.users.iter().any(|u| u.is_keyword("all")) || is_wide(r.address.as_ref()))
            }
        }
    }

    /// The rule's bit in [`line_hits`].
    fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// The bit of an error line in [`line_hits`].
const ERROR_BIT: u16 = 1 << 15;

/// The lines of `hba` on which a line rule fires, or that are errors, with the bits of
/// what they trigger: one pass over the file for all these rules, instead of one per
/// rule (a large file is read from memory, not from cache, each time).
fn line_hits(hba: &HbaFile) -> Vec<(usize, u16)> {
    let mut hits = Vec::new();
    for (i, line) in hba.lines.iter().enumerate() {
        let bits = match &line.result {
            Ok(r) => LineRule::ALL
                .into_iter()
                .filter(|rule| rule.fires(r))
                .fold(0, |bits, rule| bits | rule.bit()),
            Err(_) => ERROR_BIT,
        };
        if bits != 0 {
            hits.push((i, bits));
        }
    }
    hits
}

/// Calls `f` with each line of `hba` with any of `bits`, in file order. The hits are
/// found by the first caller of an evaluation and kept for the others.
fn each_hit(
    ev: &mut Eval<'_>,
    hba: &HbaFile,
    bits: u16,
    mut f: impl FnMut(&mut Eval<'_>, &HbaLine),
) {
    let hits = ev.hba_hits.take().unwrap_or_else(|| line_hits(hba));
    ev.reserve(hits.iter().filter(|(_, b)| b & bits != 0).count());
    for &(i, b) in &hits {
        if let (true, Some(line)) = (b & bits != 0, hba.lines.get(i)) {
            f(ev, line);
        }
    }
    ev.hba_hits = Some(hits);
}

fn secure_conn(r: &HbaRule) -> Option<&'static str> {
    matches!(r.conn_type, ConnType::Host | ConnType::HostNoSsl)
        .then_some(ConnType::HostSsl.as_str())
}

/// `hba.parse_error`: a line the server rejects.
pub(super) fn parse_error(ev: &mut Eval<'_>) {
    let hba = need!(ev, ev.hba());
    each_hit(ev, hba, ERROR_BIT, |ev, line| {
        if let Err(msg) = &line.result {
            ev.emit(
                format!("{}:{}: {msg}", file_name(&line.file), line.line_number),
                Location::file_line(line.file.clone(), line.line_number),
                format!("{}:{}: {msg}", line.file, line.line_number),
                "Fix or remove the line, then check: SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL;",
            );
        }
    });
}

/// `hba.trust_network`: a `host*` line with trust.
pub(super) fn trust_network(ev: &mut Eval<'_>) {
    per_line(
        ev,
        LineRule::TrustNetwork,
        "network clients connect without a password",
        |r, t, b| t.push_with_method(b, secure_conn(r), "scram-sha-256", ""),
    );
}

/// `hba.trust_local`: a `local` line with trust for all users.
pub(super) fn trust_local(ev: &mut Eval<'_>) {
    per_line(
        ev,
        LineRule::TrustLocal,
        "every local OS user connects as any role",
        |_, t, b| t.push_with_method(b, None, "peer", ""),
    );
}

/// `hba.password_cleartext`: method password.
pub(super) fn password_cleartext(ev: &mut Eval<'_>) {
    per_line(
        ev,
        LineRule::PasswordCleartext,
        "the password is sent in clear text",
        |r, t, b| t.push_with_method(b, secure_conn(r), "scram-sha-256", ""),
    );
}

/// `hba.md5`: method md5.
pub(super) fn md5(ev: &mut Eval<'_>) {
    per_line(ev, LineRule::Md5, "md5 authentication", |_, t, b| {
        t.push_with_method(
            b,
            None,
            "scram-sha-256",
            "\n# first: password_encryption = 'scram-sha-256' and reset the roles' passwords",
        )
    });
}

/// `hba.ident_network`: ident on a `host*` line.
pub(super) fn ident_network(ev: &mut Eval<'_>) {
    per_line(
        ev,
        LineRule::IdentNetwork,
        "the client host's identd decides who connects",
        |r, t, b| t.push_with_method(b, secure_conn(r), "scram-sha-256", ""),
    );
}

/// `hba.plaintext_allowed`: a host or hostnossl line that does not reject.
pub(super) fn plaintext_allowed(ev: &mut Eval<'_>) {
    per_line(
        ev,
        LineRule::PlaintextAllowed,
        "connections without TLS are accepted",
        |r, t, b| match r.conn_type {
            ConnType::HostNoSsl => t.push_with_method(b, None, "reject", ""),
            _ => {
                // Do not suggest pasting a weak method back.
                let method = match r.method {
                    AuthMethod::Trust
                    | AuthMethod::Password
                    | AuthMethod::Md5
                    | AuthMethod::Ident => "scram-sha-256",
                    m => m.as_str(),
                };
                t.push_with_method(b, Some(ConnType::HostSsl.as_str()), method, "");
            }
        },
    );
}

/// True when a `host*` address admits more than a /16 (IPv4) or /48 (IPv6), or any host.
fn is_wide(a: Option<&HbaAddress>) -> bool {
    match a {
        Some(HbaAddress::All) => true,
        Some(HbaAddress::Net(IpNet::V4(n))) => n.prefix_len() < 16,
        Some(HbaAddress::Net(IpNet::V6(n))) => n.prefix_len() < 48,
        // A non-contiguous mask admits 2^(zero bits) addresses, like a prefix of as
        // many one bits.
        Some(HbaAddress::Masked {
            mask: IpAddr::V4(m),
            ..
        }) => u32::from(*m).count_ones() < 16,
        Some(HbaAddress::Masked {
            mask: IpAddr::V6(m),
            ..
        }) => u128::from(*m).count_ones() < 48,
        _ => false,
    }
}

/// `hba.wide_address`: a non-reject `host*` line for a wide address.
pub(super) fn wide_address(ev: &mut Eval<'_>) {
    per_line(
        ev,
        LineRule::WideAddress,
        "admits more than a /16 (IPv4) or /48 (IPv6)",
        |_, t, b| t.push_with_address(b, "<application subnet, e.g. 10.0.1.0/24>"),
    );
}

/// `hba.all_db_all_users`: a non-reject `host*` line for all databases and all users.
pub(super) fn all_db_all_users(ev: &mut Eval<'_>) {
    per_line(
        ev,
        LineRule::AllDbAllUsers,
        "every role reaches every database from this address",
        |_, t, b| t.push_with_names(b, "<database> <role>"),
    );
}

/// Whether a user column admits `role` (`all`, the name, `+group` of which the role is a
/// member, or a `/regex`).
fn users_admit(
    users: &[HbaToken],
    role: &str,
    member_of: &BTreeSet<String>,
    version: PgVersion,
) -> bool {
    users.iter().any(|u| {
        if u.is_keyword("all") {
            return true;
        }
        if u.is_regex(version) {
            // PostgreSQL's regular expressions (ARE) and Rust's agree on the common
            // subset used in hba files; a pattern Rust cannot compile is assumed to
            // admit the role (fail closed).
            return regex::Regex::new(&u.text[1..]).map_or(true, |re| re.is_match(role));
        }
        if u.quoted {
            return u.text == role;
        }
        if let Some(group) = u.text.strip_prefix('+') {
            return group == role || member_of.contains(group);
        }
        u.text == role
    })
}

/// `hba.superuser_network`: a non-reject `host*` line whose users admit a superuser.
pub(super) fn superuser_network(ev: &mut Eval<'_>) {
    let hba = need!(ev, ev.hba());
    let roles = need!(
        ev,
        ev.roles()
            .map_err(|r| format!("{r} (superusers are known only from a live server)"))
    );
    let version = ev.hba_version();
    let supers: Vec<(&str, BTreeSet<String>)> = roles
        .iter()
        .filter(|r| r.superuser && r.login)
        .map(|r| (r.name.as_str(), super::member_closure(roles, &r.name)))
        .collect();
    for l in accepted(hba) {
        if !l.rule.conn_type.is_network() || l.rule.method == AuthMethod::Reject {
            continue;
        }
        let admitted: Vec<&str> = supers
            .iter()
            .filter(|(name, groups)| users_admit(&l.rule.users, name, groups, version))
            .map(|(n, _)| *n)
            .collect();
        if let Some(first) = admitted.first() {
            let text = RuleText::of(l.rule);
            let mut object = String::with_capacity(l.object_len(&text));
            l.push_object(&mut object, &text);
            let mut evidence = String::with_capacity(l.at_len(&text) + 64);
            l.push_at(&mut evidence, &text);
            evidence.push_str(" admits superuser ");
            evidence.push_str(&admitted.join(", "));
            evidence.push_str(" over the network");
            ev.emit(
                object,
                l.location(),
                evidence,
                format!(
                    "hostssl all {} all reject  # insert before line {}",
                    ident(first),
                    l.line.line_number
                ),
            );
        }
    }
}

/// `hba.replication_wide`: a replication line for user all or a wide address.
///
/// Only `host*` lines: `local replication all peer` is in PostgreSQL's own default file
/// and admits no network client.
pub(super) fn replication_wide(ev: &mut Eval<'_>) {
    per_line(
        ev,
        LineRule::ReplicationWide,
        "replication for all users or from a wide address",
        |_, _, b| {
            b.push_str("hostssl replication <replication role> <standby address>/32 scram-sha-256");
        },
    );
}

/// Connection kinds a `host*` line type matches: TLS, GSS-encrypted, plain.
fn conn_classes(t: ConnType) -> [bool; 3] {
    match t {
        ConnType::Host => [true, true, true],
        ConnType::HostSsl => [true, false, false],
        ConnType::HostNoSsl => [false, true, true],
        ConnType::HostGssEnc => [false, true, false],
        ConnType::HostNoGssEnc => [true, false, true],
        _ => [false, false, false],
    }
}

/// `hba.no_final_reject`: the last `host*` rules are not a catch-all reject.
pub(super) fn no_final_reject(ev: &mut Eval<'_>) {
    let hba = need!(ev, ev.hba());
    // From the end: only the trailing run of catch-all rejects is read.
    let mut network = accepted(hba)
        .rev()
        .filter(|l| l.rule.conn_type.is_network());
    let Some(last) = network.next() else { return };
    // The trailing run of catch-all reject lines must cover every connection kind for
    // both address families.
    let mut covered = [[false; 3]; 2];
    for l in std::iter::once(last).chain(network) {
        let r = l.rule;
        let all_all = r.databases.iter().any(|d| d.is_keyword("all"));
        let users_all = r.users.iter().any(|u| u.is_keyword("all"));
        if r.method != AuthMethod::Reject || !all_all || !users_all {
            break;
        }
        let fams: &[usize] = match &r.address {
            Some(HbaAddress::All) => &[0, 1],
            Some(HbaAddress::Net(IpNet::V4(n))) if n.prefix_len() == 0 => &[0],
            Some(HbaAddress::Net(IpNet::V6(n))) if n.prefix_len() == 0 => &[1],
            _ => &[],
        };
        let classes = conn_classes(r.conn_type);
        for &f in fams {
            for (c, on) in classes.iter().enumerate() {
                covered[f][c] |= on;
            }
        }
    }
    if covered.iter().all(|f| f.iter().all(|c| *c)) {
        return;
    }
    let file = last.line.file.clone();
    ev.emit(
        format!("{}: final reject", file_name(&file)),
        Location::file_line(file, last.line.line_number),
        format!(
            "the last host rule is {} ({}:{}), not a catch-all reject",
            rule_text(last.rule),
            last.line.file,
            last.line.line_number
        ),
        "host all all 0.0.0.0/0 reject\nhost all all ::/0 reject",
    );
}

// ---------------------------------------------------------------------------------------
// hba.shadowed_rule

/// True when the earlier database list `a` matches every database `b` matches.
fn dbs_cover(a: &[HbaToken], b: &[HbaToken]) -> bool {
    // `all` matches every database except replication connections, which only
    // `replication` matches.
    let a_all = a.iter().any(|t| t.is_keyword("all"));
    b.iter().all(|t| {
        if t.is_keyword("replication") {
            a.iter().any(|x| x.is_keyword("replication"))
        } else if a_all {
            true
        } else {
            a.iter().any(|x| x == t)
        }
    })
}

/// True when the earlier user list `a` matches every user `b` matches.
fn users_cover(a: &[HbaToken], b: &[HbaToken]) -> bool {
    if a.iter().any(|t| t.is_keyword("all")) {
        return true;
    }
    b.iter().all(|t| a.iter().any(|x| x == t))
}

/// True when the earlier address `a` matches every client `b` matches.
fn address_covers(a: Option<&HbaAddress>, b: Option<&HbaAddress>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(HbaAddress::All), Some(_)) => true,
        (Some(HbaAddress::Net(x)), Some(HbaAddress::Net(y))) => x.contains(y),
        (Some(HbaAddress::HostName(x)), Some(HbaAddress::HostName(y))) => {
            // `y` ends in the suffix `x`, ignoring ASCII case (lower-casing keeps lengths).
            x.eq_ignore_ascii_case(y)
                || (x.starts_with('.')
                    && y.len() >= x.len()
                    && y.as_bytes()[y.len() - x.len()..].eq_ignore_ascii_case(x.as_bytes()))
        }
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn type_covers(a: ConnType, b: ConnType) -> bool {
    if a == ConnType::Local || b == ConnType::Local {
        return a == b;
    }
    let (ca, cb) = (conn_classes(a), conn_classes(b));
    ca.iter().zip(cb.iter()).all(|(x, y)| *x || !*y)
}

/// True when rule `a` (earlier) matches every connection `b` matches.
pub(crate) fn covers(a: &HbaRule, b: &HbaRule) -> bool {
    type_covers(a.conn_type, b.conn_type)
        && address_covers(a.address.as_ref(), b.address.as_ref())
        && dbs_cover(&a.databases, &b.databases)
        && users_cover(&a.users, &b.users)
}

// The shadow check looks each rule up in an index of the earlier rules instead of
// comparing it with every one of them (quadratic on a 100,000-line file).
//
// The index files each rule under 64-bit hashes of (address key, user part, type): the
// user part is `all` for a rule for all users, else one entry per user token. A rule
// looks up every key an earlier rule covering it must be filed under: the keys of every
// address that could cover its own, with `all` and with its first user, and each type
// covering its own; what was filed so far under a user part (`Kinds`) prunes the keys
// that cannot exist. The index is complete: every earlier rule `covers` returns true for
// is filed under one of those keys. A hash collision only merges two lists (or two
// users' `Kinds`), adding candidates, and every candidate is checked with `covers`
// before it counts; so the answer is exactly the first earlier line that covers the
// rule, as a scan of all earlier lines would give (the tests compare the two).

/// Address keys (hashed): the tag of each kind.
const KEY_LOCAL: u64 = 1;
const KEY_ALL: u64 = 2;
const KEY_SAMEHOST: u64 = 3;
const KEY_SAMENET: u64 = 4;
const KEY_NET_V4: u64 = 5;
const KEY_NET_V6: u64 = 6;
const KEY_HOST: u64 = 7;
const KEY_MASKED: u64 = 8;
/// The user part of the key of a rule for all users.
const USER_ALL: u64 = 0x5bd1_e995_5bd1_e995;

fn ip_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The key of the network of `ip` with a prefix of `len` bits (what `IpNet::trunc`
/// gives).
fn net_key(ip: IpAddr, len: u8) -> u64 {
    let (tag, width) = match ip {
        IpAddr::V4(_) => (KEY_NET_V4, 32),
        IpAddr::V6(_) => (KEY_NET_V6, 128),
    };
    let len = u32::from(len).min(width);
    // Ones above the host bits (for IPv4 also above bit 32, where the address has none).
    let mask = u128::MAX.checked_shl(width - len).unwrap_or(0);
    let bits = ip_bits(ip) & mask;
    // Split the 128 bits into halves; the casts keep each half whole.
    mix(
        mix(mix(tag, u64::from(len)), (bits >> 64) as u64),
        bits as u64,
    )
}

fn masked_key(addr: IpAddr, mask: IpAddr) -> u64 {
    let (a, m) = (ip_bits(addr), ip_bits(mask));
    let family = u64::from(addr.is_ipv6()) | (u64::from(mask.is_ipv6()) << 1);
    let h = mix(mix(KEY_MASKED, family), (a >> 64) as u64);
    let h = mix(mix(h, a as u64), (m >> 64) as u64);
    mix(h, m as u64)
}

/// Hashes host-name bytes lower-cased, from the last byte to the first, calling
/// `suffix` with the key of every suffix that starts with a dot; returns the key of the
/// whole name. A name and each of its `.suffix`es get one backward pass, no copy.
fn host_keys(name: &str, mut suffix: impl FnMut(u64)) -> u64 {
    let mut h = KEY_HOST;
    for &b in name.as_bytes().iter().rev() {
        h = mix(h, u64::from(b.to_ascii_lowercase()));
        if b == b'.' {
            suffix(h);
        }
    }
    h
}

/// The user part of a key.
fn user_key(t: &HbaToken) -> u64 {
    mix_bytes(u64::from(t.quoted), t.text.as_bytes())
}

/// The index key of an address key and a user part.
fn key(addr: u64, user: u64) -> u64 {
    mix(addr, user)
}

/// What has been filed under one user part: which connection types, which kinds of
/// address, which prefix lengths of each family. A lookup only tries the keys that can
/// exist.
#[derive(Default, Clone, Copy)]
struct Kinds {
    /// Prefix lengths, one bit each: IPv4 from bit 0, IPv6 from bit 64.
    lens: [u64; 4],
    /// `KIND_*` bits.
    flags: u8,
    /// Connection types, bit [`conn_number`].
    conns: u8,
}

const KIND_LOCAL: u8 = 1;
const KIND_ALL: u8 = 2;
const KIND_SAMEHOST: u8 = 4;
const KIND_SAMENET: u8 = 8;
const KIND_HOST: u8 = 16;
const KIND_MASKED: u8 = 32;

impl Kinds {
    /// The bit of a prefix length of the family of `ip`.
    fn len_bit(ip: IpAddr, len: u8) -> usize {
        usize::from(len) + if ip.is_ipv6() { 64 } else { 0 }
    }

    fn insert_len(&mut self, ip: IpAddr, len: u8) {
        let bit = Kinds::len_bit(ip, len);
        if let Some(w) = self.lens.get_mut(bit / 64) {
            *w |= 1 << (bit % 64);
        }
    }

    /// Calls `f` with every length filed for the family of `ip`, up to `max`.
    fn each_len_up_to(&self, ip: IpAddr, max: u8, mut f: impl FnMut(u8)) {
        let (first, last) = (Kinds::len_bit(ip, 0), Kinds::len_bit(ip, max));
        for (i, &word) in self.lens.iter().enumerate().skip(first / 64) {
            let mut w = word;
            while w != 0 {
                let bit = i * 64 + w.trailing_zeros() as usize;
                if bit > last {
                    return;
                }
                // At most `max`: the cast keeps the length.
                f((bit - first) as u8);
                w &= w - 1;
            }
        }
    }

    fn has(&self, kind: u8) -> bool {
        self.flags & kind != 0
    }

    fn has_conn(&self, conn: ConnType) -> bool {
        self.conns & (1 << conn_number(conn)) != 0
    }
}

/// The address key a rule is filed under, recorded in `kinds`.
fn file_address(a: Option<&HbaAddress>, kinds: &mut Kinds) -> u64 {
    let (key, kind) = match a {
        None => (KEY_LOCAL, KIND_LOCAL),
        Some(HbaAddress::All) => (KEY_ALL, KIND_ALL),
        Some(HbaAddress::SameHost) => (KEY_SAMEHOST, KIND_SAMEHOST),
        Some(HbaAddress::SameNet) => (KEY_SAMENET, KIND_SAMENET),
        Some(HbaAddress::Net(n)) => {
            kinds.insert_len(n.addr(), n.prefix_len());
            return net_key(n.addr(), n.prefix_len());
        }
        Some(HbaAddress::HostName(h)) => (host_keys(h, |_| {}), KIND_HOST),
        Some(HbaAddress::Masked { addr, mask }) => (masked_key(*addr, *mask), KIND_MASKED),
        // Unknown future address kinds are filed where every later rule looks.
        #[allow(unreachable_patterns)]
        Some(_) => (KEY_ALL, KIND_ALL),
    };
    kinds.flags |= kind;
    key
}

/// Calls `f` with the key of every address that could cover `a` and is of a kind in
/// `kinds`.
fn covering_keys(a: Option<&HbaAddress>, kinds: &Kinds, mut f: impl FnMut(u64)) {
    let Some(addr) = a else {
        if kinds.has(KIND_LOCAL) {
            f(KEY_LOCAL);
        }
        return;
    };
    if kinds.has(KIND_ALL) {
        f(KEY_ALL);
    }
    match addr {
        HbaAddress::Net(n) => {
            let ip = n.addr();
            kinds.each_len_up_to(ip, n.prefix_len(), |len| f(net_key(ip, len)));
        }
        HbaAddress::HostName(h) if kinds.has(KIND_HOST) => {
            let whole = host_keys(h, &mut f);
            // A name starting with a dot was looked up as its own first suffix.
            if !h.starts_with('.') {
                f(whole);
            }
        }
        HbaAddress::SameHost if kinds.has(KIND_SAMEHOST) => f(KEY_SAMEHOST),
        HbaAddress::SameNet if kinds.has(KIND_SAMENET) => f(KEY_SAMENET),
        HbaAddress::Masked { addr, mask } if kinds.has(KIND_MASKED) => {
            f(masked_key(*addr, *mask));
        }
        _ => {}
    }
}

/// No next node.
const END: u32 = u32::MAX;

/// Earlier rules filed by key, each key's lines a list in line order, kept in one arena
/// so a 100,000-line file costs no allocation per line. Only earlier rules are filed
/// when a rule is looked up, so a key without one is a miss in the map (its control
/// bytes, which stay in cache), not a read of an entry. Line and node numbers are
/// `u32` (the callers check the line count), which halves what the lookups read.
struct Index {
    /// key → (first node, last node) of that key's list.
    lists: KeyMap<(u32, u32)>,
    /// (line, next node or [`END`])
    nodes: Vec<(u32, u32)>,
}

impl Index {
    fn with_capacity(entries: usize) -> Self {
        Index {
            lists: key_map(entries),
            nodes: Vec::with_capacity(entries),
        }
    }

    /// Files `line` under `key`; `None` when the nodes are more than `u32` numbers.
    fn push(&mut self, key: u64, line: u32) -> Option<()> {
        let node = u32::try_from(self.nodes.len()).ok().filter(|&n| n != END)?;
        self.nodes.push((line, END));
        match self.lists.get_mut(&key) {
            Some((_, tail)) => {
                if let Some(prev) = self.nodes.get_mut(*tail as usize) {
                    prev.1 = node;
                }
                *tail = node;
            }
            None => {
                self.lists.insert(key, (node, node));
            }
        }
        Some(())
    }

    /// The first line of the list at `key` before `before` that satisfies `pred`.
    fn first(&self, key: u64, before: u32, pred: impl Fn(u32) -> bool) -> Option<u32> {
        let mut next = self.lists.get(&key).map_or(END, |(head, _)| *head);
        while let Some(&(line, after)) = self.nodes.get(next as usize) {
            if line >= before {
                return None;
            }
            if pred(line) {
                return Some(line);
            }
            next = after;
        }
        None
    }
}

/// The connection types.
const CONN_TYPES: [ConnType; 6] = [
    ConnType::Local,
    ConnType::Host,
    ConnType::HostSsl,
    ConnType::HostNoSsl,
    ConnType::HostGssEnc,
    ConnType::HostNoGssEnc,
];

/// A connection type's number (below 8); the match has no wildcard, so a new type fails
/// to compile here until it is numbered and listed in [`CONN_TYPES`].
fn conn_number(t: ConnType) -> u8 {
    match t {
        ConnType::Local => 0,
        ConnType::Host => 1,
        ConnType::HostSsl => 2,
        ConnType::HostNoSsl => 3,
        ConnType::HostGssEnc => 4,
        ConnType::HostNoGssEnc => 5,
    }
}

/// The part of a key for a user part and the connection type of the filed rule.
fn user_conn(user: u64, conn: ConnType) -> u64 {
    mix(user, u64::from(conn_number(conn)) + 1)
}

/// The user parts of rules' user lists, remembered by list: equal lists of one parse
/// share one allocation (`HbaRule::users`), so most rules find theirs without reading
/// their tokens again. A list is known by its address and length, which no other list
/// has while the file is borrowed (empty lists may share an address, and are equal).
#[derive(Default)]
struct UserParts {
    lists: HashMap<(usize, usize), ListParts, FxBuildHasher>,
    parts: Vec<u64>,
}

/// The parts of one user list.
#[derive(Clone, Copy)]
struct ListParts {
    /// The user part of its first user.
    first: Option<u64>,
    /// The parts a rule for the list is filed under, `parts[start..end]`.
    start: usize,
    end: usize,
}

impl UserParts {
    /// The user part of the first user of `users`, and the parts a rule for `users` is
    /// filed under (`all` alone when it lists `all`).
    fn of(&mut self, users: &[HbaToken]) -> (Option<u64>, &[u64]) {
        let parts = &mut self.parts;
        let list = *self
            .lists
            .entry((users.as_ptr().addr(), users.len()))
            .or_insert_with(|| {
                let start = parts.len();
                if users.iter().any(|u| u.is_keyword("all")) {
                    parts.push(USER_ALL);
                } else {
                    parts.extend(users.iter().map(user_key));
                }
                ListParts {
                    first: users.first().map(user_key),
                    start,
                    end: parts.len(),
                }
            });
        (
            list.first,
            self.parts.get(list.start..list.end).unwrap_or_default(),
        )
    }
}

/// Each accepted line of `lines` that an earlier accepted line covers, with the first
/// such line (indexes into `lines`), in order; `None` when the lines or the users in
/// them are more than `u32` numbers. One pass over the file.
fn shadowing(lines: &[HbaLine]) -> Option<Vec<(usize, usize)>> {
    u32::try_from(lines.len()).ok()?;
    let mut index = Index::with_capacity(lines.len());
    // What has been filed so far under each user part.
    let mut kinds: KeyMap<Kinds> = key_map(256);
    let mut user_parts = UserParts::default();
    let mut out = Vec::new();
    for (j, line) in (0u32..).zip(lines) {
        let Ok(r) = &line.result else { continue };
        let (first_user, filed_under) = user_parts.of(&r.users);
        let mut best: Option<u32> = None;
        // An earlier rule covering this one lists `all` or this rule's first user, and
        // is of a type covering this one's.
        if let Some(first_user) = first_user {
            for user in [USER_ALL, first_user] {
                let Some(filed) = kinds.get(&user) else {
                    continue;
                };
                for conn in CONN_TYPES {
                    if !filed.has_conn(conn) || !type_covers(conn, r.conn_type) {
                        continue;
                    }
                    let part = user_conn(user, conn);
                    covering_keys(r.address.as_ref(), filed, |addr| {
                        let before = best.unwrap_or(j);
                        let candidate = index.first(key(addr, part), before, |i| {
                            lines
                                .get(i as usize)
                                .is_some_and(|e| e.result.as_ref().is_ok_and(|e| covers(e, r)))
                        });
                        if let Some(i) = candidate {
                            best = Some(i);
                        }
                    });
                }
            }
        }
        if let Some(i) = best {
            out.push((j as usize, i as usize));
        }
        for &user in filed_under {
            let filed = kinds.entry(user).or_default();
            filed.conns |= 1 << conn_number(r.conn_type);
            let addr = file_address(r.address.as_ref(), filed);
            index.push(key(addr, user_conn(user, r.conn_type)), j)?;
        }
    }
    Some(out)
}

/// `hba.shadowed_rule`: a rule an earlier rule fully covers.
pub(super) fn shadowed_rule(ev: &mut Eval<'_>) {
    const NEVER: &str = " can never match: ";
    const EVERY: &str = " matches every connection it would";
    const DELETE: &str = "# delete line ";
    const MOVE: &str = " or move it above line ";
    let hba = need!(ev, ev.hba());
    let Some(shadowed) = shadowing(&hba.lines) else {
        ev.skip("more than 4,294,967,295 lines or users in them");
        return;
    };
    ev.reserve(shadowed.len());
    let line = |i: usize| {
        let line = hba.lines.get(i)?;
        Some(Line {
            line,
            rule: line.result.as_ref().ok()?,
        })
    };
    let (mut text, mut earlier_text) = (RuleText::default(), RuleText::default());
    for (j, i) in shadowed {
        let (Some(l), Some(earlier)) = (line(j), line(i)) else {
            continue;
        };
        text.set(l.rule);
        earlier_text.set(earlier.rule);
        let capacity = l.at_len(&text)
            + NEVER.len()
            + earlier.at_len(&earlier_text)
            + EVERY.len()
            + DELETE.len()
            + number_len(l.line.line_number)
            + MOVE.len()
            + number_len(earlier.line.line_number)
            + l.object_len(&text);
        let finding = FindingText::write(
            capacity,
            |b| {
                l.push_at(b, &text);
                b.push_str(NEVER);
                earlier.push_at(b, &earlier_text);
                b.push_str(EVERY);
            },
            |b| {
                b.push_str(DELETE);
                push_number(b, l.line.line_number);
                b.push_str(MOVE);
                push_number(b, earlier.line.line_number);
            },
            |b| l.push_object(b, &text),
        );
        ev.emit_text(l.location(), finding);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::snapshot::{Collected, RoleFact};
    use crate::Severity;

    fn fires(id: &str, lines: &[&str]) -> usize {
        of(&run(&hba_snapshot(lines)), id).len()
    }

    #[test]
    fn parse_errors_keep_their_line() {
        let r = run(&hba_snapshot(&[
            "local all all peer",
            "ERROR: invalid authentication method \"foo\"",
        ]));
        let f = of(&r, "hba.parse_error");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].location(), &Location::file_line("pg_hba.conf", 2));
        assert!(f[0].evidence().contains("foo"));
        assert_quiet(
            &run(&hba_snapshot(&["local all all peer"])),
            "hba.parse_error",
        );
    }

    #[test]
    fn trust_network() {
        assert_eq!(
            fires("hba.trust_network", &["host all all 10.0.0.0/8 trust"]),
            1
        );
        let r = run(&hba_snapshot(&["host all all 10.0.0.0/8 trust"]));
        assert!(of(&r, "hba.trust_network")[0]
            .remediation()
            .starts_with("hostssl all all 10.0.0.0/8 scram-sha-256"));
        assert_eq!(
            fires(
                "hba.trust_network",
                &[
                    "local all all trust",
                    "hostssl all app 10.0.0.0/8 scram-sha-256"
                ]
            ),
            0
        );
    }

    #[test]
    fn trust_local() {
        assert_eq!(fires("hba.trust_local", &["local all all trust"]), 1);
        assert_eq!(
            fires(
                "hba.trust_local",
                &[
                    "local all postgres trust",
                    "local all all peer",
                    "local all \"all\" trust"
                ]
            ),
            0
        );
    }

    #[test]
    fn password_and_md5_and_ident() {
        assert_eq!(
            fires(
                "hba.password_cleartext",
                &["hostssl all all 10.0.0.0/8 password"]
            ),
            1
        );
        assert_eq!(
            fires(
                "hba.password_cleartext",
                &["hostssl all all 10.0.0.0/8 md5"]
            ),
            0
        );
        assert_eq!(
            fires(
                "hba.md5",
                &["hostssl all all 10.0.0.0/8 md5", "local all all md5"]
            ),
            2
        );
        assert_eq!(
            fires("hba.md5", &["hostssl all all 10.0.0.0/8 scram-sha-256"]),
            0
        );
        assert_eq!(
            fires("hba.ident_network", &["host all all 10.0.0.0/8 ident"]),
            1
        );
        assert_eq!(fires("hba.ident_network", &["local all all ident"]), 0);
    }

    #[test]
    fn plaintext_allowed() {
        assert_eq!(
            fires(
                "hba.plaintext_allowed",
                &[
                    "host all app 10.0.0.0/8 scram-sha-256",
                    "hostnossl all app 10.0.0.0/8 scram-sha-256"
                ]
            ),
            2
        );
        assert_eq!(
            fires(
                "hba.plaintext_allowed",
                &[
                    "hostssl all app 10.0.0.0/8 scram-sha-256",
                    "hostnossl all all 0.0.0.0/0 reject",
                    "host all all ::/0 reject"
                ]
            ),
            0
        );
    }

    #[test]
    fn wide_addresses() {
        assert_eq!(
            fires(
                "hba.wide_address",
                &["hostssl db app 0.0.0.0/0 scram-sha-256"]
            ),
            1
        );
        assert_eq!(
            fires("hba.wide_address", &["hostssl db app ::/0 scram-sha-256"]),
            1
        );
        assert_eq!(
            fires("hba.wide_address", &["hostssl db app all scram-sha-256"]),
            1
        );
        assert_eq!(
            fires(
                "hba.wide_address",
                &["hostssl db app 10.0.0.0/8 scram-sha-256"]
            ),
            1
        );
        assert_eq!(
            fires(
                "hba.wide_address",
                &["hostssl db app 2001:db8::/32 scram-sha-256"]
            ),
            1
        );
        assert_eq!(
            fires(
                "hba.wide_address",
                &[
                    "hostssl db app 10.1.0.0/16 scram-sha-256",
                    "hostssl db app 2001:db8::/48 scram-sha-256",
                    "host all all 0.0.0.0/0 reject"
                ]
            ),
            0
        );
    }

    #[test]
    fn all_db_all_users() {
        assert_eq!(
            fires(
                "hba.all_db_all_users",
                &["hostssl all all 10.1.0.0/24 scram-sha-256"]
            ),
            1
        );
        assert_eq!(
            fires(
                "hba.all_db_all_users",
                &[
                    "hostssl app all 10.1.0.0/24 scram-sha-256",
                    "host all all all reject",
                    "local all all peer"
                ]
            ),
            0
        );
    }

    #[test]
    fn superuser_network_needs_roles() {
        let r = run(&hba_snapshot(&[
            "hostssl all all 10.1.0.0/24 scram-sha-256",
        ]));
        assert!(r.is_skipped("hba.superuser_network"));
        let mut admin = RoleFact::login("admin");
        admin.superuser = true;
        admin.member_of = vec!["ops".into()];
        let snap = |lines: &[&str]| {
            live_snapshot(|l| {
                l.roles = Collected::Present(vec![admin.clone(), RoleFact::login("app")]);
                l.hba = Collected::Present(hba(lines));
            })
            .with_pg_version(PgVersion::new(16).unwrap())
        };
        for line in [
            "hostssl all all 10.1.0.0/24 scram-sha-256",
            "hostssl all +ops 10.1.0.0/24 scram-sha-256",
            "hostssl all /^adm 10.1.0.0/24 scram-sha-256",
            "hostssl all app,admin 10.1.0.0/24 scram-sha-256",
        ] {
            assert_eq!(
                of(&run(&snap(&[line])), "hba.superuser_network").len(),
                1,
                "{line}"
            );
        }
        let r = run(&snap(&[
            "hostssl all app 10.1.0.0/24 scram-sha-256",
            "hostssl all admin 10.1.0.0/24 reject",
            "local all admin peer",
        ]));
        assert_quiet(&r, "hba.superuser_network");
        // Before PostgreSQL 16 a leading slash is a plain name.
        let r = run(&snap(&["hostssl all /^adm 10.1.0.0/24 scram-sha-256"])
            .with_pg_version(PgVersion::new(15).unwrap()));
        assert_quiet(&r, "hba.superuser_network");
    }

    #[test]
    fn wide_masks() {
        let masked = |m: &str| HbaAddress::Masked {
            addr: "10.0.0.0".parse().unwrap(),
            mask: m.parse().unwrap(),
        };
        assert!(is_wide(Some(&masked("255.0.0.254"))));
        assert!(!is_wide(Some(&masked("255.255.0.255"))));
        assert!(!is_wide(Some(&HbaAddress::HostName(".example.com".into()))));
        assert!(!is_wide(None));
    }

    #[test]
    fn replication_wide() {
        assert_eq!(
            fires(
                "hba.replication_wide",
                &["hostssl replication all 10.1.0.5/32 scram-sha-256"]
            ),
            1
        );
        assert_eq!(
            fires(
                "hba.replication_wide",
                &["hostssl replication replicator 0.0.0.0/0 scram-sha-256"]
            ),
            1
        );
        assert_eq!(
            fires(
                "hba.replication_wide",
                &[
                    "hostssl replication replicator 10.1.0.5/32 scram-sha-256",
                    "local replication all peer",
                    "hostssl all all 0.0.0.0/0 reject"
                ]
            ),
            0
        );
    }

    #[test]
    fn final_reject() {
        assert_eq!(
            fires(
                "hba.no_final_reject",
                &["hostssl app app 10.1.0.0/24 scram-sha-256"]
            ),
            1
        );
        assert_eq!(
            fires(
                "hba.no_final_reject",
                &[
                    "hostssl app app 10.1.0.0/24 scram-sha-256",
                    "host all all 0.0.0.0/0 reject"
                ]
            ),
            1
        );
        assert_eq!(
            fires(
                "hba.no_final_reject",
                &[
                    "hostssl app app 10.1.0.0/24 scram-sha-256",
                    "hostssl all all all reject"
                ]
            ),
            1
        );
        assert_eq!(
            fires(
                "hba.no_final_reject",
                &[
                    "hostssl app app 10.1.0.0/24 scram-sha-256",
                    "host all all all reject"
                ]
            ),
            0
        );
        assert_eq!(
            fires(
                "hba.no_final_reject",
                &[
                    "hostssl app app 10.1.0.0/24 scram-sha-256",
                    "host all all 0.0.0.0/0 reject",
                    "host all all ::/0 reject",
                    "local all all peer"
                ]
            ),
            0
        );
        assert_eq!(fires("hba.no_final_reject", &["local all all peer"]), 0);
    }

    #[test]
    fn shadowed_rules() {
        let lines = [
            "hostssl all all 10.0.0.0/8 scram-sha-256",
            "hostssl app app 10.1.2.0/24 md5",
            "host all all all reject",
            "hostssl app app 192.168.0.0/16 scram-sha-256",
            "hostssl replication all 10.0.0.0/8 scram-sha-256",
        ];
        let r = run(&hba_snapshot(&lines));
        let f = of(&r, "hba.shadowed_rule");
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[0].location(), &Location::file_line("pg_hba.conf", 2));
        assert!(f[0].evidence().contains("pg_hba.conf:1"));
        assert_eq!(f[1].location(), &Location::file_line("pg_hba.conf", 4));
        assert!(f[1].evidence().contains("pg_hba.conf:3"));
        assert_eq!(f[0].severity(), Severity::Low);
    }

    #[test]
    fn not_shadowed() {
        let lines = [
            "hostssl app app 10.1.2.0/24 scram-sha-256",
            "hostssl all all 10.0.0.0/8 scram-sha-256",
            "hostnossl all all 10.0.0.0/8 reject",
            "host app \"all\" 10.0.0.0/8 scram-sha-256",
            "local all all peer",
            "hostssl app +grp .example.com scram-sha-256",
            "hostssl app +grp db.other.org scram-sha-256",
            "hostssl replication all 10.0.0.0/8 scram-sha-256",
        ];
        assert_quiet(&run(&hba_snapshot(&lines)), "hba.shadowed_rule");
        let r = run(&hba_snapshot(&[
            "hostssl app +grp .example.com scram-sha-256",
            "hostssl app +grp db.example.com md5",
        ]));
        assert_eq!(of(&r, "hba.shadowed_rule").len(), 1);
        let r = run(&hba_snapshot(&[
            "host all all 10.0.0.0/8 scram-sha-256",
            "hostssl app app 10.0.0.0/8 md5",
        ]));
        assert_eq!(of(&r, "hba.shadowed_rule").len(), 1);
        let r = run(&hba_snapshot(&[
            "hostssl all all 10.0.0.0/8 scram-sha-256",
            "host app app 10.0.0.0/8 md5",
        ]));
        assert_quiet(&r, "hba.shadowed_rule");
    }

    /// A fixed pseudo-random sequence (SplitMix64).
    struct Mix(u64);

    impl Mix {
        fn pick<'t, T>(&mut self, from: &'t [T]) -> &'t T {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            &from[usize::try_from((z ^ (z >> 31)) % from.len() as u64).unwrap()]
        }
    }

    /// Random rules drawn from small pools, so that many cover one another: nested
    /// networks of both families, host names and suffixes in mixed case, masks, every
    /// type, quoted and unquoted keywords, lists.
    fn random_rules(n: usize, seed: u64) -> HbaFile {
        let tok = |t: &str| match t.strip_prefix('"') {
            Some(q) => HbaToken {
                text: q.trim_end_matches('"').to_owned(),
                quoted: true,
            },
            None => HbaToken::plain(t),
        };
        let list = |l: &&str| l.split(',').map(tok).collect::<Vec<_>>();
        let conns = [
            ConnType::Local,
            ConnType::Host,
            ConnType::HostSsl,
            ConnType::HostNoSsl,
            ConnType::HostGssEnc,
            ConnType::HostNoGssEnc,
        ];
        let dbs = [
            "all",
            "replication",
            "app",
            "other",
            "app,other",
            "\"all\"",
            "sameuser",
        ];
        let users = [
            "all",
            "app",
            "admin",
            "+grp",
            "app,admin",
            "admin,app",
            "\"all\"",
            "APP",
        ];
        let nets = [
            "0.0.0.0/0",
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.0/24",
            "10.1.2.3/32",
            "10.2.0.0/16",
            "10.1.3.0/24",
            "::/0",
            "2001:db8::/32",
            "2001:db8:1::/48",
            "2001:db8:1::5/128",
        ];
        let hosts = [
            ".example.com",
            "db.example.com",
            "DB.Example.COM",
            ".com",
            ".EXAMPLE.com",
            "example.com",
            "x.db.example.com",
        ];
        let methods = [AuthMethod::Trust, AuthMethod::Reject, AuthMethod::Md5];
        let mut mix = Mix(seed);
        let mut shared: std::collections::HashMap<&str, std::sync::Arc<[HbaToken]>> =
            std::collections::HashMap::new();
        let lines = (0..n)
            .map(|i| {
                let conn_type = *mix.pick(&conns);
                let address =
                    (conn_type != ConnType::Local).then(|| match mix.pick(&[0, 1, 1, 1, 2, 3]) {
                        0 => match mix.pick(&[0, 1, 2, 3]) {
                            0 => HbaAddress::All,
                            1 => HbaAddress::SameHost,
                            2 => HbaAddress::SameNet,
                            _ => HbaAddress::Masked {
                                addr: "10.0.0.0".parse().unwrap(),
                                mask: mix.pick(&["255.0.255.0", "255.255.0.255"]).parse().unwrap(),
                            },
                        },
                        1 => HbaAddress::Net(mix.pick(&nets).parse().unwrap()),
                        _ => HbaAddress::HostName((*mix.pick(&hosts)).to_owned()),
                    });
                let rule = HbaRule {
                    conn_type,
                    databases: list(mix.pick(&dbs)).into(),
                    users: {
                        // Half the user lists shared, as the parser shares equal lists.
                        let text = *mix.pick(&users);
                        if *mix.pick(&[true, false]) {
                            shared
                                .entry(text)
                                .or_insert_with(|| list(&text).into())
                                .clone()
                        } else {
                            list(&text).into()
                        }
                    },
                    address,
                    method: *mix.pick(&methods),
                    options: Vec::new(),
                };
                HbaLine::accepted("pg_hba.conf", i + 1, rule)
            })
            .collect();
        HbaFile { lines }
    }

    #[test]
    fn each_rule_alone_finds_what_it_finds_among_all() {
        // The line rules share one scan of the file per evaluation: a rule evaluated
        // alone, or after others, must see the same lines.
        let snapshot = hba_snapshot(&[
            "ERROR: invalid authentication method \"foo\"",
            "local all all trust",
            "host all all 0.0.0.0/0 trust",
            "hostssl replication all 10.0.0.0/8 md5",
            "hostnossl app app 10.1.0.0/16 password",
            "host all all 10.0.0.0/8 ident",
            "host app app 10.1.2.0/24 md5",
            "hostssl all all ::/0 scram-sha-256",
        ]);
        let all = run(&snapshot);
        let mut fired = 0;
        for rule in crate::catalogue()
            .iter()
            .filter(|r| r.id.starts_with("hba."))
        {
            let alone =
                crate::evaluate_rules(&snapshot, &crate::Policy::default(), |id| id == rule.id);
            let among: Vec<&crate::Finding> = all.findings_of(rule.id).collect();
            assert_eq!(
                alone.findings().iter().collect::<Vec<_>>(),
                among,
                "{}",
                rule.id
            );
            fired += usize::from(!among.is_empty());
        }
        assert!(fired >= 9, "{fired} rules fired");
    }

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        for n in [0, 7, 9, 10, 99, 100, 65_535, 1_000_000, usize::MAX] {
            let mut out = String::from("x");
            push_number(&mut out, n);
            assert_eq!(out, format!("x{n}"));
            assert_eq!(number_len(n), n.to_string().len());
        }
    }

    #[test]
    fn rule_text_variants_match_the_text_of_the_changed_rule() {
        let file = random_rules(400, 9);
        for (n, l) in accepted(&file).enumerate() {
            let mut r = l.rule.clone();
            if n % 3 == 0 {
                r.options = vec![crate::hba::HbaOption::new("clientcert", "verify-full")];
            }
            let text = RuleText::of(&r);
            assert_eq!(text.as_str(), rule_text(&r));
            if let Some(HbaAddress::Net(net)) = &r.address {
                assert!(text
                    .as_str()
                    .contains(&format!(" {}/{} ", net.addr(), net.prefix_len())));
            }
            let variant = |f: &dyn Fn(&mut String)| {
                let mut out = String::new();
                f(&mut out);
                out
            };
            let mut changed = r.clone();
            changed.address = Some(HbaAddress::HostName("<subnet>".into()));
            assert_eq!(
                variant(&|b| text.push_with_address(b, "<subnet>")),
                rule_text(&changed)
            );
            let mut changed = r.clone();
            changed.databases = vec![HbaToken::plain("<db>")].into();
            changed.users = vec![HbaToken::plain("<role>")].into();
            assert_eq!(
                variant(&|b| text.push_with_names(b, "<db> <role>")),
                rule_text(&changed)
            );
            let mut changed = r.clone();
            changed.options.clear();
            changed.method = AuthMethod::Peer;
            assert_eq!(
                variant(&|b| text.push_with_method(b, None, "peer", "")),
                rule_text(&changed)
            );
            changed.conn_type = ConnType::HostSsl;
            assert_eq!(
                variant(&|b| text.push_with_method(b, Some("hostssl"), "peer", "!")),
                rule_text(&changed) + "!"
            );
        }
    }

    #[test]
    fn shadow_index_agrees_with_a_scan_of_every_earlier_line() {
        for seed in [1, 2, 3] {
            let mut file = random_rules(3000, seed);
            // Error lines in between are skipped, by the index as by the scan.
            for i in (0..3000).step_by(97) {
                file.lines[i].result = Err("error".into());
            }
            let rules: Vec<(usize, &HbaRule)> = (0..file.lines.len())
                .filter_map(|i| Some((i, file.lines[i].result.as_ref().ok()?)))
                .collect();
            let scan: Vec<(usize, usize)> = (0..rules.len())
                .filter_map(|j| {
                    let i = (0..j).find(|&i| covers(rules[i].1, rules[j].1))?;
                    Some((rules[j].0, rules[i].0))
                })
                .collect();
            assert_eq!(shadowing(&file.lines), Some(scan.clone()), "seed {seed}");
            // The pools make both outcomes common, or the comparison would prove little.
            let shadowed = scan.len();
            assert!(shadowed > 300 && shadowed < 2900, "seed {seed}: {shadowed}");
        }
    }

    #[test]
    fn shadow_check_scales() {
        // 20,000 distinct lines: the index keeps this far from quadratic.
        let text: Vec<String> = (0..20_000)
            .map(|i| {
                format!(
                    "hostssl db{i} user{i} 10.{}.{}.0/24 scram-sha-256",
                    i / 256 % 256,
                    i % 256
                )
            })
            .collect();
        let lines: Vec<&str> = text.iter().map(String::as_str).collect();
        let r = run(&hba_snapshot(&lines));
        assert_quiet(&r, "hba.shadowed_rule");
    }
}
