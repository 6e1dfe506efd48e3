// `node scripts/dev.mjs docs`: regenerates README's scenario reference and schema/scenario.schema.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { scenarioJsonSchema, withReference } from '../runner/scenario/reference.ts';

export const README = fileURLToPath(new URL('../../README.md', import.meta.url));
export const JSON_SCHEMA = fileURLToPath(new URL('../../schema/scenario.schema.json', import.meta.url));

export function jsonSchemaText(): string {
  return `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
}

export async function main(): Promise<number> {
  writeFileSync(README, withReference(readFileSync(README, 'utf8')));
  mkdirSync(fileURLToPath(new URL('../../schema', import.meta.url)), { recursive: true });
  writeFileSync(JSON_SCHEMA, jsonSchemaText());
  process.stderr.write(`docs: wrote ${README} and ${JSON_SCHEMA}\n`);
  return 0;
}
