/**
 * QR codes of pairing invitations, drawn by the `qrcode` package (ISO/IEC 18004) and turned into one
 * SVG path, so the dashboard draws them with its own markup (no HTML string is injected).
 *
 * An invitation code (`FZ1` + upper-case base32, docs/mesh.md) lies wholly inside QR's alphanumeric
 * mode (ISO/IEC 18004 §7.3.4: 0–9, A–Z and nine symbols), which packs 11 bits per 2 characters: a
 * 75-character code (two IPv4 addresses) fits a version 4 symbol (33×33 modules) at error correction
 * level M, where byte mode would need version 5 (37×37).
 */
import QRCode from 'qrcode';

/** A QR symbol's modules. */
export interface QrSymbol {
  /** Modules per side (21 for version 1, +4 per version). */
  size: number;
  /** The QR version, 1–40. */
  version: number;
  /** Whether the module at column `x`, row `y` is dark. */
  dark(x: number, y: number): boolean;
}

/** Modules of light border QR readers need around the symbol (ISO/IEC 18004 §6.3.8: four). */
export const QUIET_ZONE = 4;

/**
 * The QR symbol of `text`, in alphanumeric mode when every character allows it (an invitation code
 * always does) and byte mode otherwise; error correction level M (15 % of the symbol may be lost).
 * @throws Error from `qrcode` when the text is too long for any QR version (over 4,296 alphanumeric characters).
 */
export function qrSymbol(text: string): QrSymbol {
  const alnum = /^[0-9A-Z $%*+\-./:]*$/.test(text);
  const qr = QRCode.create(alnum ? [{ data: text, mode: 'alphanumeric' }] : text, { errorCorrectionLevel: 'M' });
  const { size, data } = qr.modules;
  return { size, version: qr.version, dark: (x, y) => data[y * size + x] === 1 };
}

/**
 * One SVG path (`M x y h1 v1 h-1 z` per run of dark modules on a row) drawing the symbol in a
 * `viewBox` of `size + 2 × QUIET_ZONE` units, one unit per module, the quiet zone included.
 */
export function qrPath(sym: QrSymbol): string {
  const parts: string[] = [];
  for (let y = 0; y < sym.size; y++) {
    let x = 0;
    while (x < sym.size) {
      if (!sym.dark(x, y)) {
        x++;
        continue;
      }
      const start = x;
      while (x < sym.size && sym.dark(x, y)) x++;
      parts.push(`M${start + QUIET_ZONE} ${y + QUIET_ZONE}h${x - start}v1h-${x - start}z`);
    }
  }
  return parts.join('');
}
