//! The command line: one file per subcommand, each with its arguments and `run`.

mod apply;
mod inspect;
mod list;
mod recover;
mod review;
mod show;
mod test;
mod verify_cmd;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::diag::UserError;
use crate::output::{ColorChoice, Style};

#[derive(Debug, Parser)]
#[command(
    name = "fixer",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("FIXER_BUILD_COMMIT"), ")"),
    about = "Repair and restructure Python codebases with recipes",
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: GlobalArgs,
}

/// Options every subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Load a recipe file; its id can then be named like a built-in's (repeatable)
    #[arg(long = "recipe", value_name = "FILE", global = true)]
    pub recipe_files: Vec<PathBuf>,
    /// Set a recipe parameter (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE", global = true)]
    pub set: Vec<String>,
    /// Only files matching these globs, instead of the recipes' own (repeatable)
    #[arg(long, value_name = "GLOB", global = true)]
    pub include: Vec<String>,
    /// Also leave out files matching these globs (repeatable)
    #[arg(long, value_name = "GLOB", global = true)]
    pub exclude: Vec<String>,
    /// Worker threads (default: one per core)
    #[arg(long, short = 'j', value_name = "N", global = true)]
    pub jobs: Option<usize>,
    /// Print only errors and what a check finds
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// When to use colour
    #[arg(
        long,
        value_enum,
        default_value = "auto",
        value_name = "WHEN",
        global = true
    )]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every recipe with its description
    List,
    /// Show a recipe: description, parameters and examples
    Show(show::ShowArgs),
    /// Rewrite files in place (or show the diff with --dry-run)
    Apply(apply::ApplyArgs),
    /// Write nothing; exit 1 while any recipe would change something
    Check(apply::CheckArgs),
    /// Run the examples of recipe files
    Test(test::TestArgs),
    /// Show what fixer's analyses see in files (scopes and symbols, as JSON Lines)
    Inspect(inspect::InspectArgs),
    /// Finish or undo a run that was stopped half way (apply and check do it first)
    Recover(recover::RecoverArgs),
    /// Remove the result cache (.fixer_cache at the project root, or --cache-dir)
    Clean {
        /// The cache directory (default: $FIXER_CACHE_DIR, else .fixer_cache at the
        /// project root)
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
    },
    /// Would verification accept NEW as a rewrite of OLD? (exit 0: yes, 1: no)
    #[command(name = "verify-change", hide = true)]
    VerifyChange(verify_cmd::VerifyArgs),
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// How a command ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    /// `check` found pending changes or errors; `test` found failures.
    Findings = 1,
    /// Usage, recipe or I/O error.
    Error = 2,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let err_style = Style::stderr(cli.global.color);
    let result = match cli.command {
        Command::List => list::run(&cli.global),
        Command::Show(args) => show::run(&args, &cli.global),
        Command::Apply(args) => apply::run_apply(&args, &cli.global),
        Command::Check(args) => apply::run_check(&args, &cli.global),
        Command::Test(args) => test::run(&args, &cli.global),
        Command::Inspect(args) => inspect::run(&args, &cli.global),
        Command::Recover(args) => recover::run(&args, &cli.global),
        Command::VerifyChange(args) => verify_cmd::run(&args, &cli.global),
        Command::Completions { shell } => completions(shell, &cli.global),
        Command::Clean { cache_dir } => clean(cache_dir, &cli.global),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            print_error(&e, err_style);
            ExitCode::from(Exit::Error as u8)
        }
    }
}

/// `fixer clean`: removes the cache directory, if it is one fixer made.
fn clean(dir: Option<PathBuf>, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let dir = dir.unwrap_or_else(crate::cache::Cache::default_dir);
    let shown = crate::output::display_path(&dir);
    match crate::cache::remove(&dir) {
        Ok(true) => {
            if !global.quiet {
                eprintln!("removed {}", shown.display());
            }
            Ok(Exit::Success)
        }
        Ok(false) => {
            if !global.quiet {
                eprintln!("no cache at {}", shown.display());
            }
            Ok(Exit::Success)
        }
        Err(e) => Err(e.into()),
    }
}

/// Prints the completion script for `shell`, with the recipe ids this directory knows
/// (built-ins, `--recipe` files, the configuration's `recipe-paths`) offered where a
/// command takes recipe ids (`apply`, `check`, `show`) and paths completed as before.
fn completions(shell: clap_complete::Shell, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let mut registry = crate::recipe::Registry::new(&global.recipe_files)?;
    if let Ok(Some(c)) = crate::config::Configs::default().for_path(std::path::Path::new(".")) {
        registry.add_dirs(&c.recipe_paths, &c.file)?;
    }
    let ids: Vec<clap::builder::PossibleValue> = registry
        .recipes
        .iter()
        .map(|r| {
            clap::builder::PossibleValue::new(r.id().to_owned()).help(r.def.description.clone())
        })
        .collect();
    let mut cmd = <Cli as clap::CommandFactory>::command();
    for (sub, arg) in [
        ("apply", "targets"),
        ("check", "targets"),
        ("show", "recipe"),
    ] {
        let ids = ids.clone();
        cmd = cmd.mut_subcommand(sub, |c| {
            c.mut_arg(arg, |a| {
                a.value_parser(clap::builder::PossibleValuesParser::new(ids))
                    .value_hint(clap::ValueHint::AnyPath)
            })
        });
    }
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "fixer", &mut out);
    // clap's fish script completes no positional values: the ids are added (fish still
    // completes file names beside them).
    if shell == clap_complete::Shell::Fish {
        use std::io::Write as _;
        for sub in ["apply", "check", "show"] {
            for r in &registry.recipes {
                let help = r.def.description.replace('\\', "\\\\").replace('\'', "\\'");
                writeln!(
                    out,
                    "complete -c fixer -n \"__fish_fixer_using_subcommand {sub}\" -a {} -d '{help}'",
                    r.id()
                )?;
            }
        }
    }
    Ok(Exit::Success)
}

pub fn print_error(e: &anyhow::Error, style: Style) {
    let mut help = None;
    if let Some(u) = e.downcast_ref::<UserError>() {
        eprintln!("{}: {}", style.paint("1;31", "error"), u.message);
        help = u.help.clone();
    } else {
        eprintln!("{}: {e}", style.paint("1;31", "error"));
        for cause in e.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
    }
    if let Some(h) = help {
        eprintln!("{}: {h}", style.paint("1;36", "help"));
    }
}

/// `--set KEY=VALUE` pairs as a map; a pair without `=` is a usage error.
pub fn parse_sets(sets: &[String]) -> Result<BTreeMap<String, String>, UserError> {
    sets.iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                .ok_or_else(|| {
                    UserError::new(format!("--set `{s}` is not KEY=VALUE"))
                        .help("write it as --set name=value")
                })
        })
        .collect()
}

pub fn thread_pool(jobs: Option<usize>) -> anyhow::Result<rayon::ThreadPool> {
    let n = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if n == 0 {
        return Err(UserError::new("--jobs must be at least 1").into());
    }
    Ok(rayon::ThreadPoolBuilder::new().num_threads(n).build()?)
}
