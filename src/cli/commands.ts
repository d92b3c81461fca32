/**
 * Commands beyond serve/migrate register themselves here (one import per command file), so
 * node.ts stays a dispatcher.
 */
export {};
