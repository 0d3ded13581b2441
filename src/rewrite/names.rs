//! `add-imports` that never rebinds a name in use.
//!
//! A rewrite that asks for `from datetime import timezone` must not change what
//! `timezone` means anywhere in the file: not a module-level `from pytz import
//! timezone`, not a global use of a builtin of that name, not a parameter called
//! `timezone` at the place the template is written. The semantic model answers where
//! the name is bound and what each place sees; then, in this order:
//! 1. no clash: the import is added as asked;
//! 2. a binding already reaches the wanted object at every place the template is
//!    written (`import datetime`: write `datetime.timezone`; `from datetime import
//!    timezone as tz`: write `tz`): the template's text uses it, nothing is imported;
//! 3. else the import is added under a free alias (`from datetime import timezone as
//!    datetime_timezone`) and the template's text writes the alias;
//! 4. the template's own text does not name the import (it comes from a capture, so
//!    renaming cannot reach it): the rewrite is refused with an error naming the clash.
//!
//! Only the template's literal text is renamed, never captured source; inside it, a
//! name in a string or comment, after a `.`, or as a keyword argument is left alone.

use crate::diag::line_col;
use crate::imports::ImportSpec;
use crate::semantic::{BindingKind, Model};

/// What a rewrite's `add-imports` become in one file.
#[derive(Debug, Default)]
pub struct Plan {
    /// The imports to ensure.
    pub specs: Vec<ImportSpec>,
    /// `(written, instead)`: a dotted name the template writes and what to write.
    pub renames: Vec<(String, String)>,
    /// What was done about a clash, for a note.
    pub notes: Vec<String>,
}

/// Plans `specs` for a rewrite whose templates are written at byte offsets `sites` of
/// `text`; `literal` is the template's literal text (to see whether a rename reaches
/// the name). `Err`: the message of a refusal.
pub fn plan(
    specs: &[ImportSpec],
    model: &Model,
    text: &str,
    sites: &[usize],
    literal: &str,
) -> Result<Plan, String> {
    let mut out = Plan::default();
    for spec in specs {
        let name = spec.bound_name().to_owned();
        let Some(clash) = clash(spec, &name, model, text, sites) else {
            out.specs.push(spec.clone());
            continue;
        };
        let written = match spec {
            ImportSpec::Import {
                module,
                alias: None,
            } => module.clone(),
            _ => name.clone(),
        };
        if !writes(literal, &written) || writes_other_than(literal, &name, &written) {
            return Err(format!(
                "add-imports `{}` would rebind `{name}` ({clash}), and the template does not write `{written}` itself, so no alias can stand in for it",
                spec.render()
            ));
        }
        if let Some(instead) = reuse(spec, model, sites) {
            out.notes.push(format!(
                "`{name}` is taken ({clash}): wrote `{instead}`, which names the same object"
            ));
            out.renames.push((written, instead));
            continue;
        }
        let alias = fresh_alias(spec, model);
        let aliased = match spec {
            ImportSpec::Import { module, .. } => ImportSpec::Import {
                module: module.clone(),
                alias: Some(alias.clone()),
            },
            ImportSpec::From { module, name, .. } => ImportSpec::From {
                module: module.clone(),
                name: name.clone(),
                alias: Some(alias.clone()),
            },
        };
        out.notes.push(format!(
            "`{name}` is taken ({clash}): imported `{}` instead",
            aliased.render()
        ));
        out.specs.push(aliased);
        out.renames.push((written, alias));
    }
    Ok(out)
}

/// Why importing `spec` (binding `name` at module level) would change what `name`
/// means somewhere, if it would.
fn clash(
    spec: &ImportSpec,
    name: &str,
    model: &Model,
    text: &str,
    sites: &[usize],
) -> Option<String> {
    let at = |offset: usize| {
        let (l, c) = line_col(text, offset);
        format!("{l}:{c}")
    };
    let module_bindings: Vec<_> = model.bindings_in(0, name).collect();
    if let Some(other) = module_bindings.iter().find(|b| !same_object(spec, &b.kind)) {
        return Some(format!("bound at {}", at(other.start)));
    }
    if module_bindings.is_empty() {
        // A read of the name at module scope (a builtin, or unbound) would now see
        // the import.
        if let Some(r) = model
            .references
            .iter()
            .find(|r| r.name == name && model.defining_scope(r.scope, name) == 0)
        {
            return Some(format!("read as a builtin at {}", at(r.start)));
        }
    }
    for &site in sites {
        let scope = model.defining_scope(model.scope_at(site), name);
        if scope != 0 {
            let bound = model
                .bindings_in(scope, name)
                .next()
                .map_or_else(|| at(site), |b| at(b.start));
            return Some(format!("a local name at {} (bound at {bound})", at(site)));
        }
    }
    None
}

/// Whether a binding made by `kind` is the object `spec` imports.
fn same_object(spec: &ImportSpec, kind: &BindingKind) -> bool {
    match (spec, kind) {
        (ImportSpec::From { module, name, .. }, BindingKind::FromImport { module: m, name: n }) => {
            module == m && name == n
        }
        (
            ImportSpec::Import {
                module,
                alias: Some(_),
            },
            BindingKind::Import { module: m, .. },
        ) => module == m,
        (
            ImportSpec::Import {
                module,
                alias: None,
            },
            BindingKind::Import { module: m, full },
        ) => {
            // `import a`, `import a.b` and `import a.c` all bind the package `a`.
            m == full.split('.').next().unwrap_or(full)
                && m == module.split('.').next().unwrap_or(module)
        }
        _ => false,
    }
}

/// A name that already reaches the object `spec` imports at every site, as the text
/// to write for it.
fn reuse(spec: &ImportSpec, model: &Model, sites: &[usize]) -> Option<String> {
    let visible = |name: &str| {
        sites
            .iter()
            .all(|&s| model.defining_scope(model.scope_at(s), name) == 0)
            && model.bindings_in(0, name).all(|b| {
                matches!(
                    b.kind,
                    BindingKind::Import { .. } | BindingKind::FromImport { .. }
                )
            })
    };
    let module_bindings = model.bindings.iter().filter(|b| b.scope == 0);
    for b in module_bindings {
        let candidate = match (spec, &b.kind) {
            (
                ImportSpec::From { module, name, .. },
                BindingKind::FromImport { module: m, name: n },
            ) if module == m && name == n => b.name.clone(),
            (ImportSpec::From { module, name, .. }, BindingKind::Import { module: m, full }) => {
                if m == full && b.name != *m {
                    // `import datetime as dt`
                    if full != module {
                        continue;
                    }
                    format!("{}.{name}", b.name)
                } else if full == module || full.starts_with(&format!("{module}.")) {
                    // `import datetime`, or `import os.path` for `from os import sep`
                    format!("{module}.{name}")
                } else {
                    continue;
                }
            }
            (
                ImportSpec::Import {
                    module,
                    alias: None,
                },
                BindingKind::Import { module: m, full },
            ) if m == full && full == module && b.name != *m => b.name.clone(),
            _ => continue,
        };
        if visible(&b.name) && same_everywhere(model, &b.name) {
            return Some(candidate);
        }
    }
    None
}

/// All module-level bindings of `name` bind the same thing.
fn same_everywhere(model: &Model, name: &str) -> bool {
    let mut kinds = model.bindings_in(0, name).map(|b| &b.kind);
    let first = kinds.next();
    kinds.all(|k| Some(k) == first)
}

/// An alias no scope of the file uses: `datetime_timezone`, `_timezone`, then numbered.
fn fresh_alias(spec: &ImportSpec, model: &Model) -> String {
    let taken: std::collections::HashSet<&str> = model.all_names().collect();
    let base = match spec {
        ImportSpec::From { module, name, .. } => {
            let last = module
                .trim_start_matches('.')
                .rsplit('.')
                .next()
                .unwrap_or("");
            if last.is_empty() {
                format!("_{name}")
            } else {
                format!("{last}_{name}")
            }
        }
        ImportSpec::Import { module, .. } => module.replace('.', "_"),
    };
    let base = if taken.contains(base.as_str()) {
        format!("_{base}")
    } else {
        base
    };
    if !taken.contains(base.as_str()) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}{n}"))
        .find(|c| !taken.contains(c.as_str()))
        .unwrap_or(base)
}

/// Whether the template text `literal` writes the dotted name `written` as code.
fn writes(literal: &str, written: &str) -> bool {
    !occurrences(literal, written).is_empty()
}

/// Whether `literal` writes `name` (the first part of `written`) other than as the
/// start of `written`: `os` alone when the import is `os.path`.
fn writes_other_than(literal: &str, name: &str, written: &str) -> bool {
    name != written && occurrences(literal, name).len() != occurrences(literal, written).len()
}

/// Renames every occurrence of the dotted names in `renames` in template text.
pub fn rename(literal: &str, renames: &[(String, String)]) -> String {
    let mut spans: Vec<(usize, usize, &str)> = renames
        .iter()
        .flat_map(|(from, to)| {
            occurrences(literal, from)
                .into_iter()
                .map(move |s| (s, s + from.len(), to.as_str()))
        })
        .collect();
    spans.sort_unstable();
    let mut out = String::with_capacity(literal.len());
    let mut last = 0;
    for (s, e, to) in spans {
        if s < last {
            continue;
        }
        out.push_str(&literal[last..s]);
        out.push_str(to);
        last = e;
    }
    out.push_str(&literal[last..]);
    out
}

/// Byte offsets where `literal` writes the dotted name `dotted` as code: not in a
/// string or comment, not after a `.`, not as a keyword argument's name.
fn occurrences(literal: &str, dotted: &str) -> Vec<usize> {
    let b = literal.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'\'' || c == b'"' {
            let triple = b[i..].starts_with(&[c, c, c]);
            i += if triple { 3 } else { 1 };
            while i < b.len() {
                if b[i] == b'\\' {
                    i += 2;
                    continue;
                }
                if b[i] == c && (!triple || b[i..].starts_with(&[c, c, c])) {
                    i += if triple { 3 } else { 1 };
                    break;
                }
                i += 1;
            }
            continue;
        }
        if !ident(c) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && ident(b[i]) {
            i += 1;
        }
        // A string prefix (`f"`, `rb'`) belongs to the string that follows.
        if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
            continue;
        }
        let after_dot = literal[..start].trim_end().ends_with('.');
        if after_dot || b[start].is_ascii_digit() || !literal[start..].starts_with(dotted) {
            continue;
        }
        let end = start + dotted.len();
        if b.get(end).is_some_and(|&c| ident(c)) {
            continue;
        }
        let rest = literal[end..].trim_start();
        if rest.starts_with('=') && !rest.starts_with("==") {
            continue;
        }
        found.push(start);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_code_names_only() {
        let t = "timezone.utc, 'timezone', x.timezone, f(timezone=1), timezone == 2  # timezone";
        assert_eq!(occurrences(t, "timezone"), vec![0, 53]);
        assert_eq!(
            rename(
                "os.path.join(os.path.sep)",
                &[("os.path".into(), "os_path".into())]
            ),
            "os_path.join(os_path.sep)"
        );
        assert!(writes_other_than(
            "os.getcwd() + os.path.sep",
            "os",
            "os.path"
        ));
    }
}
