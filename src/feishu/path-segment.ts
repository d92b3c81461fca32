/** Ids made safe as a path segment of an Open API URL (the SDK does not encode them). */
import { ExternalError } from '../ports.js';

/**
 * An id for a path segment of an Open API URL. The SDK puts path parameters in as they are
 * (fillApiPath does no encoding), so `../../contact/v3/users/x` as an instance code would reach
 * another endpoint with the app's token. Encoded, a slash cannot leave its segment; `.` and `..`
 * (which URL parsers resolve even as %2E) and control characters are refused outright.
 */
export function pathSegment(what: string, id: string): string {
  if (id === '' || id.length > 200 || /^\.{1,2}$/.test(id) || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new ExternalError('permanent', `feishu: ${what} ${JSON.stringify(id.slice(0, 40))} is not a valid id`);
  }
  return encodeURIComponent(id);
}
