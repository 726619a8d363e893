export interface Workspace {
  /** Path relative to the repository root, e.g. `libs/beehive`. */
  dir: string;
  /** Absolute path. */
  path: string;
  manifest: {
    name: string;
    version: string;
    private?: boolean;
    files?: string[];
    scripts?: Record<string, string>;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
}
export const root: string;
export function workspaces(): Workspace[];
export function publishable(): Workspace[];
