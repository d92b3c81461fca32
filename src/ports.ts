/**
 * The contracts between the domain and the outside services. Implementations: src/google/ (real
 * Google Calendar through @googleapis/calendar) and src/feishu/client.ts (Feishu Open API through
 * @larksuiteoapi/node-sdk). Tests hand in the same implementations pointed at fake servers.
 */

/**
 * How an outbound failure is handled by the outbox (docs/architecture.md). `rate_limited`: the
 * service refused the call for going over its quota; the call is delayed, never counted as a
 * failed attempt.
 */
export type FailureClass = 'transient' | 'permanent' | 'configuration' | 'rate_limited';

export class ExternalError extends Error {
  constructor(
    readonly failure: FailureClass,
    message: string,
    readonly status?: number,
    readonly reason?: string,
    /** how long the service asked us to wait (its Retry-After), when it said */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ExternalError';
  }
}

/** What a person does about an outside service's failure (src/feishu/error-codes.ts, src/google/error-codes.ts). */
export interface Explanation {
  /** what went wrong, in words a person can act on */
  cause: string;
  fix: string;
  /** where the service documents it */
  source: string;
}

export type DeclineMode = 'declineNone' | 'declineAllConflictingInvitations' | 'declineOnlyNewConflictingInvitations';

/** The calendar state we want for one block of an approved record. */
export interface WantedBlock {
  instanceCode: string;
  /** '' (or absent) for a record's single block; a trip's `<segment>@<employee_id>` (src/leave/blocks.ts) */
  blockKey?: string;
  /** the employee's primary calendar = their Google Workspace email */
  calendarId: string;
  start: Date;
  end: Date;
  timeZone: string;
  summary: string;
  declineMode: DeclineMode;
  declineMessage: string;
  /**
   * A tentative hold for a request still pending: a default event (never out-of-office, so it
   * never declines anything), with this transparency. Its id is its own (block key `hold…`):
   * Google never changes an event's type, so the out-of-office block that replaces it cannot
   * reuse it.
   */
  hold?: { transparency: 'transparent' | 'opaque' };
  /**
   * A block its policy shows as busy (opaque) or free (transparent): a default event that declines
   * nothing, under its own id (block key `plain…`), for the same reason as a hold.
   */
  plain?: { transparency: 'transparent' | 'opaque' };
}

export interface BlockState {
  eventId: string;
  eventType: 'outOfOffice' | 'default';
  /** why an opaque default event stands in for an out-of-office one, else null */
  fallbackReason: string | null;
  start: Date;
  end: Date;
}

export interface GoogleEventSummary {
  eventId: string;
  /** from our private extended property; null for events we did not make */
  instanceCode: string | null;
  /** the block of the record; absent for a record's single block */
  blockKey?: string;
  status: string;
  eventType: string;
  start: Date | null;
  end: Date | null;
}

/**
 * One event on the shared team absence calendar: a default, transparent event (it must not make
 * the calendar's owner look busy), all-day (`dates`, end exclusive) or timed.
 */
export interface WantedTeamEvent {
  instanceCode: string;
  /** `team` or `team@<employee_id>` (src/leave/team.ts): the event id is the block's */
  teamKey: string;
  calendarId: string;
  /** the Workspace user the service account acts as */
  subject: string;
  summary: string;
  /** whole local days [first, afterLast), or null for a timed event */
  dates: { first: string; afterLast: string } | null;
  start: Date;
  end: Date;
  timeZone: string;
}

export interface TeamEventState {
  eventId: string;
  start: Date;
  end: Date;
}

export interface CalendarPort {
  /** Create or bring to the wanted state (idempotent: deterministic id, 409 understood). */
  upsertBlock(block: WantedBlock): Promise<BlockState>;
  /** Delete; 404/410 mean it is already gone. */
  deleteBlock(calendarId: string, instanceCode: string, blockKey?: string): Promise<'deleted' | 'already_gone'>;
  getBlock(calendarId: string, instanceCode: string, blockKey?: string): Promise<GoogleEventSummary | null>;
  /** Events on the calendar carrying our private marker, overlapping [timeMin, timeMax). */
  listMarkedEvents(calendarId: string, timeMin: Date, timeMax: Date): Promise<GoogleEventSummary[]>;
  /** The team calendar's event of an absence: created or brought to the wanted state (idempotent like upsertBlock). */
  upsertTeamEvent(event: WantedTeamEvent): Promise<TeamEventState>;
  deleteTeamEvent(calendarId: string, subject: string, instanceCode: string, teamKey: string): Promise<'deleted' | 'already_gone'>;
  /** Our marked events on another user's calendar (the team calendar), acting as `subject`. */
  listMarkedEventsAs(subject: string, calendarId: string, timeMin: Date, timeMax: Date): Promise<GoogleTeamEventSummary[]>;
}

export interface GoogleTeamEventSummary extends GoogleEventSummary {
  summary: string;
  allDay: boolean;
}

export interface FeishuUser {
  userId: string;
  openId: string | null;
  name: string | null;
  email: string | null;
  enterpriseEmail: string | null;
  /** open_department_ids of the departments the user is a direct member of; null when not given */
  departmentIds?: string[] | null;
}

export interface FeishuInstance {
  instanceCode: string;
  approvalCode: string;
  /** PENDING | APPROVED | REJECTED | CANCELED | DELETED | REVERTED … */
  status: string;
  reverted: boolean;
  userId: string | null;
  openId: string | null;
  /** the raw form (JSON string of widgets) as the API returns it */
  form: string;
  startTimeMs: number | null;
  endTimeMs: number | null;
}

/** One page of CoreHR leave requests (GET /open-apis/corehr/v1/leaves/leave_request_history). */
export interface LeaveRequestQuery {
  /** `yyyy-MM-dd HH:mm:ss`, as the API takes them */
  updateTimeMin?: string;
  updateTimeMax?: string;
  /** `yyyy-MM-dd`: requests whose leave starts on or before / ends on or after */
  startDateMax?: string;
  endDateMin?: string;
  pageSize: number;
  pageToken?: string;
}

export interface LeaveRequestPage {
  /** the records as Feishu sent them (read by src/feishu/corehr.ts) */
  items: unknown[];
  hasMore: boolean;
  pageToken: string | null;
}

export interface FeishuPort {
  getUser(userId: string): Promise<FeishuUser | null>;
  subscribeApproval(approvalCode: string): Promise<'subscribed' | 'already_subscribed'>;
  /** instance codes of an approval definition created in [startMs, endMs], all pages */
  listInstanceCodes(approvalCode: string, startMs: number, endMs: number): Promise<string[]>;
  getInstance(instanceCode: string): Promise<FeishuInstance | null>;
  /**
   * One page of CoreHR leave requests, employees as Feishu user_ids (user_id_type=user_id).
   * `pace` is awaited before every HTTP attempt, retries included (the API's rate limit).
   */
  leaveRequestPage?(query: LeaveRequestQuery, pace?: () => Promise<void>): Promise<LeaveRequestPage>;
}

/** Who signed in with Feishu (authen v1 user_info). `userId` needs the app's employee-id scope. */
export interface FeishuIdentity {
  openId: string;
  userId: string | null;
  name: string | null;
}

/**
 * Feishu's web-app sign-in (OAuth 2.0 authorization code), for the dashboard's named operators.
 * The authorize page is a browser redirect (src/auth/feishu-sign-in.ts builds it); these are the
 * server-side steps after it.
 */
export interface FeishuSignInPort {
  /** Exchange the code for a user_access_token and read who it belongs to. */
  identify(input: { code: string; redirectUri: string; codeVerifier: string }): Promise<FeishuIdentity>;
  /** The user's departments and every department above them, by department_id and open_department_id. */
  departmentsOf(openId: string): Promise<Set<string>>;
}
