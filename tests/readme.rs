//! The README's curl examples, answered by the demo data exactly as written (only request ids
//! may differ).

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{demo_app, send_request};

/// (URL, expected language, expected body) for every curl example followed by its output.
fn examples(readme: &str) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    let mut blocks = readme.split("```").skip(1).step_by(2).peekable();
    while let Some(block) = blocks.next() {
        let Some(url) = block
            .strip_prefix("sh\n")
            .and_then(|b| b.trim().strip_prefix("curl -s '"))
            .and_then(|b| b.strip_suffix('\''))
        else {
            continue;
        };
        let output = blocks
            .next()
            .expect("a curl example is followed by its output");
        let (lang, body) = output
            .split_once('\n')
            .expect("a fenced block with a language");
        found.push((url.to_owned(), lang.to_owned(), body.trim().to_owned()));
    }
    found
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

#[tokio::test]
async fn every_readme_example_answers_as_written() {
    let readme = include_str!("../README.md");
    let examples = examples(readme);
    assert!(examples.len() >= 7, "found {} examples", examples.len());
    let app = demo_app();
    for (url, lang, expected) in examples {
        let (authority, path) = url
            .strip_prefix("http://")
            .and_then(|u| u.split_once('/'))
            .expect("an http URL");
        let request = Request::get(format!("/{path}"))
            .header("host", authority)
            .body(Body::empty())
            .unwrap();
        let reply = send_request(&app, request).await;
        match lang.as_str() {
            "json" => {
                let got: serde_json::Value =
                    serde_json::from_str(&without_request_ids(&reply.body)).unwrap();
                let want: serde_json::Value =
                    serde_json::from_str(&without_request_ids(&expected)).unwrap();
                assert_eq!(got, want, "{url}");
            }
            "xml" => assert_eq!(
                without_request_ids(&reply.body),
                without_request_ids(&expected),
                "{url}"
            ),
            other => panic!("unexpected output language {other} for {url}"),
        }
    }
}
