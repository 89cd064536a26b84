//! The throughput baseline of `scripts/throughput.sh`: a minimal axum server that answers
//! every request with the same bytes, on the same runtime and HTTP stack as the emulator. Its
//! rate is the machine's ceiling for serving the emulator's own answer; the emulator's rate is
//! reported as a ratio of it.
//!
//!     cargo run --release --example fixed_body -- ADDR BODY_FILE CONTENT_TYPE
//!
//! Prints `fixed-body ready on http://ADDR` once it accepts requests.

use axum::http::header;
use axum::response::IntoResponse;
use axum::Router;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, body_file, content_type] = &args[..] else {
        eprintln!("usage: fixed_body ADDR BODY_FILE CONTENT_TYPE");
        std::process::exit(2);
    };
    let body: &'static [u8] = Vec::leak(std::fs::read(body_file)?);
    let content_type: &'static str = String::leak(content_type.clone());
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
        let app = Router::new().fallback(move || async move {
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        });
        println!("fixed-body ready on http://{}", listener.local_addr()?);
        axum::serve(listener, app).await
    })
}
