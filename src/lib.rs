//! fixer: a codemod engine that repairs and restructures Python codebases.
//!
//! The pipeline, one module per stage:
//! - [`recipe`]: recipe schema (TOML data) and its compilation into queries and templates;
//! - [`select`]: which files a run touches (parallel walk, .gitignore, globs);
//! - [`source`]: reading a file (BOM, PEP 263 coding cookie, newline style) and encoding it back;
//! - [`parse`] and [`rewrite`]: tree-sitter parsing and query matching into edits;
//!   [`outline`]: partial parses, of only what an action looks at;
//! - [`actions`]: built-in structural actions that a query cannot express;
//! - [`edit`]: byte-range edits, conflicts between them, and their application;
//! - [`imports`]: module-level import placement shared by rewrites and actions;
//! - [`verify`]: every rewritten file is parsed again before it may be written;
//! - [`output`] and [`write`]: unified diffs, reports and atomic writes;
//! - [`transaction`]: all of a run's writes as one, with a journal and recovery
//!   ([`fault`] holds its test hooks);
//! - [`engine`]: runs recipes over a file set, stage after stage; [`cache`] keeps each
//!   file's per-file results between runs.

pub mod actions;
pub mod cache;
pub mod cli;
pub mod config;
pub mod diag;
pub mod edit;
pub mod engine;
pub mod fast_hash;
pub mod fault;
pub mod git;
pub mod import_graph;
pub mod imports;
pub mod outline;
pub mod output;
pub mod parse;
pub mod project;
pub mod project_imports;
pub mod recipe;
pub mod report;
pub mod rewrite;
pub mod select;
pub mod semantic;
pub mod source;
pub mod stdlib;
pub mod suppress;
pub mod transaction;
pub mod verify;
pub mod write;
