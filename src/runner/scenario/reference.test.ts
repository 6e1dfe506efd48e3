import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JSON_SCHEMA, jsonSchemaText, README } from '../../cli/docs.ts';
import { scenarioReferenceMarkdown, withReference } from './reference.ts';

describe('generated scenario reference', () => {
  it('lists every top-level and nested field', () => {
    const md = scenarioReferenceMarkdown();
    for (const f of ['name', 'guest', 'vcpus', 'memory_mb', 'timeout_s', 'guest_arg', 'expect', 'expect.exit_action']) {
      expect(md).toContain(`| \`${f}\` |`);
    }
    expect(md).toContain('`Shutdown` \\| `Fatal` \\| `Timeout`');
  });

  it("lists the fields of list items and of a union's mapping", () => {
    const md = scenarioReferenceMarkdown();
    for (const f of ['watchpoints[].name', 'watchpoints[].address', 'devices.blk[].readonly', 'topology.numa_nodes', 'topologies[].llcs']) {
      expect(md).toContain(`| \`${f}\` |`);
    }
    expect(md).toContain('| `topology` | string \\| object |');
    expect(md).toContain('| `watchpoints[].address` | integer (>= 0) \\| string |');
    expect(md).not.toMatch(/\| any \||9007199254740991/);
  });

  it('README.md is up to date (run `node scripts/dev.mjs docs`)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(withReference(readme)).toBe(readme);
  });

  it("the JSON Schema names itself and schedvm's version", () => {
    const version = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version;
    expect(JSON.parse(jsonSchemaText())).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: `https://unpkg.com/schedvm@${version}/schema/scenario.schema.json`,
      title: `schedvm scenario (schedvm ${version})`,
    });
  });

  it('schema/scenario.schema.json is up to date (run `node scripts/dev.mjs docs`)', () => {
    expect(readFileSync(JSON_SCHEMA, 'utf8')).toBe(jsonSchemaText());
  });
});
