// Types for what tests read from eslint.config.js (the import layering table).
export declare const LAYERS: Readonly<Record<string, readonly string[]>>;
declare const config: unknown;
export default config;
