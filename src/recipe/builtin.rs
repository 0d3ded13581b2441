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
        "hoist-imports.toml",
        include_str!("../../recipes/hoist-imports.toml"),
    ),
];

pub fn all() -> Result<Vec<Recipe>, UserError> {
    FILES
        .iter()
        .map(|(name, text)| Recipe::parse(text, &Path::new("recipes").join(name), true))
        .collect()
}
