//! Fields: types, allowed values, bounds and defaults.

use crate::policy::Names;
use std::collections::BTreeSet;

use super::{Validator, builtins_text};
use crate::diagnostic::{Code, Diagnostic};
use crate::policy::field::{FieldDef, FieldType, Input};
use crate::policy::locate::Seg;
use crate::policy::raw::{RawField, RawFieldType};
use crate::script::RESERVED_NAMES;
use crate::value::Fields;

impl Validator<'_, '_> {
    pub(super) fn fields(&mut self) -> Names<FieldDef> {
        let mut out = Names::default();
        for (name, raw) in &self.doc.fields {
            if let Some(def) = self.field(name, raw) {
                out.insert(name.clone(), def);
            }
        }
        out
    }

    fn field(&mut self, name: &str, raw: &RawField) -> Option<FieldDef> {
        let path = ["fields", name].map(Seg::Key);
        if RESERVED_NAMES.contains(&name)
            || self.doc.stages.keys().any(|s| format!("{s}_at") == name)
        {
            let d = Diagnostic::error(
                Code::ReservedFieldName,
                format!("`{name}` is a built-in name and cannot be a field"),
            )
            .at(self.key_at(&path))
            .with_help(reserved_help(name));
            self.report(d);
        }
        let mut def = FieldDef {
            name: name.to_string(),
            kind: field_type(raw.kind),
            required: raw.required,
            default: None,
            min: None,
            max: None,
            values: raw.values.clone().unwrap_or_default(),
            personal: raw.personal,
            set_by: raw.set_by,
            label: raw.label.clone(),
            description: raw.description.clone(),
        };
        self.check_enum_values(&def, raw, &path);
        def.min = self.bound(&def, raw.min.as_ref(), &[path[0], path[1], Seg::Key("min")]);
        def.max = self.bound(&def, raw.max.as_ref(), &[path[0], path[1], Seg::Key("max")]);
        if let Some(default) = &raw.default {
            def.default = self.field_value(&def, default, &[path[0], path[1], Seg::Key("default")]);
        }
        Some(def)
    }

    fn check_enum_values(&mut self, def: &FieldDef, raw: &RawField, path: &[Seg<'_>]) {
        let problem = match (def.kind, &raw.values) {
            (FieldType::Enum, None) => Some("an `enum` field needs `values`"),
            (FieldType::Enum, Some(v)) if v.is_empty() => {
                Some("an `enum` field needs at least one value")
            }
            (FieldType::Enum, Some(_)) | (_, None) => None,
            (_, Some(_)) => Some("only `enum` fields have `values`"),
        };
        if let Some(message) = problem {
            let d = Diagnostic::error(Code::InvalidValue, message).at(self.at(path));
            self.report(d);
        }
        let mut seen = BTreeSet::new();
        for (i, value) in def.values.iter().enumerate() {
            if !seen.insert(value) {
                let p = [path[0], path[1], Seg::Key("values"), Seg::Index(i)];
                let d =
                    Diagnostic::error(Code::DuplicateName, format!("`{value}` is listed twice"))
                        .at(self.at(&p));
                self.report(d);
            }
        }
    }

    fn bound(
        &mut self,
        def: &FieldDef,
        raw: Option<&toml::Value>,
        path: &[Seg<'_>],
    ) -> Option<crate::value::Value> {
        let raw = raw?;
        match def.read_bound(Input::Toml(raw)) {
            Ok(v) => Some(v),
            Err(e) => {
                let d = Diagnostic::error(Code::InvalidValue, e.to_string()).at(self.at(path));
                self.report(d);
                None
            }
        }
    }

    /// Reads a value for a field, reporting why it does not fit.
    pub fn field_value(
        &mut self,
        def: &FieldDef,
        raw: &toml::Value,
        path: &[Seg<'_>],
    ) -> Option<crate::value::Value> {
        match def.read(Input::Toml(raw)) {
            Ok(v) => Some(v),
            Err(e) => {
                let d = Diagnostic::error(Code::InvalidValue, e.to_string()).at(self.at(path));
                self.report(d);
                None
            }
        }
    }

    /// Reads a table of field values (`{ category = "fees", amount = 120.5 }`),
    /// reporting every unknown field and every value that does not fit.
    pub fn field_values(
        &mut self,
        table: &toml::Table,
        path: &[Seg<'_>],
        fields: &Names<FieldDef>,
    ) -> Option<Fields> {
        let mut out = Fields::new();
        let mut ok = true;
        for (name, value) in table {
            let p = [path, &[Seg::Key(name)]].concat();
            let Some(def) = fields.get(name) else {
                ok &= self.known_field(name, fields, &p);
                continue;
            };
            match self.field_value(def, value, &p) {
                Some(v) => {
                    out.insert(name.clone(), v);
                }
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

fn field_type(raw: RawFieldType) -> FieldType {
    match raw {
        RawFieldType::Text => FieldType::Text,
        RawFieldType::Enum => FieldType::Enum,
        RawFieldType::Bool => FieldType::Bool,
        RawFieldType::Integer => FieldType::Integer,
        RawFieldType::Money => FieldType::Money,
        RawFieldType::Date => FieldType::Date,
        RawFieldType::Datetime => FieldType::Datetime,
    }
}

/// Why a name cannot be a field, and what to do.
fn reserved_help(name: &str) -> String {
    if crate::script::BUILTIN_VARIABLES.contains(&name) {
        format!(
            "rename the field; conditions already use {}",
            builtins_text()
        )
    } else if name.ends_with("_at") {
        format!("rename the field; `{name}` is when the case entered the stage of that name")
    } else {
        format!("rename the field; `{name}` is a word of the condition language (Rhai)")
    }
}
