import { describe, expect, it } from 'vitest';
import { vcpuThreadExecArgv } from './pool.ts';

describe('vcpuThreadExecArgv', () => {
  it("drops tsx's loader hooks in every spelling and keeps every other flag", () => {
    expect(vcpuThreadExecArgv(['--import', 'tsx', '--enable-source-maps'])).toEqual(['--enable-source-maps']);
    expect(vcpuThreadExecArgv(['--import=tsx', '--loader', 'tsx/esm', '-r', 'tsx/cjs', '--max-old-space-size=512'])).toEqual(['--max-old-space-size=512']);
    expect(vcpuThreadExecArgv(['--import', 'file:///x/node_modules/tsx/dist/loader.mjs'])).toEqual([]);
    expect(vcpuThreadExecArgv(['--import', './setup.mjs', '--conditions', 'tsx'])).toEqual(['--import', './setup.mjs', '--conditions', 'tsx']);
    expect(vcpuThreadExecArgv(['--import'])).toEqual(['--import']);
  });
});
