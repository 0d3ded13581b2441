//! `add-imports` never rebinds a name in use: with `from pytz import timezone` in a
//! module, or a parameter named `timezone` where the template is written, a rewrite
//! that asks for `from datetime import timezone` writes a name that already reaches
//! the object, or imports it under a free alias, or is refused with an error.

mod common;

use common::fixer;

/// The recipe of the monorepo end-to-end test: `datetime.utcnow()` to
/// `datetime.now(timezone.utc)`, adding `from datetime import timezone`.
const UTCNOW: &str = include_str!("e2e/monorepo/recipes/utcnow.toml");

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn read(dir: &tempfile::TempDir, name: &str) -> String {
    std::fs::read_to_string(dir.path().join(name)).unwrap()
}

#[test]
fn a_module_level_name_is_not_rebound_the_import_gets_an_alias() {
    let dir = project(&[
        ("r.toml", UTCNOW),
        (
            "a.py",
            "from datetime import datetime\nfrom pytz import timezone\n\ntz = timezone(\"Europe/Paris\")\nnow = datetime.utcnow()\n",
        ),
    ]);
    let (_, _, notes) = fixer(
        dir.path(),
        &["apply", "--recipe", "r.toml", "a.py", "--dry-run"],
    );
    let (code, _, stderr) = fixer(dir.path(), &["apply", "--recipe", "r.toml", "a.py"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        read(&dir, "a.py"),
        "from datetime import datetime, timezone as datetime_timezone\nfrom pytz import timezone\n\ntz = timezone(\"Europe/Paris\")\nnow = datetime.now(datetime_timezone.utc)\n"
    );
    assert!(
        notes.contains(
            "a.py:5:7: note[utcnow-to-aware]: add-imports: `timezone` is taken (bound at 2:18)"
        ),
        "{notes}"
    );
    // A second run changes nothing.
    let (code, stdout, _) = fixer(dir.path(), &["check", "--recipe", "r.toml", "a.py"]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn a_parameter_of_the_name_makes_it_reuse_an_existing_module_import() {
    let dir = project(&[
        ("r.toml", UTCNOW),
        (
            "b.py",
            "import datetime as dt\nfrom datetime import datetime\n\n\ndef stamp(timezone):\n    return datetime.utcnow(), timezone\n",
        ),
    ]);
    let (_, _, notes) = fixer(
        dir.path(),
        &["apply", "--recipe", "r.toml", "b.py", "--dry-run"],
    );
    let (code, _, stderr) = fixer(dir.path(), &["apply", "--recipe", "r.toml", "b.py"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        read(&dir, "b.py"),
        "import datetime as dt\nfrom datetime import datetime\n\n\ndef stamp(timezone):\n    return datetime.now(dt.timezone.utc), timezone\n"
    );
    assert!(
        notes.contains("a local name at 6:12 (bound at 5:11)"),
        "{notes}"
    );
}

#[test]
fn no_clash_imports_as_asked() {
    let dir = project(&[
        ("r.toml", UTCNOW),
        (
            "d.py",
            "from datetime import datetime\n\nnow = datetime.utcnow()\n",
        ),
    ]);
    let (code, _, stderr) = fixer(dir.path(), &["apply", "--recipe", "r.toml", "d.py"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        read(&dir, "d.py"),
        "from datetime import datetime, timezone\n\nnow = datetime.now(timezone.utc)\n"
    );
    assert!(!stderr.contains("add-imports"), "{stderr}");
}

#[test]
fn a_clash_the_template_cannot_rename_is_refused_and_the_file_kept() {
    let recipe = UTCNOW.replace(
        "with = \"datetime.now(timezone.utc)\"",
        "with = \"datetime.now($args)\"",
    );
    let before =
        "from datetime import datetime\nfrom pytz import timezone\n\nnow = datetime.utcnow()\n";
    let dir = project(&[("r.toml", &recipe), ("e.py", before)]);
    let (code, stdout, _) = fixer(dir.path(), &["check", "--recipe", "r.toml", "e.py"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("e.py:4:7: error[utcnow-to-aware]: rewrite refused: add-imports `from datetime import timezone` would rebind `timezone` (bound at 2:18)"),
        "{stdout}"
    );
    let (_, _, _) = fixer(dir.path(), &["apply", "--recipe", "r.toml", "e.py"]);
    assert_eq!(read(&dir, "e.py"), before);
}
