//! The server's side of WebSocket framing (RFC 6455, section 5), as bytes.
//!
//! Frames from the server are never masked, so a frame is the same bytes
//! for every socket that gets it: a broadcast encodes it once and each
//! socket writes those bytes straight to its TCP stream (see
//! [`peer::Out`](crate::live::peer::Out)), with no per-socket framing,
//! buffer or task in between. Client frames are still read by tungstenite
//! (see [`stream`](crate::live::stream)).

use bytes::{BufMut, Bytes, BytesMut};

const FIN: u8 = 0x80;
const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;

/// A text frame carrying `payload` (UTF-8, which the caller guarantees).
pub fn text(payload: &[u8]) -> Bytes {
    frame(TEXT, payload)
}

/// A close frame: `code` and `reason`, or no payload at all (`None`).
pub fn close(code: Option<u16>, reason: &str) -> Bytes {
    let mut payload = Vec::with_capacity(2 + reason.len());
    if let Some(code) = code {
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(reason.as_bytes());
    }
    frame(CLOSE, &payload)
}

/// An empty ping frame.
pub fn ping() -> Bytes {
    Bytes::from_static(&[FIN | PING, 0])
}

fn frame(opcode: u8, payload: &[u8]) -> Bytes {
    let len = payload.len();
    let mut out = BytesMut::with_capacity(len + 10);
    out.put_u8(FIN | opcode);
    if len < 126 {
        out.put_u8(len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.put_u8(126);
        out.put_u16(len);
    } else {
        out.put_u8(127);
        out.put_u64(len as u64);
    }
    out.put_slice(payload);
    out.freeze()
}

/// The payload of one whole encoded frame (for tests).
#[cfg(test)]
pub fn payload(frame: &[u8]) -> &[u8] {
    match frame[1] & 0x7f {
        126 => &frame[4..],
        127 => &frame[10..],
        _ => &frame[2..],
    }
}

/// True when `chunk`, a run of whole server frames, holds a close frame.
/// (How the socket learns that tungstenite answered a client's close.)
pub fn holds_close(mut chunk: &[u8]) -> bool {
    while chunk.len() >= 2 {
        if chunk[0] & 0x0f == CLOSE {
            return true;
        }
        let (header, len) = match chunk[1] & 0x7f {
            126 if chunk.len() >= 4 => (4, u64::from(u16::from_be_bytes([chunk[2], chunk[3]]))),
            127 if chunk.len() >= 10 => {
                let mut len = [0; 8];
                len.copy_from_slice(&chunk[2..10]);
                (10, u64::from_be_bytes(len))
            }
            126 | 127 => return false,
            len => (2, u64::from(len)),
        };
        let Some(rest) = usize::try_from(len)
            .ok()
            .and_then(|len| chunk.get(header + len..))
        else {
            return false;
        };
        chunk = rest;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_take_one_three_or_nine_bytes() {
        assert_eq!(&text(b"hi")[..], &[0x81, 2, b'h', b'i']);
        let medium = text(&[b'a'; 126]);
        assert_eq!(&medium[..4], &[0x81, 126, 0, 126]);
        assert_eq!(medium.len(), 4 + 126);
        let large = text(&vec![b'a'; 70_000]);
        assert_eq!(&large[..10], &[0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
        assert_eq!(large.len(), 10 + 70_000);
    }

    #[test]
    fn close_frames_carry_code_and_reason_or_nothing() {
        assert_eq!(&close(Some(4404), "gone")[..], b"\x88\x06\x11\x34gone");
        assert_eq!(&close(None, "")[..], &[0x88, 0]);
        assert_eq!(&ping()[..], &[0x89, 0]);
    }

    #[test]
    fn a_close_is_found_after_other_frames() {
        let mut chunk = text(&[b'x'; 300]).to_vec();
        chunk.extend_from_slice(&[0x8a, 0]); // a pong
        assert!(!holds_close(&chunk));
        chunk.extend_from_slice(&close(Some(1000), ""));
        assert!(holds_close(&chunk));
        assert!(!holds_close(&[0x81, 126, 1])); // cut short
    }
}
