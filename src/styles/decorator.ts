/**
 * `@blocking`: a standard (TC39) method decorator whose method body runs in a worker.
 *
 * The class lives in the pool's own task module, so the same file runs on both sides. On the
 * calling side the method becomes a call into the pool, addressed as `Class#method`; inside a
 * worker it is left as written, and the worker runs it on its own instance of the class, built
 * with no arguments. The caller's instance never crosses the boundary, which is what broke
 * Python's ProcessPoolExecutor in the pattern this replaces.
 */
import { METHOD_SEPARATOR } from '../protocol/messages.js';
import { dispatch, type Pool } from '../pool/pool.js';
import { isWorker, markBlockingMethod } from '../worker/context.js';
import { quoted } from '../quoted.js';

export interface BlockingOptions {
  /**
   * The pool that runs the method, as a function because the pool is usually created below the
   * class in the same module.
   */
  pool: () => Pool<object>;
}

type AsyncMethod<This, Args extends unknown[], R> = (this: This, ...args: Args) => Promise<R>;

export function blocking(options: BlockingOptions) {
  if (options === null || typeof options !== 'object' || typeof options.pool !== 'function') {
    throw new TypeError('@blocking needs { pool: () => pool }');
  }
  return function decorate<This extends object, Args extends unknown[], R>(
    method: AsyncMethod<This, Args, R>,
    context: ClassMethodDecoratorContext<This, AsyncMethod<This, Args, R>> & { readonly static: false; readonly private: false },
  ): AsyncMethod<This, Args, R> {
    if (context.kind !== 'method' || context.static || context.private) {
      throw new TypeError('@blocking decorates public instance methods');
    }
    if (isWorker()) {
      markBlockingMethod(method);
      return method;
    }
    const methodName = String(context.name);
    const key = context.name;
    return async function offloaded(this: This, ...args: Args): Promise<R> {
      const owner = classToAddress(this, key, offloaded);
      // Detached from its instance (passed as a callback, an event listener) `this` is another
      // object or none: the call is refused here rather than sent under that object's class name.
      if (owner === undefined) {
        const found = this === null ? 'null' : typeof this === 'object' ? 'an object of another class' : typeof this;
        throw new TypeError(
          `@blocking method ${quoted(methodName)} was called without an instance of its class (this is ${found}): call it on the instance, or pass instance.${methodName}.bind(instance)`,
        );
      }
      const className: unknown = owner.name;
      if (typeof className !== 'string' || className === '') {
        throw new TypeError(`@blocking method ${quoted(methodName)} was called on an instance of an anonymous class: a worker finds the class by its exported name`);
      }
      const name = `${className}${METHOD_SEPARATOR}${methodName}`;
      return (await options.pool()[dispatch](name, args)) as R;
    };
  };
}

/**
 * The class whose name the worker resolves the call by, read from prototypes (an instance's own
 * `constructor` property names nothing): the instance's own class, where the method it inherits
 * is this one, so the worker builds an instance of that subclass; the class declaring it, for a
 * `super` call from a subclass that overrides it. Undefined when `target` is no instance of a
 * class with the method.
 */
function classToAddress(target: unknown, key: string | symbol, method: unknown): { name?: unknown } | undefined {
  if (target === null || (typeof target !== 'object' && typeof target !== 'function')) return undefined;
  const own = Object.getPrototypeOf(target) as object | null;
  let isOverridden = false;
  for (let prototype = own; prototype !== null; prototype = Object.getPrototypeOf(prototype) as object | null) {
    const descriptor = Object.getOwnPropertyDescriptor(prototype, key);
    if (descriptor === undefined) continue;
    if (descriptor.value === method) return ownConstructor(isOverridden ? prototype : own!);
    isOverridden = true;
  }
  return undefined;
}

function ownConstructor(prototype: object): { name?: unknown } | undefined {
  const value = Object.getOwnPropertyDescriptor(prototype, 'constructor')?.value as unknown;
  return typeof value === 'function' ? value : undefined;
}
