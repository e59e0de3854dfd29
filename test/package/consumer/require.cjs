// CommonJS: require(esm), on Node 20.19 and later.
const assert = require('node:assert/strict');
const offload = require('offload');
assert.equal(typeof offload.createPool, 'function');
assert.equal(new offload.TimeoutError(5).code, 'ERR_OFFLOAD_TIMEOUT');
console.log('require ok');
