/**
 * The pool's FIFO (a ring that grows and shrinks, used for every worker's in-flight tasks and the
 * waiting line) behaves exactly like an array used as a queue, whatever the sequence of
 * operations: random programs (fast-check) run against both, compared after every step, across
 * wrap-arounds, growth and shrinking.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Queue } from '../src/pool/queue.js';

type Operation =
  | { op: 'push' | 'unshift' | 'remove'; value: number }
  | { op: 'insert'; value: number; at: number }
  | { op: 'shift' | 'pop' | 'drain' | 'burst' | 'empty' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constantFrom('push' as const, 'unshift' as const, 'remove' as const), value: fc.integer({ min: 0, max: 40 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom('shift' as const, 'pop' as const) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('insert' as const), value: fc.integer({ min: 0, max: 40 }), at: fc.integer({ min: -2, max: 90 }) }) },
  // Bursts and emptying drive the ring through growth and back down through shrinking.
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('burst' as const, 'empty' as const, 'drain' as const) }) },
);

test('the FIFO ring answers every operation as an array queue would', () => {
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 200 }), (program) => {
      const queue = new Queue<number>();
      const model: number[] = [];
      for (const step of program) {
        switch (step.op) {
          case 'push':
            queue.push(step.value);
            model.push(step.value);
            break;
          case 'unshift':
            queue.unshift(step.value);
            model.unshift(step.value);
            break;
          case 'insert':
            queue.insert(step.at, step.value);
            model.splice(Math.max(0, step.at), 0, step.value);
            break;
          case 'remove': {
            const index = model.indexOf(step.value);
            if (index !== -1) model.splice(index, 1);
            assert.equal(queue.remove(step.value), index !== -1);
            break;
          }
          case 'shift':
            assert.equal(queue.shift(), model.shift());
            break;
          case 'pop':
            assert.equal(queue.pop(), model.pop());
            break;
          case 'burst':
            for (let i = 0; i < 70; i++) {
              queue.push(100 + i);
              model.push(100 + i);
            }
            break;
          case 'empty':
            while (model.length > 0) assert.equal(queue.shift(), model.shift());
            assert.equal(queue.shift(), undefined);
            break;
          case 'drain':
            assert.deepEqual(queue.drain(), model.splice(0));
            break;
        }
        assert.equal(queue.length, model.length);
        assert.equal(queue.peek(), model[0]);
        assert.equal(queue.last(), model.at(-1));
        assert.deepEqual([...queue], model);
        for (let i = 0; i < model.length; i++) assert.equal(queue.at(i), model[i]);
        assert.equal(queue.at(model.length), undefined);
      }
    }),
    { numRuns: 300 },
  );
});
