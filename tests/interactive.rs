//! `fixer apply --interactive`, driven through a pseudo-terminal by
//! tests/interactive/drive.py (Python's `pty`): each answer gives exactly the files
//! expected.

mod common;

use std::path::Path;

const RECIPE: &str = r#"
id = "legacy-to-modern"
description = "call modern() instead of legacy()"

[[rewrite]]
pattern = "legacy($X)"
fix = "modern($X)"
"#;

/// Two calls far enough apart to be two hunks.
fn two_hunks(a: u32, b: u32) -> String {
    let filler: String = (0..8).map(|i| format!("x{i} = {i}\n")).collect();
    format!("legacy({a})\n{filler}legacy({b})\n")
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("pyproject.toml"), "[project]\nname = \"p\"\n").unwrap();
    std::fs::write(d.join("r.toml"), RECIPE).unwrap();
    std::fs::write(d.join("a.py"), two_hunks(1, 2)).unwrap();
    std::fs::write(d.join("b.py"), two_hunks(3, 4)).unwrap();
    dir
}

/// Runs `fixer ARGS` on a terminal in `dir`, typing `answers`; returns what it printed.
fn drive(dir: &Path, answers: &[&str], args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interactive/drive.py");
    let out = std::process::Command::new(common::python())
        .arg(script)
        .arg(dir)
        .arg(answers.join(","))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_fixer"))
        .args(args)
        .env_remove("VIRTUAL_ENV")
        .env_remove("NO_COLOR")
        .env("FIXER_CACHE_DIR", dir.join(".cache"))
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "drive.py failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).unwrap()
}

fn apply_i(dir: &Path, answers: &[&str]) -> String {
    drive(
        dir,
        answers,
        &["apply", "-i", "--recipe", "r.toml", "legacy-to-modern", "."],
    )
}

fn modern(text: &str, which: &[u32]) -> String {
    let mut t = text.to_owned();
    for n in which {
        t = t.replace(&format!("legacy({n})"), &format!("modern({n})"));
    }
    t
}

#[test]
fn y_and_n_pick_hunks() {
    let dir = project();
    let d = dir.path();
    let out = apply_i(d, &["y", "n", "n", "y"]);
    assert!(out.contains("(1/4) Apply this hunk to a.py"), "{out}");
    assert!(out.contains("-legacy(1)"), "each hunk is shown: {out}");
    assert!(
        out.contains("\u{1b}[32m+modern(1)"),
        "coloured on a terminal: {out}"
    );
    assert!(out.contains("exit: 0"), "{out}");
    assert_eq!(read(d, "a.py"), modern(&two_hunks(1, 2), &[1]));
    assert_eq!(read(d, "b.py"), modern(&two_hunks(3, 4), &[4]));
}

#[test]
fn a_and_d_take_or_leave_the_rest_of_a_file() {
    let dir = project();
    let d = dir.path();
    let out = apply_i(d, &["a", "d"]);
    assert!(out.contains("(2/4) Apply this hunk to b.py"), "{out}");
    assert!(!out.contains("(3/4)"), "{out}");
    assert!(out.contains("exit: 0"), "{out}");
    assert_eq!(read(d, "a.py"), modern(&two_hunks(1, 2), &[1, 2]));
    assert_eq!(read(d, "b.py"), two_hunks(3, 4));
}

#[test]
fn q_writes_what_was_accepted_and_nothing_else() {
    let dir = project();
    let d = dir.path();
    let out = apply_i(d, &["y", "q"]);
    assert!(out.contains("1 of 4 changes accepted"), "{out}");
    assert_eq!(read(d, "a.py"), modern(&two_hunks(1, 2), &[1]));
    assert_eq!(read(d, "b.py"), two_hunks(3, 4));
    // Help, then end of input (Ctrl-D) is quit.
    let dir = project();
    let d = dir.path();
    let out = apply_i(d, &["?", "n", "y", "^D"]);
    assert!(
        out.contains("d - do not apply this change nor the rest of this file"),
        "{out}"
    );
    assert_eq!(read(d, "a.py"), modern(&two_hunks(1, 2), &[2]));
}

/// A file with CRLF line ends and a BOM keeps them, in the hunks taken and the rest.
#[test]
fn a_partly_accepted_file_keeps_its_bytes() {
    let dir = project();
    let d = dir.path();
    let crlf = format!("\u{feff}{}", two_hunks(1, 2).replace('\n', "\r\n"));
    std::fs::write(d.join("a.py"), &crlf).unwrap();
    std::fs::remove_file(d.join("b.py")).unwrap();
    let out = apply_i(d, &["n", "y"]);
    assert!(out.contains("exit: 0"), "{out}");
    assert_eq!(read(d, "a.py"), modern(&crlf, &[2]));
}

/// A project-wide recipe's change is one question, naming every file it touches.
#[test]
fn a_change_across_files_is_one_question() {
    let setup = || {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("pyproject.toml"), "[project]\nname = \"p\"\n").unwrap();
        std::fs::create_dir(d.join("app")).unwrap();
        std::fs::write(d.join("app/__init__.py"), "").unwrap();
        std::fs::write(d.join("app/old.py"), "X = 1\n").unwrap();
        std::fs::write(d.join("app/use.py"), "from app.old import X\n").unwrap();
        dir
    };
    let args = [
        "apply",
        "-i",
        "move-module",
        "--set",
        "from=app.old",
        "--set",
        "to=app.new",
        ".",
    ];
    let dir = setup();
    let d = dir.path();
    let out = drive(d, &["n"], &args);
    assert!(out.contains("(1/1) Apply this change to 3 files"), "{out}");
    assert!(
        out.contains("move-module changes 3 files together: app/new.py, app/old.py, app/use.py"),
        "{out}"
    );
    assert!(d.join("app/old.py").exists() && !d.join("app/new.py").exists());
    assert_eq!(read(d, "app/use.py"), "from app.old import X\n");
    let dir = setup();
    let d = dir.path();
    let out = drive(d, &["y"], &args);
    assert!(out.contains("exit: 0"), "{out}");
    assert!(!d.join("app/old.py").exists());
    assert_eq!(read(d, "app/new.py"), "X = 1\n");
    assert_eq!(read(d, "app/use.py"), "from app.new import X\n");
}

/// Hunks that only work together: taking one without the other is refused for that
/// file, which stays as it was.
#[test]
fn hunks_that_belong_together_are_not_split() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("pyproject.toml"), "").unwrap();
    std::fs::create_dir(d.join("tests")).unwrap();
    let test = "import os\n\n\n\n\n\n\n\n\n\ndef test_one():\n    import json\n    assert json.dumps(1) == \"1\"\n";
    std::fs::write(d.join("tests/test_h.py"), test).unwrap();
    let out = drive(d, &["n", "y"], &["apply", "-i", "hoist-imports", "."]);
    assert!(
        out.contains("tests/test_h.py: the hunks accepted, without the others, leave `json` undefined at line 12"),
        "{out}"
    );
    assert!(out.contains("exit: 2"), "{out}");
    assert_eq!(read(d, "tests/test_h.py"), test);
}

#[test]
fn without_a_terminal_it_is_an_error() {
    let dir = project();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fixer"))
        .args([
            "apply",
            "--interactive",
            "--recipe",
            "r.toml",
            "legacy-to-modern",
            ".",
        ])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("error: --interactive needs a terminal"),
        "{err}"
    );
    assert!(err.contains("help: run it in a terminal"), "{err}");
    assert_eq!(read(dir.path(), "a.py"), two_hunks(1, 2));
    // And it does not go with --dry-run.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fixer"))
        .args(["apply", "-i", "--dry-run", "."])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
