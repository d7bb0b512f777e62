//! The messages of the stress run: each one says who wrote it and carries
//! a checksum, so a read can prove it got a whole message some writer
//! wrote (or a prefix of one, when the read buffer was smaller).
//!
//! Layout of a message of `len >= HEADER_LEN` bytes, of which the device
//! keeps `stored = min(len, buffer_size)`:
//!
//! ```text
//! "ASYN" | writer: u32 | seq: u64 | stored: u32 | fnv1a32(payload[..stored]) : u32 | payload
//! ```
//!
//! The payload is a stream derived from (writer, seq); bytes a writer sends
//! beyond `buffer_size` are 0xEE (they must never be read back). Shorter
//! messages are the fixed pattern `SMALL[i]`.

use crate::rng::Rng;

pub const HEADER_LEN: usize = 24;
const MAGIC: &[u8; 4] = b"ASYN";
const BEYOND_BUFFER: u8 = 0xee;

fn small_byte(i: usize) -> u8 {
    0xa5 ^ (i as u8)
}

fn fnv1a32(data: &[u8]) -> u32 {
    data.iter().fold(0x811c_9dc5, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn fill_payload(writer: u32, seq: u64, out: &mut [u8]) {
    let mut rng = Rng::new(Rng::derive(seq, u64::from(writer)));
    for chunk in out.chunks_mut(8) {
        let word = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
}

/// The bytes writer `writer` sends as its `seq`-th message, `len` long.
pub fn encode(writer: u32, seq: u64, len: usize, buffer_size: usize) -> Vec<u8> {
    if len < HEADER_LEN {
        return (0..len).map(small_byte).collect();
    }
    let stored = len.min(buffer_size);
    let mut message = vec![BEYOND_BUFFER; len];
    fill_payload(writer, seq, &mut message[HEADER_LEN..stored]);
    let checksum = fnv1a32(&message[HEADER_LEN..stored]);
    message[..4].copy_from_slice(MAGIC);
    message[4..8].copy_from_slice(&writer.to_le_bytes());
    message[8..16].copy_from_slice(&seq.to_le_bytes());
    message[16..20].copy_from_slice(&(stored as u32).to_le_bytes());
    message[20..24].copy_from_slice(&checksum.to_le_bytes());
    message
}

/// What a valid read returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// A whole message: its writer and sequence number (none for the
    /// short pattern messages).
    Whole(Option<(u32, u64)>),
    /// The first bytes of a longer message (the read buffer was smaller).
    Prefix,
}

/// Checks the bytes one `read` with a buffer of `capacity` bytes returned.
pub fn validate(data: &[u8], capacity: usize, buffer_size: usize) -> Result<Read, String> {
    if data.is_empty() {
        return Err("read returned 0 bytes".into());
    }
    if data.len() > capacity.min(buffer_size) {
        return Err(format!(
            "read returned {} bytes, more than min(capacity {capacity}, buffer_size {buffer_size})",
            data.len()
        ));
    }
    // The device returns min(message length, capacity): a read that did
    // not fill the buffer got the whole message.
    let filled = data.len() == capacity;
    if data[0] != MAGIC[0] {
        if let Some(i) = (0..data.len()).find(|&i| data[i] != small_byte(i)) {
            return Err(format!("short message corrupt at byte {i}: {:?}", data));
        }
        if !filled && data.len() >= HEADER_LEN {
            return Err(format!("{}-byte pattern message is too long", data.len()));
        }
        return Ok(if filled {
            Read::Prefix
        } else {
            Read::Whole(None)
        });
    }
    let magic_len = data.len().min(MAGIC.len());
    if data[..magic_len] != MAGIC[..magic_len] {
        return Err(format!("bad magic: {:02x?}", &data[..magic_len]));
    }
    if data.len() < HEADER_LEN {
        return if filled {
            Ok(Read::Prefix)
        } else {
            Err(format!("torn: {} bytes, shorter than a header", data.len()))
        };
    }
    let field =
        |at: usize| u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
    let writer = field(4);
    let seq = u64::from(field(8)) | (u64::from(field(12)) << 32);
    let stored = field(16) as usize;
    let checksum = field(20);
    if !(HEADER_LEN..=buffer_size).contains(&stored) {
        return Err(format!(
            "writer {writer} seq {seq}: header says {stored} bytes"
        ));
    }
    if data.len() > stored || (!filled && data.len() != stored) {
        return Err(format!(
            "torn: writer {writer} seq {seq}: read {} bytes of a {stored}-byte message",
            data.len()
        ));
    }
    let mut expected = vec![0u8; data.len() - HEADER_LEN];
    fill_payload(writer, seq, &mut expected);
    if let Some(i) = (0..expected.len()).find(|&i| data[HEADER_LEN + i] != expected[i]) {
        return Err(format!(
            "torn: writer {writer} seq {seq}: payload differs at byte {}",
            HEADER_LEN + i
        ));
    }
    if data.len() == stored {
        if fnv1a32(&data[HEADER_LEN..]) != checksum {
            return Err(format!("writer {writer} seq {seq}: checksum mismatch"));
        }
        return Ok(Read::Whole(Some((writer, seq))));
    }
    Ok(Read::Prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_messages_validate() {
        for len in [1, 5, 24, 100, 256] {
            let m = encode(3, 9, len, 256);
            let stored = len.min(256);
            let got = validate(&m[..stored], 256, 256);
            let want = if len < HEADER_LEN {
                Read::Whole(None)
            } else {
                Read::Whole(Some((3, 9)))
            };
            assert_eq!(got, Ok(want), "len {len}");
        }
    }

    #[test]
    fn truncated_messages_keep_a_valid_header() {
        let m = encode(1, 2, 1000, 256);
        assert_eq!(m.len(), 1000);
        assert_eq!(validate(&m[..256], 256, 256), Ok(Read::Whole(Some((1, 2)))));
        assert_eq!(m[256], BEYOND_BUFFER);
    }

    #[test]
    fn prefixes_validate() {
        let m = encode(1, 2, 200, 256);
        assert_eq!(validate(&m[..16], 16, 256), Ok(Read::Prefix));
        assert_eq!(validate(&m[..100], 100, 256), Ok(Read::Prefix));
        assert_eq!(validate(&m[..1], 1, 256), Ok(Read::Prefix));
    }

    #[test]
    fn torn_and_mixed_messages_fail() {
        let a = encode(1, 2, 200, 256);
        let b = encode(1, 3, 200, 256);
        let mut torn = a.clone();
        torn[100..].copy_from_slice(&b[100..]);
        assert!(validate(&torn, 256, 256).is_err());
        assert!(validate(&a[..150], 256, 256).is_err(), "short whole read");
        let mut flipped = a.clone();
        flipped[199] ^= 1;
        assert!(validate(&flipped, 256, 256).is_err());
        assert!(validate(&[0u8; 10], 256, 256).is_err(), "stale zeros");
        assert!(validate(&[], 256, 256).is_err());
    }
}
