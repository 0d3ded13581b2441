//! `fixer recover [PATH]`: finishes or undoes a run that was stopped half way (see
//! [`crate::transaction`]), on request. `apply` and `check` do the same first, through
//! [`recover_first`], so nothing ever reads a half-written tree.

use std::path::{Path, PathBuf};

use super::{Exit, GlobalArgs};
use crate::diag::UserError;
use crate::output::Style;
use crate::transaction::{self, Recovered, JOURNAL};

#[derive(Debug, clap::Args)]
pub struct RecoverArgs {
    /// The project root whose `.fixer-journal` to act on (default: .)
    #[arg(value_name = "PATH")]
    path: Option<PathBuf>,
}

pub fn run(args: &RecoverArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let root = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    if !root.is_dir() {
        return Err(
            UserError::new(format!("`{}` is not a directory", root.display()))
                .help("give the directory fixer ran in (where .fixer-journal is)")
                .into(),
        );
    }
    let err = Style::stderr(global.color);
    if !recover_in(&root, err)? {
        eprintln!("{}: nothing to recover", err.paint("1;36", "note"));
    }
    Ok(Exit::Success)
}

/// The project root of a run: the directory fixer runs in, where its journal goes.
pub fn project_root() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// Recovers an interrupted run in the project root, if there is one, before a run
/// reads anything.
pub fn recover_first(global: &GlobalArgs) -> Result<(), UserError> {
    recover_in(&project_root(), Style::stderr(global.color)).map(|_| ())
}

/// Recovers the run `root/.fixer-journal` describes and says so; `false` when there is
/// none.
fn recover_in(root: &Path, err: Style) -> Result<bool, UserError> {
    match transaction::recover(root) {
        Ok(None) => Ok(false),
        Ok(Some(Recovered { forward, files })) => {
            let files = format!("{files} file{}", if files == 1 { "" } else { "s" });
            let how = if forward {
                format!("rolled forward: it had passed its commit point, and its changes to {files} are now complete")
            } else {
                format!("rolled back: it had not reached its commit point, and the {files} it was changing are as they were")
            };
            eprintln!(
                "{}: recovered an interrupted run: {how} (from {})",
                err.paint("1;36", "note"),
                transaction::shown(&root.join(JOURNAL))
            );
            Ok(true)
        }
        Err(f) => Err(UserError::new(format!(
            "cannot recover the interrupted run that {} describes: {}: {}: {}",
            transaction::shown(&root.join(JOURNAL)),
            transaction::shown(&f.path),
            f.what,
            f.error
        ))
        .help("free the space or fix the permission named, then run `fixer recover`")),
    }
}
