//! QR codes for MFA enrolment: the otpauth URI as a PNG data URL that a
//! browser can show in an `<img>` without a second request. No I/O: the PNG is built in memory.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use image::{ExtendedColorType, ImageEncoder, Luma, codecs::png::PngEncoder};
use qrcode::{EcLevel, QrCode};

use super::KeyError;

/// Pixels per module: an otpauth URI (version ~6–8, ~50 modules) gives an image of roughly
/// 350 px with the quiet zone, easy for a phone camera to read off a screen.
const MODULE_PX: u32 = 6;

/// `data:image/png;base64,…` of a QR code of `text` (greyscale, with the 4-module quiet zone
/// scanners need). Error correction M: enough for a screen glare, fewer modules than Q/H.
/// Fails only for text too long for any QR code (~2.3 KB at level M).
pub fn png_data_url(text: &str) -> Result<String, KeyError> {
    let code = QrCode::with_error_correction_level(text, EcLevel::M)
        .map_err(|e| KeyError(format!("QR encoding failed: {e}")))?;
    let img = code
        .render::<Luma<u8>>()
        .quiet_zone(true)
        .module_dimensions(MODULE_PX, MODULE_PX)
        .build();
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::L8,
        )
        .map_err(|e| KeyError(format!("PNG encoding failed: {e}")))?;
    Ok(format!("data:image/png;base64,{}", STANDARD.encode(png)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::auth::totp::{base32_secret, otpauth_uri};

    /// Decodes a data URL produced above back to the text in its QR code, the way a phone would.
    fn scan(url: &str) -> String {
        let b64 = url.strip_prefix("data:image/png;base64,").unwrap();
        let png = STANDARD.decode(b64).unwrap();
        let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
            .unwrap()
            .to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
            img.width() as usize,
            img.height() as usize,
            |x, y| img.get_pixel(x as u32, y as u32).0[0],
        );
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        content
    }

    #[test]
    fn png_decodes_back_to_the_exact_otpauth_uri() {
        let uri = otpauth_uri(
            "edgeauth",
            "bob+mfa@example.com",
            &base32_secret(b"12345678901234567890"),
        );
        let url = png_data_url(&uri).unwrap();
        assert_eq!(scan(&url), uri);
    }

    #[test]
    fn image_has_quiet_zone_and_module_size() {
        let url = png_data_url("hello").unwrap();
        let png = STANDARD
            .decode(url.strip_prefix("data:image/png;base64,").unwrap())
            .unwrap();
        let img = image::load_from_memory(&png).unwrap().to_luma8();
        // Version 1 at level M: 21 modules + 2 × 4 quiet zone = 29 modules.
        assert_eq!(
            (img.width(), img.height()),
            (29 * MODULE_PX, 29 * MODULE_PX)
        );
        // The quiet zone is light all round; the finder pattern's corner is dark.
        let q = 4 * MODULE_PX;
        assert!((0..img.width()).all(|x| img.get_pixel(x, q - 1).0[0] == 255));
        assert!((0..img.height()).all(|y| img.get_pixel(q - 1, y).0[0] == 255));
        assert_eq!(img.get_pixel(q, q).0[0], 0);
        assert_eq!(scan(&url), "hello");
    }

    #[test]
    fn text_too_long_for_a_qr_code_is_an_error() {
        assert!(png_data_url(&"a".repeat(5000)).is_err());
    }
}
