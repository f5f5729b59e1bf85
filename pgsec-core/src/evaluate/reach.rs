//! What a role can act as through role memberships, for the rules about the
//! application's role.
//!
//! PostgreSQL separates two things a membership gives:
//! - **privileges** (ownership included) are *inherited* along memberships with the
//!   inherit option (PostgreSQL 16+ per grant; before 16, when the member is INHERIT);
//! - a role can **`SET ROLE`** to a role it reaches along memberships with the set
//!   option (16+; before 16, any membership, INHERIT or not), and then has that role's
//!   attributes (SUPERUSER, BYPASSRLS) and what it inherits.
//!
//! Attributes are never inherited, so a member of a superuser role is a superuser only
//! after `SET ROLE` — which any statement of the application, `SET LOCAL ROLE` inside a
//! tenant transaction included, can do.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use crate::snapshot::{AclItem, RoleFact, TableFact};

/// The collected roles by name.
pub(crate) struct Roles<'a> {
    by_name: BTreeMap<&'a str, &'a RoleFact>,
}

impl<'a> Roles<'a> {
    pub(crate) fn new(roles: &'a [RoleFact]) -> Self {
        Roles {
            by_name: roles.iter().map(|r| (r.name.as_str(), r)).collect(),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&'a RoleFact> {
        self.by_name.get(name).copied()
    }

    /// The roles `start` reaches along memberships whose options satisfy `follow`
    /// (`(inherit, set)`), each with its shortest chain (`start` first), `start`
    /// included.
    fn walk(&self, start: &str, follow: impl Fn(bool, bool) -> bool) -> BTreeMap<String, Chain> {
        let mut out: BTreeMap<String, Chain> = BTreeMap::new();
        out.insert(start.to_owned(), Chain::start(start));
        let mut queue = VecDeque::from([start.to_owned()]);
        while let Some(name) = queue.pop_front() {
            let Some(role) = self.get(&name) else {
                continue;
            };
            let granted: BTreeSet<&str> = role
                .member_of
                .iter()
                .map(String::as_str)
                .chain(role.memberships.iter().map(|m| m.role.as_str()))
                .collect();
            for g in granted {
                if out.contains_key(g) {
                    continue;
                }
                let Some((inherit, set)) = role.membership(g) else {
                    continue;
                };
                if !follow(inherit, set) {
                    continue;
                }
                let mut chain = out
                    .get(&name)
                    .cloned()
                    .unwrap_or_else(|| Chain::start(&name));
                chain.roles.push(g.to_owned());
                out.insert(g.to_owned(), chain);
                queue.push_back(g.to_owned());
            }
        }
        out
    }

    /// The roles whose privileges `role` has without `SET ROLE` (itself included).
    pub(crate) fn privileges_of(&self, role: &str) -> BTreeMap<String, Chain> {
        self.walk(role, |inherit, _| inherit)
    }

    /// Why `owner` reads tenant table `t` past its policies: it is a superuser, has
    /// BYPASSRLS, or has the privileges of the table's owner (who may also switch FORCE
    /// ROW LEVEL SECURITY off). `None` when it does not.
    pub(crate) fn bypass_reason(&self, owner: &str, t: &TableFact) -> Option<String> {
        let role = self.get(owner);
        if role.is_some_and(|r| r.superuser) {
            return Some(format!("{owner} is a superuser"));
        }
        if role.is_some_and(|r| r.bypassrls) {
            return Some(format!("{owner} has BYPASSRLS"));
        }
        if owner == t.owner {
            return Some(format!("{owner} owns {}", t.qualified()));
        }
        self.privileges_of(owner).get(&t.owner).map(|chain| {
            format!(
                "{owner} has the privileges of {}, the owner of {} ({chain})",
                t.owner,
                t.qualified()
            )
        })
    }

    /// What `app` can act as.
    pub(crate) fn reach(&self, app: &str) -> Reach {
        let settable = self.walk(app, |_, set| set);
        let mut acts_as: BTreeMap<String, (Chain, Option<String>)> = BTreeMap::new();
        // The application's own inheritance first, so that a role it has the privileges
        // of without SET ROLE is reported that way.
        let mut starts: Vec<(&String, &Chain)> = settable.iter().collect();
        starts.sort_by_key(|(name, chain)| (*name != app, chain.roles.len()));
        for (start, to_start) in starts {
            for (role, inherited) in self.privileges_of(start) {
                if acts_as.contains_key(&role) {
                    continue;
                }
                let mut chain = to_start.clone();
                chain.roles.extend(inherited.roles.into_iter().skip(1));
                let via = (start != app).then(|| start.clone());
                acts_as.insert(role, (chain, via));
            }
        }
        Reach {
            app: app.to_owned(),
            settable: settable.into_iter().filter(|(r, _)| r != app).collect(),
            acts_as,
        }
    }
}

/// A chain of memberships from one role to another (both included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chain {
    pub(crate) roles: Vec<String>,
}

impl Chain {
    fn start(role: &str) -> Self {
        Chain {
            roles: vec![role.to_owned()],
        }
    }

    /// The first role granted along the chain (what to revoke from its start).
    pub(crate) fn first_hop(&self) -> Option<&str> {
        self.roles.get(1).map(String::as_str)
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.roles.join(" -> "))
    }
}

/// What the application's role can act as.
#[derive(Debug, Clone)]
pub(crate) struct Reach {
    app: String,
    /// Roles it may `SET ROLE` to (not itself), with the chain.
    settable: BTreeMap<String, Chain>,
    /// Roles whose privileges it has, itself included: with the chain and, when that
    /// needs one, the role it would `SET ROLE` to first.
    acts_as: BTreeMap<String, (Chain, Option<String>)>,
}

impl Reach {
    /// The roles it may `SET ROLE` to, with their chains.
    pub(crate) fn settable(&self) -> impl Iterator<Item = (&str, &Chain)> {
        self.settable.iter().map(|(r, c)| (r.as_str(), c))
    }

    /// The chain to a role it may `SET ROLE` to.
    pub(crate) fn set_chain(&self, role: &str) -> Option<&Chain> {
        self.settable.get(role)
    }

    /// How it has `role`'s privileges: the chain, and the role to `SET ROLE` to first
    /// (`None`: inherited, or `role` is the application's role itself).
    pub(crate) fn acts_as(&self, role: &str) -> Option<(&Chain, Option<&str>)> {
        self.acts_as
            .get(role)
            .map(|(chain, via)| (chain, via.as_deref()))
    }

    /// How the application's role holds one of the privilege `letters` on an object
    /// owned by `owner` with `acl` (`None`: the default, which grants PUBLIC the
    /// privileges when `public_by_default`), or `None` when it holds none.
    pub(crate) fn may_use(
        &self,
        acl: Option<&[AclItem]>,
        owner: &str,
        letters: &str,
        public_by_default: bool,
    ) -> Option<String> {
        let app = &self.app;
        if let Some((chain, via)) = self.acts_as(owner) {
            return Some(match (owner == app, via) {
                (true, _) => format!("{app} owns it"),
                (false, None) => format!("{app} has the privileges of its owner ({chain})"),
                (false, Some(v)) => {
                    format!("{app} can SET ROLE to {v} and act as its owner ({chain})")
                }
            });
        }
        let Some(items) = acl else {
            return public_by_default.then(|| "PUBLIC holds it by default".to_owned());
        };
        for item in items {
            if !item.privileges.chars().any(|c| letters.contains(c)) {
                continue;
            }
            if item.is_public() {
                return Some(format!("PUBLIC holds `{}`", item.privileges));
            }
            if let Some((chain, via)) = self.acts_as(&item.grantee) {
                return Some(match (item.grantee == *app, via) {
                    (true, _) => format!("{app} holds `{}`", item.privileges),
                    (false, None) => format!(
                        "{} holds `{}` and {app} has its privileges ({chain})",
                        item.grantee, item.privileges
                    ),
                    (false, Some(v)) => format!(
                        "{} holds `{}` and {app} can SET ROLE to {v} ({chain})",
                        item.grantee, item.privileges
                    ),
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Membership;

    fn member(name: &str, of: &[&str]) -> RoleFact {
        let mut r = RoleFact::group(name);
        r.member_of = of.iter().map(|s| (*s).to_owned()).collect();
        r
    }

    #[test]
    fn set_role_follows_noinherit_memberships_and_privileges_do_not() {
        let mut app = member("app", &["owners"]);
        app.login = true;
        app.inherit = false;
        let roles = vec![app, member("owners", &["admins"]), member("admins", &[])];
        let idx = Roles::new(&roles);
        let reach = idx.reach("app");
        let set: Vec<&str> = reach.settable().map(|(r, _)| r).collect();
        assert_eq!(set, ["admins", "owners"]);
        assert_eq!(
            reach.set_chain("admins").unwrap().to_string(),
            "app -> owners -> admins"
        );
        // NOINHERIT: owners' privileges only after SET ROLE owners.
        assert_eq!(reach.acts_as("owners").unwrap().1, Some("owners"));
        assert_eq!(idx.privileges_of("app").len(), 1);
        // owners is INHERIT: after SET ROLE owners, admins' privileges come with it.
        let (chain, via) = reach.acts_as("admins").unwrap();
        assert_eq!(
            (chain.to_string().as_str(), via),
            ("app -> owners -> admins", Some("owners"))
        );
    }

    #[test]
    fn per_grant_options_of_postgresql_16() {
        let mut app = member("app", &["readers", "admins"]);
        app.memberships = vec![
            Membership::new("readers", true, false),
            Membership::new("admins", false, false),
        ];
        let roles = vec![app, member("readers", &[]), member("admins", &[])];
        let idx = Roles::new(&roles);
        let reach = idx.reach("app");
        assert_eq!(reach.settable().count(), 0, "no set option, no SET ROLE");
        assert_eq!(reach.acts_as("readers").unwrap().1, None, "inherited");
        assert!(reach.acts_as("admins").is_none());
    }

    #[test]
    fn privileges_on_objects() {
        let app = member("app", &["staff"]);
        let roles = vec![app, member("staff", &[])];
        let reach = Roles::new(&roles).reach("app");
        let acl = |items: &[&str]| -> Vec<AclItem> {
            items.iter().map(|i| AclItem::parse(i).unwrap()).collect()
        };
        assert!(reach
            .may_use(Some(&acl(&["staff=r/o"])), "o", "r", false)
            .unwrap()
            .contains("staff holds"));
        assert!(reach
            .may_use(Some(&acl(&["=r/o"])), "o", "r", false)
            .is_some());
        assert!(reach
            .may_use(Some(&acl(&["other=r/o"])), "o", "r", false)
            .is_none());
        assert!(reach
            .may_use(Some(&acl(&["app=x/o"])), "o", "r", false)
            .is_none());
        assert!(reach.may_use(None, "o", "X", true).is_some());
        assert!(reach.may_use(None, "o", "r", false).is_none());
        assert!(
            reach.may_use(None, "staff", "r", false).is_some(),
            "acts as the owner"
        );
    }
}
