//! `hub-server completions` and `hub-server man`: shell completions and manual pages generated from the command's own definition.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap_complete::Shell;

use super::Failure;

/// Prints the completion script for `shell`.
pub(crate) fn completions(mut cmd: clap::Command, shell: Shell) -> ExitCode {
    let mut script = Vec::new();
    let name = cmd.get_name().to_owned();
    clap_complete::generate(shell, &mut cmd, name.clone(), &mut script);
    if shell == Shell::Bash {
        script = mend_bash(&String::from_utf8_lossy(&script), &name).into_bytes();
    }
    print_out(&script)
}

/// clap_complete's bash script spells a hyphenated binary's states two ways: the word loop
/// arrives at `hub__server__subcmd__dlq`, its `case` arms are `hub__subcmd__server__subcmd__dlq`,
/// so nothing after a subcommand completes (clap-rs/clap#6421). One spelling, the loop's.
fn mend_bash(script: &str, bin_name: &str) -> String {
    script.replace(&bin_name.replace('-', "__subcmd__"), &bin_name.replace('-', "__"))
}

/// Prints the top-level manual page, or writes one page per command into `out_dir`.
pub(crate) fn man(cmd: clap::Command, out_dir: Option<&Path>) -> ExitCode {
    let Some(dir) = out_dir else {
        let mut page = Vec::new();
        return match clap_mangen::Man::new(cmd).render(&mut page) {
            Ok(()) => print_out(&page),
            Err(e) => Failure::Runtime(format!("rendering the manual page: {e}")).exit(),
        };
    };
    let written = std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(cmd, dir));
    match written {
        Ok(()) => {
            println!("manual pages written to {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => Failure::Runtime(format!("writing the manual pages to {}: {e}", dir.display())).exit(),
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print_out(bytes: &[u8]) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => Failure::Runtime(format!("writing to stdout: {e}")).exit(),
    }
}
