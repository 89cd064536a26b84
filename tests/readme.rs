//! The README's curl examples, answered by the demo data exactly as written (only request ids
//! may differ).

mod common;

use std::collections::HashMap;

use axum::body::Body as AxumBody;
use axum::http::Request;
use common::{demo_app, send_request};

/// One curl example: what it sends and, unless it saves the body with `-o`, what it prints.
#[derive(Debug)]
struct Example {
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

/// Every curl example in `sh` blocks, in order, with the output block after it.
fn examples(readme: &str) -> Vec<Example> {
    let mut found = Vec::new();
    let mut blocks = readme.split("```").skip(1).step_by(2).peekable();
    while let Some(block) = blocks.next() {
        let Some(command) = block
            .strip_prefix("sh\n")
            .map(str::trim)
            .filter(|c| c.starts_with("curl "))
        else {
            continue;
        };
        let mut example = Example {
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
            let output = blocks
                .next()
                .unwrap_or_else(|| panic!("{command} is followed by its output"));
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

/// Runs every example in order against one demo app, as a reader would in a shell: the
/// control-plane examples change the state the later ones see.
#[tokio::test]
async fn every_readme_example_answers_as_written() {
    let readme = include_str!("../README.md");
    let examples = examples(readme);
    assert!(examples.len() >= 20, "found {} examples", examples.len());
    let app = demo_app();
    let mut files: HashMap<String, String> = HashMap::new();
    for example in examples {
        let command = &example.command;
        let (authority, path) = example
            .url
            .strip_prefix("http://")
            .and_then(|u| u.split_once('/'))
            .expect("an http URL");
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
                        .unwrap_or_else(|| panic!("{file} was saved by an earlier example"))
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
                let want: serde_json::Value =
                    serde_json::from_str(&without_request_ids(expected)).unwrap();
                assert_eq!(got, want, "{command}");
            }
            "xml" | "text" => assert_eq!(
                without_request_ids(printed.trim()),
                without_request_ids(expected),
                "{command}"
            ),
            other => panic!("unexpected output language {other} for {command}"),
        }
    }
}
