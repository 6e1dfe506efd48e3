// `// @vitest-environment schedvm` loads this package. The environment is TypeScript in schedvm
// itself: vite's module runner transforms it, and tsx covers a plain Node import (a schedvm
// installed under node_modules is not transformed by vite).
import { register } from 'tsx/esm/api';

register();
const { default: environment } = await import('schedvm/environment');
export default environment;
