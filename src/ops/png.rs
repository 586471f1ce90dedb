//! A minimal PNG encoder (8-bit RGB, uncompressed deflate blocks), enough to
//! draw demo chat images and test uploads in code, with no image crate.

/// Encodes `rgb` (`width * height * 3` bytes, rows top to bottom) as PNG.
pub fn encode_rgb(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    assert_eq!(
        rgb.len(),
        width as usize * height as usize * 3,
        "pixel buffer size"
    );
    // Each row starts with filter type 0 (none).
    let row = width as usize * 3;
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for line in rgb.chunks(row) {
        raw.push(0);
        raw.extend_from_slice(line);
    }

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, no filter, no interlace
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65_535).collect()
    };
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

/// A square picture drawn from `seed`: a diagonal two-colour gradient with a
/// ring and a dot, different for every seed. Used for demo chats and by
/// `chatd doctor`.
pub fn picture(seed: &str, size: u32) -> Vec<u8> {
    let hash = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let color = |shift: u32| -> [f32; 3] {
        let h = (hash >> shift) as u32;
        [
            (h & 0xFF) as f32,
            ((h >> 8) & 0xFF) as f32,
            ((h >> 16) & 0xFF) as f32,
        ]
        .map(|c| 60.0 + c * 0.7)
    };
    let (from, to) = (color(0), color(24));
    let n = size as f32;
    let (cx, cy) = (n * (0.35 + ((hash >> 48) & 0xF) as f32 / 60.0), n * 0.5);
    let mut rgb = Vec::with_capacity((size * size * 3) as usize);
    for y in 0..size {
        for x in 0..size {
            let t = (x + y) as f32 / (2.0 * n);
            let mut pixel = [0f32; 3];
            for c in 0..3 {
                pixel[c] = from[c] * (1.0 - t) + to[c] * t;
            }
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt() / n;
            if (0.22..0.27).contains(&d) || d < 0.08 {
                pixel = [245.0, 245.0, 245.0];
            }
            rgb.extend(pixel.map(|c| c.clamp(0.0, 255.0) as u8));
        }
    }
    encode_rgb(size, size, &rgb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_checksums() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn pictures_are_valid_pngs_that_differ_by_seed() {
        let a = picture("films/Dune", 64);
        assert_eq!(
            crate::storage::media::verify_image(&a),
            Some(crate::storage::media::ImageKind::Png)
        );
        assert_eq!(imagesize::blob_size(&a).unwrap().width, 64);
        assert_ne!(a, picture("books/Dune", 64));
    }
}
