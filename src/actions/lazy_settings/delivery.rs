//! Did the rewrite deliver? For each instance made lazy: does importing its module, or
//! a package above it, still build the settings? It does when a module that import
//! runs (the packages above first, then every module they import at module level, and
//! so on) holds an eager use of the getter (`LEVEL = get_settings().level`, `if
//! get_settings().debug:` at module level, a default argument). The answer is a chain:
//! the imports that lead there, then the eager use.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use tree_sitter::Node;

use crate::engine::Workspace;
use crate::parse::{kind_of, text as node_text};

/// One eager use of an instance, after the rewrite: where it is and what it reads.
#[derive(Debug, Clone)]
pub struct EagerUse {
    pub path: PathBuf,
    pub offset: usize,
    pub line: usize,
    pub column: usize,
    /// The statement as it reads after the rewrite (first line, shortened).
    pub shown: String,
}

/// A module-level import of a file: the line, the statement, the modules it runs.
struct Import {
    line: usize,
    shown: String,
    modules: Vec<String>,
    /// For `from M import a, b`: `M` (absolute) and the names it takes.
    from: Option<(String, Vec<String>)>,
}

/// A constant that `lazy_constants` moved into its module's `__getattr__`: a
/// `from M import NAME` at module level builds the settings as it runs.
#[derive(Debug, Clone)]
pub struct LazyConstant {
    pub path: PathBuf,
    pub name: String,
    pub line: usize,
}

/// One link of a chain: `path:line shown`.
#[derive(Debug, Clone)]
pub struct Link {
    pub path: PathBuf,
    pub line: usize,
    pub shown: String,
}

/// The imports each file runs at module level, read once per file.
#[derive(Default)]
pub struct ImportGraph {
    cache: HashMap<PathBuf, Vec<Import>>,
}

impl ImportGraph {
    fn imports(&mut self, ws: &Workspace, file: &Path) -> &[Import] {
        if !self.cache.contains_key(file) {
            let found = read_imports(ws, file);
            self.cache.insert(file.to_path_buf(), found);
        }
        &self.cache[file]
    }

    /// The shortest chain by which `import module` reaches an eager use (`uses` by
    /// file), or `None` when importing it builds nothing. The first link of the chain
    /// is in a file that import runs first (a package above `module`, or its own
    /// file).
    pub fn chain(
        &mut self,
        ws: &Workspace,
        module: &str,
        from_file: &Path,
        uses: &HashMap<PathBuf, EagerUse>,
        lazy: &HashMap<PathBuf, Vec<LazyConstant>>,
    ) -> Option<Vec<Link>> {
        // Breadth first over files; `came` holds how each file was reached.
        let mut came: HashMap<PathBuf, Option<(PathBuf, usize, String)>> = HashMap::new();
        let mut queue: VecDeque<PathBuf> = VecDeque::new();
        for m in with_parents(module) {
            if let Some(f) = ws.project.resolve(&m, Some(from_file)) {
                let f = crate::select::clean(&f);
                if let std::collections::hash_map::Entry::Vacant(e) = came.entry(f.clone()) {
                    e.insert(None);
                    queue.push_back(f);
                }
            }
        }
        while let Some(file) = queue.pop_front() {
            let mut end: Vec<Link> = Vec::new();
            if let Some(u) = uses.get(&file) {
                end.push(Link {
                    path: u.path.clone(),
                    line: u.line,
                    shown: u.shown.clone(),
                });
            } else if !lazy.is_empty() {
                // `from M import NAME` of a lazy constant: M's `__getattr__` runs.
                for i in self.imports(ws, &file) {
                    let Some((m, names)) = &i.from else {
                        continue;
                    };
                    let Some(mf) = ws.project.resolve(m, Some(&file)) else {
                        continue;
                    };
                    let mf = crate::select::clean(&mf);
                    let Some(c) = lazy
                        .get(&mf)
                        .and_then(|cs| cs.iter().find(|c| names.contains(&c.name)))
                    else {
                        continue;
                    };
                    end.push(Link {
                        path: mf.clone(),
                        line: c.line,
                        shown: format!("`{}`, built by the module `__getattr__`", c.name),
                    });
                    end.push(Link {
                        path: file.clone(),
                        line: i.line,
                        shown: i.shown.clone(),
                    });
                    break;
                }
            }
            if !end.is_empty() {
                let mut chain = end;
                let mut cur = file.clone();
                while let Some(Some((prev, line, shown))) = came.get(&cur) {
                    chain.push(Link {
                        path: prev.clone(),
                        line: *line,
                        shown: shown.clone(),
                    });
                    cur = prev.clone();
                }
                chain.reverse();
                return Some(chain);
            }
            let next: Vec<(PathBuf, usize, String)> = self
                .imports(ws, &file)
                .iter()
                .flat_map(|i| {
                    i.modules
                        .iter()
                        .flat_map(|m| with_parents(m))
                        .filter_map(|m| ws.project.resolve(&m, Some(&file)))
                        .map(|f| (crate::select::clean(&f), i.line, i.shown.clone()))
                        .collect::<Vec<_>>()
                })
                .collect();
            for (f, line, shown) in next {
                if let std::collections::hash_map::Entry::Vacant(e) = came.entry(f.clone()) {
                    e.insert(Some((file.clone(), line, shown)));
                    queue.push_back(f);
                }
            }
        }
        None
    }
}

/// `a.b.c` → `a`, `a.b`, `a.b.c`: what `import a.b.c` runs, in order.
pub fn with_parents(module: &str) -> Vec<String> {
    let parts: Vec<&str> = module.split('.').collect();
    (1..=parts.len()).map(|k| parts[..k].join(".")).collect()
}

/// The module-level imports of `file` (in `if`/`try`/`with` blocks too, not under
/// `if TYPE_CHECKING:`, not in functions or classes), with the modules each runs.
fn read_imports(ws: &Workspace, file: &Path) -> Vec<Import> {
    let Ok(Some(text)) = ws.read(file) else {
        return Vec::new();
    };
    let Some(tree) = super::module_tree(&text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut stack: Vec<Node<'_>> = vec![tree.root_node()];
    while let Some(n) = stack.pop() {
        let mut c = n.walk();
        for child in n.named_children(&mut c) {
            match kind_of(child) {
                "import_statement" | "import_from_statement" => {
                    let modules = imported_modules(ws, file, child, &text);
                    if !modules.is_empty() {
                        let from = (kind_of(child) == "import_from_statement").then(|| {
                            let mut c = child.walk();
                            let names = child
                                .children_by_field_name("name", &mut c)
                                .map(|n| {
                                    let n = if kind_of(n) == "aliased_import" {
                                        n.child_by_field_name("name").unwrap_or(n)
                                    } else {
                                        n
                                    };
                                    node_text(n, &text).to_owned()
                                })
                                .collect();
                            (modules[0].clone(), names)
                        });
                        out.push(Import {
                            line: child.start_position().row + 1,
                            shown: super::snippet(child, &text),
                            modules,
                            from,
                        });
                    }
                }
                "if_statement" => {
                    let cond = child
                        .child_by_field_name("condition")
                        .map_or("", |c| node_text(c, &text))
                        .trim();
                    let type_checking = cond == "TYPE_CHECKING" || cond == "typing.TYPE_CHECKING";
                    let mut cc = child.walk();
                    for part in child.named_children(&mut cc) {
                        if type_checking && child.child_by_field_name("consequence") == Some(part) {
                            continue;
                        }
                        stack.push(part);
                    }
                }
                "block" | "try_statement" | "with_statement" | "else_clause" | "elif_clause"
                | "except_clause" | "finally_clause" => stack.push(child),
                _ => {}
            }
        }
    }
    out.sort_by_key(|i| i.line);
    out
}

/// The absolute modules an import statement runs: `import a.b` runs `a.b`; `from m
/// import x` runs `m`, and `m.x` too when that is a module of the project.
fn imported_modules(ws: &Workspace, file: &Path, stmt: Node<'_>, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut c = stmt.walk();
    if kind_of(stmt) == "import_statement" {
        for n in stmt.children_by_field_name("name", &mut c) {
            let n = if kind_of(n) == "aliased_import" {
                n.child_by_field_name("name").unwrap_or(n)
            } else {
                n
            };
            out.push(node_text(n, text).to_owned());
        }
        return out;
    }
    let Some(module) = stmt.child_by_field_name("module_name") else {
        return out;
    };
    let Some(base) = super::absolute(ws, file, &node_text(module, text).replace(' ', "")) else {
        return out;
    };
    let mut seen = HashSet::new();
    for n in stmt.children_by_field_name("name", &mut c) {
        let n = if kind_of(n) == "aliased_import" {
            n.child_by_field_name("name").unwrap_or(n)
        } else {
            n
        };
        let sub = format!("{base}.{}", node_text(n, text));
        if ws.project.resolve(&sub, Some(file)).is_some() && seen.insert(sub.clone()) {
            out.push(sub);
        }
    }
    out.insert(0, base);
    out
}

#[cfg(test)]
mod tests {
    use super::with_parents;

    #[test]
    fn an_import_runs_every_package_above_first() {
        assert_eq!(with_parents("a.b.c"), ["a", "a.b", "a.b.c"]);
        assert_eq!(with_parents("a"), ["a"]);
    }
}
