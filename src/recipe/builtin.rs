//! The built-in recipes: `recipes/*.toml`, embedded in the binary so that `fixer apply
//! RECIPE` works from any directory.

use std::path::Path;

use super::Recipe;
use crate::diag::UserError;

/// (file name, text) of every built-in recipe. A test checks that this lists every file
/// in `recipes/`.
pub const FILES: &[(&str, &str)] = &[
    (
        "aioredis-to-redis.toml",
        include_str!("../../recipes/aioredis-to-redis.toml"),
    ),
    (
        "consolidate-conftest.toml",
        include_str!("../../recipes/consolidate-conftest.toml"),
    ),
    (
        "lazy-settings.toml",
        include_str!("../../recipes/lazy-settings.toml"),
    ),
    (
        "module-to-package.toml",
        include_str!("../../recipes/module-to-package.toml"),
    ),
    (
        "move-module.toml",
        include_str!("../../recipes/move-module.toml"),
    ),
    (
        "pytest-asyncio-v1.toml",
        include_str!("../../recipes/pytest-asyncio-v1.toml"),
    ),
    (
        "unresolved-imports.toml",
        include_str!("../../recipes/unresolved-imports.toml"),
    ),
    (
        "hoist-imports.toml",
        include_str!("../../recipes/hoist-imports.toml"),
    ),
];

/// The built-in recipes, parsed but not compiled (see [`Recipe::parse_schema`]).
pub fn all() -> Result<Vec<Recipe>, UserError> {
    FILES
        .iter()
        .map(|(name, text)| Recipe::parse_schema(text, &Path::new("recipes").join(name), true))
        .collect()
}
