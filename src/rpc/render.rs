//! Typed responses to bytes: JSON or XML, the success body or the error envelope.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;

/// The response format a caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json;charset=utf-8`.
    Json,
    /// `text/xml;charset=utf-8`.
    Xml,
}

impl Format {
    /// `JSON` or `XML` in any case.
    pub fn parse(value: &str) -> Option<Self> {
        if value.eq_ignore_ascii_case("json") {
            Some(Self::Json)
        } else if value.eq_ignore_ascii_case("xml") {
            Some(Self::Xml)
        } else {
            None
        }
    }

    /// The Content-Type header value; the Tea SDKs parse an XML error only with exactly this.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json;charset=utf-8",
            Self::Xml => "text/xml;charset=utf-8",
        }
    }
}

/// The header every response carries.
pub const REQUEST_ID_HEADER: &str = "x-acs-request-id";
/// HostId when the request had no Host header.
pub const DEFAULT_HOST: &str = "ecs.aliyuncs.com";

/// The error envelope: `{RequestId, HostId, Code, Message, Recommend}`, XML root `<Error>`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody<'a> {
    /// The request id.
    pub request_id: &'a str,
    /// The request's Host.
    pub host_id: &'a str,
    /// The error code.
    pub code: &'a str,
    /// The message.
    pub message: String,
    /// A troubleshooting link naming the code and request id.
    pub recommend: String,
}

/// Where a reply goes: what every response, success or error, needs to know.
#[derive(Debug, Clone)]
pub struct ReplyTo {
    /// The request id, also sent as `x-acs-request-id`.
    pub request_id: String,
    /// HostId of an error.
    pub host: String,
    /// The format of the reply.
    pub format: Format,
}

impl ReplyTo {
    /// A success body under `root` (XML root element; JSON has no root).
    pub fn success<T: Serialize>(&self, root: &str, body: &T) -> Response {
        match encode(self.format, root, body) {
            Ok(bytes) => self.respond(StatusCode::OK, self.format, bytes),
            Err(problem) => {
                tracing::error!(request_id = %self.request_id, %problem, "cannot encode a response");
                self.error(&ApiError::InternalDispatch)
            }
        }
    }

    /// The error envelope for `error`.
    pub fn error(&self, error: &ApiError) -> Response {
        let body = ErrorBody {
            request_id: &self.request_id,
            host_id: &self.host,
            code: error.code(),
            message: error.to_string(),
            recommend: format!(
                "https://api.aliyun.com/troubleshoot?q={}&product=Ecs&requestId={}",
                error.code(),
                self.request_id
            ),
        };
        // The envelope is plain strings; JSON encoding of it cannot fail.
        let (format, bytes) = match encode(self.format, "Error", &body) {
            Ok(bytes) => (self.format, bytes),
            Err(_) => (
                Format::Json,
                encode(Format::Json, "Error", &body).unwrap_or_default(),
            ),
        };
        self.respond(error.status(), format, bytes)
    }

    fn respond(&self, status: StatusCode, format: Format, bytes: Vec<u8>) -> Response {
        let mut response = (status, bytes).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        );
        set(&mut response, REQUEST_ID_HEADER, &self.request_id);
        response
    }
}

fn set(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// Serialises `body` as JSON (serde_json's bytes, written by [`super::json`]), or as XML under
/// `root` with the XML declaration.
///
/// The XML is well-formed XML 1.0 whatever the text: a character XML cannot carry (which the
/// data and the echoes already keep out) is replaced by U+FFFD as a last line of defence. The
/// emulator's own writer ([`super::xml`]) does it while it escapes, in the same pass.
pub fn encode<T: Serialize>(format: Format, root: &str, body: &T) -> Result<Vec<u8>, String> {
    match format {
        Format::Json => super::json::to_json(body),
        Format::Xml => super::xml::to_xml(root, body),
    }
}
