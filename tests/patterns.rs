//! Code patterns in recipes (`pattern` + `fix`): what they match, what the fix writes,
//! and the errors a recipe author sees. Each case is one recipe run over one file with
//! `apply --dry-run`; the diff and the report are snapshots (`snapshots/patterns__*`).

use std::path::Path;

use assert_cmd::Command;

/// `apply --dry-run` of `rewrites` (the `[[rewrite]]` tables of a recipe) on `code`:
/// the exit code, diff and report, as one text.
fn run(rewrites: &str, code: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let recipe = format!("id = \"case\"\ndescription = \"a pattern case\"\n\n{rewrites}");
    std::fs::write(dir.path().join("case.toml"), recipe).unwrap();
    std::fs::write(dir.path().join("code.py"), code).unwrap();
    let out = Command::cargo_bin("fixer")
        .unwrap()
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .args([
            "apply",
            "--recipe",
            "case.toml",
            "case",
            "code.py",
            "--dry-run",
        ])
        .output()
        .unwrap();
    format!(
        "exit {}\n{}--- report ---\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn snap(name: &str, value: String) {
    insta::with_settings!({
        snapshot_path => Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(format!("patterns__{name}"), value);
    });
}

#[test]
fn nesting_and_parentheses() {
    snap(
        "nesting",
        run(
            "[[rewrite]]\npattern = \"self.assertEqual($A, $B)\"\nfix = \"assert $A == $B\"\n",
            "class T:\n    def test(self):\n        for x in xs:\n            if x:\n                self.assertEqual(x is not None, (True))\n        self.assertEqual(f(g(1), [2,\n                                  3]), h)  # why\n        self.assertEqual(a, b, 'msg')\n        y = self.assertEqual(a, b)\n",
        ),
    );
}

#[test]
fn multi_in_arguments_and_blocks() {
    snap(
        "multi",
        run(
            "[[rewrite]]\npattern = \"$LOG.warn($$$ARGS)\"\nfix = \"$LOG.warning($$$ARGS)\"\n\n[[rewrite]]\npattern = '''\nwith self.assertRaises($E):\n    $$$BODY\n'''\nfix = '''\nwith pytest.raises($E):\n    $$$BODY\n'''\nadd-imports = [\"import pytest\"]\n",
            "def f(self):\n    log.warn()\n    log.warn(\n        \"a\",  # keep\n        b,\n    )\n    with self.assertRaises(ValueError):\n        one()\n        # between\n        two()\n    with self.assertRaises(KeyError) as cm:\n        three()\n",
        ),
    );
}

#[test]
fn repeated_metavariables() {
    snap(
        "repeated",
        run(
            "[[rewrite]]\npattern = \"$X if $X is not None else $D\"\nfix = \"$X or $D\"\nmessage = \"`$X` twice\"\nseverity = \"note\"\n",
            "a = b.c if b.c is not None else 0\nd = b.c if (b.c) is not None else 0\ne = b.c if b.d is not None else 0\n",
        ),
    );
}

#[test]
fn conditions_and_constraints() {
    snap(
        "conditions",
        run(
            "[[rewrite]]\npattern = \"$T.assertEqual($A, $B)\"\nfix = \"assert $A == $B\"\nnot-inside = \"lambda: $_\"\ninside = \"def $F(self): $$$_\"\n\n[rewrite.where.T]\nregex = \"^self$\"\n\n[[rewrite]]\npattern = \"print($$$A)\"\nhas = \"$_.format($$$_)\"\nmessage = \"print with str.format\"\nseverity = \"note\"\n\n[[rewrite]]\npattern = \"open($P)\"\nmessage = \"open of a literal path\"\nseverity = \"note\"\n\n[rewrite.where.P]\nkind = \"string\"\n",
            "def test(self):\n    self.assertEqual(1, 1)\n    other.assertEqual(2, 2)\n    check = lambda: self.assertEqual(3, 3)\n\n\nself.assertEqual(4, 4)\nprint('{}'.format(x))\nprint(x)\nopen('a.txt')\nopen(path)\n",
        ),
    );
}

#[test]
fn condition_tables_any_and_all() {
    snap(
        "condition-tables",
        run(
            "[[rewrite]]\npattern = \"$F($$$ARGS)\"\nany = [{ pattern = \"print($$$_)\" }, { pattern = \"pprint($$$_)\" }]\nall = [{ query = \"(call function: (identifier)) @call\" }]\ninside = { kind = \"function_definition\" }\nnot-has = { kind = \"string\" }\nmessage = \"debug output in a function: $F\"\nseverity = \"note\"\n",
            "print(x)\n\n\ndef f():\n    print(x)\n    pprint(y)\n    print('label', x)\n    log(x)\n    out.print(x)\n",
        ),
    );
}

#[test]
fn strictness_of_strings() {
    snap(
        "strictness",
        run(
            "[[rewrite]]\npattern = \"os.environ.get('HOME')\"\nfix = \"home()\"\n\n[[rewrite]]\npattern = \"os.environ.get('USER')\"\nstrictness = \"relaxed\"\nfix = \"user()\"\n",
            "a = os.environ.get('HOME')\nb = os.environ.get(\"HOME\")\nc = os.environ.get(\"USER\")\n",
        ),
    );
}

#[test]
fn braces_delimit_a_metavariable() {
    snap(
        "braces",
        run("[[rewrite]]\npattern = \"get_$_($A)\"\nfix = \"x\"\n", "")
            + &run(
                "[[rewrite]]\npattern = \"fetch($NAME)\"\nfix = \"fetch_${NAME}s()\"\n",
                "fetch(user)\n",
            ),
    );
}

#[test]
fn errors() {
    let cases = [
        ("lower case", "[[rewrite]]\npattern = \"self.assertEqual($a, $B)\"\nfix = \"assert $B\"\n"),
        ("does not parse", "[[rewrite]]\npattern = \"f($A,, )\"\nfix = \"g($A)\"\n"),
        ("unbound in fix", "[[rewrite]]\npattern = \"f($A)\"\nfix = \"g($B)\"\n"),
        ("multi where one node", "[[rewrite]]\npattern = \"$$$A + 1\"\nfix = \"g($A)\"\n"),
        ("only a metavariable", "[[rewrite]]\npattern = \"$A\"\nfix = \"g($A)\"\n"),
        ("lower case in fix", "[[rewrite]]\npattern = \"f($A)\"\nfix = \"g($a)\"\n"),
        ("fix with a query", "[[rewrite]]\nquery = \"(call) @c\"\nfix = \"x\"\n"),
        ("with with a pattern", "[[rewrite]]\npattern = \"f($A)\"\nreplace = \"A\"\nwith = \"x\"\n"),
        ("where names nothing", "[[rewrite]]\npattern = \"f($A)\"\nfix = \"g($A)\"\n[rewrite.where.B]\nregex = \"x\"\n"),
        ("bad kind", "[[rewrite]]\npattern = \"f($A)\"\nfix = \"g($A)\"\n[rewrite.where.A]\nkind = \"stringg\"\n"),
        ("bad condition", "[[rewrite]]\npattern = \"f($A)\"\nfix = \"g($A)\"\ninside = \"def (\"\n"),
        ("neither", "[[rewrite]]\nfix = \"g()\"\n"),
        ("both", "[[rewrite]]\nquery = \"(call) @c\"\npattern = \"f()\"\nmessage = \"m\"\n"),
        ("empty condition table", "[[rewrite]]\npattern = \"f($A)\"\nfix = \"g($A)\"\nhas = { }\n"),
        ("bad query in a condition", "[[rewrite]]\npattern = \"f($A)\"\nfix = \"g($A)\"\nall = [{ query = \"(nope\" }]\n"),
    ];
    let mut all = String::new();
    for (name, rewrites) in cases {
        all.push_str(&format!("== {name}\n{}\n", run(rewrites, "f(1)\n")));
    }
    snap("errors", all);
}

/// The README's side-by-side: five rules written as fixer patterns and as ast-grep
/// rules (bench/patterns/) give byte-identical trees (`bench/patterns.py` compares).
/// Needs ast-grep-cli from PyPI: `$FIXER_AST_GREP`, which tests/run.sh installs.
#[test]
fn same_result_as_ast_grep() {
    let sg = std::env::var("FIXER_AST_GREP").unwrap_or_else(|_| {
        panic!("set FIXER_AST_GREP to an ast-grep from ast-grep-cli (tests/run.sh installs one)")
    });
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("FIXER_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = std::process::Command::new(python)
        .arg(root.join("bench/patterns.py"))
        .arg("--fixer")
        .arg(assert_cmd::cargo::cargo_bin("fixer"))
        .arg("--ast-grep")
        .arg(sg)
        .output()
        .expect("python3 runs bench/patterns.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("same result"), "{stdout}");
}

/// A query's `with` template gets the same protection as a pattern's `fix`: the
/// capture is parenthesized where the template would read it differently, and so is
/// the whole replacement where its place needs it.
#[test]
fn query_templates_keep_meaning_too() {
    let rewrite = r#"[[rewrite]]
query = '''
(call function: (identifier) @f arguments: (argument_list . (_) @x .) (#eq? @f "is_true")) @call
'''
replace = "call"
with = "$x == True"
"#;
    snap(
        "query-with-parentheses",
        run(
            rewrite,
            "a = is_true(b is not None)\nc = is_true(d)\ne = not is_true(f)\ng = is_true(h).real\n",
        ),
    );
}

/// A capture that spans lines (implicitly concatenated strings) lands outside any
/// bracket in `assert $A == $B`: it is parenthesized, so the statement still parses.
#[test]
fn multi_line_captures_outside_brackets() {
    snap(
        "multi-line-capture",
        run(
            "[[rewrite]]\npattern = \"self.assertEqual($A, $B)\"\nfix = \"assert $A == $B\"\n",
            "class T:\n    def test(self):\n        self.assertEqual(\n            alert.text,\n            \"You have unsaved changes. If you \"\n            \"run an action, they are lost.\",\n        )\n",
        ),
    );
}
