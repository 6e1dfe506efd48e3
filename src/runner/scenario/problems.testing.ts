// For tests: the located message a broken scenario text gets.
import { parseScenario, ScenarioError } from './load.ts';

export function scenarioProblems(text: string, file: string): string {
  try {
    parseScenario(text, file);
  } catch (e) {
    if (e instanceof ScenarioError) return e.message;
    throw e;
  }
  throw new Error('expected a ScenarioError');
}
