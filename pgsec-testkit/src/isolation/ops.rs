//! Operation sequences: the proptest strategy of one case.
//!
//! Indexes are resolved modulo what exists when the operation runs, so that the
//! strategy has fixed ranges and shrinking moves every choice towards the first
//! tenant, table and row.

use proptest::prelude::*;
use proptest::strategy::Union;

/// What a read selects from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A tenant table (index into the schema's tables).
    Table(usize),
    /// A view over tenant tables (index into the schema's views).
    View(usize),
    /// A call of a function with one of its generated argument lists (index into the
    /// engine's calls).
    Function(usize),
}

/// Where a transaction without a tenant runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bare {
    /// A connection of the application role that never set the tenant setting
    /// (`current_setting(.., true)` is NULL).
    Fresh,
    /// The pooled connection, with the setting emptied inside the transaction (what a
    /// pooled session holds between tenant transactions: `''`, and whatever state
    /// earlier transactions left behind).
    Pooled,
}

/// One operation; each runs in its own transaction(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// Select as a tenant.
    Read { actor: usize, target: Target },
    /// Insert a row of one's own, then select the table (rolled back).
    InsertOwn { actor: usize, table: usize },
    /// Insert a row carrying another tenant's id (rolled back).
    InsertForeign {
        actor: usize,
        victim: usize,
        table: usize,
    },
    /// Update one of one's own rows without changing it, then select (rolled back).
    UpdateOwn {
        actor: usize,
        table: usize,
        row: usize,
    },
    /// `UPDATE t SET tenant = <own id>` with no WHERE (rolled back). Without a
    /// WHERE the statement reads no column, so only UPDATE policies apply (a WHERE
    /// would add the SELECT policies): more rows than the tenant owns means another
    /// tenant's rows were rewritten.
    UpdateAll { actor: usize, table: usize },
    /// `UPDATE t SET tenant = <another id>` with no WHERE (rolled back): any row
    /// updated was handed to another tenant.
    MoveAll {
        actor: usize,
        victim: usize,
        table: usize,
    },
    /// `DELETE FROM t` with no WHERE (rolled back): more rows than the tenant owns
    /// means another tenant's rows went.
    DeleteAll { actor: usize, table: usize },
    /// Select with no tenant set.
    NoTenant {
        bare: Bare,
        via: usize,
        target: Target,
    },
    /// Two tenants one after the other on the same pooled connection.
    Switch {
        first: usize,
        second: usize,
        target: Target,
    },
    /// Tenants holding transactions open at the same time on separate connections.
    Concurrent { actors: Vec<usize>, target: Target },
}

impl Op {
    /// Whether the operation uses the concurrent pool.
    pub(crate) fn is_concurrent(&self) -> bool {
        matches!(self, Op::Concurrent { .. })
    }
}

/// Sizes the strategy draws indexes from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) actors: usize,
    pub(crate) tenants: usize,
    /// Tables that can be read (all tenant tables).
    pub(crate) tables: usize,
    /// Tables that can be written (not partitions), as indexes into a separate list.
    pub(crate) writable: usize,
    pub(crate) views: usize,
    /// Function calls (a function with one generated argument list each).
    pub(crate) calls: usize,
    /// Most operations in one case.
    pub(crate) max_ops: usize,
}

/// Rows a write may address in one tenant's seeded rows (resolved modulo the count).
const ROW_CHOICES: usize = 3;

fn target(shape: Shape) -> BoxedStrategy<Target> {
    let tables = (0..shape.tables.max(1)).prop_map(Target::Table);
    // Views and calls weigh like tables: each is an independent way in.
    let mut arms = vec![(shape.tables.max(1) as u32, tables.boxed())];
    if shape.views > 0 {
        arms.push((
            shape.views as u32,
            (0..shape.views).prop_map(Target::View).boxed(),
        ));
    }
    if shape.calls > 0 {
        arms.push((
            shape.calls as u32,
            (0..shape.calls).prop_map(Target::Function).boxed(),
        ));
    }
    if arms.len() == 1 {
        if let Some((_, only)) = arms.pop() {
            return only;
        }
    }
    Union::new_weighted(arms).boxed()
}

/// One operation.
pub(crate) fn op(shape: Shape) -> BoxedStrategy<Op> {
    let a = 0..shape.actors.max(1);
    // A victim index counts over the other tenants.
    let v = 0..shape.tenants.saturating_sub(1).max(1);
    let w = 0..shape.writable.max(1);
    let r = 0..ROW_CHOICES;
    let tgt = target(shape);
    let mut arms: Vec<(u32, BoxedStrategy<Op>)> = vec![
        (
            6,
            (a.clone(), tgt.clone())
                .prop_map(|(actor, target)| Op::Read { actor, target })
                .boxed(),
        ),
        (
            3,
            (
                prop_oneof![Just(Bare::Fresh), Just(Bare::Pooled)],
                a.clone(),
                tgt.clone(),
            )
                .prop_map(|(bare, via, target)| Op::NoTenant { bare, via, target })
                .boxed(),
        ),
        (
            2,
            (a.clone(), a.clone(), tgt.clone())
                .prop_map(|(first, second, target)| Op::Switch {
                    first,
                    second,
                    target,
                })
                .boxed(),
        ),
        (
            1,
            (prop::collection::vec(a.clone(), 2..=3), tgt)
                .prop_map(|(actors, target)| Op::Concurrent { actors, target })
                .boxed(),
        ),
    ];
    if shape.writable > 0 {
        arms.extend([
            (
                1,
                (a.clone(), w.clone())
                    .prop_map(|(actor, table)| Op::InsertOwn { actor, table })
                    .boxed(),
            ),
            (
                3,
                (a.clone(), v.clone(), w.clone())
                    .prop_map(|(actor, victim, table)| Op::InsertForeign {
                        actor,
                        victim,
                        table,
                    })
                    .boxed(),
            ),
            (
                1,
                (a.clone(), w.clone(), r)
                    .prop_map(|(actor, table, row)| Op::UpdateOwn { actor, table, row })
                    .boxed(),
            ),
            (
                2,
                (a.clone(), w.clone())
                    .prop_map(|(actor, table)| Op::UpdateAll { actor, table })
                    .boxed(),
            ),
            (
                3,
                (a.clone(), v, w.clone())
                    .prop_map(|(actor, victim, table)| Op::MoveAll {
                        actor,
                        victim,
                        table,
                    })
                    .boxed(),
            ),
            (
                2,
                (a, w)
                    .prop_map(|(actor, table)| Op::DeleteAll { actor, table })
                    .boxed(),
            ),
        ]);
    }
    Union::new_weighted(arms).boxed()
}

/// A case: 1 to `max_ops` operations.
pub(crate) fn case(shape: Shape) -> BoxedStrategy<Vec<Op>> {
    prop::collection::vec(op(shape), 1..=shape.max_ops.max(1)).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    const SHAPE: Shape = Shape {
        actors: 6,
        tenants: 9,
        tables: 5,
        writable: 4,
        views: 2,
        calls: 3,
        max_ops: 6,
    };

    #[test]
    fn every_operation_kind_is_generated_within_range() {
        let mut runner = TestRunner::deterministic();
        let strategy = case(SHAPE);
        let mut kinds = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let ops = strategy.new_tree(&mut runner).unwrap().current();
            assert!((1..=6).contains(&ops.len()));
            for op in ops {
                let name = format!("{op:?}");
                kinds.insert(name.split([' ', '{']).next().unwrap().to_owned());
                let in_range = |t: &Target| match t {
                    Target::Table(i) => *i < SHAPE.tables,
                    Target::View(i) => *i < SHAPE.views,
                    Target::Function(i) => *i < SHAPE.calls,
                };
                match &op {
                    Op::Read { actor, target } => assert!(*actor < 6 && in_range(target)),
                    Op::Concurrent { actors, target } => {
                        assert!((2..=3).contains(&actors.len()) && in_range(target));
                    }
                    Op::DeleteAll { table, .. } => assert!(*table < 4),
                    Op::MoveAll { victim, .. } => assert!(*victim < 8),
                    _ => {}
                }
            }
        }
        assert_eq!(kinds.len(), 10, "{kinds:?}");
    }

    #[test]
    fn without_writable_tables_only_reads_are_generated() {
        let shape = Shape {
            writable: 0,
            views: 0,
            calls: 0,
            ..SHAPE
        };
        let mut runner = TestRunner::deterministic();
        let strategy = case(shape);
        for _ in 0..200 {
            for op in strategy.new_tree(&mut runner).unwrap().current() {
                assert!(matches!(
                    op,
                    Op::Read { .. }
                        | Op::NoTenant { .. }
                        | Op::Switch { .. }
                        | Op::Concurrent { .. }
                ));
            }
        }
    }

    #[test]
    fn shrinking_reaches_a_single_first_choice_operation() {
        let mut runner = TestRunner::deterministic();
        let strategy = case(SHAPE);
        let mut tree = strategy.new_tree(&mut runner).unwrap();
        // Everything "fails": shrinking must end at one operation with index 0 choices.
        while tree.simplify() {}
        let minimal = tree.current();
        assert_eq!(minimal.len(), 1, "{minimal:?}");
    }
}
