export function build(options?: { staleOnly?: boolean; quiet?: boolean }): Set<string>;
