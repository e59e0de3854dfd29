/** Where the worker-side entry files live, as `.ts` when offload runs from source. */
export function entryUrl(name) {
    const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    return new URL(`../worker/${name}${extension}`, import.meta.url);
}
const TYPESCRIPT = /\.[cm]?tsx?$/;
let loader;
/**
 * The URL of tsx's register API when a worker must load TypeScript (offload itself running
 * from source, or a `.ts` task module), so that `.ts` works in development without flags.
 * Node 20 does not run `--import` hooks in worker threads, so each worker registers its own.
 */
export function typeScriptLoader(moduleUrl) {
    if (!TYPESCRIPT.test(import.meta.url) && !TYPESCRIPT.test(new URL(moduleUrl).pathname))
        return undefined;
    if (loader === undefined) {
        try {
            loader = import.meta.resolve('tsx/esm/api');
        }
        catch {
            loader = null;
        }
    }
    return loader ?? undefined;
}
