//! The `[reporting]` table: each dimension's field, the outcome's values, the
//! redress, satisfaction and complainant fields, the resolution SLA, value groups.

use crate::policy::Names;
use std::collections::BTreeMap;
use std::str::FromStr;

use super::Validator;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::policy::field::{FieldDef, FieldType};
use crate::policy::locate::Seg;
use crate::policy::raw::RawReporting;
use crate::policy::reporting::{Dimension, Outcome, Reporting, Source};
use crate::policy::{Routing, Sla};

/// The dimensions `[reporting]` maps to a field, with the default field of each.
const FIELD_DIMENSIONS: [(Dimension, Option<&str>); 5] = [
    (Dimension::Category, Some("category")),
    (Dimension::Product, None),
    (Dimension::Channel, Some("channel")),
    (Dimension::Department, None),
    (Dimension::RootCause, None),
];

/// The types a field may have, by what reporting reads from it.
const GROUPING: &[FieldType] = &[FieldType::Enum, FieldType::Text];

impl Validator<'_, '_> {
    pub(super) fn reporting(
        &mut self,
        fields: &Names<FieldDef>,
        slas: &Names<Sla>,
        routing: Option<&Routing>,
    ) -> Reporting {
        let empty = RawReporting::default();
        let raw = self.doc.reporting.as_ref().unwrap_or(&empty);
        let mut out = Reporting::default();
        out.sources.insert(Dimension::Queue, Source::Queue);
        out.sources.insert(Dimension::Department, Source::Queue);
        for (dimension, default) in FIELD_DIMENSIONS {
            if let Some(source) = self.dimension_source(raw, dimension, default, fields) {
                out.sources.insert(dimension, source);
            }
        }
        out.outcome = self.outcome(raw, fields);
        out.redress = self.typed_field(
            raw.redress.as_deref(),
            "redress",
            &[FieldType::Money],
            fields,
        );
        out.satisfaction = self
            .typed_field(
                raw.satisfaction.as_deref(),
                "satisfaction",
                &[FieldType::Integer],
                fields,
            )
            .map(|name| satisfaction_scale(&fields[&name], name));
        out.complainant = self.typed_field(
            raw.complainant.as_deref(),
            "complainant",
            &[FieldType::Text],
            fields,
        );
        if let Some(sla) = &raw.resolution {
            let path = ["reporting", "resolution"].map(Seg::Key);
            let known = slas.keys().map(String::as_str);
            out.resolution = self
                .check_known(Code::UnknownSla, "SLA", sla, known, &path)
                .then(|| sla.clone());
        }
        out.title = raw.title.clone();
        out.groups = self.groups(raw, &out.sources, fields, routing);
        out
    }

    fn dimension_source(
        &mut self,
        raw: &RawReporting,
        dimension: Dimension,
        default: Option<&str>,
        fields: &Names<FieldDef>,
    ) -> Option<Source> {
        let given = match dimension {
            Dimension::Category => raw.category.as_deref(),
            Dimension::Product => raw.product.as_deref(),
            Dimension::Channel => raw.channel.as_deref(),
            Dimension::Department => raw.department.as_deref(),
            _ => raw.root_cause.as_deref(),
        };
        match given {
            Some("queue") => Some(Source::Queue),
            Some(name) => self
                .typed_field(Some(name), dimension.as_str(), GROUPING, fields)
                .map(Source::Field),
            // A default applies only when the policy has a field of that name.
            None => default
                .filter(|d| fields.get(*d).is_some_and(|f| GROUPING.contains(&f.kind)))
                .map(|d| Source::Field(d.to_string())),
        }
    }

    /// Checks that `name` (at `reporting.<key>`) is a declared field of one of `types`.
    fn typed_field(
        &mut self,
        name: Option<&str>,
        key: &str,
        types: &[FieldType],
        fields: &Names<FieldDef>,
    ) -> Option<String> {
        let name = name?;
        let path = [Seg::Key("reporting"), Seg::Key(key)];
        let known = fields.keys().map(String::as_str);
        if !self.check_known(Code::UnknownField, "field", name, known, &path) {
            return None;
        }
        let kind = fields[name].kind;
        if types.contains(&kind) {
            return Some(name.to_string());
        }
        let wanted: Vec<String> = types.iter().map(|t| format!("`{}`", t.as_str())).collect();
        let d = Diagnostic::error(
            Code::ReportingFieldType,
            format!(
                "`{key}` reads field `{name}`, which is `{}`; it needs {}",
                kind.as_str(),
                wanted.join(" or ")
            ),
        )
        .at(self.at(&path))
        .with_label(format!("this field is `{}`", kind.as_str()));
        self.report(d);
        None
    }

    fn outcome(
        &mut self,
        raw: &RawReporting,
        fields: &Names<FieldDef>,
    ) -> Option<(String, BTreeMap<String, Outcome>)> {
        let lists = [
            (Outcome::Upheld, "upheld", &raw.upheld),
            (Outcome::PartlyUpheld, "partly_upheld", &raw.partly_upheld),
            (Outcome::NotUpheld, "not_upheld", &raw.not_upheld),
        ];
        let name = self.typed_field(
            raw.outcome.as_deref(),
            "outcome",
            &[FieldType::Enum],
            fields,
        );
        let Some(name) = name else {
            if raw.outcome.is_none() {
                self.needs_outcome(&lists);
            }
            return None;
        };
        let values = fields[&name].values.clone();
        let mut map = BTreeMap::new();
        let mut seen = BTreeMap::new();
        for (outcome, key, list) in lists {
            let Some(list) = list else {
                // Default: the enum value of the same name, when there is one.
                if values.iter().any(|v| v == key) {
                    map.insert(key.to_string(), outcome);
                }
                continue;
            };
            for (i, value) in list.iter().enumerate() {
                let path = [Seg::Key("reporting"), Seg::Key(key), Seg::Index(i)];
                if self.mapped_value(&name, value, &values, &path, &mut seen, key) {
                    map.insert(value.clone(), outcome);
                }
            }
        }
        Some((name, map))
    }

    /// Outcome lists without an outcome field mean nothing: say so.
    fn needs_outcome(&mut self, lists: &[(Outcome, &str, &Option<Vec<String>>)]) {
        for (_, key, list) in lists {
            if list.is_some() {
                let path = [Seg::Key("reporting"), Seg::Key(key)];
                let d = Diagnostic::error(
                    Code::MissingKey,
                    format!(
                        "`{key}` lists outcome values, but `[reporting]` has no `outcome` field"
                    ),
                )
                .at(self.key_at(&path))
                .with_help("name the enum field recorded at closing: `outcome = \"outcome\"`");
                self.report(d);
            }
        }
    }

    /// Checks that `value` is one of `values` and not already mapped elsewhere.
    fn mapped_value(
        &mut self,
        field: &str,
        value: &str,
        values: &[String],
        path: &[Seg<'_>],
        seen: &mut BTreeMap<String, String>,
        into: &str,
    ) -> bool {
        if !values.iter().any(|v| v == value) {
            let d = Diagnostic::error(
                Code::InvalidValue,
                format!("`{value}` is not one of the values of field `{field}`"),
            )
            .at(self.at(path))
            .with_help_opt(did_you_mean(value, values.iter().map(String::as_str)));
            self.report(d);
            return false;
        }
        if let Some(first) = seen.get(value) {
            let d = Diagnostic::error(
                Code::ReportingValueTwice,
                format!("`{value}` is already counted as `{first}`"),
            )
            .at(self.at(path))
            .with_help("a value can be in one outcome or group only");
            self.report(d);
            return false;
        }
        seen.insert(value.to_string(), into.to_string());
        true
    }

    fn groups(
        &mut self,
        raw: &RawReporting,
        sources: &BTreeMap<Dimension, Source>,
        fields: &Names<FieldDef>,
        routing: Option<&Routing>,
    ) -> BTreeMap<Dimension, BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (key, groups) in &raw.groups {
            let path = [Seg::Key("reporting"), Seg::Key("groups"), Seg::Key(key)];
            let Some((dimension, values)) = self.group_values(key, sources, fields, routing, &path)
            else {
                continue;
            };
            let what = match sources.get(&dimension) {
                Some(Source::Field(f)) => f.clone(),
                _ => "queue".to_string(),
            };
            let (mut map, mut seen) = (BTreeMap::new(), BTreeMap::new());
            for (group, list) in groups {
                for (i, value) in list.iter().enumerate() {
                    let at = [path[0], path[1], path[2], Seg::Key(group), Seg::Index(i)];
                    if self.mapped_value(&what, value, &values, &at, &mut seen, group) {
                        map.insert(value.clone(), group.clone());
                    }
                }
            }
            out.insert(dimension, map);
        }
        out
    }

    /// The dimension `groups.<key>` groups, and the values it can have.
    fn group_values(
        &mut self,
        key: &str,
        sources: &BTreeMap<Dimension, Source>,
        fields: &Names<FieldDef>,
        routing: Option<&Routing>,
        path: &[Seg<'_>],
    ) -> Option<(Dimension, Vec<String>)> {
        let known = sources.keys().map(|d| d.as_str());
        let dimension = Dimension::from_str(key)
            .ok()
            .filter(|d| sources.contains_key(d));
        let Some(dimension) = dimension else {
            let d = Diagnostic::error(
                Code::UnknownKey,
                format!("`{key}` is not a dimension this policy reports on"),
            )
            .at(self.key_at(path))
            .with_help_opt(did_you_mean(key, known));
            self.report(d);
            return None;
        };
        match &sources[&dimension] {
            Source::Queue => Some((dimension, self.queue_names(routing))),
            Source::Field(f) if fields[f].kind == FieldType::Enum => {
                Some((dimension, fields[f].values.clone()))
            }
            Source::Field(f) => {
                let d = Diagnostic::error(
                    Code::ReportingFieldType,
                    format!("only an `enum` field's values can be grouped; `{f}` is free text"),
                )
                .at(self.key_at(path));
                self.report(d);
                None
            }
        }
    }

    fn queue_names(&self, routing: Option<&Routing>) -> Vec<String> {
        let mut names: Vec<String> = self.doc.queues.keys().cloned().collect();
        if routing.is_some()
            && let Some(r) = &self.doc.routing
        {
            names.extend(r.rules.iter().map(|r| r.queue.clone()));
        }
        names.sort();
        names.dedup();
        names
    }
}

/// The satisfaction field's range: its bounds, else 1 to 5.
fn satisfaction_scale(def: &FieldDef, name: String) -> (String, i64, i64) {
    use crate::value::Value;
    let bound = |v: &Option<Value>, or: i64| match v {
        Some(Value::Integer(i)) => *i,
        _ => or,
    };
    (name, bound(&def.min, 1), bound(&def.max, 5))
}
