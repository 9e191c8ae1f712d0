use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = steward::cli::Cli::parse();
    match cli.run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(steward::cli::exit::FAILED)
        }
    }
}
