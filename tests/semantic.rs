//! The semantic model held against CPython's `symtable` (Python ships it): every
//! scope and every symbol's flags of `fixer inspect scopes` on the fixture files under
//! tests/fixtures/semantic (every binding form the model knows) must equal what
//! `bench/symtable_check.py` reads from `symtable`, and the output has the documented
//! shape.

mod common;

use std::process::Command;

#[test]
fn inspect_scopes_equals_symtable_on_every_binding_form() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(common::python())
        .arg(format!("{root}/bench/symtable_check.py"))
        .args(["--fixer", env!("CARGO_BIN_EXE_fixer")])
        .arg(format!("{root}/tests/fixtures/semantic"))
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "fixer differs from symtable:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(" 0 differ; 0 files fixer could not parse"),
        "{stdout}"
    );
    assert!(!stdout.contains(" 0 scopes compared"), "{stdout}");
}

#[test]
fn inspect_scopes_prints_one_object_per_scope_in_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.py"),
        "import pkg.sub\n\n@dec\ndef f(a):\n    return [a for _ in pkg]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.py"), "def (:\n").unwrap();
    let (code, stdout, stderr) =
        common::fixer(dir.path(), &["inspect", "scopes", "m.py", "broken.py"]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"path":"m.py","type":"module","name":"top","line":0,"symbols":{"pkg":["local","global","imported"],"dec":["global","referenced"],"f":["local","global","assigned"]}}"#,
            r#"{"path":"m.py","type":"function","name":"f","line":4,"symbols":{"a":["local","parameter"],"pkg":["global","referenced"]}}"#,
            r#"{"path":"m.py","type":"function","name":"listcomp","line":5,"symbols":{"_":["local","assigned"],"a":["free","referenced"]}}"#,
        ]
    );
    assert!(stderr.contains("broken.py:1:"), "{stderr}");
    assert!(stderr.contains("does not parse"), "{stderr}");
}
