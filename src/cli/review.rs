//! `fixer apply --interactive`: each change is shown and asked about before anything is
//! written, as `git add -p` asks about hunks.
//!
//! A change of a per-file recipe is asked about hunk by hunk; what a project-wide recipe
//! (move-module, lazy-settings, ...) changes across files is asked about once, with every
//! file it touches listed, since half of such a change breaks imports. Answers are read
//! as lines: `y` apply, `n` skip, `a` apply the rest of this file, `d` skip the rest of
//! this file, `q` quit (what was accepted so far is written, nothing else), `?` help.
//! End of input is `q`. A file whose accepted hunks would not compile together is left
//! as it is, and reported.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use crate::engine::Change;
use crate::output::{self, Style};

/// One answer to a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Yes,
    No,
    /// This and the rest of the file.
    All,
    /// Not this nor the rest of the file.
    Done,
    Quit,
}

const HELP: &str = "y - apply this change
n - do not apply this change
a - apply this change and the rest of this file
d - do not apply this change nor the rest of this file
q - quit: write what was accepted so far, nothing else
? - print this help";

/// What the review came to.
pub struct Reviewed {
    /// The changes to write: accepted ones, partly accepted files with only their
    /// accepted hunks.
    pub changes: BTreeMap<PathBuf, Change>,
    /// Hunks (or file sets) accepted, and how many there were.
    pub accepted: usize,
    pub total: usize,
    /// Files left unchanged because their accepted hunks do not compile together.
    pub broken: Vec<(PathBuf, String)>,
}

/// The terminal dialogue: where prompts go and answers come from.
pub struct Dialogue<'a> {
    pub input: &'a mut dyn BufRead,
    pub output: &'a mut dyn Write,
    pub style: Style,
}

impl Dialogue<'_> {
    fn ask(&mut self, prompt: &str, letters: &str) -> std::io::Result<Answer> {
        loop {
            write!(
                self.output,
                "{} [{letters},?]? ",
                self.style.paint("1;34", prompt)
            )?;
            self.output.flush()?;
            let mut line = String::new();
            if self.input.read_line(&mut line)? == 0 {
                writeln!(self.output)?;
                return Ok(Answer::Quit);
            }
            let answer = match line.trim() {
                "y" | "Y" => Answer::Yes,
                "n" | "N" => Answer::No,
                "a" | "A" => Answer::All,
                "d" | "D" => Answer::Done,
                "q" | "Q" => Answer::Quit,
                _ => {
                    writeln!(self.output, "{}", self.style.paint("1;31", HELP))?;
                    continue;
                }
            };
            return Ok(answer);
        }
    }
}

/// One question: a file's hunk, or a set of files changed together.
enum Unit {
    Hunks(PathBuf),
    Set(Vec<PathBuf>, Vec<String>),
}

/// Groups the changes into what is asked about: each file that only per-file recipes
/// changed, hunk by hunk; files that project-wide recipes changed, as one set per group
/// of recipes that share files. Sets come in the order of their first file.
fn units(changes: &BTreeMap<PathBuf, Change>, project_wide: &BTreeSet<String>) -> Vec<Unit> {
    let whole = |c: &Change| {
        c.original.is_none()
            || c.current.is_none()
            || c.recipes.keys().any(|r| project_wide.contains(r))
    };
    // Union of recipes that share a file: their files form one set.
    let mut groups: Vec<(BTreeSet<String>, Vec<PathBuf>)> = Vec::new();
    for (path, change) in changes.iter().filter(|(_, c)| whole(c)) {
        let mine: BTreeSet<String> = change
            .recipes
            .keys()
            .filter(|r| project_wide.contains(*r))
            .cloned()
            .collect();
        let (mut joined, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut groups)
            .into_iter()
            .partition(|(rs, _)| !rs.is_disjoint(&mine));
        groups = rest;
        let mut recipes = mine;
        let mut files = vec![path.clone()];
        for (rs, fs) in joined.drain(..) {
            recipes.extend(rs);
            files.extend(fs);
        }
        files.sort();
        groups.push((recipes, files));
    }
    let mut out: Vec<(PathBuf, Unit)> = groups
        .into_iter()
        .map(|(rs, fs)| (fs[0].clone(), Unit::Set(fs, rs.into_iter().collect())))
        .collect();
    out.extend(
        changes
            .iter()
            .filter(|(_, c)| !whole(c))
            .map(|(p, _)| (p.clone(), Unit::Hunks(p.clone()))),
    );
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, u)| u).collect()
}

/// Asks about every change; returns those to write.
pub fn review(
    changes: &BTreeMap<PathBuf, Change>,
    project_wide: &BTreeSet<String>,
    dialogue: &mut Dialogue<'_>,
) -> std::io::Result<Reviewed> {
    let units = units(changes, project_wide);
    let total: usize = units
        .iter()
        .map(|u| match u {
            Unit::Hunks(p) => hunks_of(&changes[p]).len(),
            Unit::Set(..) => 1,
        })
        .sum();
    let mut out = Reviewed {
        changes: BTreeMap::new(),
        accepted: 0,
        total,
        broken: Vec::new(),
    };
    // Questions asked so far, for the `(k/N)` of each prompt.
    let mut shown = 0;
    let style = dialogue.style;
    'units: for unit in units {
        match unit {
            Unit::Set(files, recipes) => {
                shown += 1;
                let list: Vec<String> = files
                    .iter()
                    .map(|p| output::display_path(p).display().to_string())
                    .collect();
                writeln!(
                    dialogue.output,
                    "{}",
                    style.bold(&format!(
                        "{} changes {} files together: {}",
                        recipes.join(", "),
                        files.len(),
                        list.join(", ")
                    ))
                )?;
                for p in &files {
                    write!(
                        dialogue.output,
                        "{}",
                        output::change_diff(p, &changes[p], style)
                    )?;
                }
                let prompt = format!(
                    "({}/{total}) Apply this change to {} files",
                    shown,
                    files.len()
                );
                match dialogue.ask(&prompt, "y,n,a,d,q")? {
                    Answer::Yes | Answer::All => {
                        out.accepted += 1;
                        for p in files {
                            out.changes.insert(p.clone(), changes[&p].clone());
                        }
                    }
                    Answer::No | Answer::Done => {}
                    Answer::Quit => break 'units,
                }
            }
            Unit::Hunks(path) => {
                let change = &changes[&path];
                let hunks = hunks_of(change);
                let mut taken = vec![false; hunks.len()];
                let mut rest: Option<bool> = None;
                let mut quit = false;
                for (i, hunk) in hunks.iter().enumerate() {
                    if let Some(all) = rest {
                        taken[i] = all;
                        continue;
                    }
                    shown += 1;
                    let name = output::display_path(&path);
                    writeln!(
                        dialogue.output,
                        "{}",
                        style.bold(&name.display().to_string())
                    )?;
                    write!(
                        dialogue.output,
                        "{}",
                        output::colour_diff(&hunk.text, style)
                    )?;
                    let prompt = format!("({shown}/{total}) Apply this hunk to {}", name.display());
                    match dialogue.ask(&prompt, "y,n,a,d,q")? {
                        Answer::Yes => taken[i] = true,
                        Answer::No => {}
                        Answer::All => {
                            taken[i] = true;
                            rest = Some(true);
                        }
                        Answer::Done => rest = Some(false),
                        Answer::Quit => {
                            quit = true;
                            break;
                        }
                    }
                }
                // Hunks taken without being shown (`a`) are accepted too.
                out.accepted += taken.iter().filter(|t| **t).count();
                if taken.iter().any(|t| *t) {
                    match partial(change, &hunks, &taken) {
                        Ok(c) => {
                            out.changes.insert(path.clone(), c);
                        }
                        Err(why) => out.broken.push((path.clone(), why)),
                    }
                }
                if quit {
                    break 'units;
                }
            }
        }
    }
    Ok(out)
}

/// The names `text` reads where no binding of theirs can be seen (by the semantic
/// model: builtins among them), each with the line of its first such read; `None` when
/// the text does not parse or imports `*` (anything may be bound then).
fn unbound(text: &str) -> Option<BTreeMap<String, usize>> {
    let tree = crate::parse::parse(text)?;
    let model = crate::semantic::build(&tree, text);
    let star = model
        .bindings
        .iter()
        .any(|b| matches!(b.kind, crate::semantic::BindingKind::StarImport { .. }));
    if star {
        return None;
    }
    let mut out = BTreeMap::new();
    for r in &model.references {
        let scope = model.resolve(r);
        if model.bindings_of(scope, &r.name).is_empty() {
            out.entry(r.name.clone())
                .or_insert_with(|| crate::diag::line_col(text, r.start).0);
        }
    }
    Some(out)
}

/// One hunk of a file's diff: its lines on either side, and its text as shown.
struct Hunk {
    old: std::ops::Range<usize>,
    new: std::ops::Range<usize>,
    text: String,
}

fn hunks_of(change: &Change) -> Vec<Hunk> {
    let old = change.original.as_ref().map_or("", |s| s.text.as_str());
    let new = change.current.as_deref().unwrap_or("");
    let diff = similar::TextDiff::from_lines(old, new);
    let mut unified = diff.unified_diff();
    unified.context_radius(3);
    unified
        .iter_hunks()
        .map(|h| {
            let ops = h.ops();
            let (first, last) = (ops.first(), ops.last());
            let range = |f: fn(&similar::DiffOp) -> std::ops::Range<usize>| match (first, last) {
                (Some(a), Some(b)) => f(a).start..f(b).end,
                _ => 0..0,
            };
            Hunk {
                old: range(similar::DiffOp::old_range),
                new: range(similar::DiffOp::new_range),
                text: h.to_string(),
            }
        })
        .collect()
}

/// The change with only the `taken` hunks, verified as every rewrite is.
fn partial(change: &Change, hunks: &[Hunk], taken: &[bool]) -> Result<Change, String> {
    let old_text = change.original.as_ref().map_or("", |s| s.text.as_str());
    let new_text = change.current.as_deref().unwrap_or("");
    if taken.iter().all(|t| *t) {
        return Ok(change.clone());
    }
    // The lines as the diff that made the hunks cut them.
    let diff = similar::TextDiff::from_lines(old_text, new_text);
    let (old, new) = (diff.old_slices(), diff.new_slices());
    let mut text = String::with_capacity(old_text.len());
    let mut at = 0;
    for (hunk, take) in hunks.iter().zip(taken) {
        text.extend(old[at..hunk.old.start].iter().copied());
        if *take {
            text.extend(new[hunk.new.clone()].iter().copied());
        } else {
            text.extend(old[hunk.old.clone()].iter().copied());
        }
        at = hunk.old.end;
    }
    text.extend(old[at..].iter().copied());
    if let Err(b) = crate::verify::check_change(old_text, &text) {
        let why = b.rule.unwrap_or_else(|| "a syntax error".to_owned());
        return Err(format!(
            "the hunks accepted, without the others, do not compile ({why} at line {}); left unchanged",
            b.line
        ));
    }
    // Hunks that belong together (an import added at the top, its local copy removed):
    // a name the file binds before and after the whole change must stay bound.
    let lost = unbound(&text).and_then(|part| {
        let before = unbound(old_text)?;
        let after = unbound(new_text)?;
        part.into_iter()
            .find(|(name, _)| !before.contains_key(name) && !after.contains_key(name))
    });
    if let Some((name, line)) = lost {
        return Err(format!(
            "the hunks accepted, without the others, leave `{name}` undefined at line {line}; left unchanged"
        ));
    }
    Ok(Change {
        current: Some(Arc::from(text)),
        ..change.clone()
    })
}
