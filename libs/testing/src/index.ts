/**
 * @packageDocumentation
 * Test helpers shared by kubeedge-ts workspaces (not published)
 */
export {};
