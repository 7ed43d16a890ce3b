//! `jowi serve | migrate | demo`.

fn main() -> std::process::ExitCode {
    jowi::cli::main()
}
