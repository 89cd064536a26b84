//! The documentation's curl examples, answered by the demo data exactly as written (only request
//! ids may differ), and its relative links.
//!
//! The pages are README.md and every `docs/*.md`, read when the test runs. In each page, every
//! `sh` block whose first line starts with `curl ` is an example: it is sent to the in-process
//! demo app and what it prints is compared with the fenced block that follows it (`json`
//! compared as JSON, `xml` and `text` as text), unless it saves the body with `-o FILE`, which a
//! later `--data-binary @FILE` of the same page sends. A block whose first line is a `#` comment
//! is not run. The examples of a page run in order on one app, each page on fresh demo data, so
//! an example may rely on what the earlier ones of its page did, never on another page.
//!
//! Every relative link of a page names a file or folder that exists (and one of its headings, for
//! `page.md#anchor`), and README.md links every page of docs/.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use axum::body::Body as AxumBody;
use axum::http::Request;
use common::{demo_app, send_request};

/// One curl example: what it sends and, unless it saves the body with `-o`, what it prints.
#[derive(Debug)]
struct Example {
    /// 1 for a page's first example.
    number: usize,
    /// The heading the example is under.
    section: String,
    command: String,
    method: String,
    url: String,
    body: Option<Body>,
    write_out: Option<String>,
    save_to: Option<String>,
    expected: Option<(String, String)>,
}

#[derive(Debug)]
enum Body {
    Text(String),
    File(String),
}

/// Splits a command line into words; single quotes group, as in sh.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    out.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(word);
    }
    out
}

/// Every curl example of a page in `sh` blocks, in order, with the output block after it.
fn examples(page: &str) -> Vec<Example> {
    let mut found = Vec::new();
    let mut section = String::new();
    // Prose and fenced blocks alternate: even parts are prose, odd ones blocks.
    let parts: Vec<&str> = page.split("```").collect();
    let mut i = 0;
    while i < parts.len() {
        let part = parts[i];
        i += 1;
        if i % 2 == 1 {
            if let Some(heading) = part.lines().rev().find(|l| l.starts_with('#')) {
                section = heading.trim_start_matches('#').trim().to_owned();
            }
            continue;
        }
        let Some(command) = part
            .strip_prefix("sh\n")
            .map(str::trim)
            .filter(|c| c.starts_with("curl "))
        else {
            continue;
        };
        let mut example = Example {
            number: found.len() + 1,
            section: section.clone(),
            command: command.to_owned(),
            method: String::new(),
            url: String::new(),
            body: None,
            write_out: None,
            save_to: None,
            expected: None,
        };
        let args = words(command);
        let mut args = args.iter().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().expect("a flag's value").clone();
            match arg.as_str() {
                "-s" => {}
                "-X" => example.method = value(),
                "-d" => example.body = Some(Body::Text(value())),
                "--data-binary" => {
                    let v = value();
                    let file = v.strip_prefix('@').expect("--data-binary @FILE");
                    example.body = Some(Body::File(file.to_owned()));
                }
                "-w" => example.write_out = Some(value()),
                "-o" => example.save_to = Some(value()),
                url if url.starts_with("http://") => example.url = url.to_owned(),
                other => panic!("unsupported curl argument {other} in {command}"),
            }
        }
        if example.method.is_empty() {
            example.method = if example.body.is_some() {
                "POST"
            } else {
                "GET"
            }
            .to_owned();
        }
        if example.save_to.is_none() {
            // Skip the prose between the command and its output.
            let output = parts
                .get(i + 1)
                .unwrap_or_else(|| panic!("{command} is followed by its output"));
            i += 2;
            let (lang, body) = output
                .split_once('\n')
                .expect("a fenced block with a language");
            example.expected = Some((lang.to_owned(), body.trim().to_owned()));
        }
        found.push(example);
    }
    found
}

/// What `curl -w FORMAT` prints for this reply (the variables the README uses).
fn write_out(format: &str, reply: &common::Reply) -> String {
    let mut out = format
        .replace("\\n", "\n")
        .replace("%{http_code}", &reply.status.to_string());
    while let Some(start) = out.find("%header{") {
        let end = start + out[start..].find('}').expect("closed %header{");
        let name = &out[start + "%header{".len()..end];
        let value = reply.header(name).unwrap_or_default().to_owned();
        out.replace_range(start..=end, &value);
    }
    out
}

/// Replaces every UUID-shaped run (8-4-4-4-12 hex digits: a request id) with a fixed marker.
fn without_request_ids(text: &str) -> String {
    let is_uuid = |s: &[u8]| {
        s.len() == 36
            && s.iter().enumerate().all(|(i, &b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    };
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i..i + 36).is_some_and(is_uuid) {
            out.push_str("<request id>");
            i += 36;
        } else {
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The root of the repository, where README.md is.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, then every `docs/*.md` by name: each page's path from the root and its text.
fn pages() -> Vec<(String, String)> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("a docs/ folder")
        .map(|entry| entry.expect("a docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    let mut pages = vec![PathBuf::from("README.md")];
    pages.extend(
        docs.iter()
            .map(|p| p.strip_prefix(root()).unwrap().to_path_buf()),
    );
    pages
        .into_iter()
        .map(|page| {
            let text = std::fs::read_to_string(root().join(&page))
                .unwrap_or_else(|e| panic!("{}: {e}", page.display()));
            (page.to_string_lossy().into_owned(), text)
        })
        .collect()
}

/// Runs every example of one page in order against one fresh demo app, as a reader would in a
/// shell: the control-plane examples change the state the later ones see. Returns how many ran.
async fn check_page(page: &str, text: &str) -> usize {
    let examples = examples(text);
    let count = examples.len();
    let app = demo_app();
    let mut files: HashMap<String, String> = HashMap::new();
    for example in examples {
        let command = &format!(
            "{page}, example {} (under \"{}\"): {}",
            example.number, example.section, example.command
        );
        let (authority, path) = example
            .url
            .strip_prefix("http://")
            .and_then(|u| u.split_once('/'))
            .unwrap_or_else(|| panic!("{command}: an http URL"));
        let builder = Request::builder()
            .method(example.method.as_str())
            .uri(format!("/{path}"))
            .header("host", authority);
        let request = match &example.body {
            None => builder.body(AxumBody::empty()),
            Some(body) => {
                let text = match body {
                    Body::Text(text) => text.clone(),
                    Body::File(file) => files
                        .get(file)
                        .unwrap_or_else(|| {
                            panic!("{command}: {file} is saved by an earlier example of the page")
                        })
                        .clone(),
                };
                // As curl sends -d and --data-binary.
                builder
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(AxumBody::from(text))
            }
        }
        .unwrap();
        let reply = send_request(&app, request).await;
        if let Some(file) = &example.save_to {
            assert_eq!(reply.status, 200, "{command}: {}", reply.body);
            files.insert(file.clone(), reply.body);
            continue;
        }
        let (lang, expected) = example.expected.as_ref().expect("an output block");
        let printed = match &example.write_out {
            Some(format) => format!("{}{}", reply.body, write_out(format, &reply)),
            None => reply.body.clone(),
        };
        match lang.as_str() {
            "json" => {
                let got: serde_json::Value = serde_json::from_str(&without_request_ids(&printed))
                    .unwrap_or_else(|e| panic!("{command}: not JSON ({e}): {printed}"));
                let want: serde_json::Value = serde_json::from_str(&without_request_ids(expected))
                    .unwrap_or_else(|e| panic!("{command}: its output block is not JSON ({e})"));
                assert_eq!(got, want, "{command}");
            }
            "xml" | "text" => assert_eq!(
                without_request_ids(printed.trim()),
                without_request_ids(expected),
                "{command}"
            ),
            other => panic!("{command}: unexpected output language {other}"),
        }
    }
    count
}

/// Every page's examples answer as written, each page on fresh demo data.
#[tokio::test]
async fn every_example_answers_as_written() {
    let mut counts = Vec::new();
    for (page, text) in pages() {
        let count = check_page(&page, &text).await;
        counts.push((page, count));
    }
    let total: usize = counts.iter().map(|(_, count)| count).sum();
    // 24: as many as README.md had before it was split into docs/.
    assert!(total >= 24, "found {total} examples: {counts:?}");
    assert!(counts[0].1 >= 2, "README.md has {} examples", counts[0].1);
}

/// The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// A page's text outside fenced blocks.
fn prose(text: &str) -> String {
    text.split("```").step_by(2).collect::<Vec<_>>().join("\n")
}

/// The anchors of a page's headings.
fn anchors(text: &str) -> Vec<String> {
    prose(text)
        .lines()
        .filter(|line| line.starts_with('#'))
        .map(slug)
        .collect()
}

/// The targets of a page's inline links `[text](target)`, outside fenced blocks.
fn links(text: &str) -> Vec<String> {
    prose(text)
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(target, _)| target.to_owned()))
        .collect()
}

/// Every relative link of every page names a file or folder that exists (and a heading of it,
/// for `page.md#anchor`), and README.md links every page of docs/.
#[test]
fn every_relative_link_resolves() {
    let pages = pages();
    let mut broken = Vec::new();
    for (page, text) in &pages {
        let dir = Path::new(page).parent().unwrap_or(Path::new(""));
        for target in links(text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let path = if file.is_empty() {
                PathBuf::from(page)
            } else {
                normalize(&dir.join(file))
            };
            if !root().join(&path).exists() {
                broken.push(format!("{page}: {target}: no {}", path.display()));
                continue;
            }
            if !anchor.is_empty() {
                let linked = std::fs::read_to_string(root().join(&path)).unwrap_or_default();
                if !anchors(&linked).iter().any(|a| a == anchor) {
                    broken.push(format!("{page}: {target}: no heading #{anchor}"));
                }
            }
        }
    }
    let readme_links: Vec<PathBuf> = links(&pages[0].1)
        .iter()
        .map(|t| normalize(Path::new(t.split('#').next().unwrap_or_default())))
        .collect();
    for (page, _) in &pages[1..] {
        if !readme_links.iter().any(|l| l == Path::new(page)) {
            broken.push(format!("README.md does not link {page}"));
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// `docs/../tests/sdk/` as `tests/sdk`: the path from the root, without `.` and `..`.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
