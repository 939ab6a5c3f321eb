//! A JSON value parsed in one pass into a flat tape: each value, in document order, with its
//! byte range in the text and the index where the values after it start. No tree is built
//! and nothing is copied. Decoding walks the tape once to fill Arrow columns, the JSON
//! functions follow paths in it, and both take any value's JSON text by its range and unescape
//! only the strings that hold escapes.
//!
//! The grammar is strict RFC 8259 JSON (what serde_json accepts); errors name the byte.

use std::borrow::Cow;
use std::fmt;

/// Nesting deeper than this is refused (serde_json's limit), so hostile input cannot
/// exhaust the stack.
const MAX_DEPTH: usize = 128;

/// What a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

/// One value of the tape. An object's members follow it as key, value, key, value...; an
/// array's elements follow it; `next` is the index after its last descendant.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    kind: Kind,
    /// For strings: whether the text holds a backslash escape.
    escaped: bool,
    start: u32,
    end: u32,
    next: u32,
}

/// Why text is not one JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What was wrong.
    pub reason: &'static str,
    /// Byte offset in the text.
    pub at: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(formatter, "{} at byte {}", self.reason, self.at)
    }
}

/// Parses `text`, which must be exactly one JSON value (whitespace around it allowed), onto
/// `nodes` (whose room is reused); returns the value.
pub fn parse<'n, 'a>(text: &'a str, nodes: &'n mut Vec<Node>) -> Result<Value<'n, 'a>, ParseError> {
    let mut parser = Parser { bytes: text.as_bytes(), at: 0, nodes };
    parser.nodes.clear();
    parser.skip_whitespace();
    let start = parser.nodes.len();
    parser.value(0)?;
    parser.skip_whitespace();
    if parser.at != parser.bytes.len() {
        return Err(parser.error("trailing characters after the value"));
    }
    Ok(Value { text, nodes, index: start })
}

/// Parses the one JSON value `bytes` start with onto `nodes`; returns its length. Its tape is
/// then read with [`Value::root`] over those bytes. An error at `bytes.len()` means the
/// value may be complete in a longer input.
pub fn parse_prefix(bytes: &[u8], nodes: &mut Vec<Node>) -> Result<usize, ParseError> {
    let mut parser = Parser { bytes, at: 0, nodes };
    parser.nodes.clear();
    parser.value(0)?;
    Ok(parser.at)
}

/// A value of a tape.
#[derive(Clone, Copy)]
pub struct Value<'t, 'a> {
    text: &'a str,
    nodes: &'t [Node],
    index: usize,
}

impl<'t, 'a> Value<'t, 'a> {
    /// The value parsed onto `nodes` from the start of `text` (by [`parse_prefix`]).
    ///
    /// # Safety
    ///
    /// `nodes` must be what [`parse_prefix`] put there from the bytes `text` starts with: the
    /// value's parts are read from `text` at the offsets the parse recorded, unchecked.
    pub unsafe fn root(text: &'a str, nodes: &'t [Node]) -> Self {
        Self { text, nodes, index: 0 }
    }

    #[inline]
    fn node(&self) -> &Node {
        &self.nodes[self.index]
    }

    #[inline]
    fn at(&self, index: usize) -> Self {
        Self { index, ..*self }
    }

    /// What the value is.
    #[inline]
    pub fn kind(&self) -> Kind {
        self.node().kind
    }

    /// The value's JSON text, as written.
    #[inline]
    pub fn raw(&self) -> &'a str {
        let node = self.node();
        self.text_between(node.start as usize, node.end as usize)
    }

    /// `text[start..end]` for offsets the parser recorded. Checking them again was a third of
    /// reading a member's name or text, for every member of every record.
    #[inline]
    fn text_between(&self, start: usize, end: usize) -> &'a str {
        debug_assert!(self.text.is_char_boundary(start) && self.text.is_char_boundary(end));
        debug_assert!(start <= end && end <= self.text.len());
        // SAFETY: the parser records offsets within `text` at ASCII bytes (a value's first
        // byte, the byte after its last, a string's quotes), which are character boundaries.
        unsafe { self.text.get_unchecked(start..end) }
    }

    /// An object's members as (key, value), in the order written; nothing for other kinds.
    #[inline]
    pub fn members(&self) -> impl Iterator<Item = (Value<'t, 'a>, Value<'t, 'a>)> + use<'t, 'a> {
        // A member is two children: its key (a string, so one node) and its value.
        let mut children = self.children(Kind::Object);
        std::iter::from_fn(move || Some((children.next()?, children.next()?)))
    }

    /// An array's elements, in order; nothing for other kinds.
    #[inline]
    pub fn elements(&self) -> impl Iterator<Item = Value<'t, 'a>> + use<'t, 'a> {
        self.children(Kind::Array)
    }

    /// The values directly inside this one when it is of `kind`, each after the last
    /// descendant of the one before.
    #[inline]
    fn children(&self, kind: Kind) -> impl Iterator<Item = Value<'t, 'a>> + use<'t, 'a> {
        let this = *self;
        let end = if this.kind() == kind { this.node().next as usize } else { 0 };
        let mut index = this.index + 1;
        std::iter::from_fn(move || {
            (index < end).then(|| {
                let child = this.at(index);
                index = child.node().next as usize;
                child
            })
        })
    }

    /// An object's last member called `name` (the one serde_json's maps keep).
    pub fn member(&self, name: &str) -> Option<Value<'t, 'a>> {
        self.members().filter(|(key, _)| key.str().as_deref() == Some(name)).last().map(|(_, v)| v)
    }

    /// An array's element at `index`.
    pub fn element(&self, index: usize) -> Option<Value<'t, 'a>> {
        self.elements().nth(index)
    }

    /// A string's text, unescaped; `None` for other kinds, and for a string whose `\u`
    /// escapes are not valid UTF-16 (a lone surrogate).
    #[inline]
    pub fn str(&self) -> Option<Cow<'a, str>> {
        let node = self.node();
        if node.kind != Kind::String {
            return None;
        }
        let inner = self.text_between(node.start as usize + 1, node.end as usize - 1);
        if node.escaped { unescape(inner).map(Cow::Owned) } else { Some(Cow::Borrowed(inner)) }
    }

    /// A string as a JSON string literal in serde_json's spelling (escapes only where JSON
    /// requires them); other kinds as written.
    pub fn canonical_string(&self) -> Cow<'a, str> {
        let node = self.node();
        if node.kind != Kind::String || !node.escaped {
            return Cow::Borrowed(self.raw());
        }
        match self.str() {
            Some(text) => Cow::Owned(serde_json::to_string(&text).expect("strings serialise")),
            None => Cow::Borrowed(self.raw()),
        }
    }
}

/// The text of a JSON string's inside with its escapes resolved (the escapes are known to
/// be well formed); `None` when a `\u` escape is a lone surrogate.
fn unescape(inner: &str) -> Option<String> {
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(slash) = rest.find('\\') {
        out.push_str(&rest[..slash]);
        let escape = rest.as_bytes()[slash + 1];
        rest = &rest[slash + 2..];
        let decoded = match escape {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            _ => {
                let unit = hex4(&rest.as_bytes()[..4])?;
                rest = &rest[4..];
                match unit {
                    0xD800..=0xDBFF => {
                        let low = rest
                            .strip_prefix("\\u")
                            .and_then(|after| hex4(after.as_bytes().get(..4)?))
                            .filter(|low| (0xDC00..=0xDFFF).contains(low))?;
                        rest = &rest[6..];
                        char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?
                    }
                    _ => char::from_u32(unit)?,
                }
            }
        };
        out.push(decoded);
    }
    out.push_str(rest);
    Some(out)
}

fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0, |value, &digit| Some(value * 16 + char::from(digit).to_digit(16)?))
}

struct Parser<'b, 'n> {
    bytes: &'b [u8],
    at: usize,
    nodes: &'n mut Vec<Node>,
}

impl Parser<'_, '_> {
    fn error(&self, reason: &'static str) -> ParseError {
        ParseError { reason, at: self.at }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// Appends a node for the value starting at the current byte and fills its end later.
    fn open(&mut self, kind: Kind) -> usize {
        self.nodes.push(Node { kind, escaped: false, start: self.at as u32, end: 0, next: 0 });
        self.nodes.len() - 1
    }

    fn close(&mut self, node: usize) {
        let next = self.nodes.len() as u32;
        let entry = &mut self.nodes[node];
        entry.end = self.at as u32;
        entry.next = next;
    }

    fn value(&mut self, depth: usize) -> Result<(), ParseError> {
        match self.peek() {
            Some(b'{') => self.container(Kind::Object, depth + 1),
            Some(b'[') => self.container(Kind::Array, depth + 1),
            Some(b'"') => self.string(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true", Kind::Bool),
            Some(b'f') => self.literal(b"false", Kind::Bool),
            Some(b'n') => self.literal(b"null", Kind::Null),
            Some(_) => Err(self.error("expected a JSON value")),
            None => Err(self.error("unexpected end of input")),
        }
    }

    /// An object or an array: its members or elements up to the closing byte.
    fn container(&mut self, kind: Kind, depth: usize) -> Result<(), ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        let (close, unexpected) = match kind {
            Kind::Object => (b'}', "expected ',' or '}' in an object"),
            _ => (b']', "expected ',' or ']' in an array"),
        };
        let node = self.open(kind);
        self.at += 1;
        self.skip_whitespace();
        if self.peek() == Some(close) {
            self.at += 1;
            self.close(node);
            return Ok(());
        }
        loop {
            if kind == Kind::Object {
                self.member_name()?;
            }
            self.value(depth)?;
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    self.skip_whitespace();
                }
                Some(byte) if byte == close => {
                    self.at += 1;
                    self.close(node);
                    return Ok(());
                }
                _ => return Err(self.expected(unexpected)),
            }
        }
    }

    /// A member's name and the `:` after it.
    fn member_name(&mut self) -> Result<(), ParseError> {
        if self.peek() != Some(b'"') {
            return Err(self.expected("expected a member name"));
        }
        self.string()?;
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(self.expected("expected ':' after a member name"));
        }
        self.at += 1;
        self.skip_whitespace();
        Ok(())
    }

    /// An error that is an end of input when the input ended there.
    fn expected(&self, reason: &'static str) -> ParseError {
        self.error(if self.at == self.bytes.len() { "unexpected end of input" } else { reason })
    }

    /// A string, its node pushed once its end is known: most values and every member name
    /// are strings, so this is the parser's hottest path.
    fn string(&mut self) -> Result<(), ParseError> {
        let start = self.at as u32;
        self.at += 1;
        let mut escaped = false;
        loop {
            self.skip_plain_bytes();
            let Some(&byte) = self.bytes.get(self.at) else {
                return Err(self.error("unexpected end of input in a string"));
            };
            match byte {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                0..0x20 => return Err(self.error("control character in a string")),
                _ => self.at += 1,
            }
        }
        self.at += 1;
        let next = self.nodes.len() as u32 + 1;
        self.nodes.push(Node { kind: Kind::String, escaped, start, end: self.at as u32, next });
        Ok(())
    }

    /// Steps over string bytes that need no attention (anything but `"`, `\` and control
    /// characters), sixteen at a time with SSE2 (part of every x86_64), then eight at a time:
    /// most of a record's bytes are inside strings.
    fn skip_plain_bytes(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if self.skip_plain_bytes_sse2() {
            return;
        }
        self.skip_plain_bytes_swar();
    }

    /// Whether it stopped at a byte that needs attention (rather than near the end).
    #[cfg(target_arch = "x86_64")]
    fn skip_plain_bytes_sse2(&mut self) -> bool {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of every x86_64 target, and each load reads the sixteen bytes
        // of `chunk` (with no alignment requirement).
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let control_max = _mm_set1_epi8(0x1f);
            while let Some(chunk) = self.bytes.get(self.at..self.at + 16) {
                let chunk = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
                // A byte is a control character when it is its own minimum with 0x1f.
                let control = _mm_cmpeq_epi8(_mm_min_epu8(chunk, control_max), chunk);
                let special = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)),
                    control,
                );
                let mask = _mm_movemask_epi8(special);
                if mask != 0 {
                    self.at += mask.trailing_zeros() as usize;
                    return true;
                }
                self.at += 16;
            }
        }
        false
    }

    fn skip_plain_bytes_swar(&mut self) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
        // The high bit of each byte of `word` below `limit`; exact up to the first such byte
        // (borrows only make later bytes look low), which is all that is used.
        let below =
            |word: u64, limit: u8| word.wrapping_sub(ONES * u64::from(limit)) & !word & HIGH_BITS;
        while let Some(chunk) = self.bytes.get(self.at..self.at + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            let special = below(word ^ (ONES * u64::from(b'"')), 1)
                | below(word ^ (ONES * u64::from(b'\\')), 1)
                | below(word, 0x20);
            if special != 0 {
                self.at += special.trailing_zeros() as usize / 8;
                return;
            }
            self.at += 8;
        }
    }

    /// Checks the escape at the current backslash and steps over it.
    fn escape(&mut self) -> Result<(), ParseError> {
        match self.bytes.get(self.at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.at += 2,
            Some(b'u') => {
                let digits = self.bytes.get(self.at + 2..self.at + 6);
                if !digits.is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit)) {
                    return Err(self.error("invalid \\u escape"));
                }
                self.at += 6;
            }
            Some(_) => return Err(self.error("invalid escape")),
            None => return Err(self.error("unexpected end of input in a string")),
        }
        Ok(())
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<(), ParseError> {
        let node = self.open(Kind::Number);
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        self.close(node);
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8], kind: Kind) -> Result<(), ParseError> {
        if !self.bytes[self.at..].starts_with(word) {
            return Err(self.error("expected a JSON value"));
        }
        let node = self.open(kind);
        self.at += word.len();
        self.close(node);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Node>, ParseError> {
        let mut nodes = Vec::new();
        super::parse(text, &mut nodes)?;
        Ok(nodes)
    }

    /// The value `parse` put on `nodes` from `text`.
    fn root<'n>(text: &'n str, nodes: &'n [Node]) -> Value<'n, 'n> {
        // SAFETY: every test passes the nodes `parse` made of `text` (and debug builds check
        // each offset read).
        unsafe { Value::root(text, nodes) }
    }

    fn get<'n>(object: Value<'n, 'n>, name: &str) -> Option<Value<'n, 'n>> {
        object.members().find(|(key, _)| key.str().as_deref() == Some(name)).map(|(_, v)| v)
    }

    #[test]
    fn walks_members_and_elements_in_order_with_their_text() {
        let text = r#" {"b": {"x": [1, 2.5e3]}, "a\"q": "s\n", "n": null, "t": true} "#;
        let nodes = parse(text).unwrap();
        let root = root(text, &nodes);
        assert_eq!(root.kind(), Kind::Object);
        let members: Vec<(String, &str)> =
            root.members().map(|(key, value)| (key.str().unwrap().into(), value.raw())).collect();
        assert_eq!(
            members,
            [
                ("b".into(), r#"{"x": [1, 2.5e3]}"#),
                ("a\"q".into(), r#""s\n""#),
                ("n".into(), "null"),
                ("t".into(), "true")
            ]
        );
        let list = get(get(root, "b").unwrap(), "x").unwrap();
        let elements: Vec<(Kind, &str)> = list.elements().map(|v| (v.kind(), v.raw())).collect();
        assert_eq!(elements, [(Kind::Number, "1"), (Kind::Number, "2.5e3")]);
        assert_eq!(get(root, "a\"q").unwrap().str().as_deref(), Some("s\n"));
        assert!(get(root, "b").unwrap().str().is_none());
        assert!(get(root, "missing").is_none());
        assert_eq!(root.members().nth(1).unwrap().0.canonical_string(), r#""a\"q""#);
    }

    #[test]
    fn finds_quotes_escapes_and_control_characters_at_every_place_in_long_strings() {
        // Strings cross the scanner's sixteen- and eight-byte steps with the special byte
        // anywhere; 0x20, 0x7f and the bytes of "é" are plain.
        for length in 0..40 {
            for place in 0..=length {
                let specials =
                    ["\"", "\\", "\\\\", "\\n", "\\u0041", "\u{1}", "\u{1f}", " ", "\u{7f}", "é"];
                for special in specials {
                    let mut body = "x".repeat(length);
                    body.insert_str(place, special);
                    let text = format!("[\"{body}\", \"{body}\"]");
                    let expected = serde_json::from_str::<Vec<String>>(&text).ok();
                    let parsed = parse(&text).ok().map(|nodes| {
                        root(&text, &nodes)
                            .elements()
                            .map(|value| value.str().expect("a string").into_owned())
                            .collect::<Vec<String>>()
                    });
                    assert_eq!(parsed, expected, "{text:?}");
                }
            }
        }
    }

    #[test]
    fn unescapes_like_serde() {
        let text = r#""a\/b\\c\u00e9\ud83d\ude00\t\u0041""#;
        let nodes = parse(text).unwrap();
        let expected: String = serde_json::from_str(text).unwrap();
        assert_eq!(root(text, &nodes).str().unwrap(), expected);
        let canonical = serde_json::to_string(&expected).unwrap();
        assert_eq!(root(text, &nodes).canonical_string(), canonical);
        let lone = r#""x\ud800y""#;
        let nodes = parse(lone).unwrap();
        assert_eq!(root(lone, &nodes).str(), None);
        assert_eq!(root(lone, &nodes).canonical_string(), lone);
    }

    #[test]
    fn accepts_and_refuses_what_serde_does() {
        let cases = [
            "{}",
            "[]",
            "[[]]",
            "0",
            "-0.5E+2",
            "\"\"",
            r#"{"a":1,"a":2}"#,
            "[1,]",
            "[,1]",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "01",
            "1.",
            "-",
            ".5",
            "1e",
            "tru",
            "nul",
            "\"a\u{1}\"",
            r#""\x""#,
            r#""\u12g4""#,
            "{} x",
            "[1 2]",
            "{\"a\" 1}",
            "\"abc",
            "{\"a\":[1,2",
            "",
            "  ",
        ];
        for case in cases {
            let serde = serde_json::from_str::<&serde_json::value::RawValue>(case).is_ok();
            assert_eq!(parse(case).is_ok(), serde, "{case:?}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(parse(&deep).unwrap_err().reason, "nesting too deep");
    }

    #[test]
    fn special_bytes_are_found_at_every_position_of_a_word() {
        for special in ["\\n", "\\u00e9", "\u{1}", "é", "\\\""] {
            for position in 0..20 {
                let text = format!("\"{}{special}{}\"", "a".repeat(position), "b".repeat(9));
                let serde = serde_json::from_str::<String>(&text);
                let mut nodes = Vec::new();
                let parsed = super::parse(&text, &mut nodes).map(|value| value.str().unwrap());
                assert_eq!(parsed.ok().as_deref(), serde.ok().as_deref(), "{text:?}");
            }
        }
    }

    #[test]
    fn errors_name_the_byte() {
        let error = parse(r#"{"a": 1 "b": 2}"#).unwrap_err();
        assert_eq!(error.to_string(), "expected ',' or '}' in an object at byte 8");
        assert_eq!(parse(r#"{"a": [1, 2"#).unwrap_err().reason, "unexpected end of input");
    }

    #[test]
    fn reused_room_does_not_leak_into_the_next_value() {
        let mut nodes = parse(r#"{"a": [1, 2, 3]}"#).unwrap();
        let second = super::parse("[true]", &mut nodes).unwrap();
        let kinds: Vec<Kind> = second.elements().map(|value| value.kind()).collect();
        assert_eq!(kinds, [Kind::Bool]);
    }

    #[test]
    fn a_prefix_is_one_value_or_needs_more_input() {
        let mut nodes = Vec::new();
        let input = br#"{"a": {"b": "}"}} ,{"next": 1}"#;
        let length = parse_prefix(input, &mut nodes).unwrap();
        assert_eq!(&input[..length], br#"{"a": {"b": "}"}}"#);
        let text = std::str::from_utf8(&input[..length]).unwrap();
        // SAFETY: `nodes` is the parse of the bytes `text` starts with.
        let value = unsafe { Value::root(text, &nodes) };
        assert_eq!(get(value, "a").unwrap().raw(), r#"{"b": "}"}"#);
        for cut in 1..length {
            let error = parse_prefix(&input[..cut], &mut nodes).unwrap_err();
            assert_eq!(error.at, cut, "{:?}", &input[..cut]);
        }
    }
}
