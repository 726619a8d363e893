import { describe, it } from 'vitest';
import { decideSystem, type SystemPrerequisite } from './system';

/**
 * `describe` for tests that need something from the machine. Runs `suite` when every
 * prerequisite is present; otherwise skips it with a message naming what is missing and how
 * to install it — or, with `KE_REQUIRE_SYSTEM=1`, registers one failing test with that message.
 */
export function describeWithSystem(
  title: string,
  prerequisites: readonly SystemPrerequisite[],
  suite: () => void,
): void {
  const decision = decideSystem(prerequisites);
  if (decision.action === 'run') {
    describe(title, suite);
    return;
  }
  if (decision.action === 'fail') {
    describe(title, () => {
      it('has its system prerequisites', () => {
        throw new Error(decision.message);
      });
    });
    return;
  }
  console.warn(`[skipped] ${title}: ${decision.message}`);
  describe.skip(`${title} [${decision.message}]`, suite);
}
