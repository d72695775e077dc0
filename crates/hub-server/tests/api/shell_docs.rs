//! The binary's shell completions and manual pages: generated from its own definitions, and usable.

use std::process::Command;

use crate::cli::run;

/// What bash's completion offers after `words` (the last one being completed).
fn bash_completes(script: &str, words: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hub-server.bash");
    std::fs::write(&file, script).unwrap();
    let words_array = words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ");
    let probe = format!(
        "source '{}'; COMP_WORDS=({words_array}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
         fn=$(complete -p hub-server | sed -E 's/.*-F ([^ ]+).*/\\1/'); \
         \"$fn\" hub-server '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    // bash is the shell every Debian system has (it is essential); `--norc` keeps the user's out.
    let out = Command::new("bash").args(["--norc", "-c", &probe]).output().unwrap();
    assert!(out.status.success(), "bash: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_their_options() {
    let (code, script, err) = run(&["completions", "bash"], &[]);
    assert_eq!(code, 0, "{err}");
    let top = bash_completes(&script, &["hub-server", ""]);
    for sub in ["serve", "check-config", "migrate", "dlq", "probe", "completions", "man"] {
        assert!(top.iter().any(|w| w == sub), "{sub} not offered: {top:?}");
    }
    let dlq = bash_completes(&script, &["hub-server", "dlq", ""]);
    for action in ["list", "show", "replay", "discard"] {
        assert!(dlq.iter().any(|w| w == action), "dlq {action} not offered: {dlq:?}");
    }
    let list = bash_completes(&script, &["hub-server", "dlq", "list", "--st"]);
    assert_eq!(list, ["--status"]);
}

#[test]
fn zsh_and_fish_scripts_name_every_subcommand() {
    for (shell, header) in [("zsh", "#compdef hub-server"), ("fish", "complete -c hub-server")] {
        let (code, script, err) = run(&["completions", shell], &[]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(script.contains(header), "{shell}: {script}");
        for sub in [
            "check-config",
            "migrate",
            "dlq",
            "replay",
            "jira-fields",
            "completions",
            "man",
        ] {
            assert!(script.contains(sub), "{shell} script lacks {sub}");
        }
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let (code, out, err) = run(&["completions", "tcsh"], &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("possible values: bash"), "{err}");
}

#[test]
fn the_manual_page_carries_the_help_and_its_examples() {
    let (code, page, err) = run(&["man"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(page.contains(".TH hub-server 1"), "{page}");
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH SUBCOMMANDS",
        ".SH EXTRA",
        ".SH VERSION",
    ] {
        assert!(page.contains(section), "no {section}: {page}");
    }
    assert!(page.contains("hub\\-server\\-check\\-config(1)"), "{page}");
    assert!(page.contains("Examples:"), "{page}");
}

#[test]
fn the_manual_pages_are_written_one_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    let (code, out, err) = run(&["man", "--out-dir", out_dir.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{out}{err}");
    let mut pages: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for page in [
        "hub-server.1",
        "hub-server-dlq-replay.1",
        "hub-server-probe-jira-fields.1",
        "hub-server-man.1",
    ] {
        assert!(pages.iter().any(|p| p == page), "{page} not written: {pages:?}");
    }
    let replay = std::fs::read_to_string(out_dir.join("hub-server-dlq-replay.1")).unwrap();
    assert!(
        replay.contains("\\-\\-force") && replay.contains("Exit codes"),
        "{replay}"
    );
}

#[test]
fn an_unwritable_directory_is_a_runtime_failure() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let (code, _, err) = run(&["man", "--out-dir", file.join("man1").to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("writing the manual pages"), "{err}");
}
