/// mimalloc for Rust's allocations and tree-sitter's: parsing allocates and frees a node
/// per token, from every thread at once, where glibc's malloc spends a tenth of a run.
/// (`--features system-alloc` builds without it, for heap profilers such as heaptrack,
/// which do not see mimalloc's allocations.)
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    no_huge_pages();
    // SAFETY: before any tree exists, and these functions have the C allocator contract.
    #[cfg(not(feature = "system-alloc"))]
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

/// No transparent huge pages for this process. Where the kernel backs every anonymous
/// mapping with them (THP `always`), each 2 MiB region mimalloc touches first is zeroed
/// whole: in a run of every recipe over Django + SymPy, 6% of the CPU went to the
/// kernel's `clear_page` (17-25% for some recipes alone), and peak RSS was 145 MiB
/// instead of 106. A short-lived tool whose memory is many
/// small, short-lived blocks has nothing to gain from them. It only sets a flag of this
/// process; if the kernel refuses, the run goes on as before.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
