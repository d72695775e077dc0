//! hub-resilience's README example is the program `examples/consumer` builds with path
//! dependencies (`cargo xtask kit` builds and runs it), so a user copying it gets code that compiles.

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The body of the first fenced `rust` block of a Markdown text.
fn first_rust_block(markdown: &str) -> Option<String> {
    let mut lines = markdown.lines().skip_while(|l| l.trim() != "```rust");
    lines.next()?;
    let body: Vec<&str> = lines.take_while(|l| l.trim() != "```").collect();
    Some(body.iter().map(|l| format!("{l}\n")).collect())
}

#[test]
fn hub_resilience_readme_example_is_the_consumer_project() {
    let readme = std::fs::read_to_string(root().join("crates/hub-resilience/README.md")).unwrap();
    let program = std::fs::read_to_string(root().join("examples/consumer/src/main.rs")).unwrap();
    let block = first_rust_block(&readme).expect("hub-resilience's README has a ```rust block");
    assert_eq!(
        block, program,
        "crates/hub-resilience/README.md's example and examples/consumer/src/main.rs differ"
    );
}

#[test]
fn the_first_rust_block_is_found() {
    let md = "# T\n\n```toml\nx = 1\n```\n\n```rust\nfn main() {}\n```\n";
    assert_eq!(first_rust_block(md).as_deref(), Some("fn main() {}\n"));
    assert_eq!(first_rust_block("no code"), None);
}
