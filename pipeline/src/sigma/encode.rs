//! Sigma's value transformations: `windash` variants, UTF-16 encodings (`wide`/`utf16le`,
//! `utf16be`, `utf16` with a byte-order mark) and `base64`/`base64offset`, each turning one
//! value into the plain strings to match.

/// Dashes `windash` tries where the value has `-` or `/` at the start of a word.
const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// The `windash` variants of `text`: every word-leading `-` or `/` replaced by each dash.
pub fn windash(text: &str) -> Vec<String> {
    let mut variants: Vec<String> = DASHES
        .iter()
        .map(|dash| {
            let mut out = String::with_capacity(text.len());
            let mut word_start = true;
            for c in text.chars() {
                if word_start && (c == '-' || c == '/') {
                    out.push(*dash);
                } else {
                    out.push(c);
                }
                word_start = c.is_whitespace();
            }
            out
        })
        .collect();
    variants.dedup();
    variants
}

/// Text encodings before base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 (no modifier).
    Utf8,
    /// UTF-16LE (`wide`, `utf16le`).
    Utf16Le,
    /// UTF-16BE (`utf16be`).
    Utf16Be,
    /// UTF-16LE after a byte-order mark (`utf16`).
    Utf16Bom,
}

/// The bytes of `text` in `encoding`.
pub fn encode_text(text: &str, encoding: TextEncoding) -> Vec<u8> {
    match encoding {
        TextEncoding::Utf8 => text.as_bytes().to_vec(),
        TextEncoding::Utf16Le => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        TextEncoding::Utf16Be => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        TextEncoding::Utf16Bom => {
            let mut bytes = vec![0xFF, 0xFE];
            bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            bytes
        }
    }
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (index, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if index <= chunk.len() {
                out.push(ALPHABET[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The three `base64offset` forms of `bytes`: its base64 text at each byte offset, cut to
/// the characters that do not depend on the surrounding bytes (as pySigma does).
pub fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    (0..3)
        .map(|offset| {
            let mut shifted = vec![b' '; offset];
            shifted.extend_from_slice(bytes);
            let encoded = base64(&shifted);
            let start = [0, 2, 3][offset];
            let end = encoded.len() - [0, 3, 2][(bytes.len() + offset) % 3];
            encoded[start..end.max(start)].to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_match_their_references() {
        // RFC 4648 test vectors.
        for (text, expected) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64(text.as_bytes()), expected);
        }
        // pySigma's documented base64offset example.
        assert_eq!(base64_offsets(b"/bin/bash"), ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]);
        assert_eq!(encode_text("ab", TextEncoding::Utf16Le), b"a\0b\0");
        assert_eq!(encode_text("ab", TextEncoding::Utf16Be), b"\0a\0b");
        assert_eq!(encode_text("a", TextEncoding::Utf16Bom), b"\xFF\xFEa\0");
        assert_eq!(
            windash("-enc x"),
            ["-enc x", "/enc x", "\u{2013}enc x", "\u{2014}enc x", "\u{2015}enc x"]
        );
        assert_eq!(windash("a-b"), ["a-b"], "only word-leading dashes vary");
    }
}
