//! QR codes as PNG, SVG or terminal text, rendered from the payload the
//! engine reported. Rendering is pure and synchronous; a PNG of a WhatsApp
//! payload is ~2 KB and takes well under a millisecond.

use qrcode::render::{svg, unicode};
use qrcode::{EcLevel, QrCode};

/// Pixels per QR module in the PNG.
const SCALE: usize = 8;
/// Blank modules around the code, as the QR spec requires for scanners.
const QUIET: usize = 4;

fn code(payload: &str) -> Result<QrCode, String> {
    // Level L like WhatsApp Web: the payload is long and screens are clean.
    QrCode::with_error_correction_level(payload, EcLevel::L).map_err(|e| e.to_string())
}

/// An 8-bit greyscale PNG.
pub fn png(payload: &str) -> Result<Vec<u8>, String> {
    let qr = code(payload)?;
    let modules = qr.width();
    let side = (modules + 2 * QUIET) * SCALE;
    let dark: Vec<bool> = qr.to_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect();
    let mut pixels = vec![255u8; side * side];
    for y in 0..modules {
        for x in 0..modules {
            if !dark[y * modules + x] {
                continue;
            }
            for dy in 0..SCALE {
                let row = (y + QUIET) * SCALE + dy;
                let start = row * side + (x + QUIET) * SCALE;
                pixels[start..start + SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::with_capacity(4096);
    let side32 = u32::try_from(side).map_err(|e| e.to_string())?;
    let mut encoder = png::Encoder::new(&mut out, side32, side32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&pixels).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

pub fn svg(payload: &str) -> Result<String, String> {
    Ok(code(payload)?.render::<svg::Color<'_>>().min_dimensions(264, 264).quiet_zone(true).build())
}

/// Two rows per line with half blocks, for `curl … | cat` in a terminal.
pub fn text(payload: &str) -> Result<String, String> {
    Ok(code(payload)?
        .render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &str = "2@AbCdEf0123456789abcdef,Zm9vYmFyYmF6cXV4cXV1eA==,aWRlbnRpdHk=,YWR2LXNlY3JldA==";

    #[test]
    fn renders_every_format() {
        let png = png(PAYLOAD).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(svg(PAYLOAD).unwrap().starts_with("<?xml"));
        let text = text(PAYLOAD).unwrap();
        assert!(text.lines().count() > 10);
    }

    #[test]
    fn png_side_follows_module_count() {
        let png = png(PAYLOAD).unwrap();
        let reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
        let info = reader.info();
        let modules = code(PAYLOAD).unwrap().width();
        assert_eq!(info.width as usize, (modules + 2 * QUIET) * SCALE);
    }
}
