/**
 * `obj[key] = value` as an own property, whatever the key: an assignment to "__proto__" (a key
 * anyone can put in a Feishu payload) would set the object's prototype instead and lose the
 * entry. For every object built from keys that came from outside.
 */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
