//! `POST /v1/recruiting/applications/documents` (a multipart upload whose `uuid` an
//! application's `files` then names) and the check of those `files`, following
//! `personio-recruiting-api.yaml` (errors in its `error_response` shape).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{FakePersonio, Recorded, Shared, json as respond_json};

/// Largest uploaded file (20 MB).
pub const MAX_DOCUMENT_BYTES: usize = 20 << 20;

/// File extensions the documents endpoint accepts, with the MIME type it reports for each.
pub const DOCUMENT_TYPES: &[(&str, &str)] = &[
    ("pdf", "application/pdf"),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("doc", "application/msword"),
    ("xls", "application/vnd.ms-excel"),
    ("ppt", "application/vnd.ms-powerpoint"),
    ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("7z", "application/x-7z-compressed"),
    ("gz", "application/gzip"),
    ("rar", "application/vnd.rar"),
    ("zip", "application/zip"),
    ("bmp", "image/bmp"),
    ("gif", "image/gif"),
    ("jpg", "image/jpeg"),
    ("png", "image/png"),
    ("tif", "image/tiff"),
    ("csv", "text/csv"),
    ("txt", "text/plain"),
    ("rtf", "application/rtf"),
    ("mp4", "video/mp4"),
    ("3gp", "video/3gpp"),
    ("mov", "video/quicktime"),
    ("avi", "video/x-msvideo"),
    ("wmv", "video/x-ms-wmv"),
];

/// Categories an application's `files[].category` may name.
pub const FILE_CATEGORIES: &[&str] = &[
    "cv",
    "cover-letter",
    "employment-reference",
    "certificate",
    "work-sample",
    "other",
];

/// One uploaded document: its `uploaded_document` JSON and its bytes (dropped by
/// [`FakePersonio::clear_recorded`], which keeps the document itself for applications).
#[derive(Clone, Debug)]
pub(super) struct Uploaded {
    pub(super) json: Value,
    pub(super) bytes: Option<Vec<u8>>,
}

/// The `error_response` shape: one entry per field, each with its reasons.
pub(super) fn field_errors(status: StatusCode, fields: &[(String, &str)]) -> Response {
    let errors: Vec<Value> = fields
        .iter()
        .map(|(field, reason)| json!({"field": field, "errors": [{"reason": reason}]}))
        .collect();
    respond_json(status, &json!({"errors": errors}))
}

/// One part of a `multipart/form-data` body.
struct Part<'a> {
    name: Option<String>,
    filename: Option<String>,
    body: &'a [u8],
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
}

/// The value of `key="..."` (or unquoted) in a `Content-Disposition` header.
fn disposition_param(value: &str, key: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Splits a multipart body by `boundary`; `None` when it is not one.
fn multipart<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut pos = find(body, delimiter, 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return Some(parts);
        }
        if body.get(pos..pos + 2) != Some(b"\r\n") {
            return None;
        }
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos)?;
        let head = String::from_utf8_lossy(&body[pos..head_end]).into_owned();
        let content_start = head_end + 4;
        let next = find(body, &[b"\r\n", delimiter].concat(), content_start)?;
        let mut part = Part {
            name: None,
            filename: None,
            body: &body[content_start..next],
        };
        for line in head.split("\r\n") {
            if let Some((k, v)) = line.split_once(':')
                && k.trim().eq_ignore_ascii_case("content-disposition")
            {
                part.name = disposition_param(v, "name");
                part.filename = disposition_param(v, "filename");
            }
        }
        parts.push(part);
        pos = next + 2 + delimiter.len();
    }
}

/// `POST /v1/recruiting/applications/documents` (credentials already checked): 200 with
/// `{uuid, size, mimetype, original_filename, extension}`.
pub(super) fn upload(shared: &Shared, rec: &Recorded) -> Response {
    let content_type = rec.header("content-type").unwrap_or_default().to_owned();
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let boundary = content_type
        .split(';')
        .skip(1)
        .find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("boundary")
                .then(|| v.trim().trim_matches('"').to_owned())
        })
        .filter(|b| !b.is_empty());
    let missing = || {
        field_errors(
            StatusCode::BAD_REQUEST,
            &[(
                "file".to_owned(),
                "errors.attribute-validation.required-attribute",
            )],
        )
    };
    let (true, Some(boundary)) = (media == "multipart/form-data", boundary) else {
        return missing();
    };
    let Some(parts) = multipart(&rec.body, &boundary) else {
        return missing();
    };
    let Some(file) = parts
        .into_iter()
        .find(|p| p.name.as_deref() == Some("file") && p.filename.is_some())
    else {
        return missing();
    };
    let filename = file.filename.unwrap_or_default();
    if file.body.len() > MAX_DOCUMENT_BYTES {
        return field_errors(
            StatusCode::PAYLOAD_TOO_LARGE,
            &[("file".to_owned(), "errors.file-too-big")],
        );
    }
    let extension = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let Some((extension, mimetype)) = DOCUMENT_TYPES.iter().find(|(e, _)| *e == extension) else {
        return field_errors(
            StatusCode::UNPROCESSABLE_ENTITY,
            &[("file".to_owned(), "errors.invalid-file-type")],
        );
    };
    let mut inner = shared.lock();
    let n = inner.uploaded_counter + 1;
    inner.uploaded_counter = n;
    let document = json!({
        "uuid": format!("d0c00000-0000-4000-8000-{n:012x}"),
        "size": file.body.len(),
        "mimetype": mimetype,
        "original_filename": filename,
        "extension": extension,
    });
    inner.uploaded.push(Uploaded {
        json: document.clone(),
        bytes: Some(file.body.to_vec()),
    });
    drop(inner);
    respond_json(StatusCode::OK, &document)
}

/// The problems of an application's `files` (each must name an uploaded document, with an
/// `original_filename` and a known `category`): (field, reason) pairs.
pub(super) fn check_files(
    shared: &Shared,
    body: &Map<String, Value>,
) -> Vec<(String, &'static str)> {
    let mut problems = Vec::new();
    let items = match body.get("files") {
        None | Some(Value::Null) => return problems,
        Some(Value::Array(items)) => items,
        Some(_) => {
            problems.push((
                "files".to_owned(),
                "errors.attribute-validation.invalid-type",
            ));
            return problems;
        }
    };
    let inner = shared.lock();
    for (i, item) in items.iter().enumerate() {
        let text = |k: &str| {
            item.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
        };
        for key in ["uuid", "original_filename", "category"] {
            if text(key).is_none() {
                problems.push((
                    format!("files[{i}].{key}"),
                    "errors.attribute-validation.required-attribute",
                ));
            }
        }
        if let Some(uuid) = text("uuid")
            && !inner.uploaded.iter().any(|u| u.json["uuid"] == uuid)
        {
            problems.push((
                format!("files[{i}].uuid"),
                "errors.file-validation.file-not-exists",
            ));
        }
        if let Some(category) = text("category")
            && !FILE_CATEGORIES.contains(&category)
        {
            problems.push((
                format!("files[{i}].category"),
                "errors.file-validation.unknown-file-category",
            ));
        }
    }
    problems
}

impl FakePersonio {
    /// The documents uploaded so far, as the endpoint answered them
    /// (`{uuid, size, mimetype, original_filename, extension}`), in order.
    pub fn uploaded_documents(&self) -> Vec<Value> {
        self.shared
            .lock()
            .uploaded
            .iter()
            .map(|u| u.json.clone())
            .collect()
    }

    /// The bytes of the uploaded document `uuid` (`None` as well after
    /// [`FakePersonio::clear_recorded`]).
    pub fn uploaded_document_bytes(&self, uuid: &str) -> Option<Vec<u8>> {
        self.shared
            .lock()
            .uploaded
            .iter()
            .find(|u| u.json["uuid"] == uuid)
            .and_then(|u| u.bytes.clone())
    }
}
