//! Edits are byte ranges of the current text with their replacement. A set of edits is
//! applied all together or not at all; two edits that overlap are never merged by
//! guesswork: the later one is set aside as a conflict and retried on the new text.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub range: Range<usize>,
    pub content: String,
    /// Which rule made it (`recipe` or `recipe/rewrite #2`), for conflict reports.
    pub origin: String,
    /// What it counts for in the summary's edits per recipe: 1, unless the action says
    /// otherwise (hoist-imports counts the imports an edit moves: an insertion counts 0).
    pub weight: usize,
    /// Edits of one change that stand or fall together (hoist-imports' insertion at
    /// the top and the deletions of the imports it holds): when verification refuses
    /// one, every edit of its group is dropped with it.
    pub group: Option<u32>,
}

impl Edit {
    pub fn replace(
        range: Range<usize>,
        content: impl Into<String>,
        origin: impl Into<String>,
    ) -> Edit {
        Edit {
            range,
            content: content.into(),
            origin: origin.into(),
            weight: 1,
            group: None,
        }
    }

    /// The same edit, in `group` (see [`Edit::group`]).
    pub fn grouped(mut self, group: u32) -> Edit {
        self.group = Some(group);
        self
    }

    /// The same edit, counting `weight` in the summary (see [`Edit::weight`]).
    pub fn weighted(mut self, weight: usize) -> Edit {
        self.weight = weight;
        self
    }

    pub fn insert(at: usize, content: impl Into<String>, origin: impl Into<String>) -> Edit {
        Edit::replace(at..at, content, origin)
    }

    pub fn delete(range: Range<usize>, origin: impl Into<String>) -> Edit {
        Edit::replace(range, "", origin)
    }

    fn overlaps(&self, other: &Edit) -> bool {
        let (a, b) = (&self.range, &other.range);
        if a.is_empty() && b.is_empty() {
            return false; // two insertions at one point keep their order
        }
        if a.is_empty() {
            return b.start < a.start && a.start < b.end;
        }
        if b.is_empty() {
            return a.start < b.start && b.start < a.end;
        }
        a.start < b.end && b.start < a.end
    }
}

/// An edit that could not be applied because it overlaps one that was.
#[derive(Debug, Clone)]
pub struct Conflict {
    /// Shared by every conflict with the same kept edit: a large edit (a whole module
    /// rewritten) overlaps every edit inside it, and a copy for each of them took memory
    /// as the product of their number and its size (found by the fuzzer, seed 30031).
    pub kept: std::sync::Arc<Edit>,
    pub dropped: Edit,
}

/// Splits `edits` (in the order they were made) into those that can be applied together
/// and those that overlap an earlier one. Identical duplicates are applied once.
pub fn resolve(edits: Vec<Edit>) -> (Vec<Edit>, Vec<Conflict>) {
    let mut accepted: Vec<std::sync::Arc<Edit>> = Vec::with_capacity(edits.len());
    let mut conflicts = Vec::new();
    for edit in edits {
        if accepted
            .iter()
            .any(|a| a.range == edit.range && a.content == edit.content)
        {
            continue;
        }
        match accepted.iter().find(|a| a.overlaps(&edit)) {
            Some(kept) => conflicts.push(Conflict {
                kept: kept.clone(),
                dropped: edit,
            }),
            None => accepted.push(std::sync::Arc::new(edit)),
        }
    }
    let mut accepted: Vec<Edit> = accepted
        .into_iter()
        .map(|e| std::sync::Arc::try_unwrap(e).unwrap_or_else(|shared| (*shared).clone()))
        .collect();
    // Stable by start: insertions at one point keep the order they were made in.
    accepted.sort_by_key(|e| (e.range.start, e.range.end));
    (accepted, conflicts)
}

/// Applies non-overlapping edits (as returned by [`resolve`]) to `text`.
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut out =
        String::with_capacity(text.len() + edits.iter().map(|e| e.content.len()).sum::<usize>());
    let mut at = 0;
    for e in edits {
        out.push_str(&text[at..e.range.start]);
        out.push_str(&e.content);
        at = e.range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Where each of `edits` (sorted, non-overlapping, as [`resolve`] returns them) is in
/// the text they produce: the range its content takes.
pub fn new_ranges(edits: &[Edit]) -> Vec<Range<usize>> {
    let mut shift: isize = 0;
    edits
        .iter()
        .map(|e| {
            let start = e.range.start.saturating_add_signed(shift);
            shift += e.content.len() as isize - e.range.len() as isize;
            start..start + e.content.len()
        })
        .collect()
}

/// Where offset `at` of a text is after `edits` (sorted, non-overlapping) are applied
/// to it; an offset inside an edit goes to that edit's start.
pub fn map_offset(at: usize, edits: &[Edit]) -> usize {
    let mut shift: isize = 0;
    for e in edits {
        if e.range.end <= at {
            shift += e.content.len() as isize - e.range.len() as isize;
        } else if e.range.start < at {
            return e.range.start.saturating_add_signed(shift);
        } else {
            break;
        }
    }
    at.saturating_add_signed(shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_disjoint_edits_in_any_order() {
        let edits = vec![Edit::replace(4..5, "B", "r"), Edit::replace(0..1, "A", "r")];
        let (ok, conflicts) = resolve(edits);
        assert!(conflicts.is_empty());
        assert_eq!(apply("a = b", &ok), "A = B");
    }

    #[test]
    fn overlapping_edit_is_a_conflict_not_half_applied() {
        let edits = vec![
            Edit::replace(0..5, "x", "first"),
            Edit::replace(2..7, "y", "second"),
        ];
        let (ok, conflicts) = resolve(edits);
        assert_eq!(ok.len(), 1);
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].dropped.origin, "second");
        assert_eq!(apply("abcdefgh", &ok), "xfgh");
    }

    #[test]
    fn the_conflicts_with_one_kept_edit_share_it() {
        // A whole text rewritten, and an edit of each byte inside it (seed 30031).
        let text = "x".repeat(1000);
        let mut edits = vec![Edit::replace(0..1000, text.repeat(2), "r")];
        edits.extend((0..1000).map(|i| Edit::replace(i..i + 1, "yy", "r")));
        let (ok, conflicts) = resolve(edits);
        assert_eq!(ok.len(), 1);
        assert_eq!(conflicts.len(), 1000);
        assert!(conflicts
            .iter()
            .all(|c| std::sync::Arc::ptr_eq(&c.kept, &conflicts[0].kept)));
        assert_eq!(*conflicts[0].kept, ok[0]);
    }

    #[test]
    fn insertions_at_one_point_keep_their_order() {
        let (ok, conflicts) = resolve(vec![Edit::insert(1, "1", "r"), Edit::insert(1, "2", "r")]);
        assert!(conflicts.is_empty());
        assert_eq!(apply("ab", &ok), "a12b");
    }

    #[test]
    fn insertion_inside_a_replaced_range_conflicts() {
        let (_, conflicts) = resolve(vec![
            Edit::replace(0..4, "", "r"),
            Edit::insert(2, "x", "s"),
        ]);
        assert_eq!(conflicts.len(), 1);
    }
}
