/**
 * The demo's CPU-heavy jobs, plain functions with no per-worker state: the pool runs them in
 * workers (re-exported by tasks.ts) and the `inline` routes call them on the main thread.
 */
import { scryptSync } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { isCancelled, progress } from 'offload';

/** Node's default scrypt cost (N = 2^14, r = 8): about 100 ms of one core, by design. */
export function hashPassword(password: string, salt: string): string {
  return scryptSync(password, salt, 32, { N: 2 ** 14, r: 8, p: 1 }).toString('hex');
}

/**
 * Renders a Mandelbrot view and encodes it as a PNG: an image-sized CPU job (about a hundred
 * milliseconds for 800×600). Checks for cancellation at each row, so a client that leaves stops
 * the work within a row.
 */
export function renderImage(width: number, height: number): Uint8Array | null {
  const rowLength = 1 + width * 3; // each PNG scanline starts with its filter byte (0: none)
  const pixels = Buffer.alloc(rowLength * height);
  const maxIterations = 200;
  for (let y = 0; y < height; y++) {
    if (isCancelled()) return null;
    // Throttled by offload, so reporting every row is cheap; a no-op when run inline.
    progress({ rows: y + 1, of: height });
    const ci = ((y - height / 2) / height) * 2.4;
    for (let x = 0; x < width; x++) {
      const cr = ((x - width * 0.65) / width) * 3.2;
      let zr = 0;
      let zi = 0;
      let iteration = 0;
      while (iteration < maxIterations && zr * zr + zi * zi < 4) {
        const next = zr * zr - zi * zi + cr;
        zi = 2 * zr * zi + ci;
        zr = next;
        iteration++;
      }
      const shade = iteration === maxIterations ? 0 : iteration / maxIterations;
      const offset = y * rowLength + 1 + x * 3;
      pixels[offset] = Math.round(255 * Math.sqrt(shade));
      pixels[offset + 1] = Math.round(255 * shade * shade);
      pixels[offset + 2] = Math.round(255 * (0.5 + 0.5 * Math.sin(shade * 12)) * (shade > 0 ? 1 : 0));
    }
  }
  return encodePng(width, height, pixels);
}

function encodePng(width: number, height: number, scanlines: Buffer): Uint8Array {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // truecolour RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(scanlines)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

// zlib.crc32 arrived in Node 22; the demo runs on 20.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
