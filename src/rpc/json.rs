//! The JSON writer of every answer: the bytes of `serde_json::to_vec`, made in one pass.
//!
//! Why the emulator writes its own JSON: serde_json is general, and on the answer path its
//! generality costs. It escapes every key of every struct (the derive's `&'static str` field
//! names, which never need it) byte by byte, scans every value the same way, and grows its
//! output from an empty `Vec`, reallocating as the answer gets longer. In a profile of a
//! 10-record ListPluginStatus page the escaping alone was the largest single cost of the whole
//! request. This writer serves the shapes the answers have (structs, nested structs, lists,
//! options, maps, strings, integers, booleans) in one pass into one buffer sized for a typical
//! answer, finds the bytes that need escaping eight at a time, and copies the clean runs
//! between them whole.
//!
//! Its output is serde_json's, byte for byte: the tests and a property test compare the two on
//! generated text and on the real answer types. What it has no reason to do itself it hands to
//! serde_json for that one value: floats (no answer has one), map keys that are not text, and
//! serde_json's own `RawValue`.

use serde::ser::{self, Serialize, Serializer};

/// The error of a value that cannot be written; the same as serde_json's.
pub type Error = serde_json::Error;

/// The first capacity of the output: 4 KiB.
///
/// Measured on the router bench's data: a 10-record ListPluginStatus page (the default page)
/// is 2.5 KiB, a DescribeInvocations page of one run 0.8 KiB, the answer to a write or an error
/// envelope 0.2 to 0.3 KiB. So the default page and the common answers are written without
/// growing the buffer, where `serde_json::to_vec` grows from nothing about nine times; the
/// part a small answer leaves unused costs no more than a smaller allocation would. Bigger
/// answers (50-record pages, outputs) grow it as a `Vec` does, doubling from 4 KiB.
pub const INITIAL_CAPACITY: usize = 4 << 10;

/// `body` as JSON: the bytes `serde_json::to_vec(body)` would give.
pub fn to_json<T: Serialize + ?Sized>(body: &T) -> Result<Vec<u8>, String> {
    let mut writer = JsonWriter {
        out: Vec::with_capacity(INITIAL_CAPACITY),
    };
    body.serialize(&mut writer).map_err(|e| e.to_string())?;
    Ok(writer.out)
}

/// The output being written.
struct JsonWriter {
    out: Vec<u8>,
}

impl JsonWriter {
    /// A struct's field name and its colon. The names are the derive's constants and need no
    /// escaping; the scan that says so is the same cheap one as for values, and a name that
    /// does need it is escaped like any text.
    #[inline]
    fn field_name(&mut self, name: &str) {
        if first_to_escape(name.as_bytes()).is_none() {
            self.out.reserve(name.len() + 3);
            self.out.push(b'"');
            self.out.extend_from_slice(name.as_bytes());
            self.out.extend_from_slice(b"\":");
        } else {
            write_text(&mut self.out, name);
            self.out.push(b':');
        }
    }

    /// The opening of `{"variant":`, as serde_json writes an enum variant with data.
    fn open_variant(&mut self, variant: &str) {
        self.out.push(b'{');
        self.field_name(variant);
    }

    fn integer<I: itoa::Integer>(&mut self, value: I) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// A value written by serde_json itself.
    fn delegate<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        serde_json::to_writer(&mut self.out, value)
    }
}

/// A list, map, struct or variant under way: a comma before every element but the first, and
/// `close` at its end.
struct Compound<'w> {
    writer: &'w mut JsonWriter,
    first: bool,
    close: &'static [u8],
    /// serde_json's `RawValue`, whose one field is JSON text written as it is.
    raw: bool,
}

/// The struct name (and field name) by which serde_json's `RawValue` asks its serializer to
/// write its text as it is.
const RAW_VALUE: &str = "$serde_json::private::RawValue";

/// serde_json's `RawValue` given back to serde_json to write: its text as it is.
struct RawValueOf<'v, T: ?Sized>(&'v T);

impl<T: Serialize + ?Sized> Serialize for RawValueOf<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut raw = serializer.serialize_struct(RAW_VALUE, 1)?;
        ser::SerializeStruct::serialize_field(&mut raw, RAW_VALUE, self.0)?;
        ser::SerializeStruct::end(raw)
    }
}

impl Compound<'_> {
    fn comma(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.writer.out.push(b',');
        }
    }

    fn finish(self) {
        self.writer.out.extend_from_slice(self.close);
    }
}

impl<'w> Serializer for &'w mut JsonWriter {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'w>;
    type SerializeTuple = Compound<'w>;
    type SerializeTupleStruct = Compound<'w>;
    type SerializeTupleVariant = Compound<'w>;
    type SerializeMap = Compound<'w>;
    type SerializeStruct = Compound<'w>;
    type SerializeStructVariant = Compound<'w>;

    fn serialize_bool(self, value: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, value: i8) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_i16(self, value: i16) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_i32(self, value: i32) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_i64(self, value: i64) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_i128(self, value: i128) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_u8(self, value: u8) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_u16(self, value: u16) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_u32(self, value: u32) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_u64(self, value: u64) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    fn serialize_u128(self, value: u128) -> Result<(), Error> {
        self.integer(value);
        Ok(())
    }

    /// No answer carries a float; serde_json's shortest round trip (and `null` for NaN and
    /// the infinities) is kept by letting it write the value.
    fn serialize_f32(self, value: f32) -> Result<(), Error> {
        self.delegate(&value)
    }

    fn serialize_f64(self, value: f64) -> Result<(), Error> {
        self.delegate(&value)
    }

    fn serialize_char(self, value: char) -> Result<(), Error> {
        write_text(&mut self.out, value.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, value: &str) -> Result<(), Error> {
        write_text(&mut self.out, value);
        Ok(())
    }

    /// As serde_json: a list of the byte values.
    fn serialize_bytes(self, value: &[u8]) -> Result<(), Error> {
        let mut list = self.serialize_seq(Some(value.len()))?;
        for byte in value {
            ser::SerializeSeq::serialize_element(&mut list, byte)?;
        }
        list.finish();
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.open_variant(variant);
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'w>, Error> {
        self.out.push(b'[');
        Ok(Compound {
            writer: self,
            first: true,
            close: b"]",
            raw: false,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'w>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'w>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w>, Error> {
        self.open_variant(variant);
        self.out.push(b'[');
        Ok(Compound {
            writer: self,
            first: true,
            close: b"]}",
            raw: false,
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'w>, Error> {
        self.out.push(b'{');
        Ok(Compound {
            writer: self,
            first: true,
            close: b"}",
            raw: false,
        })
    }

    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'w>, Error> {
        if name == RAW_VALUE {
            return Ok(Compound {
                writer: self,
                first: true,
                close: b"",
                raw: true,
            });
        }
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w>, Error> {
        self.open_variant(variant);
        self.out.push(b'{');
        Ok(Compound {
            writer: self,
            first: true,
            close: b"}}",
            raw: false,
        })
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.comma();
        value.serialize(&mut *self.writer)
    }

    fn end(self) -> Result<(), Error> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;

    /// Text keys are escaped here as any text; other keys (numbers, booleans, ...) are
    /// quoted, or refused, by serde_json itself.
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        let out = &mut self.writer.out;
        let before = out.len();
        if key.serialize(TextKey { out: &mut *out }).is_ok() {
            return Ok(());
        }
        out.truncate(before);
        let entry = serde_json::to_vec(&OneEntry(key))?;
        // `{KEY:null}`: the key as serde_json writes it is between the brace and `:null}`.
        let written = entry
            .get(1..entry.len().saturating_sub(b":null}".len()))
            .unwrap_or_default();
        out.extend_from_slice(written);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.writer.out.push(b':');
        value.serialize(&mut *self.writer)
    }

    fn end(self) -> Result<(), Error> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        if self.raw {
            return self.writer.delegate(&RawValueOf(value));
        }
        self.comma();
        self.writer.field_name(name);
        value.serialize(&mut *self.writer)
    }

    fn end(self) -> Result<(), Error> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, name, value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish();
        Ok(())
    }
}

/// A one-entry map `{key: null}`, for serde_json to write a key that is not text.
struct OneEntry<'k, K: ?Sized>(&'k K);

impl<K: Serialize + ?Sized> Serialize for OneEntry<'_, K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        ser::SerializeMap::serialize_entry(&mut map, self.0, &())?;
        ser::SerializeMap::end(map)
    }
}

/// Writes a map key that is text (a string, a char, a unit variant's name, or a newtype of
/// one); anything else is refused before anything is written, and goes to serde_json.
struct TextKey<'o> {
    out: &'o mut Vec<u8>,
}

/// The refusal of [`TextKey`]: never seen by a caller.
fn not_text() -> Error {
    ser::Error::custom("not a text key")
}

impl Serializer for TextKey<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, value: &str) -> Result<(), Error> {
        write_text(self.out, value);
        Ok(())
    }

    fn serialize_char(self, value: char) -> Result<(), Error> {
        self.serialize_str(value.encode_utf8(&mut [0; 4]))
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_bool(self, _value: bool) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_i8(self, _value: i8) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_i16(self, _value: i16) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_i32(self, _value: i32) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_i64(self, _value: i64) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_u8(self, _value: u8) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_u16(self, _value: u16) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_u32(self, _value: u32) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_u64(self, _value: u64) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_f32(self, _value: f32) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_f64(self, _value: f64) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_bytes(self, _value: &[u8]) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_none(self) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_unit(self) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(not_text())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(not_text())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(not_text())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(not_text())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_text())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(not_text())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(not_text())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_text())
    }
}

/// `text` as a JSON string, quotes included, escaped as serde_json escapes: `"` and `\`, and
/// the control characters U+0000 to U+001F (`\b \t \n \f \r`, the others `\u00XX` in lowercase
/// hex). `/`, DEL and everything beyond ASCII are written as they are.
#[inline]
fn write_text(out: &mut Vec<u8>, text: &str) {
    let mut rest = text.as_bytes();
    out.reserve(rest.len() + 2);
    out.push(b'"');
    while let Some(at) = first_to_escape(rest) {
        out.extend_from_slice(&rest[..at]);
        escape(out, rest[at]);
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// The escape of one byte that needs it.
fn escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        b'\t' => b't',
        b'\n' => b'n',
        0x0c => b'f',
        b'\r' => b'r',
        _ => {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

/// Every byte of a word set to `byte`.
const fn repeated(byte: u8) -> u64 {
    u64::from_le_bytes([byte; 8])
}

/// The high bit of each byte of `word` below `limit` (at most 0x80) is set in the answer. A
/// byte above the lowest such byte may be flagged too (a borrow), but the lowest flag is always
/// a true one, which is all the scan needs.
const fn bytes_below(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(repeated(limit)) & !word & repeated(0x80)
}

/// The high bit of each byte of `word` that JSON must escape (as [`bytes_below`]).
const fn to_escape(word: u64) -> u64 {
    bytes_below(word, 0x20)
        | bytes_below(word ^ repeated(b'"'), 1)
        | bytes_below(word ^ repeated(b'\\'), 1)
}

/// Where the first byte JSON must escape is: a `"`, a `\` or a control character below 0x20.
///
/// Eight bytes at a time, as one little-endian word, so the lowest flagged byte is the first.
/// The last few bytes are checked as the last eight, overlapping bytes already found clean;
/// text shorter than a word is checked byte by byte.
#[inline]
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < 8 {
        return bytes
            .iter()
            .position(|&byte| byte < 0x20 || byte == b'"' || byte == b'\\');
    }
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut words {
        let flags = to_escape(word(chunk));
        if flags != 0 {
            return Some(offset + first_flagged(flags));
        }
        offset += 8;
    }
    if words.remainder().is_empty() {
        return None;
    }
    let last = bytes.len() - 8;
    let flags = to_escape(word(&bytes[last..]));
    (flags != 0).then(|| last + first_flagged(flags))
}

/// The first eight bytes of `bytes` as a little-endian word.
#[inline]
fn word(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

/// The index of the lowest byte flagged in `flags`.
fn first_flagged(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;
    use serde::Serialize;

    use super::*;
    use crate::api::create_command::CreateCommandResponse;
    use crate::api::delete_command::DeleteCommandResponse;
    use crate::api::describe::{TagItem, TagSet};
    use crate::api::describe_cloud_assistant_status::{
        DescribeCloudAssistantStatusResponse, InstanceCloudAssistantStatus,
        InstanceCloudAssistantStatusSet,
    };
    use crate::api::describe_commands::{
        CommandItem, Commands, DescribeCommandsResponse, ParameterNames,
    };
    use crate::api::describe_invocation_results::{
        DescribeInvocationResultsResponse, InvocationResult, InvocationResults, ResultPage,
    };
    use crate::api::describe_invocations::{
        DescribeInvocationsResponse, InvocationItem, Invocations, InvokeInstanceItem,
        InvokeInstances,
    };
    use crate::api::install_cloud_assistant::InstallCloudAssistantResponse;
    use crate::api::invoke_command::InvokeCommandResponse;
    use crate::api::list_plugin_status::{ListPluginStatusRequest, ListPluginStatusResponse};
    use crate::api::next_token::TokenKey;
    use crate::api::run_command::RunCommandResponse;
    use crate::api::stop_invocation::StopInvocationResponse;
    use crate::engine::{PluginRecord, PluginStatus, PluginType, Store};
    use crate::rpc::render::ErrorBody;

    /// The writer's bytes are serde_json's.
    fn same<T: Serialize + ?Sized>(value: &T) {
        let ours = to_json(value).expect("our JSON");
        let theirs = serde_json::to_vec(value).expect("serde_json's JSON");
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
        assert_eq!(ours, theirs);
    }

    #[test]
    fn every_byte_below_0x80_alone_and_at_every_position() {
        for byte in 0u8..0x80 {
            let c = char::from(byte);
            for len in 0..20 {
                for at in 0..=len {
                    let mut text: String = "a".repeat(len);
                    text.insert(at, c);
                    same(&text);
                }
            }
        }
    }

    #[test]
    fn text_beyond_ascii_is_kept() {
        for text in [
            "",
            "/",
            "a/b\\c\"d",
            "\u{7f}\u{80}\u{ff}é",
            "日本語のテキスト\n",
            "🦀 emoji 👩‍👩‍👧 \u{2028}\u{2029}",
            "\u{0}\u{1f}\u{1}\"\"\\\\",
            "0123456789abcdef\"0123456789abcdef",
        ] {
            same(text);
            same(&text.chars().collect::<Vec<_>>());
        }
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Newtype(u8);

    #[derive(Serialize)]
    struct Pair(i32, &'static str);

    #[derive(Serialize)]
    enum Shape {
        Plain,
        Wrapped(String),
        Tuple(u8, bool),
        Fields { a: Option<u8>, b: Vec<u8> },
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Fields {
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u64>,
        absent: Option<String>,
        present: Option<String>,
        #[serde(rename = "needs \"escaping\"\n")]
        odd_name: bool,
        empty: Vec<u8>,
        nested: Vec<Vec<Shape>>,
        unit: (),
        unit_struct: Unit,
        newtype: Newtype,
        pair: Pair,
    }

    struct Bytes(&'static [u8]);

    impl Serialize for Bytes {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(self.0)
        }
    }

    #[test]
    fn every_shape_as_serde_json_writes_it() {
        same(&Fields {
            skipped: None,
            absent: None,
            present: Some("x".into()),
            odd_name: true,
            empty: vec![],
            nested: vec![
                vec![],
                vec![
                    Shape::Plain,
                    Shape::Wrapped("w\"".into()),
                    Shape::Tuple(7, false),
                    Shape::Fields {
                        a: None,
                        b: vec![1, 2],
                    },
                    Shape::Fields {
                        a: Some(3),
                        b: vec![],
                    },
                ],
            ],
            unit: (),
            unit_struct: Unit,
            newtype: Newtype(255),
            pair: Pair(-1, "p"),
        });
        same(&Shape::Plain);
        same(&Some(Unit));
        same(&None::<u8>);
        same(&'"');
        same(&'é');
        same(&Bytes(b""));
        same(&Bytes(b"\x00\xffab"));
        same(&(i8::MIN, i16::MIN, i32::MIN, i64::MIN, i128::MIN));
        same(&(u8::MAX, u16::MAX, u32::MAX, u64::MAX, u128::MAX, 0u64));
        same(&[1.5f64, -0.0, f64::NAN, f64::INFINITY, 1e300, 0.1]);
        same(&[1.5f32, f32::NEG_INFINITY, 0.1]);
        same(&serde_json::json!({
            "a": [1, -2, 3.25, null, true, {"b\n": {}}, []],
            "": "",
            "é\u{1}": {"x": [[]]},
        }));
        let raw = serde_json::value::to_raw_value(&("r\"", 1)).expect("raw JSON");
        same(&vec![Some(raw.clone()), None]);
        same(&BTreeMap::from([("raw", raw)]));
    }

    #[test]
    fn map_keys_as_serde_json_writes_them() {
        same(&BTreeMap::<String, u8>::new());
        same(&BTreeMap::from([
            ("k\"\\\t".to_owned(), 1),
            ("é".to_owned(), 2),
        ]));
        same(&BTreeMap::from([('c', "x"), ('\n', "y")]));
        same(&BTreeMap::from([(1u32, "one"), (20, "twenty")]));
        same(&BTreeMap::from([(-5i64, ()), (i64::MAX, ())]));
        same(&BTreeMap::from([(true, 1), (false, 0)]));
        same(&HashMap::from([("only", vec![Some(1), None])]));
        #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
        enum Key {
            First,
        }
        same(&BTreeMap::from([(Key::First, 1)]));
        #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
        struct Named(String);
        same(&BTreeMap::from([(Named("n\"".into()), 1)]));
    }

    #[test]
    fn what_serde_json_refuses_is_refused() {
        let list_keys = BTreeMap::from([(vec![1u8], 1)]);
        assert!(serde_json::to_vec(&list_keys).is_err());
        assert!(to_json(&list_keys).is_err());
    }

    fn tags(text: &str) -> TagSet {
        TagSet {
            tag: vec![
                TagItem {
                    tag_key: text.to_owned(),
                    tag_value: String::new(),
                },
                TagItem {
                    tag_key: "env".into(),
                    tag_value: text.to_owned(),
                },
            ],
        }
    }

    /// A ListPluginStatus answer of `records` instances carrying a plug-in named from `text`
    /// (when data may hold it), every other one NotInstalled, given to `check`: the answer
    /// borrows the store's page, so it is built from a store.
    fn with_plugin_page(
        text: &str,
        records: usize,
        check: impl FnOnce(&ListPluginStatusResponse<'_>),
    ) {
        let fits =
            |t: &str| crate::text::check(t).is_ok() && (1..=255).contains(&t.chars().count());
        let name = if fits(text) { text } else { "plugin-1" };
        let mut store = Store::new(vec![], vec![(name.to_owned(), PluginType::Persist)]).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single();
        for n in 0..records {
            let record = PluginRecord {
                version: if fits(text) {
                    text.to_owned()
                } else {
                    "1.0".to_owned()
                },
                status: PluginStatus::Running,
                first_heartbeat: at,
                last_heartbeat: None,
            };
            let plugins = if n % 2 == 0 {
                vec![(name.to_owned(), record)]
            } else {
                vec![]
            };
            let account = store.default_account().to_owned();
            store
                .add_instance(&account, "cn-hangzhou", &format!("i-{n:04}"), plugins)
                .unwrap();
        }
        let query = format!(
            "RegionId=cn-hangzhou&Name={}&MaxResults=10",
            crate::rpc::signature::percent_encode(name)
        );
        let params = crate::rpc::params::Decoded::new(query.as_bytes(), None)
            .into_params()
            .unwrap();
        let key = TokenKey::derive(store.accounts());
        let account = store.default_account().to_owned();
        let request = ListPluginStatusRequest::parse(&params, &account, &store, &key).unwrap();
        let page = request.list(&store).unwrap();
        check(&request.respond(&page, &key, text));
    }

    fn run(text: &str) -> InvokeInstanceItem {
        InvokeInstanceItem {
            dropped: 3,
            invocation_status: "Success",
            instance_id: text.to_owned(),
            timed: false,
            instance_invoke_status: "Finished",
            exit_code: -1,
            error_info: text.to_owned(),
            start_time: "2026-01-02T03:04:05Z".into(),
            repeats: 1,
            finish_time: String::new(),
            output: text.repeat(3),
            creation_time: "2026-01-02T03:04:05Z".into(),
            update_time: "2026-01-02T03:04:05Z".into(),
            error_code: String::new(),
            stop_time: text.to_owned(),
        }
    }

    fn invocations(text: &str, records: usize) -> DescribeInvocationsResponse {
        let item = |optional: Option<String>| InvocationItem {
            oss_output_delivery: optional.clone(),
            invocation_status: "Running",
            parameters: format!("{{\"name\":\"{text}\"}}"),
            timed: false,
            command_description: text.to_owned(),
            timeout: 60,
            invoke_instances: InvokeInstances {
                invoke_instance: vec![run(text), run("i-2")],
            },
            command_content: text.to_owned(),
            working_dir: "/root".into(),
            repeat_mode: "Once".into(),
            invoke_status: "Running",
            command_type: "RunShellScript",
            username: "root".into(),
            container_id: optional.clone(),
            container_name: optional.clone(),
            creation_time: "2026-01-02T03:04:05Z".into(),
            frequency: "",
            launcher: optional.clone(),
            command_id: "c-1".into(),
            command_name: text.to_owned(),
            invoke_id: "t-1".into(),
            termination_mode: optional,
            tags: tags(text),
        };
        DescribeInvocationsResponse {
            page_size: Some(10),
            request_id: text.to_owned(),
            page_number: None,
            total_count: u64::MAX,
            next_token: None,
            invocations: Invocations {
                invocation: (0..records)
                    .map(|n| item((n % 2 == 0).then(|| text.to_owned())))
                    .collect(),
            },
        }
    }

    fn commands(text: &str) -> DescribeCommandsResponse {
        let item = |optional: Option<String>| CommandItem {
            description: text.to_owned(),
            category: "",
            resource_group_id: optional.clone(),
            parameter_names: ParameterNames {
                parameter_name: vec![text.to_owned(), "b".into()],
            },
            timeout: 0,
            provider: "",
            name: text.to_owned(),
            working_dir: String::new(),
            command_content: text.to_owned(),
            command_type: "RunPowerShellScript",
            invoke_times: 2,
            creation_time: "2026-01-02T03:04:05Z".into(),
            launcher: optional,
            enable_parameter: true,
            command_id: "c-2".into(),
            tags: tags(text),
        };
        DescribeCommandsResponse {
            page_size: Some(1),
            request_id: text.to_owned(),
            page_number: Some(1),
            total_count: 2,
            next_token: Some(text.to_owned()),
            commands: Commands {
                command: vec![item(None), item(Some(text.to_owned()))],
            },
        }
    }

    fn results(text: &str) -> DescribeInvocationResultsResponse {
        let item = |optional: Option<String>| InvocationResult {
            dropped: 0,
            invocation_status: "Failed",
            instance_id: text.to_owned(),
            exit_code: i64::MIN,
            error_info: text.to_owned(),
            start_time: String::new(),
            repeats: u32::MAX,
            invoke_record_status: "Finished",
            finished_time: text.to_owned(),
            username: "root".into(),
            container_id: optional.clone(),
            container_name: optional.clone(),
            output: text.to_owned(),
            launcher: optional.clone(),
            command_id: "c-3".into(),
            error_code: text.to_owned(),
            invoke_id: "t-3".into(),
            termination_mode: optional,
            tags: tags(text),
            stop_time: String::new(),
        };
        DescribeInvocationResultsResponse {
            request_id: text.to_owned(),
            invocation: ResultPage {
                page_size: None,
                page_number: None,
                total_count: 0,
                next_token: Some(text.to_owned()),
                invocation_results: InvocationResults {
                    invocation_result: vec![item(Some(text.to_owned())), item(None)],
                },
            },
        }
    }

    fn assistant(text: &str) -> DescribeCloudAssistantStatusResponse {
        DescribeCloudAssistantStatusResponse {
            page_size: None,
            request_id: text.to_owned(),
            page_number: None,
            total_count: 1,
            next_token: None,
            instance_cloud_assistant_status_set: InstanceCloudAssistantStatusSet {
                instance_cloud_assistant_status: vec![InstanceCloudAssistantStatus {
                    cloud_assistant_status: "true",
                    last_invoked_time: text.to_owned(),
                    cloud_assistant_version: "2.2.0".into(),
                    active_task_count: 0,
                    invocation_count: 12,
                    instance_id: text.to_owned(),
                    last_heartbeat_time: String::new(),
                    os_type: "Linux",
                    support_session_manager: false,
                }],
            },
        }
    }

    fn error(text: &str) -> ErrorBody<'_> {
        ErrorBody {
            request_id: text,
            host_id: "ecs.aliyuncs.com",
            code: "InvalidParameter",
            message: format!("The specified parameter \"{text}\" is not valid."),
            recommend: format!("https://api.aliyun.com/troubleshoot?q={text}&product=Ecs"),
        }
    }

    /// Every answer type, with `text` in its strings.
    fn every_answer(text: &str) {
        with_plugin_page(text, 0, |page| same(page));
        with_plugin_page(text, 10, |page| same(page));
        same(&invocations(text, 0));
        same(&invocations(text, 3));
        same(&commands(text));
        same(&results(text));
        same(&assistant(text));
        same(&error(text));
        same(&CreateCommandResponse {
            command_id: text.to_owned(),
            request_id: text.to_owned(),
        });
        same(&DeleteCommandResponse {
            request_id: text.to_owned(),
        });
        same(&StopInvocationResponse {
            request_id: text.to_owned(),
        });
        same(&InstallCloudAssistantResponse {
            request_id: text.to_owned(),
        });
        same(&InvokeCommandResponse {
            invoke_id: text.to_owned(),
            request_id: text.to_owned(),
        });
        same(&RunCommandResponse {
            request_id: text.to_owned(),
            command_id: "c-4".into(),
            invoke_id: text.to_owned(),
        });
    }

    #[test]
    fn every_answer_as_serde_json_writes_it() {
        for text in ["", "3C2A0B8E-0F3B-4C5E", "a\"b\\c\u{0}\u{1f}\n/é🦀"] {
            every_answer(text);
        }
    }

    #[test]
    fn a_typical_page_fits_the_first_capacity() {
        with_plugin_page("3C2A0B8E-0F3B-4C5E-9F3B-1A2B3C4D5E6F", 10, |page| {
            assert!(to_json(page).expect("JSON").len() <= INITIAL_CAPACITY);
        });
    }

    /// Text from characters that need escaping, their neighbours, and the rest of Unicode.
    fn text() -> impl Strategy<Value = String> {
        let tricky = prop_oneof![
            (0u8..0x20).prop_map(char::from),
            Just('"'),
            Just('\\'),
            Just('/'),
            Just('\u{7f}'),
            Just(' '),
            Just('!'),
            Just('#'),
            Just('['),
            Just(']'),
            Just('é'),
            Just('\u{2028}'),
            Just('🦀'),
            Just('\u{fffd}'),
            any::<char>(),
        ];
        prop_oneof![
            proptest::collection::vec(tricky, 0..40).prop_map(String::from_iter),
            ".{0,40}",
            "[a-zA-Z0-9 -]{0,40}",
        ]
    }

    proptest! {
        #[test]
        fn text_is_escaped_as_serde_json_does(text in text()) {
            same(&text);
            same(&BTreeMap::from([(text.clone(), text.clone())]));
        }

        #[test]
        fn answers_are_written_as_serde_json_does(text in text()) {
            every_answer(&text);
        }
    }
}
