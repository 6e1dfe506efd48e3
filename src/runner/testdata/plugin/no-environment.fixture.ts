// No environment docblock here: using the fixtures must say what is missing.
import { expect, test } from 'schedvm';

test('asks for the environment', async ({ vm }) => {
  expect(vm).toBeDefined();
});
