fn main() -> std::process::ExitCode {
    fixer::cli::main()
}
