// `cloudprobe/vitest`: the matrix as vitest tests. Placeholder re-export until the module moves here.
export * from '../matrix/vitest.ts';
