//! Compiling a recipe: parameters substituted, queries built once, templates split into
//! literal text and capture references, actions instantiated with their arguments, and
//! the literal prefilter derived from the queries.

use std::collections::BTreeMap;
use std::sync::Arc;

use tree_sitter::Query;

use super::pattern::Pattern;
use super::{line_of, Recipe};
use crate::actions::{self, Action, ActionArgs};
use crate::diag::{Severity, UserError};
use crate::imports::ImportSpec;

/// Parameter values, by name, for one recipe.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub values: BTreeMap<String, String>,
}

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Replaces every `{{NAME}}` in `text`; an undeclared name is an error.
    pub fn substitute(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start..].find("}}") else {
                break;
            };
            let name = rest[start + 2..start + len].trim();
            let value = self
                .values
                .get(name)
                .ok_or_else(|| format!("`{{{{{name}}}}}` names no parameter of this recipe"))?;
            out.push_str(&rest[..start]);
            out.push_str(value);
            rest = &rest[start + len + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[derive(Debug, Clone)]
pub enum TemplatePart {
    Literal(String),
    Capture(u32),
}

pub struct CompiledRewrite {
    /// `recipe/rewrite #N`, for reports.
    pub label: String,
    pub query: Query,
    pub replace: Option<u32>,
    pub template: Option<Vec<TemplatePart>>,
    pub add_imports: Vec<ImportSpec>,
    pub message: Option<(Vec<TemplatePart>, Severity)>,
    /// A `pattern` rewrite: what each candidate the query finds must match.
    pub pattern: Option<CompiledPattern>,
}

/// A `pattern` rewrite's matcher: the pattern, its conditions and constraints. Capture
/// index 0 of the query (and of templates) is the match, `i + 1` the pattern's
/// metavariable `vars[i]`.
pub struct CompiledPattern {
    pub pattern: Pattern,
    /// (rule, wanted): an ancestor must (not) match.
    pub inside: Vec<(Rule, bool)>,
    /// (rule, wanted): a descendant must (not) match.
    pub has: Vec<(Rule, bool)>,
    /// The match itself must match one of these (when any)...
    pub any: Vec<Rule>,
    /// ...and all of these.
    pub all: Vec<Rule>,
    pub constraints: Vec<(String, Constraint)>,
}

/// What a node must be (see [`super::schema::RuleDef`]).
pub struct Rule {
    pub pattern: Option<Pattern>,
    pub kind: Option<String>,
    pub query: Option<Query>,
}

/// `[rewrite.where.NAME]`.
pub struct Constraint {
    pub regex: Option<regex::Regex>,
    pub not_regex: Option<regex::Regex>,
    pub kind: Option<String>,
}

impl CompiledPattern {
    pub fn index_of(&self, name: &str) -> Option<u32> {
        self.pattern
            .vars
            .iter()
            .position(|v| v == name)
            .map(|i| i as u32 + 1)
    }

    pub fn bound_list(&self) -> String {
        if self.pattern.vars.is_empty() {
            return "the pattern binds no metavariable; name one, e.g. `$A`".to_owned();
        }
        let list: Vec<String> = self
            .pattern
            .vars
            .iter()
            .map(|v| {
                if self.pattern.multi.contains(v) {
                    format!("`$$${v}`")
                } else {
                    format!("`${v}`")
                }
            })
            .collect();
        format!("the pattern binds {}", list.join(", "))
    }
}

pub struct CompiledRecipe {
    pub id: String,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub rewrites: Vec<CompiledRewrite>,
    pub actions: Vec<Action>,
    /// `None`: every file may match. Otherwise a file must contain one of the literals.
    pub literals: Option<Arc<aho_corasick::AhoCorasick>>,
    /// When set, the per-file stage runs on these files only (a package's files in a
    /// configured monorepo run, `--changed-since`, `--shard`): one flag per walked file,
    /// by its index in [`crate::select::Files`].
    pub only: Option<Arc<Vec<bool>>>,
    /// A hash of the recipe's text and parameters: what its results depend on besides
    /// the files (see [`crate::cache`]).
    pub fingerprint: u64,
}

impl CompiledRecipe {
    /// The cheap test run before a file is parsed: can this recipe change or report
    /// anything in `text`?
    pub fn may_match(&self, text: &str) -> bool {
        if let Some(lits) = &self.literals {
            if lits.is_match(text) {
                return true;
            }
        } else if !self.rewrites.is_empty() {
            return true;
        }
        self.actions.iter().any(|a| a.may_match(text))
    }

    /// Where in `text` this recipe's per-file stage looks beyond module-level code, when
    /// every part of it says (see [`crate::outline`]); `None`: it needs the whole file.
    /// Query rewrites may match anywhere, so a recipe with any needs the whole file.
    pub fn focus<'a>(&self, text: &'a str) -> Option<crate::outline::Focus<'a>> {
        if !self.rewrites.is_empty() {
            return None;
        }
        let mut all = crate::outline::Focus::default();
        for a in &self.actions {
            if let Action::File(a) = a {
                all.merge(a.focus(text)?);
            }
        }
        Some(all)
    }

    pub fn has_project_actions(&self) -> bool {
        self.actions.iter().any(|a| matches!(a, Action::Project(_)))
    }

    /// Does the per-file stage look at anything besides the file (see
    /// [`crate::actions::FileAction::reads_project`])?
    pub fn reads_project(&self) -> bool {
        self.actions
            .iter()
            .any(|a| matches!(a, Action::File(f) if f.reads_project()))
    }
}

pub fn compile(recipe: &Recipe, params: &Params) -> Result<CompiledRecipe, UserError> {
    let id = recipe.id().to_owned();
    let at = |offset: usize| recipe.location(offset);
    let sub = |text: &str, offset: usize| {
        params
            .substitute(text)
            .map_err(|m| UserError::new(format!("{}: {m}", at(offset))))
    };
    let language = crate::parse::language();
    let mut rewrites = Vec::new();
    let mut literal_sets: Option<Vec<String>> = Some(Vec::new());
    for (i, def) in recipe.def.rewrite.iter().enumerate() {
        let label = format!("{id}/rewrite #{}", i + 1);
        let (qtext, qspan, pattern) = match (&def.query, &def.pattern) {
            (Some(q), None) => {
                if let Some(k) = pattern_only_key(def) {
                    return Err(UserError::new(format!(
                        "{}: rewrite #{}: `{k}` goes with `pattern`, not `query`",
                        at(q.span().start),
                        i + 1
                    ))
                    .help("write the rewrite as a `pattern`, or use `replace` + `with` with a query"));
                }
                (attach_predicates(&sub(q.get_ref(), q.span().start)?), q.span(), None)
            }
            (None, Some(p)) => {
                let compiled = compile_pattern(def, p, &sub, &at, &recipe.text, i)?;
                (compiled.pattern.query_source(), p.span(), Some(compiled))
            }
            (Some(q), Some(_)) => {
                return Err(UserError::new(format!(
                    "{}: rewrite #{}: give `query` or `pattern`, not both",
                    at(q.span().start),
                    i + 1
                ))
                .help("a pattern compiles to a query itself; keep the one that reads better"))
            }
            (None, None) => {
                return Err(UserError::new(format!(
                    "{}: rewrite #{} has neither `query` nor `pattern`",
                    recipe.origin.display(),
                    i + 1
                ))
                .help("write the code to find as `pattern = \"...\"` (with `$A` metavariables), or a tree-sitter `query`"))
            }
        };
        let query = Query::new(&language, &qtext).map_err(|e| {
            let first = query_first_line(&recipe.text, qspan.start);
            UserError::new(format!(
                "{}:{}: invalid query in rewrite #{}: {} (query line {}, column {})",
                recipe.origin.display(),
                first + e.row,
                i + 1,
                e.message.lines().next().unwrap_or("syntax error").trim(),
                e.row + 1,
                e.column + 1
            ))
            .help("check the node and field names with `tree-sitter parse` or the tree-sitter-python grammar")
        })?;
        check_predicates(&query).map_err(|m| {
            UserError::new(format!("{}: rewrite #{}: {m}", at(qspan.start), i + 1))
                .help("supported predicates: #eq?, #not-eq?, #match?, #not-match?, #any-of?")
        })?;
        let capture = |name: &str, offset: usize| -> Result<u32, UserError> {
            if let Some(p) = &pattern {
                return p.index_of(name).ok_or_else(|| {
                    UserError::new(format!(
                        "{}: rewrite #{}: `${name}` is not bound by the pattern",
                        at(offset),
                        i + 1
                    ))
                    .help(p.bound_list())
                });
            }
            query.capture_index_for_name(name).ok_or_else(|| {
                UserError::new(format!(
                    "{}: rewrite #{}: capture `@{name}` is not defined by the query",
                    at(offset),
                    i + 1
                ))
                .help(format!("the query defines {}", capture_list(&query)))
            })
        };
        let pattern_mode = pattern.is_some();
        let (replace, template) = if pattern_mode {
            match &def.fix {
                Some(f) => {
                    let text = sub(f.get_ref(), f.span().start)?;
                    let parts = parse_template(
                        &dedent_template(&text),
                        &capture,
                        f.span().start,
                        true,
                        &at,
                    )?;
                    (Some(0), Some(parts))
                }
                None => (None, None),
            }
        } else {
            let replace = match &def.replace {
                Some(r) => Some(capture(
                    r.get_ref().trim_start_matches('@'),
                    r.span().start,
                )?),
                None => None,
            };
            let template = match &def.with {
                Some(w) => {
                    let text = sub(w.get_ref(), w.span().start)?;
                    Some(parse_template(
                        &dedent_template(&text),
                        &capture,
                        w.span().start,
                        false,
                        &at,
                    )?)
                }
                None => None,
            };
            (replace, template)
        };
        if replace.is_some() != template.is_some() {
            return Err(UserError::new(format!(
                "{}: rewrite #{}: `replace` and `with` go together",
                at(qspan.start),
                i + 1
            )));
        }
        let message = match &def.message {
            Some(m) => {
                let text = sub(m.get_ref(), m.span().start)?;
                Some((
                    parse_template(&text, &capture, m.span().start, pattern_mode, &at)?,
                    def.severity.unwrap_or(Severity::Warning),
                ))
            }
            None => None,
        };
        if template.is_none() && message.is_none() {
            return Err(UserError::new(format!(
                "{}: rewrite #{} neither rewrites ({}) nor reports (`message`)",
                at(qspan.start),
                i + 1,
                if pattern_mode {
                    "`fix`"
                } else {
                    "`replace` + `with`"
                }
            )));
        }
        let mut add_imports = Vec::new();
        for spec in &def.add_imports {
            let spec = sub(spec, qspan.start)?;
            add_imports.extend(ImportSpec::parse_all(&spec).map_err(|m| {
                UserError::new(format!(
                    "{}: rewrite #{}: add-imports: {m}",
                    at(qspan.start),
                    i + 1
                ))
            })?);
        }
        let lits = match &pattern {
            Some(p) => p.pattern.literal().map(|l| vec![l]),
            None => prefilter_literals(&query, &qtext),
        };
        match (&mut literal_sets, lits) {
            (Some(all), Some(lits)) => all.extend(lits),
            (sets, None) => *sets = None,
            _ => {}
        }
        rewrites.push(CompiledRewrite {
            label,
            query,
            replace,
            template,
            add_imports,
            message,
            pattern,
        });
    }
    let mut compiled_actions = Vec::new();
    for (i, table) in recipe.def.action.iter().enumerate() {
        let offset = table.span().start;
        let mut table = table.get_ref().clone();
        let Some(toml::Value::String(name)) = table.remove("name") else {
            return Err(
                UserError::new(format!("{}: action #{} has no `name`", at(offset), i + 1))
                    .help(format!("known actions: {}", actions::names().join(", "))),
            );
        };
        let args = ActionArgs::new(table, params)
            .map_err(|m| UserError::new(format!("{}: action `{name}`: {m}", at(offset))))?;
        let action = actions::build(&name, args).map_err(|e| UserError {
            message: format!("{}: {}", at(offset), e.message),
            help: e.help,
        })?;
        compiled_actions.push(action);
    }
    // With no rewrites the set stays empty: only the actions' own prefilters count.
    let literals = match literal_sets {
        Some(lits) if !lits.is_empty() => {
            Some(Arc::new(aho_corasick::AhoCorasick::new(&lits).map_err(
                |e| UserError::new(format!("{}: prefilter: {e}", recipe.origin.display())),
            )?))
        }
        _ => None,
    };
    Ok(CompiledRecipe {
        id,
        include: recipe.def.include.clone(),
        exclude: recipe.def.exclude.clone(),
        rewrites,
        actions: compiled_actions,
        literals,
        only: None,
        fingerprint: fingerprint(recipe, params),
    })
}

/// A hash of what a compiled recipe is made of: its origin, text and parameters.
fn fingerprint(recipe: &Recipe, params: &Params) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    (&recipe.origin, &recipe.text, &params.values).hash(&mut h);
    h.finish()
}

/// Predicates written at the top level after a pattern, as in
///
/// ```text
/// (call function: (identifier) @f) @call
/// (#eq? @f "print")
/// ```
///
/// would form patterns of their own for tree-sitter and constrain nothing. They belong to
/// the pattern before them, so the pattern and its predicates are grouped:
/// `((call ...) @call (#eq? @f "print"))`. Line numbers are unchanged.
pub fn attach_predicates(query: &str) -> String {
    // Top-level items: (start, end, is_predicate).
    let bytes = query.as_bytes();
    let mut items: Vec<(usize, usize, bool)> = Vec::new();
    let mut i = 0;
    let skip_string = |mut j: usize| -> usize {
        j += 1;
        while j < bytes.len() && bytes[j] != b'"' {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        (j + 1).min(bytes.len())
    };
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b';' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' => {
                let start = i;
                let mut depth = 0usize;
                while i < bytes.len() {
                    match bytes[i] {
                        b'"' => {
                            i = skip_string(i);
                            continue;
                        }
                        b';' => {
                            while i < bytes.len() && bytes[i] != b'\n' {
                                i += 1;
                            }
                            continue;
                        }
                        b'(' | b'[' => depth += 1,
                        b')' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                let is_pred = query[start + 1..i].trim_start().starts_with('#');
                items.push((start, i, is_pred));
            }
            b'"' => {
                let start = i;
                i = skip_string(i);
                items.push((start, i, false));
            }
            b'@' | b'*' | b'+' | b'?' => {
                // A capture or quantifier after an item belongs to it.
                while i < bytes.len()
                    && !bytes[i].is_ascii_whitespace()
                    && !matches!(bytes[i], b'(' | b'[' | b')' | b']' | b';')
                {
                    i += 1;
                }
                if let Some(last) = items.last_mut() {
                    last.1 = i;
                }
            }
            _ => i += 1,
        }
    }
    let mut out = String::with_capacity(query.len() + 8);
    let mut at = 0;
    let mut k = 0;
    while k < items.len() {
        let (start, _, is_pred) = items[k];
        let mut last = k;
        while !is_pred && last + 1 < items.len() && items[last + 1].2 {
            last += 1;
        }
        if last > k {
            out.push_str(&query[at..start]);
            out.push('(');
            out.push_str(&query[start..items[last].1]);
            out.push(')');
            at = items[last].1;
        }
        k = last + 1;
    }
    out.push_str(&query[at..]);
    out
}

/// The file line on which a query string's first line stands: a multi-line string's
/// content starts on the line after its opening quotes.
fn query_first_line(toml_text: &str, span_start: usize) -> usize {
    let line = line_of(toml_text, span_start);
    let raw = &toml_text[span_start.min(toml_text.len())..];
    for quotes in ["'''", "\"\"\""] {
        if let Some(rest) = raw.strip_prefix(quotes) {
            if rest.starts_with('\n') || rest.starts_with("\r\n") {
                return line + 1;
            }
        }
    }
    line
}

fn capture_list(query: &Query) -> String {
    let names: Vec<String> = query
        .capture_names()
        .iter()
        .map(|n| format!("@{n}"))
        .collect();
    if names.is_empty() {
        "no captures".to_owned()
    } else {
        names.join(", ")
    }
}

/// Rejects predicates that tree-sitter would hand back to us uninterpreted.
fn check_predicates(query: &Query) -> Result<(), String> {
    for i in 0..query.pattern_count() {
        if let Some(p) = query.general_predicates(i).first() {
            return Err(format!("unknown predicate `#{}`", p.operator));
        }
        if let Some((p, _)) = query.property_predicates(i).first() {
            return Err(format!(
                "unsupported predicate `#is?` / `#is-not?` on `{}`",
                p.key
            ));
        }
        if let Some(p) = query.property_settings(i).first() {
            return Err(format!("unsupported directive `#set!` on `{}`", p.key));
        }
    }
    Ok(())
}

/// Literals of which every match of the query contains at least one: for each pattern,
/// the strings of its first positive `#eq?` / `#any-of?` predicate with a string
/// argument, else its first keyword-like anonymous node. `None` if a pattern has neither.
fn prefilter_literals(query: &Query, text: &str) -> Option<Vec<String>> {
    static PRED: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    static ANON: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    static STR: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pred = PRED.get_or_init(|| {
        regex::Regex::new(r#"\(#(eq|any-of)\?\s+@[\w.-]+((?:\s+"(?:[^"\\]|\\.)*")+)\s*\)"#)
            .expect("valid regex")
    });
    let anon = ANON
        .get_or_init(|| regex::Regex::new(r#""([A-Za-z_][A-Za-z0-9_]*)""#).expect("valid regex"));
    let string =
        STR.get_or_init(|| regex::Regex::new(r#""((?:[^"\\]|\\.)*)""#).expect("valid regex"));
    let mut out = Vec::new();
    let n = query.pattern_count();
    for i in 0..n {
        let start = query.start_byte_for_pattern(i);
        let end = if i + 1 < n {
            query.start_byte_for_pattern(i + 1)
        } else {
            text.len()
        };
        let pattern = text.get(start..end)?;
        if let Some(c) = pred.captures(pattern) {
            let lits: Vec<String> = string
                .captures_iter(&c[2])
                .map(|s| unescape(&s[1]))
                .collect();
            if lits.iter().all(|l| !l.is_empty()) {
                out.extend(lits);
                continue;
            }
        }
        let without_preds = pred.replace_all(pattern, "");
        match anon.captures(&without_preds) {
            Some(c) => out.push(c[1].to_owned()),
            None => return None,
        }
    }
    Some(out)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Removes the indentation common to a multi-line template's lines, and one trailing
/// newline, so the template can be re-indented where it lands.
fn dedent_template(text: &str) -> String {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    if !text.contains('\n') {
        return text.to_owned();
    }
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let common = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| l.get(common..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first key of `def` that only a `pattern` rewrite may have.
fn pattern_only_key(def: &super::schema::RewriteDef) -> Option<&'static str> {
    [
        ("fix", def.fix.is_some()),
        ("strictness", def.strictness.is_some()),
        ("inside", def.inside.is_some()),
        ("not-inside", def.not_inside.is_some()),
        ("has", def.has.is_some()),
        ("not-has", def.not_has.is_some()),
        ("any", !def.any.is_empty()),
        ("all", !def.all.is_empty()),
        ("where", !def.where_.is_empty()),
    ]
    .into_iter()
    .find(|(_, set)| *set)
    .map(|(k, _)| k)
}

/// A `pattern` rewrite's pattern, conditions and constraints, each error naming the
/// recipe file, its line and the column in the pattern.
fn compile_pattern(
    def: &super::schema::RewriteDef,
    p: &toml::Spanned<String>,
    sub: &dyn Fn(&str, usize) -> Result<String, UserError>,
    at: &dyn Fn(usize) -> String,
    toml_text: &str,
    i: usize,
) -> Result<CompiledPattern, UserError> {
    for (key, set) in [
        ("replace", def.replace.is_some()),
        ("with", def.with.is_some()),
    ] {
        if set {
            return Err(UserError::new(format!(
                "{}: rewrite #{}: `{key}` goes with `query`; a `pattern` rewrite says what a match becomes with `fix`",
                at(p.span().start),
                i + 1
            ))
            .help("write `fix = \"...\"` using the pattern's metavariables"));
        }
    }
    let relaxed = match def.strictness.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("strict") => false,
        Some("relaxed") => true,
        Some(other) => {
            return Err(UserError::new(format!(
                "{}: rewrite #{}: unknown strictness `{other}`",
                at(def.strictness.as_ref().map_or(0, |s| s.span().start)),
                i + 1
            ))
            .help("use `strict` (the default) or `relaxed` (strings match either quote style)"))
        }
    };
    let statement = def
        .fix
        .as_ref()
        .is_some_and(|f| super::pattern::is_statement_template(f.get_ref()));
    let one = |key: &str, s: &toml::Spanned<String>| -> Result<Pattern, UserError> {
        let text = sub(s.get_ref(), s.span().start)?;
        Pattern::parse_with(&text, relaxed, statement && key == "pattern").map_err(|e| {
            let first = query_first_line(toml_text, s.span().start);
            let origin = at(s.span().start);
            let file = origin.rsplit_once(':').map_or(origin.as_str(), |(f, _)| f);
            let err = UserError::new(format!(
                "{file}:{}: rewrite #{}: `{key}` (pattern line {}, column {}): {}",
                first + e.line - 1,
                i + 1,
                e.line,
                e.column,
                e.message
            ));
            match e.help {
                Some(h) => err.help(h),
                None => err,
            }
        })
    };
    let pattern = one("pattern", p)?;
    let language = crate::parse::language();
    let kind_ok = |key: &str, k: &str| -> Result<(), UserError> {
        if language.id_for_node_kind(k, true) == 0 {
            return Err(UserError::new(format!(
                "{}: rewrite #{}: `{key}`: `{k}` is not a node kind of the Python grammar",
                at(p.span().start),
                i + 1
            ))
            .help("see the kinds with `fixer inspect pattern '...'`, e.g. `call`, `identifier`, `string`"));
        }
        Ok(())
    };
    let rule = |key: &str, def: &super::schema::RuleDef| -> Result<Rule, UserError> {
        if def.pattern.is_none() && def.kind.is_none() && def.query.is_none() {
            return Err(UserError::new(format!(
                "{}: rewrite #{}: `{key}` says nothing: give `pattern`, `kind` or `query`",
                at(p.span().start),
                i + 1
            )));
        }
        if let Some(k) = &def.kind {
            kind_ok(key, k)?;
        }
        let pattern = match &def.pattern {
            Some(text) => Some(one(key, &toml::Spanned::new(p.span(), text.clone()))?),
            None => None,
        };
        let query = match &def.query {
            Some(q) => Some(
                Query::new(&language, &sub(q, p.span().start)?).map_err(|e| {
                    UserError::new(format!(
                        "{}: rewrite #{}: `{key}`: invalid query: {} (query line {}, column {})",
                        at(p.span().start),
                        i + 1,
                        e.message.lines().next().unwrap_or("syntax error").trim(),
                        e.row + 1,
                        e.column + 1
                    ))
                })?,
            ),
            None => None,
        };
        Ok(Rule {
            pattern,
            kind: def.kind.clone(),
            query,
        })
    };
    let mut inside = Vec::new();
    let mut has = Vec::new();
    for (key, cond, wanted, up) in [
        ("inside", &def.inside, true, true),
        ("not-inside", &def.not_inside, false, true),
        ("has", &def.has, true, false),
        ("not-has", &def.not_has, false, false),
    ] {
        let r = match cond {
            Some(super::schema::ConditionDef::Pattern(text)) => rule(
                key,
                &super::schema::RuleDef {
                    pattern: Some(text.clone()),
                    kind: None,
                    query: None,
                },
            )?,
            Some(super::schema::ConditionDef::Rule(def)) => rule(key, def)?,
            None => continue,
        };
        let list = if up { &mut inside } else { &mut has };
        list.push((r, wanted));
    }
    let any = def
        .any
        .iter()
        .map(|d| rule("any", d))
        .collect::<Result<Vec<_>, _>>()?;
    let all = def
        .all
        .iter()
        .map(|d| rule("all", d))
        .collect::<Result<Vec<_>, _>>()?;
    let mut constraints = Vec::new();
    for (name, w) in &def.where_ {
        // The line of its `[rewrite.where.NAME]` table (or dotted key), after the pattern.
        let start = p.span().start.min(toml_text.len());
        let offset = toml_text[start..]
            .find(&format!("where.{name}"))
            .map_or(start, |i| start + i);
        if !pattern.vars.iter().any(|v| v == name) {
            let bound: Vec<String> = pattern.vars.iter().map(|v| format!("`{v}`")).collect();
            return Err(UserError::new(format!(
                "{}: rewrite #{}: `where.{name}` names no metavariable of the pattern",
                at(offset),
                i + 1
            ))
            .help(if bound.is_empty() {
                "the pattern binds no metavariable".to_owned()
            } else {
                format!("the pattern binds {} (without the `$`)", bound.join(", "))
            }));
        }
        let re = |r: &Option<String>, key: &str| -> Result<Option<regex::Regex>, UserError> {
            r.as_ref()
                .map(|r| {
                    regex::Regex::new(r).map_err(|e| {
                        UserError::new(format!(
                            "{}: rewrite #{}: `where.{name}.{key}`: {}",
                            at(offset),
                            i + 1,
                            e.to_string().lines().last().unwrap_or("invalid regex")
                        ))
                    })
                })
                .transpose()
        };
        if let Some(k) = &w.kind {
            kind_ok(&format!("where.{name}.kind"), k).map_err(|e| UserError {
                message: e.message.replacen(&at(p.span().start), &at(offset), 1),
                help: e.help,
            })?;
        }
        constraints.push((
            name.clone(),
            Constraint {
                regex: re(&w.regex, "regex")?,
                not_regex: re(&w.not_regex, "not-regex")?,
                kind: w.kind.clone(),
            },
        ));
    }
    Ok(CompiledPattern {
        pattern,
        inside,
        has,
        any,
        all,
        constraints,
    })
}

/// Splits a template into literal text and captures. `$name` and `${name}` are a
/// capture (the braces let letters follow it), `$$` a literal `$`. In `pattern` mode
/// names are metavariables: `$$$NAME` is one too, and a lower-case name is an error.
fn parse_template(
    text: &str,
    capture: &dyn Fn(&str, usize) -> Result<u32, UserError>,
    offset: usize,
    pattern_mode: bool,
    at: &dyn Fn(usize) -> String,
) -> Result<Vec<TemplatePart>, UserError> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let b = text.as_bytes();
    while i < text.len() {
        let Some(rel) = text[i..].find('$') else {
            lit.push_str(&text[i..]);
            break;
        };
        lit.push_str(&text[i..i + rel]);
        i += rel;
        let mut j = i + 1;
        if pattern_mode && text[i..].starts_with("$$$") {
            j = i + 3;
        } else if b.get(j) == Some(&b'$') {
            lit.push('$');
            i = j + 1;
            continue;
        }
        let braced = b.get(j) == Some(&b'{');
        let start = if braced { j + 1 } else { j };
        let name: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let end = start + name.len();
        let closed = !braced || b.get(end) == Some(&b'}');
        if name.is_empty() || !closed {
            lit.push_str(&text[i..start]);
            i = start;
            continue;
        }
        if pattern_mode && !super::pattern::is_var_name(&name) {
            return Err(UserError::new(format!(
                "{}: metavariable `{}{name}` in a template is not upper case",
                at(offset),
                &text[i..j]
            ))
            .help(format!(
                "metavariables are upper case: `{}{}`",
                &text[i..j],
                name.to_uppercase()
            )));
        }
        if !lit.is_empty() {
            parts.push(TemplatePart::Literal(std::mem::take(&mut lit)));
        }
        parts.push(TemplatePart::Capture(capture(&name, offset)?));
        i = if braced { end + 1 } else { end };
    }
    if !lit.is_empty() {
        parts.push(TemplatePart::Literal(lit));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_declared_parameters_only() {
        let p = Params {
            values: [("name".to_owned(), "x".to_owned())].into(),
        };
        assert_eq!(p.substitute("a {{name}} {{ name }}").unwrap(), "a x x");
        assert!(p.substitute("{{other}}").is_err());
    }

    #[test]
    fn attaches_top_level_predicates_to_their_pattern() {
        let q = "(call function: (identifier) @f) @call\n(#eq? @f \"print\")\n(#not-eq? @f \"x\")\n\n(identifier) @i";
        assert_eq!(
            attach_predicates(q),
            "((call function: (identifier) @f) @call\n(#eq? @f \"print\")\n(#not-eq? @f \"x\"))\n\n(identifier) @i"
        );
        let grouped = "((identifier) @i (#eq? @i \"a\"))";
        assert_eq!(attach_predicates(grouped), grouped);
    }

    #[test]
    fn dedents_multiline_template() {
        assert_eq!(
            dedent_template("    if x:\n        y\n    z\n"),
            "if x:\n    y\nz"
        );
        assert_eq!(dedent_template("if x:\n    y\n"), "if x:\n    y");
    }
}
