/// mimalloc for Rust's allocations and tree-sitter's: parsing allocates and frees a node
/// per token, from every thread at once, where glibc's malloc spends a tenth of a run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // SAFETY: before any tree exists, and these functions have the C allocator contract.
    unsafe {
        tree_sitter::set_allocator(
            Some(libmimalloc_sys::mi_malloc),
            Some(libmimalloc_sys::mi_calloc),
            Some(libmimalloc_sys::mi_realloc),
            Some(libmimalloc_sys::mi_free),
        );
    }
    fixer::cli::main()
}
