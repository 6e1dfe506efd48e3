// `// @vitest-environment schedvm` loads this package: vitest looks for vitest-environment-<name>.
// The environment itself is schedvm's (built JavaScript when installed; in schedvm's own
// checkout, its vitest config points `schedvm/environment` at the TypeScript).
export { default } from 'schedvm/environment';
