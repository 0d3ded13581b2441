//! The second pass of the semantic model: each name of each scope resolved to local,
//! cell, free or global, the way CPython's compiler resolves it (`analyze_block` in
//! `Python/symtable.c`): a scope sees the names bound in the functions around it, not
//! those of a class around it; `global` hides a name from the scopes inside; a name a
//! nested function reads from an enclosing one is a cell there and free in every
//! scope between.

use std::collections::HashSet;

use super::{flags, Model, Resolution, ScopeKind, Symbol};

type Names = HashSet<String>;

pub(super) fn analyze(model: &mut Model) {
    let mut free = Names::new();
    block(model, 0, None, &mut free, Names::new());
}

/// Resolves scope `id`, given the names bound in the functions around it (`None` at
/// module level) and those declared global around it; adds its free names to `free`.
fn block(
    model: &mut Model,
    id: usize,
    mut bound: Option<Names>,
    free: &mut Names,
    mut global: Names,
) {
    let kind = model.scopes[id].kind;
    let is_class = kind == ScopeKind::Class;
    let mut local = Names::new();
    let mut child_global = Names::new();
    let mut child_bound = Names::new();
    if is_class {
        // A class's own names are not visible inside it: what its children see is
        // fixed before its names are looked at.
        child_global.extend(global.iter().cloned());
        if let Some(b) = &bound {
            child_bound.extend(b.iter().cloned());
        }
    }
    let mut resolutions = Vec::with_capacity(model.scopes[id].symbols.len());
    for (name, sym) in &model.scopes[id].symbols {
        let f = sym.flags;
        let r = if f & flags::GLOBAL != 0 {
            global.insert(name.clone());
            if let Some(b) = bound.as_mut() {
                b.remove(name);
            }
            Resolution::GlobalExplicit
        } else if f & flags::NONLOCAL != 0 {
            free.insert(name.clone());
            Resolution::Free
        } else if f & flags::BOUND != 0 {
            local.insert(name.clone());
            global.remove(name);
            Resolution::Local
        } else if bound.as_ref().is_some_and(|b| b.contains(name)) {
            free.insert(name.clone());
            Resolution::Free
        } else {
            Resolution::GlobalImplicit
        };
        resolutions.push(r);
    }
    if !is_class {
        if kind.is_function_like() {
            child_bound.extend(local);
        }
        if let Some(b) = &bound {
            child_bound.extend(b.iter().cloned());
        }
        child_global.extend(global.iter().cloned());
    } else {
        // The implicit cell methods reach with `super()` and `__class__`.
        child_bound.insert("__class__".to_owned());
    }
    let mut new_free = Names::new();
    for child in model.scopes[id].children.clone() {
        let mut child_free = Names::new();
        block(
            model,
            child,
            Some(child_bound.clone()),
            &mut child_free,
            child_global.clone(),
        );
        new_free.extend(child_free);
    }
    if is_class {
        new_free.remove("__class__");
    }
    let scope = &mut model.scopes[id];
    for (i, r) in resolutions.into_iter().enumerate() {
        let (name, sym) = &mut scope.symbols[i];
        sym.resolution = r;
        // A local that a nested function reads is a cell, and no longer free above.
        if kind.is_function_like() && r == Resolution::Local && new_free.remove(name.as_str()) {
            sym.resolution = Resolution::Cell;
        }
    }
    let mut passing: Vec<String> = new_free
        .iter()
        .filter(|n| scope.symbol(n).is_none())
        .filter(|n| bound.as_ref().is_none_or(|b| b.contains(n.as_str())))
        .cloned()
        .collect();
    passing.sort();
    for name in passing {
        // Free in a nested scope and bound further out: free here too.
        let sym = scope.symbol_mut(&name);
        *sym = Symbol {
            flags: 0,
            resolution: Resolution::Free,
        };
    }
    free.extend(new_free);
}
