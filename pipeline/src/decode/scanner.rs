//! A streaming splitter of JSON input into record-sized pieces.
//!
//! It never builds a JSON tree of the file: it tracks only string and nesting state, so a
//! `{"Records":[...]}` file of any size is cut into its records while holding one record at a
//! time. It accepts a sequence of top-level values (one value, JSON Lines, concatenated JSON):
//! - `{"Records": [ r1, r2, ... ]}`: each array element is a piece;
//! - `[ r1, r2, ... ]`: each element is a piece;
//! - any other top-level object is one piece (a record, an EventBridge envelope, a digest...);
//! - anything else at the top level (a bare string or number, text) is damage.
//!
//! Structural damage (truncation, stray bytes) is reported as a [`Piece::Damaged`] with the
//! byte offset and the bytes concerned; scanning then resumes at the next line.

use std::io::{self, Read};
use std::ops::Range;

use lake::json_tape::{self as tape, Node};

/// Room for a record and the next ones: records are a few KiB, and a larger one is copied
/// out piece by piece instead of parsed in place. Every source allocates one.
const BUFFER_BYTES: usize = 64 * 1024;

/// A piece of input found by the scanner; its bytes are in [`Scanner::piece_bytes`].
#[derive(Debug, PartialEq)]
pub enum Piece {
    /// A complete JSON value.
    Value {
        /// Byte offset of its first byte in the (decompressed) stream.
        offset: u64,
        /// Whether it was an element of a `Records` array or a top-level array.
        in_array: bool,
    },
    /// Bytes that do not form a JSON value, or that CloudTrail's format does not allow there.
    Damaged {
        /// Byte offset where the damage starts.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A value larger than the limit; the piece bytes hold its beginning.
    TooLarge {
        /// Byte offset of the value.
        offset: u64,
        /// The value's size in bytes.
        size: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Between top-level values.
    TopLevel,
    /// Inside an array whose elements are records; `records_member` when it is the
    /// `Records` member of an object (whose `}` follows the array).
    InArray { records_member: bool },
}

/// Splits a byte stream into JSON record pieces. Call [`Scanner::next_piece`] until `None`.
pub struct Scanner<R> {
    reader: R,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    /// Stream offset of `buffer[start]`.
    position: u64,
    piece: Vec<u8>,
    /// Bytes of the current value, including those past the limit.
    piece_size: u64,
    max_piece_bytes: usize,
    state: State,
    /// Where the last piece is in the buffer when it was parsed there whole, instead of
    /// being copied to `piece`.
    parsed_range: Option<Range<usize>>,
    /// The tape of a piece parsed in the buffer.
    tape: Vec<Node>,
}

impl<R: Read> Scanner<R> {
    /// A scanner over `reader`; values larger than `max_piece_bytes` are reported as too large.
    pub fn new(reader: R, max_piece_bytes: usize) -> Self {
        Self {
            reader,
            buffer: vec![0; BUFFER_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
            position: 0,
            piece: Vec::new(),
            piece_size: 0,
            max_piece_bytes,
            state: State::TopLevel,
            parsed_range: None,
            tape: Vec::new(),
        }
    }

    /// The bytes of the last piece (for [`Piece::TooLarge`], only the first ones).
    pub fn piece_bytes(&self) -> &[u8] {
        match &self.parsed_range {
            Some(range) => &self.buffer[range.clone()],
            None => &self.piece,
        }
    }

    /// The JSON tape of the last piece, when the scanner parsed it (see [`tape::parse_prefix`]).
    pub fn piece_tape(&self) -> Option<&[Node]> {
        self.parsed_range.as_ref().map(|_| self.tape.as_slice())
    }

    /// Decompressed bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next piece, `None` at the end of the input, or an I/O (decompression) error.
    pub fn next_piece(&mut self) -> io::Result<Option<Piece>> {
        loop {
            self.piece.clear();
            self.piece_size = 0;
            self.parsed_range = None;
            match self.state {
                State::TopLevel => {
                    if !self.skip_whitespace()? {
                        return Ok(None);
                    }
                    let offset = self.position;
                    match self.peek() {
                        b'[' => {
                            self.advance(1);
                            self.state = State::InArray { records_member: false };
                        }
                        b'{' => {
                            if let Some(piece) = self.top_level_object(offset)? {
                                return Ok(Some(piece));
                            }
                        }
                        other => {
                            let reason = format!(
                                "unexpected byte {:?} where a JSON value should start",
                                char::from(other)
                            );
                            return self.damaged_to_line_end(offset, reason).map(Some);
                        }
                    }
                }
                State::InArray { records_member } => {
                    if !self.skip_whitespace()? {
                        self.state = State::TopLevel;
                        let reason = "truncated: the array is not closed at the end of the input"
                            .to_string();
                        return Ok(Some(Piece::Damaged { offset: self.position, reason }));
                    }
                    match self.peek() {
                        b']' => {
                            self.advance(1);
                            self.state = State::TopLevel;
                            if records_member && let Some(piece) = self.close_records_object()? {
                                return Ok(Some(piece));
                            }
                        }
                        // Commas between elements; a missing or doubled one is not worth a loss.
                        b',' => self.advance(1),
                        _ => {
                            let offset = self.position;
                            if self.parse_record_in_buffer()? {
                                return Ok(Some(Piece::Value { offset, in_array: true }));
                            }
                            let piece = self.scan_value(offset, true)?;
                            if matches!(piece, Piece::Damaged { .. }) {
                                self.state = State::TopLevel;
                            }
                            return Ok(Some(piece));
                        }
                    }
                }
            }
        }
    }

    /// At a top-level `{`: a `{"Records": [` opening switches to streaming the array (returns
    /// `None`); any other object is scanned whole and returned.
    fn top_level_object(&mut self, offset: u64) -> io::Result<Option<Piece>> {
        self.take_byte();
        self.take_whitespace()?;
        if self.at_end()? || self.peek() != b'"' {
            return self.scan_nested(offset, 1, false).map(Some);
        }
        let key_start = self.piece.len();
        if let ScanEnd::Eof = self.take_string()? {
            return Ok(Some(self.truncated(offset)));
        }
        let is_records = &self.piece[key_start..] == b"\"Records\"";
        self.take_whitespace()?;
        if is_records && !self.at_end()? && self.peek() == b':' {
            self.take_byte();
            self.take_whitespace()?;
            if !self.at_end()? && self.peek() == b'[' {
                self.advance(1);
                self.piece.clear();
                self.state = State::InArray { records_member: true };
                return Ok(None);
            }
        }
        self.scan_nested(offset, 1, false).map(Some)
    }

    /// After the `Records` array's `]`: the object must close; other members are reported.
    fn close_records_object(&mut self) -> io::Result<Option<Piece>> {
        if !self.skip_whitespace()? {
            let reason = "truncated: the object around Records is not closed".to_string();
            return Ok(Some(Piece::Damaged { offset: self.position, reason }));
        }
        let offset = self.position;
        if self.peek() == b'}' {
            self.advance(1);
            return Ok(None);
        }
        let piece = self.scan_nested(offset, 1, false)?;
        Ok(Some(match piece {
            Piece::Value { offset, .. } => Piece::Damaged {
                offset,
                reason: "members after the Records array are not part of a CloudTrail log file"
                    .into(),
            },
            other => other,
        }))
    }

    /// The fast path for an array element: an object parsed where it lies in the buffer, which
    /// finds its end and builds its tape in one pass, without copying it. False (nothing
    /// consumed) for anything else, so that scanning byte by byte reports it as before: other
    /// values, invalid JSON, values over the size limit or larger than the buffer.
    fn parse_record_in_buffer(&mut self) -> io::Result<bool> {
        if self.peek() != b'{' {
            return Ok(false);
        }
        loop {
            match tape::parse_prefix(&self.buffer[self.start..self.end], &mut self.tape) {
                Ok(length) if length <= self.max_piece_bytes => {
                    self.parsed_range = Some(self.start..self.start + length);
                    self.advance(length);
                    return Ok(true);
                }
                Ok(_) => return Ok(false),
                Err(error) if error.at == self.end - self.start => {
                    // The value may go on past the buffered bytes: read more behind them.
                    if !self.fill_behind()? {
                        return Ok(false);
                    }
                }
                Err(_) => return Ok(false),
            }
        }
    }

    /// Scans one complete value starting at the current byte.
    fn scan_value(&mut self, offset: u64, in_array: bool) -> io::Result<Piece> {
        match self.peek() {
            b'{' | b'[' => {
                self.take_byte();
                let piece = self.scan_nested(offset, 1, in_array)?;
                Ok(piece)
            }
            b'"' => match self.take_string()? {
                ScanEnd::Complete => Ok(self.finished(offset, in_array)),
                ScanEnd::Eof => Ok(self.truncated(offset)),
            },
            _ => {
                // A bare scalar (number, true, false, null) runs to the next delimiter.
                while !self.at_end()? {
                    let byte = self.peek();
                    if matches!(byte, b',' | b']' | b'}') || byte.is_ascii_whitespace() {
                        break;
                    }
                    self.take_byte();
                }
                Ok(self.finished(offset, in_array))
            }
        }
    }

    /// Scans to the end of an object or array whose opening bytes (nesting `depth`) are taken.
    fn scan_nested(&mut self, offset: u64, mut depth: u32, in_array: bool) -> io::Result<Piece> {
        let mut in_string = false;
        let mut escaped = false;
        loop {
            if self.start == self.end && !self.fill()? {
                return Ok(self.truncated(offset));
            }
            let chunk = &self.buffer[self.start..self.end];
            let mut used = chunk.len();
            for (index, &byte) in chunk.iter().enumerate() {
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if byte == b'\\' {
                        escaped = true;
                    } else if byte == b'"' {
                        in_string = false;
                    }
                    continue;
                }
                match byte {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            used = index + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            self.take(used);
            if depth == 0 {
                return Ok(self.finished(offset, in_array));
            }
        }
    }

    /// Takes a string starting at the current `"`.
    fn take_string(&mut self) -> io::Result<ScanEnd> {
        self.take_byte();
        let mut escaped = false;
        loop {
            if self.start == self.end && !self.fill()? {
                return Ok(ScanEnd::Eof);
            }
            let chunk = &self.buffer[self.start..self.end];
            let mut closed = None;
            for (index, &byte) in chunk.iter().enumerate() {
                if escaped {
                    escaped = false;
                } else if byte == b'\\' {
                    escaped = true;
                } else if byte == b'"' {
                    closed = Some(index + 1);
                    break;
                }
            }
            match closed {
                Some(used) => {
                    self.take(used);
                    return Ok(ScanEnd::Complete);
                }
                None => {
                    let used = chunk.len();
                    self.take(used);
                }
            }
        }
    }

    /// Consumes the rest of the current line as damage.
    fn damaged_to_line_end(&mut self, offset: u64, reason: String) -> io::Result<Piece> {
        while !self.at_end()? {
            let chunk = &self.buffer[self.start..self.end];
            match chunk.iter().position(|&byte| byte == b'\n') {
                Some(index) => {
                    self.take(index);
                    self.advance(1);
                    break;
                }
                None => {
                    let used = chunk.len();
                    self.take(used);
                }
            }
        }
        Ok(Piece::Damaged { offset, reason })
    }

    fn finished(&self, offset: u64, in_array: bool) -> Piece {
        if self.piece_size > self.max_piece_bytes as u64 {
            Piece::TooLarge { offset, size: self.piece_size }
        } else {
            Piece::Value { offset, in_array }
        }
    }

    fn truncated(&self, offset: u64) -> Piece {
        Piece::Damaged { offset, reason: "truncated: the input ends inside this value".into() }
    }

    /// Skips whitespace (not kept); false at the end of the input.
    fn skip_whitespace(&mut self) -> io::Result<bool> {
        loop {
            if self.at_end()? {
                return Ok(false);
            }
            if !self.peek().is_ascii_whitespace() {
                return Ok(true);
            }
            self.advance(1);
        }
    }

    /// Takes whitespace into the piece.
    fn take_whitespace(&mut self) -> io::Result<()> {
        while !self.at_end()? && self.peek().is_ascii_whitespace() {
            self.take_byte();
        }
        Ok(())
    }

    fn at_end(&mut self) -> io::Result<bool> {
        Ok(self.start == self.end && !self.fill()?)
    }

    fn peek(&self) -> u8 {
        self.buffer[self.start]
    }

    fn take_byte(&mut self) {
        self.take(1);
    }

    /// Moves `count` buffered bytes into the piece (up to the size limit) and past them.
    fn take(&mut self, count: usize) {
        let room = self.max_piece_bytes.saturating_sub(self.piece.len());
        let kept = count.min(room);
        self.piece.extend_from_slice(&self.buffer[self.start..self.start + kept]);
        self.piece_size += count as u64;
        self.advance(count);
    }

    fn advance(&mut self, count: usize) {
        self.start += count;
        self.position += count as u64;
    }

    /// Moves the unread bytes to the front of the buffer and reads more after them; false when
    /// the buffer is full of unread bytes or the input has ended.
    fn fill_behind(&mut self) -> io::Result<bool> {
        let unread = self.end - self.start;
        if unread == self.buffer.len() {
            return Ok(false);
        }
        self.buffer.copy_within(self.start..self.end, 0);
        self.start = 0;
        self.end = unread;
        loop {
            match self.reader.read(&mut self.buffer[unread..]) {
                Ok(0) => return Ok(false),
                Ok(read) => {
                    self.end += read;
                    return Ok(true);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
        }
    }

    /// Refills the buffer; false at the end of the input.
    fn fill(&mut self) -> io::Result<bool> {
        loop {
            match self.reader.read(&mut self.buffer) {
                Ok(0) => return Ok(false),
                Ok(read) => {
                    self.start = 0;
                    self.end = read;
                    return Ok(true);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
        }
    }
}

enum ScanEnd {
    Complete,
    Eof,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(input: &str) -> Vec<(Piece, String)> {
        // A tiny reader chunk size exercises refills in the middle of values.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let count = self.0.len().min(out.len()).min(3);
                out[..count].copy_from_slice(&self.0[..count]);
                self.0 = &self.0[count..];
                Ok(count)
            }
        }
        let mut scanner = Scanner::new(Trickle(input.as_bytes()), 1 << 20);
        let mut found = Vec::new();
        while let Some(piece) = scanner.next_piece().unwrap() {
            found.push((piece, String::from_utf8(scanner.piece_bytes().to_vec()).unwrap()));
        }
        found
    }

    fn values(input: &str) -> Vec<String> {
        pieces(input)
            .into_iter()
            .map(|(piece, text)| match piece {
                Piece::Value { .. } => text,
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn records_wrapper_yields_each_record() {
        let input = r#" {"Records": [ {"a":"x]}"}, {"b":{"c":[1,2]}} ,{"d":"\"}"} ] } "#;
        assert_eq!(values(input), [r#"{"a":"x]}"}"#, r#"{"b":{"c":[1,2]}}"#, r#"{"d":"\"}"}"#]);
        let found = pieces(input);
        assert!(matches!(found[0].0, Piece::Value { offset: 15, in_array: true }));
    }

    #[test]
    fn bare_arrays_json_lines_and_single_objects() {
        assert_eq!(values("[{\"a\":1},{\"b\":2}]"), ["{\"a\":1}", "{\"b\":2}"]);
        assert_eq!(values("{\"a\":1}\n{\"b\":2}\n\n"), ["{\"a\":1}", "{\"b\":2}"]);
        assert_eq!(
            values("{\"detail\": {\"x\": 1}, \"Records\": 2}"),
            ["{\"detail\": {\"x\": 1}, \"Records\": 2}"]
        );
        assert!(values("{\"Records\":[]}").is_empty());
        assert!(values("[]").is_empty());
    }

    #[test]
    fn truncation_is_reported_with_the_partial_bytes() {
        let found = pieces(r#"{"Records":[{"a":1},{"b":{"c"#);
        assert_eq!(found[0].1, r#"{"a":1}"#);
        assert_eq!(
            found[1].0,
            Piece::Damaged {
                offset: 20,
                reason: "truncated: the input ends inside this value".into()
            }
        );
        assert_eq!(found[1].1, r#"{"b":{"c"#);
        assert_eq!(found.len(), 2);
        let found = pieces(r#"{"Records":[{"a":1}"#);
        assert!(
            matches!(&found[1].0, Piece::Damaged { reason, .. } if reason.contains("not closed"))
        );
    }

    #[test]
    fn stray_bytes_cost_one_line() {
        let found = pieces("garbage here\n{\"a\":1}\n");
        assert!(
            matches!(&found[0].0, Piece::Damaged { offset: 0, reason } if reason.contains("unexpected byte 'g'"))
        );
        assert_eq!(found[0].1, "garbage here");
        assert_eq!(found[1].1, "{\"a\":1}");
    }

    #[test]
    fn members_after_records_are_reported() {
        let found = pieces(r#"{"Records":[{"a":1}],"extra":true}"#);
        assert_eq!(found[0].1, r#"{"a":1}"#);
        assert!(
            matches!(&found[1].0, Piece::Damaged { reason, .. } if reason.contains("after the Records array"))
        );
        assert_eq!(found[1].1, r#","extra":true}"#);
    }

    #[test]
    fn oversized_values_are_flagged() {
        let mut scanner = Scanner::new(r#"[{"a":"0123456789"},{"b":1}]"#.as_bytes(), 8);
        let first = scanner.next_piece().unwrap().unwrap();
        assert_eq!(first, Piece::TooLarge { offset: 1, size: 18 });
        assert_eq!(scanner.piece_bytes(), br#"{"a":"01"#);
        assert_eq!(
            scanner.next_piece().unwrap(),
            Some(Piece::Value { offset: 20, in_array: true })
        );
    }
}
