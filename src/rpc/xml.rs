//! The XML writer of the answers: a `serde::Serializer` that writes straight into one buffer.
//!
//! # Why the emulator writes its own XML
//!
//! quick-xml's serde serializer is general: it handles attributes (`@name`), text and value
//! fields (`$text`, `$value`), `xs:list` text, indentation and maps, and to support them it
//! renders every struct's children into a `String` of their own before copying them into the
//! parent, and escapes each text into a fresh `Cow`. An answer page nests four or five levels of
//! structs, so it paid one allocation and one copy per element per level, then one more scan of
//! the whole document for characters XML 1.0 cannot carry. The answers use a handful of shapes
//! only, and this writer covers exactly those in one pass over the value, appending to one
//! `String`, with no allocation per element or per escape.
//!
//! # What it writes
//!
//! Byte for byte what `quick_xml::se::Serializer::with_root` (quick-xml 0.37, no indentation,
//! the default quote level) writes for the same value, after the declaration
//! `<?xml version="1.0" encoding="UTF-8"?>`:
//!
//! - the root must be a struct (or a newtype around one): `<Root>…</Root>`, `<Root/>` when it
//!   writes no child;
//! - a struct field is a child element named by the field: `<Name>…</Name>`; a field skipped by
//!   `skip_serializing_if` writes nothing;
//! - a string is escaped text (`&`, `<`, `>` become `&amp;`, `&lt;`, `&gt;`; quotes stay as
//!   they are); an empty string is `<Name/>`;
//! - a number is its `Display` text, a bool `true` or `false`, a char one character of text;
//! - `None`, `()` and a unit struct are `<Name/>`; `Some(value)` is the value;
//! - a unit enum variant is its name as text: `<Name>Variant</Name>`;
//! - a sequence (a `Vec` field) repeats the element once per item, as siblings all named by
//!   the field, and writes nothing when empty;
//! - a nested struct is `<Name>` around its own fields, `<Name/>` when it writes none.
//!
//! Everything else (maps, byte strings, enum variants with data, attribute or `$text`/`$value`
//! fields, non-ASCII or invalid element names, a root that is not a struct) is an error rather
//! than a guess: no answer of the emulator has those shapes.
//!
//! Text XML 1.0 cannot carry ([`crate::text::is_unfit_for_xml`]) is replaced by U+FFFD while it
//! is escaped, and the answer logs one warning when that happened.

use std::fmt::{self, Write as _};

use serde::ser::{self, Impossible, Serialize};

use crate::text::{is_unfit_for_xml, REPLACEMENT};

/// The declaration every XML answer starts with.
pub const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Room reserved up front: a page of ten records fits without growing the buffer.
const INITIAL_CAPACITY: usize = 4096;

/// `body` as an XML document under the element `root`, declaration included.
///
/// Fails on a shape the writer does not support (see the module documentation); never on text.
pub fn to_xml<T: Serialize + ?Sized>(root: &str, body: &T) -> Result<Vec<u8>, String> {
    check_name(root).map_err(|e| e.0)?;
    let mut writer = Writer {
        out: String::with_capacity(INITIAL_CAPACITY),
        replaced: false,
    };
    writer.out.push_str(DECLARATION);
    body.serialize(Element {
        writer: &mut writer,
        name: root,
        root: true,
    })
    .map_err(|e| e.0)?;
    if writer.replaced {
        tracing::warn!("an XML answer held characters XML cannot carry; replaced");
    }
    Ok(writer.out.into_bytes())
}

/// Why a value cannot be written.
#[derive(Debug)]
struct XmlError(String);

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for XmlError {}

impl ser::Error for XmlError {
    fn custom<M: fmt::Display>(message: M) -> Self {
        Self(message.to_string())
    }
}

fn unsupported(what: &str) -> XmlError {
    XmlError(format!("the XML writer does not support {what}"))
}

/// An element name the writer accepts: ASCII letters, digits, `_`, `:`, `-` and `.`, not
/// starting with a digit, `-` or `.` (a subset of the names quick-xml accepts).
fn check_name(name: &str) -> Result<(), XmlError> {
    let inner = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b'.');
    match name.as_bytes().split_first() {
        Some((first, rest))
            if (first.is_ascii_alphabetic() || matches!(first, b'_' | b':'))
                && rest.iter().all(inner) =>
        {
            Ok(())
        }
        _ => Err(unsupported(&format!("the element name {name:?}"))),
    }
}

/// The document being written.
struct Writer {
    out: String,
    /// Set once text XML cannot carry was replaced.
    replaced: bool,
}

impl Writer {
    fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn empty(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str("/>");
    }

    /// `text` escaped, with what XML cannot carry replaced by U+FFFD, in one pass. ASCII is
    /// copied in runs; only a non-ASCII byte costs decoding its character.
    fn text(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut run = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                let escape = match b {
                    b'&' => "&amp;",
                    b'<' => "&lt;",
                    b'>' => "&gt;",
                    b'\t' | b'\n' | b'\r' => {
                        i += 1;
                        continue;
                    }
                    0x00..=0x1F | 0x7F => {
                        self.replaced = true;
                        "\u{FFFD}"
                    }
                    _ => {
                        i += 1;
                        continue;
                    }
                };
                self.out.push_str(&text[run..i]);
                self.out.push_str(escape);
                i += 1;
                run = i;
            } else {
                // `i` is at the start of a character: every earlier step moved by whole
                // characters.
                let c = text[i..].chars().next().unwrap_or(REPLACEMENT);
                let width = c.len_utf8();
                if is_unfit_for_xml(c) {
                    self.out.push_str(&text[run..i]);
                    self.out.push(REPLACEMENT);
                    self.replaced = true;
                    run = i + width;
                }
                i += width;
            }
        }
        self.out.push_str(&text[run..]);
    }

    /// `<name>value</name>` for a value whose `Display` text needs no escaping (numbers).
    fn display(&mut self, name: &str, value: impl fmt::Display) -> Result<(), XmlError> {
        self.open(name);
        write!(self.out, "{value}").map_err(|e| XmlError(e.to_string()))?;
        self.close(name);
        Ok(())
    }
}

/// Writes one value as the element `name` (or as the elements, for a sequence).
struct Element<'w, 'n> {
    writer: &'w mut Writer,
    name: &'n str,
    /// The document's root, which must be a struct.
    root: bool,
}

impl<'w, 'n> Element<'w, 'n> {
    /// Refuses a leaf value as the document's root.
    fn leaf(&self, what: &str) -> Result<(), XmlError> {
        if self.root {
            Err(unsupported(&format!("{what} as the root of an answer")))
        } else {
            Ok(())
        }
    }

    fn text(self, value: &str) -> Result<(), XmlError> {
        self.leaf("text")?;
        if value.is_empty() {
            self.writer.empty(self.name);
        } else {
            self.writer.open(self.name);
            self.writer.text(value);
            self.writer.close(self.name);
        }
        Ok(())
    }

    fn number(self, value: impl fmt::Display) -> Result<(), XmlError> {
        self.leaf("a number")?;
        self.writer.display(self.name, value)
    }

    fn empty(self, what: &str) -> Result<(), XmlError> {
        self.leaf(what)?;
        self.writer.empty(self.name);
        Ok(())
    }
}

impl<'w, 'n> ser::Serializer for Element<'w, 'n> {
    type Ok = ();
    type Error = XmlError;
    type SerializeSeq = Repeated<'w, 'n>;
    type SerializeTuple = Repeated<'w, 'n>;
    type SerializeTupleStruct = Repeated<'w, 'n>;
    type SerializeTupleVariant = Impossible<(), XmlError>;
    type SerializeMap = Impossible<(), XmlError>;
    type SerializeStruct = Children<'w, 'n>;
    type SerializeStructVariant = Impossible<(), XmlError>;

    fn serialize_bool(self, value: bool) -> Result<(), XmlError> {
        self.leaf("a bool")?;
        self.writer
            .display(self.name, if value { "true" } else { "false" })
    }

    fn serialize_i8(self, value: i8) -> Result<(), XmlError> {
        self.number(value)
    }

    fn serialize_i16(self, value: i16) -> Result<(), XmlError> {
        self.number(value)
    }

    fn serialize_i32(self, value: i32) -> Result<(), XmlError> {
        self.number(value)
    }

    fn serialize_i64(self, value: i64) -> Result<(), XmlError> {
        self.number(value)
    }

    fn serialize_i128(self, value: i128) -> Result<(), XmlError> {
        self.number(value)
    }

    fn serialize_u8(self, value: u8) -> Result<(), XmlError> {
        self.number(value)
    }

    fn serialize_u16(self, value: u16) -> Result<(), XmlError> {
        self.number(value)
    }

    fn serialize_u32(self, value: u32) -> Result<(), XmlError> {
        self.number(value)
    }

    fn serialize_u64(self, value: u64) -> Result<(), XmlError> {
        self.number(value)
    }

    fn serialize_u128(self, value: u128) -> Result<(), XmlError> {
        self.number(value)
    }

    fn serialize_f32(self, value: f32) -> Result<(), XmlError> {
        self.number(value)
    }

    fn serialize_f64(self, value: f64) -> Result<(), XmlError> {
        self.number(value)
    }

    fn serialize_char(self, value: char) -> Result<(), XmlError> {
        self.text(value.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, value: &str) -> Result<(), XmlError> {
        self.text(value)
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), XmlError> {
        Err(unsupported("byte strings"))
    }

    fn serialize_none(self) -> Result<(), XmlError> {
        self.empty("None")
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), XmlError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), XmlError> {
        self.empty("()")
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), XmlError> {
        self.empty("a unit struct")
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), XmlError> {
        self.leaf("an enum")?;
        if variant == "$text" {
            return Err(unsupported("the `$text` variant"));
        }
        // quick-xml writes the variant's name as text, even an empty one.
        self.writer.open(self.name);
        self.writer.text(variant);
        self.writer.close(self.name);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), XmlError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), XmlError> {
        Err(unsupported("enum variants with data"))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Repeated<'w, 'n>, XmlError> {
        self.leaf("a sequence")?;
        Ok(Repeated {
            writer: self.writer,
            name: self.name,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Repeated<'w, 'n>, XmlError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Repeated<'w, 'n>, XmlError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, XmlError> {
        Err(unsupported("enum variants with data"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, XmlError> {
        Err(unsupported("maps"))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Children<'w, 'n>, XmlError> {
        self.writer.open(self.name);
        let start = self.writer.out.len();
        Ok(Children {
            writer: self.writer,
            name: self.name,
            start,
        })
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, XmlError> {
        Err(unsupported("enum variants with data"))
    }
}

/// A sequence: one sibling element per item, all with the sequence's name.
struct Repeated<'w, 'n> {
    writer: &'w mut Writer,
    name: &'n str,
}

impl Repeated<'_, '_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), XmlError> {
        value.serialize(Element {
            writer: self.writer,
            name: self.name,
            root: false,
        })
    }
}

impl ser::SerializeSeq for Repeated<'_, '_> {
    type Ok = ();
    type Error = XmlError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), XmlError> {
        self.item(value)
    }

    fn end(self) -> Result<(), XmlError> {
        Ok(())
    }
}

impl ser::SerializeTuple for Repeated<'_, '_> {
    type Ok = ();
    type Error = XmlError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), XmlError> {
        self.item(value)
    }

    fn end(self) -> Result<(), XmlError> {
        Ok(())
    }
}

impl ser::SerializeTupleStruct for Repeated<'_, '_> {
    type Ok = ();
    type Error = XmlError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), XmlError> {
        self.item(value)
    }

    fn end(self) -> Result<(), XmlError> {
        Ok(())
    }
}

/// A struct's fields, written after its opening tag.
struct Children<'w, 'n> {
    writer: &'w mut Writer,
    name: &'n str,
    /// Where the children start: nothing past it at the end means `<Name/>`.
    start: usize,
}

impl ser::SerializeStruct for Children<'_, '_> {
    type Ok = ();
    type Error = XmlError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), XmlError> {
        // quick-xml gives these names a meaning of their own (attributes, text content).
        if key.starts_with('@') || key == "$text" || key == "$value" {
            return Err(unsupported(&format!("the field name {key:?}")));
        }
        check_name(key)?;
        value.serialize(Element {
            writer: self.writer,
            name: key,
            root: false,
        })
    }

    fn end(self) -> Result<(), XmlError> {
        if self.writer.out.len() == self.start {
            // No child: `<Name>` becomes `<Name/>`.
            self.writer.out.truncate(self.start - 1);
            self.writer.out.push_str("/>");
        } else {
            self.writer.close(self.name);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    /// What the answers were before this writer: quick-xml's serializer, then the U+FFFD scan.
    fn quick_xml(root: &str, body: &impl Serialize) -> String {
        let mut xml = String::from(DECLARATION);
        let serializer = quick_xml::se::Serializer::with_root(&mut xml, Some(root)).unwrap();
        body.serialize(serializer).unwrap();
        crate::text::fit_for_xml(&xml).into_owned()
    }

    fn ours(root: &str, body: &impl Serialize) -> String {
        String::from_utf8(to_xml(root, body).unwrap()).unwrap()
    }

    fn same(root: &str, body: &impl Serialize) -> String {
        let xml = ours(root, body);
        assert_eq!(xml, quick_xml(root, body));
        xml
    }

    #[derive(Serialize)]
    enum Status {
        Running,
        #[serde(rename = "")]
        Nameless,
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Wrapped(u64);

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Inner {
        value: String,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        skipped: Vec<u8>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Nothing {
        items: Vec<Inner>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Shapes {
        text: String,
        empty: String,
        absent: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<String>,
        present: Option<u32>,
        yes: bool,
        no: bool,
        negative: i64,
        big: u128,
        ratio: f64,
        letter: char,
        status: Status,
        nameless: Status,
        unit: (),
        unit_struct: Unit,
        wrapped: Wrapped,
        names: Vec<String>,
        none_of: Vec<String>,
        maybe: Vec<Option<String>>,
        pair: (u8, String),
        inner: Inner,
        inners: Vec<Inner>,
        nothing: Nothing,
        #[serde(rename = "OSType")]
        os_type: &'static str,
    }

    fn shapes() -> Shapes {
        Shapes {
            text: "a <b> & 'c' \"d\" 中文 \u{1F600}".to_owned(),
            empty: String::new(),
            absent: None,
            skipped: None,
            present: Some(7),
            yes: true,
            no: false,
            negative: -42,
            big: u128::MAX,
            ratio: 1.5,
            letter: '<',
            status: Status::Running,
            nameless: Status::Nameless,
            unit: (),
            unit_struct: Unit,
            wrapped: Wrapped(9),
            names: vec!["x".to_owned(), String::new(), "y z".to_owned()],
            none_of: Vec::new(),
            maybe: vec![None, Some("m".to_owned())],
            pair: (1, "two".to_owned()),
            inner: Inner {
                value: "v".to_owned(),
                skipped: Vec::new(),
            },
            inners: vec![
                Inner {
                    value: String::new(),
                    skipped: vec![1, 2],
                },
                Inner {
                    value: "w".to_owned(),
                    skipped: Vec::new(),
                },
            ],
            nothing: Nothing { items: Vec::new() },
            os_type: "linux",
        }
    }

    #[test]
    fn every_supported_shape_is_written_as_quick_xml_writes_it() {
        let xml = same("Root", &shapes());
        assert!(xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><Root><Text>a &lt;b&gt; &amp; 'c' "d" 中文 😀</Text><Empty/><Absent/><Present>7</Present>"#));
        assert!(xml.contains("<Names>x</Names><Names/><Names>y z</Names><Maybe/><Maybe>m</Maybe>"));
        assert!(xml.contains("<Nothing/><OSType>linux</OSType></Root>"));
    }

    #[test]
    fn a_struct_without_children_is_an_empty_element() {
        assert_eq!(
            same("Root", &Nothing { items: Vec::new() }),
            format!("{DECLARATION}<Root/>")
        );
    }

    #[test]
    fn text_xml_cannot_carry_becomes_the_replacement_character() {
        let value = Inner {
            value: "a\u{0}b\u{7F}c\u{85}d\u{FFFE}e\u{FDD0}f\u{10FFFF}g\t\n\r<&>\u{1}".to_owned(),
            skipped: Vec::new(),
        };
        let xml = same("Root", &value);
        assert!(xml.contains(
            "<Value>a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}e\u{FFFD}f\u{FFFD}g\t\n\r&lt;&amp;&gt;\u{FFFD}</Value>"
        ));
    }

    #[test]
    fn shapes_no_answer_has_are_refused() {
        #[derive(Serialize)]
        struct Attribute {
            #[serde(rename = "@id")]
            id: u8,
        }
        #[derive(Serialize)]
        enum WithData {
            Pair(u8, u8),
            Named { x: u8 },
            One(u8),
        }
        #[derive(Serialize)]
        struct Field<T> {
            field: T,
        }
        let map = BTreeMap::from([("Key", "value")]);
        assert!(to_xml("Root", &Attribute { id: 1 }).is_err());
        assert!(to_xml("Root", &Field { field: map }).is_err());
        assert!(to_xml(
            "Root",
            &Field {
                field: serde_bytes_like()
            }
        )
        .is_err());
        assert!(to_xml(
            "Root",
            &Field {
                field: WithData::Pair(1, 2)
            }
        )
        .is_err());
        assert!(to_xml(
            "Root",
            &Field {
                field: WithData::Named { x: 1 }
            }
        )
        .is_err());
        assert!(to_xml(
            "Root",
            &Field {
                field: WithData::One(1)
            }
        )
        .is_err());
        assert!(to_xml("Root", "text").is_err());
        assert!(to_xml("Root", &Some(1)).is_err());
        assert!(to_xml(
            "Root",
            &vec![Inner {
                value: String::new(),
                skipped: Vec::new()
            }]
        )
        .is_err());
        assert!(to_xml("1Root", &Nothing { items: Vec::new() }).is_err());
        assert!(to_xml("Ro ot", &Nothing { items: Vec::new() }).is_err());
        assert!(to_xml("", &Nothing { items: Vec::new() }).is_err());
    }

    /// A value that serialises as a byte string, as `serde_bytes` would.
    fn serde_bytes_like() -> impl Serialize {
        struct Bytes;
        impl Serialize for Bytes {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(b"raw")
            }
        }
        Bytes
    }

    #[test]
    fn numbers_cover_their_whole_range() {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Numbers {
            a: i8,
            b: i16,
            c: i32,
            d: i64,
            e: i128,
            f: u8,
            g: u16,
            h: u32,
            i: u64,
            j: f32,
            k: f64,
            l: f64,
            m: f64,
        }
        same(
            "Numbers",
            &Numbers {
                a: i8::MIN,
                b: i16::MIN,
                c: i32::MIN,
                d: i64::MIN,
                e: i128::MIN,
                f: u8::MAX,
                g: u16::MAX,
                h: u32::MAX,
                i: u64::MAX,
                j: 0.1,
                k: f64::NAN,
                l: f64::NEG_INFINITY,
                m: 1e300,
            },
        );
    }
}
