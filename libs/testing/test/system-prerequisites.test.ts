import { describe, expect, it } from 'vitest';
import { command, decideSystem, rootUser } from '../src/index';

const missing = command('ke-no-such-command-xyz', { debianPackage: 'ke-nothing' });
const present = command('node');

describe('system prerequisites', () => {
  it('runs when everything is present', () => {
    expect(decideSystem([present], {})).toEqual({ action: 'run' });
  });

  it('skips with a message naming what is missing and how to install it', () => {
    const decision = decideSystem([present, missing], {});
    expect(decision.action).toBe('skip');
    if (decision.action === 'run') throw new Error('unreachable');
    expect(decision.message).toContain("command 'ke-no-such-command-xyz' is not on PATH");
    expect(decision.message).toContain('apt-get install -y ke-nothing');
  });

  it('fails instead of skipping when KE_REQUIRE_SYSTEM=1', () => {
    const decision = decideSystem([missing], { KE_REQUIRE_SYSTEM: '1' });
    expect(decision.action).toBe('fail');
    if (decision.action === 'run') throw new Error('unreachable');
    expect(decision.message).toContain('KE_REQUIRE_SYSTEM=1');
  });

  it('knows whether it runs as root', () => {
    const root = process.getuid?.() === 0;
    expect(rootUser().check() === undefined).toBe(root);
  });
});
