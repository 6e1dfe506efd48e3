// Types for bundle.mjs (plain JavaScript: it runs before anything can load TypeScript).
export const BUNDLE_DIR: string;
export const ENTRIES: { cli: string; worker: string; dev: string };
export function bundlesFresh(manifestPath?: string): boolean;
export function buildBundles(): Promise<void>;
export function entryUrl(name: 'cli' | 'worker' | 'dev'): Promise<string>;
/** esbuild options shared by the checkout's and the package's bundles; `metaUrl(sourcePath)` replaces import.meta.url. */
export function sharedBuildOptions(metaUrl: (sourcePath: string) => string): Record<string, unknown>;
