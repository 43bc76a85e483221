//! [`MemoPlan`] and [`Memo`]: a router's native rules, and the fields they read from
//! one case, each read once for all of them.

use std::cmp::Ordering;

use super::parse::Var;
use super::specialised::Node;
use super::{At, Lookup, NativeCondition, Operand, field, variable};
use crate::script::names::Source;
use crate::script::{CaseView, EvalContext};
use crate::value::{Fields, Value};

/// A router's rules that have a native form, evaluated in order by
/// [`MemoPlan::first_match`] on one [`Memo`]; and where that memo keeps each field the
/// rules read (the built-ins cost less to read again than to keep, `<stage>_at` is
/// seldom read twice): a position of its own for each (the first [`MEMO_SIZE`] in
/// reading order), found by the variable's slot without a search; and the fields
/// read from a case in one pass.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemoPlan {
    /// The rules' specialised trees, in order (from [`NativeCondition::plan`]).
    rules: Vec<Node>,
    /// By slot: the variable's position in the memo, or [`NOT_KEPT`].
    positions: Vec<u8>,
    /// Positions given so far.
    kept: usize,
    /// The fields read in one pass (the first [`PREFETCH_MAX`] in reading order),
    /// sorted by name once [`MemoPlan::finish`] has run.
    prefetch: Vec<Wanted>,
    /// The prefetched fields' positions, a bit each.
    prefetched: u32,
}

/// A field a memo reads in one pass, and its position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Wanted {
    name: Box<str>,
    position: u8,
}

const NOT_KEPT: u8 = u8::MAX;

/// Variables a memo keeps at most (a router's rules mostly read the same handful).
const MEMO_SIZE: usize = 16;

/// Fields a memo reads in one pass at most, the others being read as the rules need
/// them.
const PREFETCH_MAX: usize = 10;

impl MemoPlan {
    /// Adds `condition` as the next rule, and the variables it reads.
    pub(super) fn add_rule(&mut self, condition: &NativeCondition) {
        condition.expr.each_var(&mut |var| self.add(var));
        self.rules.push(condition.node.clone());
    }

    fn add(&mut self, var: &Var) {
        if !matches!(var.source, Source::Field(_))
            || self.positions.get(var.slot).is_some_and(|p| *p != NOT_KEPT)
            || self.kept >= MEMO_SIZE
        {
            return;
        }
        if self.positions.len() <= var.slot {
            self.positions.resize(var.slot + 1, NOT_KEPT);
        }
        let position = self.kept as u8;
        self.positions[var.slot] = position;
        self.kept += 1;
        if let Source::Field(name) = &var.source
            && self.prefetch.len() < PREFETCH_MAX
        {
            let name = name.as_str().into();
            self.prefetch.push(Wanted { name, position });
            self.prefetched |= 1 << position;
        }
    }

    /// The plan, ready for [`Memo::new`].
    pub(crate) fn finish(mut self) -> MemoPlan {
        self.prefetch.sort();
        self
    }

    /// How many rules the plan holds.
    pub(crate) fn rules(&self) -> usize {
        self.rules.len()
    }

    /// The index of the first of the plan's rules that holds on `case`, `Some(None)`
    /// if none does, reading variables through `memo` (made from the plan, its fields
    /// read); `None` to defer to Rhai.
    pub(crate) fn first_match<'v>(
        &'v self,
        memo: &mut Memo<'v>,
        case: &CaseView<'v>,
        ctx: &EvalContext,
    ) -> Option<Option<usize>> {
        let mut at = At {
            case,
            ctx,
            look: memo,
        };
        for (index, rule) in self.rules.iter().enumerate() {
            if at.node(rule)? {
                return Some(Some(index));
            }
        }
        Some(None)
    }
}

/// Fields already read from one case (`None`: not in the case), at the positions a
/// [`MemoPlan`] gives them.
pub(crate) struct Memo<'v> {
    positions: &'v [u8],
    values: [Option<&'v Value>; MEMO_SIZE],
    /// Which positions hold a value, a bit each.
    read: u32,
}

impl<'v> Memo<'v> {
    /// An empty memo for the variables of `plan`; [`Memo::read_fields`] fills it.
    #[inline]
    pub(crate) fn new(plan: &'v MemoPlan) -> Memo<'v> {
        Memo {
            positions: &plan.positions,
            values: [None; MEMO_SIZE],
            read: 0,
        }
    }

    /// Reads the fields `plan` reads in one pass from `fields`, in one pass over both
    /// (the map and the plan's fields are sorted by name) instead of a search of the
    /// map for each.
    pub(crate) fn read_fields(&mut self, fields: &'v Fields, plan: &'v MemoPlan) {
        // A field not in the case is `None`, which the memo holds until set.
        self.read |= plan.prefetched;
        let mut wanted = plan.prefetch.iter();
        let Some(mut want) = wanted.next() else {
            return;
        };
        for (key, value) in fields {
            loop {
                match name_order(key, &want.name) {
                    // Not wanted.
                    Ordering::Less => break,
                    Ordering::Equal => {
                        if let Some(slot) = self.values.get_mut(usize::from(want.position)) {
                            *slot = Some(value);
                        }
                        match wanted.next() {
                            Some(next) => want = next,
                            None => return,
                        }
                        break;
                    }
                    // Not in the case.
                    Ordering::Greater => match wanted.next() {
                        Some(next) => want = next,
                        None => return,
                    },
                }
            }
        }
    }
}

/// The order of two names as a map of `String` keys orders them (byte by byte): the
/// first bytes, which mostly differ, then equal names (which a one-pass read mostly
/// meets) compared a word at a time, rather than by a call.
#[inline(always)]
fn name_order(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match (a.first(), b.first()) {
        (Some(x), Some(y)) if x != y => return x.cmp(y),
        _ => {}
    }
    if a.len() == b.len() && same_short(a, b) {
        return Ordering::Equal;
    }
    a.cmp(b)
}

/// Whether two byte strings of the same length are equal, those of 4 to 16 bytes in
/// two overlapping words (the commonest field names); `==` otherwise.
#[inline(always)]
pub(super) fn same_short(a: &[u8], b: &[u8]) -> bool {
    fn ends<const N: usize>(s: &[u8]) -> Option<(&[u8; N], &[u8; N])> {
        Some((s.first_chunk::<N>()?, s.last_chunk::<N>()?))
    }
    match a.len() {
        8..=16 => ends::<8>(a) == ends::<8>(b),
        4..8 => ends::<4>(a) == ends::<4>(b),
        _ => a == b,
    }
}

impl<'v> Lookup<'v> for Memo<'v> {
    #[inline(always)]
    fn get(&mut self, var: &'v Var, case: &CaseView<'v>, ctx: &EvalContext) -> Operand<'v> {
        let position = usize::from(self.positions.get(var.slot).copied().unwrap_or(NOT_KEPT));
        if let (Some(kept), Source::Field(name)) = (self.values.get_mut(position), &var.source) {
            let bit = 1 << position;
            if self.read & bit == 0 {
                *kept = not_prefetched(case.fields, name);
                self.read |= bit;
            }
            return kept.map_or(Operand::Unit, field);
        }
        variable(&var.source, case, ctx)
    }

    #[inline(always)]
    fn field(&mut self, var: &'v Var, case: &CaseView<'v>) -> Option<Option<&'v Value>> {
        let Source::Field(name) = &var.source else {
            return None;
        };
        let position = usize::from(self.positions.get(var.slot).copied().unwrap_or(NOT_KEPT));
        let Some(kept) = self.values.get_mut(position) else {
            return Some(not_prefetched(case.fields, name));
        };
        let bit = 1 << position;
        if self.read & bit == 0 {
            *kept = not_prefetched(case.fields, name);
            self.read |= bit;
        }
        Some(*kept)
    }
}

/// A field a memo keeps but did not read in its one pass, read when first needed:
/// apart, so that the evaluation's functions stay small.
#[cold]
#[inline(never)]
fn not_prefetched<'v>(fields: &'v Fields, name: &str) -> Option<&'v Value> {
    fields.get(name)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use chrono::DateTime;

    use super::*;
    use crate::script::test_support::NoCalendar;

    #[test]
    fn a_memo_reads_each_field_as_the_case_holds_it() {
        // More than `PREFETCH_MAX`, in an order unlike the map's, some in no case.
        let names = [
            "vulnerable",
            "amount",
            "zeta",
            "a",
            "category",
            "channel",
            "complex",
            "items",
            "summary",
            "a_very_long_field_name",
            "incident_date",
            "b",
            "promised_at",
        ];
        let vars: Vec<Var> = names
            .iter()
            .enumerate()
            .map(|(slot, name)| Var {
                slot,
                source: Source::Field(name.to_string()),
            })
            .collect();
        let mut plan = MemoPlan::default();
        vars.iter().for_each(|var| plan.add(var));
        let plan = plan.finish();
        let present = [
            "",
            "a",
            "aa",
            "amount",
            "amounts",
            "b",
            "categorz",
            "category",
            "channel",
            "items",
            "summary",
            "a_very_long_field_namf",
            "a_very_long_field_name",
            "zeta",
            "é",
        ];
        let ctx = EvalContext {
            now: DateTime::default(),
            calendar: Arc::new(NoCalendar),
        };
        let entered = BTreeMap::new();
        for n in 0..present.len() {
            for skip in [1, 2, 3] {
                let fields: Fields = present[..n]
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % skip == 0)
                    .map(|(i, name)| (name.to_string(), Value::Integer(i as i64)))
                    .collect();
                let case = CaseView {
                    fields: &fields,
                    stage: "received",
                    queue: None,
                    priority: None,
                    received_at: DateTime::default(),
                    tags: &[],
                    reopen_count: 0,
                    stage_entered_at: &entered,
                };
                let mut memo = Memo::new(&plan);
                memo.read_fields(&fields, &plan);
                for var in vars.iter().rev().chain(&vars) {
                    let got = format!("{:?}", memo.get(var, &case, &ctx));
                    let expected = format!("{:?}", variable(&var.source, &case, &ctx));
                    assert_eq!(got, expected, "{:?} in {:?}", var.source, fields.keys());
                }
            }
        }
    }

    #[test]
    fn names_order_as_strings_do() {
        let names = [
            "",
            "a",
            "amount",
            "amounts",
            "amount_due",
            "category",
            "categorz",
            "channel",
            "a_very_long_field_name",
            "a_very_long_field_namf",
            "é",
            "z",
        ];
        for a in names {
            for b in names {
                assert_eq!(name_order(a, b), a.cmp(b), "`{a}` against `{b}`");
            }
        }
    }
}
