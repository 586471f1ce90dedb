//! Tests of image verification and of the names media may be served under.
//! The images of the size tests are built here byte by byte: a header that
//! claims a size is all a decompression bomb needs.

use super::*;

#[test]
fn the_default_image_is_a_valid_jpeg() {
    assert_eq!(verify_image(DEFAULT_IMAGE), Some(ImageKind::Jpeg));
}

#[test]
fn truncated_and_foreign_files_are_rejected() {
    assert_eq!(
        verify_image(&DEFAULT_IMAGE[..DEFAULT_IMAGE.len() / 2]),
        None
    );
    assert_eq!(verify_image(b"just some text, not an image"), None);
    assert_eq!(verify_image(b""), None);
}

#[test]
fn only_generated_names_resolve() {
    assert_eq!(resolve("chat_img/ab12.png"), Some(ImageKind::Png));
    assert_eq!(resolve("chat_img/default.jpg"), Some(ImageKind::Jpeg));
    for bad in [
        "../chat.db",
        "chat_img/../../secret.key",
        "chat_img/",
        "chat_img",
        "other/a.png",
        "chat_img/a.txt",
        "chat_img/.png",
        "chat_img/a/b.png",
        "chat_img/a%2e.png",
    ] {
        assert_eq!(resolve(bad), None, "{bad}");
    }
}

/// A PNG whose header says `width` x `height`: the IHDR chunk and the end
/// chunk, no pixel data (the check reads no further than the header).
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[0, 0, 0, 13]);
    png.extend_from_slice(b"IHDR");
    png.extend_from_slice(&width.to_be_bytes());
    png.extend_from_slice(&height.to_be_bytes());
    // 8-bit RGB, deflate, no filter, no interlace; then the CRC, unchecked.
    png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    png.extend_from_slice(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]);
    png
}

/// A GIF whose logical screen is `width` x `height`, with no frames.
fn gif(width: u16, height: u16) -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&width.to_le_bytes());
    gif.extend_from_slice(&height.to_le_bytes());
    // No colour table, background 0, no aspect ratio; the trailer.
    gif.extend_from_slice(&[0, 0, 0, 0x3B]);
    gif
}

/// A JPEG whose start-of-frame says `width` x `height` (one component), with
/// no scan.
fn jpeg(width: u16, height: u16) -> Vec<u8> {
    // Start of image; SOF0 of 11 bytes, 8-bit samples.
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8];
    jpeg.extend_from_slice(&height.to_be_bytes());
    jpeg.extend_from_slice(&width.to_be_bytes());
    // One component (id 1, no subsampling, table 0); end of image.
    jpeg.extend_from_slice(&[1, 1, 0x11, 0, 0xFF, 0xD9]);
    jpeg
}

/// An extended WebP (a VP8X chunk) whose canvas is `width` x `height`.
fn webp(width: u32, height: u32) -> Vec<u8> {
    let mut chunk = b"VP8X".to_vec();
    chunk.extend_from_slice(&10u32.to_le_bytes());
    chunk.extend_from_slice(&[0; 4]); // flags and reserved bits
    chunk.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    chunk.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    let mut webp = b"RIFF".to_vec();
    webp.extend_from_slice(&(4 + chunk.len() as u32).to_le_bytes());
    webp.extend_from_slice(b"WEBP");
    webp.extend(chunk);
    webp
}

/// A lossy WebP (a VP8 chunk): 14-bit sizes, each with 2 bits of scaling
/// hint above them.
fn lossy_webp(width: u16, height: u16, scale: u16) -> Vec<u8> {
    let mut chunk = b"VP8 ".to_vec();
    chunk.extend_from_slice(&10u32.to_le_bytes());
    chunk.extend_from_slice(&[0x50, 0x01, 0x00]); // a key frame's tag
    chunk.extend_from_slice(&[0x9D, 0x01, 0x2A]); // its start code
    chunk.extend_from_slice(&(width | scale << 14).to_le_bytes());
    chunk.extend_from_slice(&(height | scale << 14).to_le_bytes());
    let mut webp = b"RIFF".to_vec();
    webp.extend_from_slice(&(4 + chunk.len() as u32).to_le_bytes());
    webp.extend_from_slice(b"WEBP");
    webp.extend(chunk);
    webp
}

// 13,377² = 178,944,129 pixels is within the limit, 13,378² = 178,970,884
// is not.

#[test]
fn png_headers_are_refused_over_the_pixel_limit_and_at_zero() {
    assert_eq!(verify_image(&png(16, 16)), Some(ImageKind::Png));
    // The limit itself is allowed, as Pillow allows it; one pixel more is not.
    let limit = MAX_IMAGE_PIXELS as u32;
    assert_eq!(verify_image(&png(limit, 1)), Some(ImageKind::Png));
    assert_eq!(verify_image(&png(limit / 2, 2)), Some(ImageKind::Png));
    assert_eq!(verify_image(&png(limit + 1, 1)), None);
    assert_eq!(verify_image(&png(13_378, 13_378)), None);
    assert_eq!(verify_image(&png(100_000, 100_000)), None);
    assert_eq!(verify_image(&png(u32::MAX, u32::MAX)), None);
    assert_eq!(verify_image(&png(0, 16)), None);
    assert_eq!(verify_image(&png(16, 0)), None);
}

#[test]
fn gif_headers_are_refused_over_the_pixel_limit_and_at_zero() {
    assert_eq!(verify_image(&gif(16, 16)), Some(ImageKind::Gif));
    assert_eq!(verify_image(&gif(13_377, 13_377)), Some(ImageKind::Gif));
    assert_eq!(verify_image(&gif(13_378, 13_378)), None);
    assert_eq!(verify_image(&gif(u16::MAX, u16::MAX)), None);
    assert_eq!(verify_image(&gif(0, 16)), None);
    assert_eq!(verify_image(&gif(16, 0)), None);
}

#[test]
fn jpeg_headers_are_refused_over_the_pixel_limit_and_at_zero() {
    assert_eq!(verify_image(&jpeg(16, 16)), Some(ImageKind::Jpeg));
    assert_eq!(verify_image(&jpeg(13_377, 13_377)), Some(ImageKind::Jpeg));
    assert_eq!(verify_image(&jpeg(13_378, 13_378)), None);
    assert_eq!(verify_image(&jpeg(u16::MAX, u16::MAX)), None);
    assert_eq!(verify_image(&jpeg(0, 16)), None);
    assert_eq!(verify_image(&jpeg(16, 0)), None);
}

#[test]
fn webp_headers_are_refused_over_the_pixel_limit() {
    // A VP8X canvas is at least 1 x 1: its sizes are stored minus one.
    assert_eq!(verify_image(&webp(16, 16)), Some(ImageKind::Webp));
    assert_eq!(verify_image(&webp(13_377, 13_377)), Some(ImageKind::Webp));
    assert_eq!(verify_image(&webp(13_378, 13_378)), None);
    assert_eq!(verify_image(&webp(1 << 24, 1 << 24)), None);
}

#[test]
fn a_lossy_webps_scaling_hint_is_not_read_as_size() {
    assert_eq!(
        verify_image(&lossy_webp(640, 480, 0)),
        Some(ImageKind::Webp)
    );
    // With the hint, the 16 bits read 17,024 x 16,864: over the limit.
    assert_eq!(
        verify_image(&lossy_webp(640, 480, 1)),
        Some(ImageKind::Webp)
    );
    assert_eq!(
        verify_image(&lossy_webp(640, 480, 3)),
        Some(ImageKind::Webp)
    );
    assert_eq!(verify_image(&lossy_webp(0, 480, 1)), None);
}
