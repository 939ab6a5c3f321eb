//! Decoding: CloudTrail JSON (any of the shapes it arrives in) to Arrow record batches of the
//! lake schema, streaming, with every undecodable record quarantined rather than dropped.
//!
//! Accepted shapes: CloudTrail log files `{"Records":[...]}`, bare JSON arrays of records,
//! JSON Lines or concatenated records, and EventBridge "... via CloudTrail" envelopes (the
//! record is `detail`). Digest files and Insights records are recognised and skipped with a
//! counted reason.

mod columns;
mod scanner;
pub mod time;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, Int64Builder, RecordBatch, StringBuilder, TimestampMillisecondBuilder,
};
use lake::quarantine::QuarantinedRecord;
use lake::schema::{CLOUDTRAIL_FIELDS, SchemaField, cloudtrail_schema};

use self::columns::{ColumnBuilder, INITIAL_ROWS, Unmapped, finish_text, text_builder};
use self::scanner::{Piece, Scanner};
use lake::json_tape::{self as tape, Kind, Node, Value};

/// Settings of the decoder.
#[derive(Debug, Clone)]
pub struct DecodeConfig {
    /// Rows per record batch.
    pub batch_rows: usize,
    /// Largest record accepted, in bytes; larger ones are quarantined.
    pub max_record_bytes: usize,
    /// Raw text kept in the quarantine per source before entries keep only their beginning.
    pub quarantine_raw_budget: usize,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            batch_rows: 8192,
            max_record_bytes: 16 * 1024 * 1024,
            quarantine_raw_budget: 16 * 1024 * 1024,
        }
    }
}

/// Why a whole source was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// A CloudTrail digest file (integrity validation), not events.
    Digest,
    /// A CloudTrail Insights file.
    Insights,
}

impl SkipReason {
    /// A short name for counters.
    pub fn name(self) -> &'static str {
        match self {
            Self::Digest => "cloudtrail-digest",
            Self::Insights => "cloudtrail-insights",
        }
    }
}

/// What decoding one source produced besides its batches.
#[derive(Debug, Default)]
pub struct DecodeReport {
    /// Records decoded into batches.
    pub records: u64,
    /// Insights records skipped.
    pub insight_records: u64,
    /// Records and stretches of input that were quarantined.
    pub quarantined: Vec<QuarantinedRecord>,
    /// Set when the whole source was skipped.
    pub skipped: Option<SkipReason>,
    /// Set when reading stopped early (decompression or read error); what came before is kept.
    pub read_error: Option<String>,
    /// Decompressed bytes read.
    pub bytes: u64,
}

/// Decodes `reader` (decompressed bytes of the source `source_uri`), handing each full batch
/// to `on_batch`. Returning `false` from `on_batch` stops decoding (the consumer went away).
pub fn decode(
    reader: impl Read,
    source_uri: &str,
    config: &DecodeConfig,
    mut on_batch: impl FnMut(RecordBatch) -> bool,
) -> DecodeReport {
    let mut rows = BatchBuilder::new();
    let report = decode_source(reader, source_uri, config, &mut rows, |rows| {
        rows.rows() < config.batch_rows || on_batch(rows.finish(true))
    });
    if rows.rows() > 0 && report.skipped.is_none() {
        on_batch(rows.finish(false));
    }
    report
}

/// Decodes the whole of `reader` (decompressed bytes of the source `source_uri`) into `rows`,
/// after the rows already there: small sources are decoded into one batch. Its rows are
/// `report.records`; a skipped source adds none.
pub fn decode_whole(
    reader: impl Read,
    source_uri: &str,
    config: &DecodeConfig,
    rows: &mut BatchBuilder,
) -> DecodeReport {
    decode_source(reader, source_uri, config, rows, |_| true)
}

/// Decodes `reader` into `rows`, calling `after_piece` after every piece of input; decoding
/// stops when it returns `false`.
fn decode_source(
    reader: impl Read,
    source_uri: &str,
    config: &DecodeConfig,
    rows: &mut BatchBuilder,
    mut after_piece: impl FnMut(&mut BatchBuilder) -> bool,
) -> DecodeReport {
    rows.start_source(source_uri);
    let mut decoder = Decoder {
        source_uri,
        config,
        rows,
        report: DecodeReport::default(),
        next_index: 0,
        raw_budget: config.quarantine_raw_budget,
        saw_records: false,
        tape_room: Vec::new(),
    };
    let mut scanner = Scanner::new(reader, config.max_record_bytes);
    loop {
        let piece = match scanner.next_piece() {
            Ok(Some(piece)) => piece,
            Ok(None) => break,
            Err(error) => {
                decoder.report.read_error =
                    Some(format!("read failed after {} bytes: {error}", scanner.position()));
                break;
            }
        };
        decoder.piece(&piece, scanner.piece_bytes(), scanner.piece_tape());
        if decoder.report.skipped.is_some() || !after_piece(decoder.rows) {
            break;
        }
    }
    if decoder.report.skipped.is_none()
        && !decoder.saw_records
        && decoder.report.insight_records > 0
    {
        decoder.report.skipped = Some(SkipReason::Insights);
    }
    decoder.report.bytes = scanner.position();
    decoder.report
}

struct Decoder<'a> {
    source_uri: &'a str,
    config: &'a DecodeConfig,
    rows: &'a mut BatchBuilder,
    report: DecodeReport,
    next_index: u64,
    raw_budget: usize,
    saw_records: bool,
    /// The last record's tape, kept for its room.
    tape_room: Vec<Node>,
}

impl Decoder<'_> {
    /// Takes a piece of input; `tape` is its parse when the scanner made one.
    fn piece(&mut self, piece: &Piece, bytes: &[u8], tape: Option<&[Node]>) {
        match piece {
            Piece::Value { offset, in_array } => self.value(*offset, *in_array, bytes, tape),
            Piece::Damaged { offset, reason } => {
                // A damaged stretch of a line-oriented file may still hold whole lines.
                if bytes.contains(&b'\n') {
                    self.lines(*offset, bytes, reason);
                } else {
                    self.quarantine(*offset, None, reason.clone(), bytes);
                }
            }
            Piece::TooLarge { offset, size } => {
                let index = self.take_index();
                let reason = format!(
                    "record of {size} bytes exceeds the {} byte limit",
                    self.config.max_record_bytes
                );
                self.quarantine(*offset, Some(index), reason, bytes);
            }
        }
    }

    /// Recovers the lines of a damaged stretch that are complete JSON values.
    fn lines(&mut self, offset: u64, bytes: &[u8], reason: &str) {
        let mut line_offset = offset;
        for line in bytes.split(|&byte| byte == b'\n') {
            let trimmed = line.trim_ascii();
            if !trimmed.is_empty() {
                let start = line_offset + (line.len() - line.trim_ascii_start().len()) as u64;
                let is_object = std::str::from_utf8(trimmed).is_ok_and(|text| {
                    tape::parse(text, &mut Vec::new())
                        .is_ok_and(|value| value.kind() == Kind::Object)
                });
                match is_object {
                    true => self.value(start, false, trimmed, None),
                    false => self.quarantine(start, None, reason.to_string(), trimmed),
                }
            }
            line_offset += line.len() as u64 + 1;
        }
    }

    fn value(&mut self, offset: u64, in_array: bool, bytes: &[u8], parsed: Option<&[Node]>) {
        let Ok(text) = std::str::from_utf8(bytes) else {
            let index = self.take_index();
            self.quarantine(offset, Some(index), "record is not valid UTF-8".into(), bytes);
            return;
        };
        let mut room = std::mem::take(&mut self.tape_room);
        let parsed = match parsed {
            // SAFETY: the scanner's tape is its parse of the piece's bytes, which `text` is.
            Some(nodes) => Ok(unsafe { Value::root(text, nodes) }),
            None => tape::parse(text, &mut room),
        };
        let root = match parsed {
            Ok(root) if root.kind() == Kind::Object => root,
            parsed => {
                let reason = match parsed {
                    Ok(_) => "invalid JSON: a record must be an object".to_string(),
                    Err(error) => format!("invalid JSON: {error}"),
                };
                if !in_array && text.contains('\n') {
                    self.lines(offset, bytes, &reason);
                } else {
                    let index = self.take_index();
                    self.quarantine(offset, Some(index), reason, bytes);
                }
                return;
            }
        };
        self.object(offset, in_array, root, bytes);
        self.tape_room = room;
    }

    /// A top-level object: a whole `{"Records": [...]}` file, a digest, an EventBridge
    /// envelope or a record.
    fn object(&mut self, offset: u64, in_array: bool, object: Value<'_, '_>, bytes: &[u8]) {
        let landmarks = Landmarks::of(object);
        // A small whole-object file: {"Records": [...]} scanned as one piece.
        if !in_array && let Some(records) = landmarks.records {
            if records.kind() != Kind::Array {
                let index = self.take_index();
                self.quarantine(offset, Some(index), "\"Records\" is not an array".into(), bytes);
                return;
            }
            for item in records.elements() {
                if item.kind() == Kind::Object {
                    self.object(offset, true, item, item.raw().as_bytes());
                } else {
                    let index = self.take_index();
                    let reason = "invalid JSON: a record must be an object".to_string();
                    self.quarantine(offset, Some(index), reason, item.raw().as_bytes());
                }
            }
            return;
        }
        if landmarks.digest_start_time.is_some() && landmarks.log_files.is_some() {
            self.report.skipped = Some(SkipReason::Digest);
            return;
        }
        let index = self.take_index();
        if let Some(detail_type) = landmarks.detail_type.and_then(|value| value.str()) {
            if !detail_type.ends_with("via CloudTrail") {
                let reason =
                    format!("EventBridge event '{detail_type}' does not carry a CloudTrail record");
                self.quarantine(offset, Some(index), reason, bytes);
                return;
            }
            match landmarks.detail.filter(|detail| detail.kind() == Kind::Object) {
                Some(detail) => self.record(offset, index, detail, Landmarks::of(detail), bytes),
                None => self.quarantine(
                    offset,
                    Some(index),
                    "EventBridge envelope without a detail object".into(),
                    bytes,
                ),
            }
            return;
        }
        self.record(offset, index, object, landmarks, bytes);
    }

    fn record(
        &mut self,
        offset: u64,
        index: u64,
        record: Value<'_, '_>,
        landmarks: Landmarks<'_, '_>,
        bytes: &[u8],
    ) {
        let event_type = landmarks.event_type.and_then(|value| value.str());
        if event_type.as_deref() == Some("AwsCloudTrailInsight") {
            self.report.insight_records += 1;
            return;
        }
        let required = [
            ("eventTime", landmarks.event_time),
            ("eventSource", landmarks.event_source),
            ("eventName", landmarks.event_name),
        ];
        let missing: Vec<&str> =
            required.iter().filter(|(_, value)| value.is_none()).map(|(name, _)| *name).collect();
        if !missing.is_empty() {
            let reason = format!("not a CloudTrail record: missing {}", missing.join(", "));
            self.quarantine(offset, Some(index), reason, bytes);
            return;
        }
        let Some(event_time) = landmarks.event_time.and_then(|value| value.str()) else {
            self.quarantine(offset, Some(index), "eventTime is not a string".into(), bytes);
            return;
        };
        match time::parse_event_time(&event_time) {
            Ok(millis) => {
                self.saw_records = true;
                self.rows.append(record, millis, index);
                self.report.records += 1;
            }
            Err(reason) => self.quarantine(offset, Some(index), reason, bytes),
        }
    }

    fn take_index(&mut self) -> u64 {
        self.next_index += 1;
        self.next_index - 1
    }

    fn quarantine(&mut self, offset: u64, index: Option<u64>, reason: String, raw: &[u8]) {
        // Past the budget, entries keep their first KiB: the reason and position stay exact.
        let kept = if raw.len() <= self.raw_budget { raw.len() } else { raw.len().min(1024) };
        self.raw_budget = self.raw_budget.saturating_sub(kept);
        let mut entry =
            QuarantinedRecord::new(self.source_uri, offset, index, reason, &raw[..kept]);
        entry.raw_truncated |= kept < raw.len();
        self.report.quarantined.push(entry);
    }
}

/// The members of a top-level object that tell what it is, found in one pass over it (the
/// first of each name, as everywhere else).
#[derive(Default)]
struct Landmarks<'t, 'a> {
    records: Option<Value<'t, 'a>>,
    digest_start_time: Option<Value<'t, 'a>>,
    log_files: Option<Value<'t, 'a>>,
    detail_type: Option<Value<'t, 'a>>,
    detail: Option<Value<'t, 'a>>,
    event_type: Option<Value<'t, 'a>>,
    event_time: Option<Value<'t, 'a>>,
    event_source: Option<Value<'t, 'a>>,
    event_name: Option<Value<'t, 'a>>,
}

impl<'t, 'a> Landmarks<'t, 'a> {
    fn of(object: Value<'t, 'a>) -> Self {
        let mut found = Self::default();
        for (key, value) in object.members() {
            let slot = match key.str().as_deref() {
                Some("Records") => &mut found.records,
                Some("digestStartTime") => &mut found.digest_start_time,
                Some("logFiles") => &mut found.log_files,
                Some("detail-type") => &mut found.detail_type,
                Some("detail") => &mut found.detail,
                Some("eventType") => &mut found.event_type,
                Some("eventTime") => &mut found.event_time,
                Some("eventSource") => &mut found.event_source,
                Some("eventName") => &mut found.event_name,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        found
    }
}

/// Top-level column index by CloudTrail member name, for the members [`MemberOrder`] does not
/// guess: hashed with FNV-1a, as the names are short and trusted, and SipHash cost more than
/// the lookup's other work.
static FIELD_INDEX: LazyLock<HashMap<&'static str, usize, BuildHasherDefault<Fnv1a>>> =
    LazyLock::new(|| {
        CLOUDTRAIL_FIELDS
            .iter()
            .enumerate()
            .map(|(index, field)| (field.json_name, index))
            .collect()
    });

/// The FNV-1a hash.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds record batches of the lake schema, row by row, from one or more sources.
pub struct BatchBuilder {
    source_uri: String,
    columns: Vec<ColumnBuilder>,
    event_ts: TimestampMillisecondBuilder,
    unmapped: StringBuilder,
    source_uris: StringBuilder,
    source_records: Int64Builder,
    rows: usize,
    /// The order of the last record's members.
    order: MemberOrder,
}

/// Member names looked up by the order they came in last time: CloudTrail writes a record's
/// members in one order, leaving out absent ones, so the member after a given one is nearly
/// always the same. A guess is checked against the name, and only a wrong guess is looked up
/// in full (hashing each name cost a sixth of decoding).
pub(super) struct MemberOrder {
    members: &'static [SchemaField],
    /// Per member (and, last, the start of an object), the member that came next last time.
    next: Vec<usize>,
}

impl MemberOrder {
    /// The order of `members`, each guessed at first to follow the one before it.
    pub(super) fn new(members: &'static [SchemaField]) -> Self {
        let slots = members.len() + 1;
        Self { members, next: (0..slots).map(|member| (member + 1) % slots).collect() }
    }

    /// The position of the member after `previous` (`None` at the start of an object) whose
    /// name is `name`, guessed, or found by `look_up`.
    pub(super) fn position(
        &mut self,
        previous: Option<usize>,
        name: &str,
        look_up: impl FnOnce(&str) -> Option<usize>,
    ) -> Option<usize> {
        let slot = previous.unwrap_or(self.next.len() - 1);
        let guess = self.next[slot];
        if self.members.get(guess).is_some_and(|member| member.json_name == name) {
            return Some(guess);
        }
        let found = look_up(name)?;
        self.next[slot] = found;
        Some(found)
    }
}

impl Default for BatchBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self {
            source_uri: String::new(),
            columns: CLOUDTRAIL_FIELDS
                .iter()
                .map(|field| ColumnBuilder::new(&field.shape))
                .collect(),
            event_ts: TimestampMillisecondBuilder::with_capacity(INITIAL_ROWS).with_timezone("UTC"),
            unmapped: text_builder(),
            source_uris: text_builder(),
            source_records: Int64Builder::with_capacity(INITIAL_ROWS),
            rows: 0,
            order: MemberOrder::new(CLOUDTRAIL_FIELDS),
        }
    }

    /// Rows appended from now on come from `source_uri`.
    fn start_source(&mut self, source_uri: &str) {
        self.source_uri.clear();
        self.source_uri.push_str(source_uri);
    }

    /// Rows appended since the last batch.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn append(&mut self, record: Value<'_, '_>, event_millis: i64, index: u64) {
        let row = self.rows;
        let mut unmapped = Unmapped::default();
        let mut previous = None;
        for (key, value) in record.members() {
            let column = key.str().and_then(|name| {
                self.order.position(previous, &name, |name| FIELD_INDEX.get(name).copied())
            });
            match column {
                // Not yet appended to in this row; absent columns are padded with NULLs later.
                Some(column) if self.columns[column].len() <= row => {
                    previous = Some(column);
                    let builder = &mut self.columns[column];
                    builder.pad_to(row);
                    builder.append(key, value, &mut unmapped);
                }
                _ => unmapped.keep(key, value.raw()),
            }
        }
        self.event_ts.append_value(event_millis);
        self.unmapped.append_option(unmapped.into_json());
        self.source_uris.append_value(&self.source_uri);
        self.source_records.append_value(index as i64);
        self.rows += 1;
    }

    /// The batch of the rows appended since the last one; `more` when about as many rows are
    /// to come (the builders keep room for them).
    pub fn finish(&mut self, more: bool) -> RecordBatch {
        let rows = self.rows;
        let mut columns: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|column| {
                column.pad_to(rows);
                column.finish(more)
            })
            .collect();
        columns.push(Arc::new(self.event_ts.finish()));
        columns.push(Arc::new(finish_text(&mut self.unmapped, more)));
        columns.push(Arc::new(finish_text(&mut self.source_uris, more)));
        columns.push(Arc::new(self.source_records.finish()));
        self.rows = 0;
        RecordBatch::try_new(cloudtrail_schema(), columns).expect("builders follow the lake schema")
    }
}

#[cfg(test)]
mod tests;
