//! pg_hba.conf rules: `hba.*`.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use ipnet::IpNet;

use super::{ident, need, Eval};
use crate::hba::{
    AuthMethod, ConnType, HbaAddress, HbaFile, HbaLine, HbaRule, HbaToken, PgVersion,
};
use crate::report::Location;

/// One accepted rule with its line.
struct Line<'a> {
    line: &'a HbaLine,
    rule: &'a HbaRule,
}

fn accepted(hba: &HbaFile) -> impl Iterator<Item = Line<'_>> {
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

/// `conn databases users [address]` with a trailing space, the start of a rule's line.
fn push_head(out: &mut String, r: &HbaRule, conn: ConnType) {
    out.push_str(conn.as_str());
    out.push(' ');
    push_list(out, &r.databases);
    out.push(' ');
    push_list(out, &r.users);
    out.push(' ');
    if let Some(a) = &r.address {
        push_address(out, a);
        out.push(' ');
    }
}

/// A rule as one normalised line (`host all all 0.0.0.0/0 trust`).
pub(crate) fn rule_text(r: &HbaRule) -> String {
    let mut out = String::with_capacity(96);
    push_head(&mut out, r, r.conn_type);
    out.push_str(r.method.as_str());
    for (k, v) in &r.options {
        out.push(' ');
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

impl Line<'_> {
    fn location(&self) -> Location {
        Location::file_line(self.line.file.clone(), self.line.line_number)
    }

    /// `file:line: rule`, for evidence.
    fn at(&self) -> String {
        self.object_and_at().1
    }

    /// The fingerprint object (file name and the normalised rule, not the line number,
    /// so suppressions survive edits above the line) and [`Self::at`], with the rule's
    /// text built once.
    fn object_and_at(&self) -> (String, String) {
        use std::fmt::Write as _;
        let text = rule_text(self.rule);
        let name = file_name(&self.line.file);
        let mut object = String::with_capacity(name.len() + 2 + text.len());
        object.push_str(name);
        object.push_str(": ");
        object.push_str(&text);
        let mut at = String::with_capacity(self.line.file.len() + 24 + text.len());
        at.push_str(&self.line.file);
        let _ = write!(at, ":{}: ", self.line.line_number);
        at.push_str(&text);
        (object, at)
    }
}

/// Emits one finding per accepted line satisfying `pred`.
fn per_line(
    ev: &mut Eval<'_>,
    pred: impl Fn(&HbaRule) -> bool,
    why: &str,
    fix: impl Fn(&HbaRule) -> String,
) {
    let hba = need!(ev, ev.hba());
    for l in accepted(hba).filter(|l| pred(l.rule)) {
        let (object, mut at) = l.object_and_at();
        at.push_str(" (");
        at.push_str(why);
        at.push(')');
        ev.emit(object, l.location(), at, fix(l.rule));
    }
}

/// The same rule with another method, as a line to paste.
fn with_method(r: &HbaRule, conn: Option<ConnType>, method: &str) -> String {
    let mut out = String::with_capacity(96);
    push_head(&mut out, r, conn.unwrap_or(r.conn_type));
    out.push_str(method);
    out
}

fn secure_conn(r: &HbaRule) -> Option<ConnType> {
    matches!(r.conn_type, ConnType::Host | ConnType::HostNoSsl).then_some(ConnType::HostSsl)
}

/// `hba.parse_error`: a line the server rejects.
pub(super) fn parse_error(ev: &mut Eval<'_>) {
    let hba = need!(ev, ev.hba());
    for line in &hba.lines {
        if let Err(msg) = &line.result {
            ev.emit(
                format!("{}:{}: {msg}", file_name(&line.file), line.line_number),
                Location::file_line(line.file.clone(), line.line_number),
                format!("{}:{}: {msg}", line.file, line.line_number),
                "Fix or remove the line, then check: SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL;",
            );
        }
    }
}

/// `hba.trust_network`: a `host*` line with trust.
pub(super) fn trust_network(ev: &mut Eval<'_>) {
    per_line(
        ev,
        |r| r.conn_type.is_network() && r.method == AuthMethod::Trust,
        "network clients connect without a password",
        |r| with_method(r, secure_conn(r), "scram-sha-256"),
    );
}

/// `hba.trust_local`: a `local` line with trust for all users.
pub(super) fn trust_local(ev: &mut Eval<'_>) {
    per_line(
        ev,
        |r| {
            r.conn_type == ConnType::Local
                && r.method == AuthMethod::Trust
                && r.users.iter().any(|u| u.is_keyword("all"))
        },
        "every local OS user connects as any role",
        |r| with_method(r, None, "peer"),
    );
}

/// `hba.password_cleartext`: method password.
pub(super) fn password_cleartext(ev: &mut Eval<'_>) {
    per_line(
        ev,
        |r| r.method == AuthMethod::Password,
        "the password is sent in clear text",
        |r| with_method(r, secure_conn(r), "scram-sha-256"),
    );
}

/// `hba.md5`: method md5.
pub(super) fn md5(ev: &mut Eval<'_>) {
    per_line(
        ev,
        |r| r.method == AuthMethod::Md5,
        "md5 authentication",
        |r| {
            with_method(r, None, "scram-sha-256")
                + "\n# first: password_encryption = 'scram-sha-256' and reset the roles' passwords"
        },
    );
}

/// `hba.ident_network`: ident on a `host*` line.
pub(super) fn ident_network(ev: &mut Eval<'_>) {
    per_line(
        ev,
        |r| r.conn_type.is_network() && r.method == AuthMethod::Ident,
        "the client host's identd decides who connects",
        |r| with_method(r, secure_conn(r), "scram-sha-256"),
    );
}

/// `hba.plaintext_allowed`: a host or hostnossl line that does not reject.
pub(super) fn plaintext_allowed(ev: &mut Eval<'_>) {
    per_line(
        ev,
        |r| {
            matches!(r.conn_type, ConnType::Host | ConnType::HostNoSsl)
                && r.method != AuthMethod::Reject
        },
        "connections without TLS are accepted",
        |r| match r.conn_type {
            ConnType::HostNoSsl => with_method(r, None, "reject"),
            _ => {
                // Do not suggest pasting a weak method back.
                let method = match r.method {
                    AuthMethod::Trust
                    | AuthMethod::Password
                    | AuthMethod::Md5
                    | AuthMethod::Ident => "scram-sha-256",
                    m => m.as_str(),
                };
                with_method(r, Some(ConnType::HostSsl), method)
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
        |r| {
            r.conn_type.is_network()
                && r.method != AuthMethod::Reject
                && is_wide(r.address.as_ref())
        },
        "admits more than a /16 (IPv4) or /48 (IPv6)",
        |r| {
            let mut narrowed = r.clone();
            narrowed.address = Some(HbaAddress::HostName(
                "<application subnet, e.g. 10.0.1.0/24>".to_owned(),
            ));
            rule_text(&narrowed)
        },
    );
}

/// `hba.all_db_all_users`: a non-reject `host*` line for all databases and all users.
pub(super) fn all_db_all_users(ev: &mut Eval<'_>) {
    per_line(
        ev,
        |r| {
            r.conn_type.is_network()
                && r.method != AuthMethod::Reject
                && r.databases.iter().any(|d| d.is_keyword("all"))
                && r.users.iter().any(|u| u.is_keyword("all"))
        },
        "every role reaches every database from this address",
        |r| {
            let mut named = r.clone();
            named.databases = vec![HbaToken {
                text: "<database>".into(),
                quoted: false,
            }];
            named.users = vec![HbaToken {
                text: "<role>".into(),
                quoted: false,
            }];
            rule_text(&named)
        },
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
            let (object, at) = l.object_and_at();
            ev.emit(
                object,
                l.location(),
                format!(
                    "{at} admits superuser {} over the network",
                    admitted.join(", ")
                ),
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
        |r| {
            r.conn_type.is_network()
                && r.method != AuthMethod::Reject
                && r.databases.iter().any(|d| d.is_keyword("replication"))
                && (r.users.iter().any(|u| u.is_keyword("all")) || is_wide(r.address.as_ref()))
        },
        "replication for all users or from a wide address",
        |_| "hostssl replication <replication role> <standby address>/32 scram-sha-256".to_owned(),
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
    let network: Vec<Line<'_>> = accepted(hba)
        .filter(|l| l.rule.conn_type.is_network())
        .collect();
    let Some(last) = network.last() else { return };
    // The trailing run of catch-all reject lines must cover every connection kind for
    // both address families.
    let mut covered = [[false; 3]; 2];
    for l in network.iter().rev() {
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
            x.eq_ignore_ascii_case(y)
                || (x.starts_with('.') && y.to_ascii_lowercase().ends_with(&x.to_ascii_lowercase()))
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

/// Index keys an address is filed under; a later rule looks up the keys that could
/// cover it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum AddrKey {
    Local,
    All,
    SameHost,
    SameNet,
    Net(IpNet),
    Host(String),
    Masked(IpAddr, IpAddr),
}

fn own_key(a: Option<&HbaAddress>) -> AddrKey {
    match a {
        None => AddrKey::Local,
        Some(HbaAddress::All) => AddrKey::All,
        Some(HbaAddress::SameHost) => AddrKey::SameHost,
        Some(HbaAddress::SameNet) => AddrKey::SameNet,
        Some(HbaAddress::Net(n)) => AddrKey::Net(n.trunc()),
        Some(HbaAddress::HostName(h)) => AddrKey::Host(h.to_ascii_lowercase()),
        Some(HbaAddress::Masked { addr, mask }) => AddrKey::Masked(*addr, *mask),
        // Unknown future address kinds are filed where every later rule looks.
        #[allow(unreachable_patterns)]
        Some(_) => AddrKey::All,
    }
}

/// The keys of every address that could cover `a`; `prefixes` are the prefix lengths
/// filed so far (IPv4, IPv6), so only networks that can exist are looked up.
fn covering_keys(a: Option<&HbaAddress>, prefixes: &[BTreeSet<u8>; 2]) -> Vec<AddrKey> {
    let mut keys = Vec::new();
    match a {
        None => keys.push(AddrKey::Local),
        Some(addr) => {
            keys.push(AddrKey::All);
            match addr {
                HbaAddress::Net(n) => {
                    let ip: IpAddr = n.addr();
                    let family = usize::from(ip.is_ipv6());
                    for &len in prefixes[family].range(..=n.prefix_len()) {
                        if let Ok(net) = IpNet::new(ip, len) {
                            keys.push(AddrKey::Net(net.trunc()));
                        }
                    }
                }
                HbaAddress::HostName(h) => {
                    let h = h.to_ascii_lowercase();
                    keys.push(AddrKey::Host(h.clone()));
                    for (i, c) in h.char_indices() {
                        if c == '.' {
                            keys.push(AddrKey::Host(h[i..].to_owned()));
                        }
                    }
                }
                HbaAddress::SameHost => keys.push(AddrKey::SameHost),
                HbaAddress::SameNet => keys.push(AddrKey::SameNet),
                HbaAddress::Masked { addr, mask } => keys.push(AddrKey::Masked(*addr, *mask)),
                _ => {}
            }
        }
    }
    keys
}

/// (address key, user) → (first node, last node) of that key's list.
type ListHeads<'a> =
    HashMap<(AddrKey, Option<&'a HbaToken>), (usize, usize), BuildHasherDefault<Fnv>>;

/// Earlier rules filed by (address key, user): `None` for rules for all users, else one
/// entry per user token listed. Each entry is a list, in line order, kept in one arena
/// so a 100,000-line file costs no allocation per line.
#[derive(Default)]
struct Index<'a> {
    lists: ListHeads<'a>,
    /// (line index, next node)
    nodes: Vec<(usize, Option<usize>)>,
}

impl<'a> Index<'a> {
    fn push(&mut self, key: (AddrKey, Option<&'a HbaToken>), line: usize) {
        let node = self.nodes.len();
        self.nodes.push((line, None));
        match self.lists.get_mut(&key) {
            Some((_, tail)) => {
                if let Some(prev) = self.nodes.get_mut(*tail) {
                    prev.1 = Some(node);
                }
                *tail = node;
            }
            None => {
                self.lists.insert(key, (node, node));
            }
        }
    }

    /// The first line of the list at `key` before `before` that satisfies `pred`.
    fn first(
        &self,
        key: &(AddrKey, Option<&'a HbaToken>),
        before: Option<usize>,
        pred: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let mut next = self.lists.get(key).map(|(head, _)| *head);
        while let Some(n) = next {
            let (line, after) = *self.nodes.get(n)?;
            if before.is_some_and(|b| line >= b) {
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

/// FNV-1a: hashing dominated the shadow check with SipHash; the keys come from the
/// user's own file, so flooding resistance buys nothing here.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// For each accepted line, the index of the first earlier line covering it, if any.
fn shadowing<'a>(lines: &[Line<'a>]) -> Vec<Option<usize>> {
    let mut index = Index::default();
    let mut prefixes: [BTreeSet<u8>; 2] = Default::default();
    let mut out = Vec::with_capacity(lines.len());
    for (j, l) in lines.iter().enumerate() {
        let r: &'a HbaRule = l.rule;
        let mut best: Option<usize> = None;
        // An earlier rule covering this one lists `all` or this rule's first user.
        if let Some(first_user) = r.users.first() {
            for addr in covering_keys(r.address.as_ref(), &prefixes) {
                for user in [None, Some(first_user)] {
                    let key = (addr.clone(), user);
                    if let Some(i) = index.first(&key, best, |i| covers(lines[i].rule, r)) {
                        best = Some(i);
                    }
                }
            }
        }
        out.push(best);
        if let Some(HbaAddress::Net(n)) = &r.address {
            prefixes[usize::from(n.addr().is_ipv6())].insert(n.prefix_len());
        }
        let addr = own_key(r.address.as_ref());
        if r.users.iter().any(|u| u.is_keyword("all")) {
            index.push((addr, None), j);
        } else {
            for u in &r.users {
                index.push((addr.clone(), Some(u)), j);
            }
        }
    }
    out
}

/// `hba.shadowed_rule`: a rule an earlier rule fully covers.
pub(super) fn shadowed_rule(ev: &mut Eval<'_>) {
    let hba = need!(ev, ev.hba());
    let lines: Vec<Line<'_>> = accepted(hba).collect();
    for (j, by) in shadowing(&lines).into_iter().enumerate() {
        let Some(i) = by else { continue };
        let (l, earlier) = (&lines[j], &lines[i]);
        let (object, at) = l.object_and_at();
        ev.emit(
            object,
            l.location(),
            format!(
                "{at} can never match: {} matches every connection it would",
                earlier.at()
            ),
            format!(
                "# delete line {} or move it above line {}",
                l.line.line_number, earlier.line.line_number
            ),
        );
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
