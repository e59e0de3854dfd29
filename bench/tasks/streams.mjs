import { transfer } from '../../dist/index.js';

export function* smallItems(n) {
  for (let i = 0; i < n; i++) yield i;
}

export function* chunks(totalBytes, chunkBytes) {
  for (let sent = 0; sent < totalBytes; sent += chunkBytes) yield transfer(new Uint8Array(chunkBytes));
}
