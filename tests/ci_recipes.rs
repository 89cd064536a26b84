//! docs/ci.md shows every file of examples/ci/ word for word, in a fenced block of its own, so
//! that the page and the files that CI checks (.ci/recipes.py, tests/sdk/recipes.py) cannot
//! drift apart.

use std::path::Path;

/// The text of every fenced block of a Markdown page, in order, each line ending in `\n`.
fn fenced_blocks(page: &str) -> Vec<String> {
    page.split("\n```")
        .skip(1)
        .step_by(2)
        // Drop the info string (the language) on the opening fence's line; the newline before
        // the closing fence ends the last line.
        .map(|block| {
            block
                .split_once('\n')
                .map_or(String::new(), |(_, body)| format!("{body}\n"))
        })
        .collect()
}

#[test]
fn docs_ci_shows_every_recipe_file_as_it_is() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join("docs/ci.md")).unwrap();
    let blocks = fenced_blocks(&page);
    let mut files: Vec<_> = std::fs::read_dir(root.join("examples/ci"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(root).unwrap().display().to_string();
        assert!(
            blocks.contains(&text),
            "docs/ci.md has no block equal to {name}: copy the file's text into its block"
        );
        assert!(
            page.contains(&format!("[`{name}`](../{name})")),
            "docs/ci.md does not link {name}"
        );
    }
}

#[test]
fn fenced_blocks_are_found_with_their_text() {
    let page = "intro\n\n```yaml\na: 1\n```\n\ntext\n\n```sh\nls\n```\n";
    assert_eq!(fenced_blocks(page), ["a: 1\n", "ls\n"]);
}
