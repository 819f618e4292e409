//! The `edgeauth` binary: everything lives in the library; this only runs
//! the command line and returns its exit code.

fn main() -> std::process::ExitCode {
    edgeauth::cli::run()
}
