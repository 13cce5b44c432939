// Errors from either path, as one type the page can show and branch on: the gRPC code, the ErrorInfo reason, the
// BadRequest field violations and the RetryInfo delay of a google.rpc.Status. A REST error body and an in-band
// error event carry the Status itself; gRPC-Web carries it in the grpc-status-details-bin trailer, which
// connect-web decodes into ConnectError.details.

import { createRegistry, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { anyUnpack, type Duration, durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  file_google_rpc_error_details,
  RetryInfoSchema,
  type BadRequest_FieldViolation,
} from "./gen/google/rpc/error_details_pb";
import { type Status, StatusSchema } from "./gen/google/rpc/status_pb";

/** The error detail types the server sends, to read them out of google.protobuf.Any. */
export const errorDetailTypes = createRegistry(file_google_rpc_error_details);

const CODE_NAMES = [
  "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
  "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
];

/** The canonical gRPC code name (UPPER_SNAKE), as google.rpc.Code and the REST API name it. */
export function codeName(code: Code | number): string {
  return CODE_NAMES[code] ?? `CODE_${code}`;
}

export class ApiError extends Error {
  constructor(
    readonly code: Code,
    readonly detail: string,
    /** The ErrorInfo reason (UPPER_SNAKE), to branch on; "" when there is none. */
    readonly reason = "",
    readonly fieldViolations: readonly BadRequest_FieldViolation[] = [],
    /** From RetryInfo: how long to wait before trying again, in milliseconds. */
    readonly retryDelayMs: number | null = null,
    /** The HTTP status of a REST answer (the gateway's mapping of the code), when there was one. */
    readonly httpStatus: number | null = null,
  ) {
    super(describe(code, detail, reason, fieldViolations));
    this.name = "ApiError";
  }

  /** A google.rpc.Status: a REST error body, or the `error` of a failed task or reply. */
  static fromStatus(status: Status, httpStatus: number | null = null): ApiError {
    let reason = "";
    let violations: BadRequest_FieldViolation[] = [];
    let retryDelay: Duration | undefined;
    for (const detail of status.details) {
      reason ||= anyUnpack(detail, ErrorInfoSchema)?.reason ?? "";
      violations = [...violations, ...(anyUnpack(detail, BadRequestSchema)?.fieldViolations ?? [])];
      retryDelay ??= anyUnpack(detail, RetryInfoSchema)?.retryDelay;
    }
    return new ApiError(status.code, status.message, reason, violations, delayMs(retryDelay), httpStatus);
  }

  /** A gRPC-Web failure: the status and its details came in the trailers. */
  static fromConnect(error: ConnectError): ApiError {
    const reason = error.findDetails(ErrorInfoSchema)[0]?.reason ?? "";
    const violations = error.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations);
    const retryDelay = error.findDetails(RetryInfoSchema)[0]?.retryDelay;
    return new ApiError(error.code, error.rawMessage, reason, violations, delayMs(retryDelay));
  }

  /** A REST answer that is not 2xx: a google.rpc.Status as JSON, or the gateway's own plain-text error. */
  static async fromResponse(response: Response): Promise<ApiError> {
    const text = await response.text().catch(() => "");
    try {
      const status = fromJson(StatusSchema, JSON.parse(text) as JsonValue, {
        registry: errorDetailTypes,
        ignoreUnknownFields: true, // the gateway's own errors add "status": "UNAVAILABLE"
      });
      if (status.code !== 0) return ApiError.fromStatus(status, response.status);
    } catch {
      // not a google.rpc.Status: described from the HTTP status below
    }
    return new ApiError(codeFromHttp(response.status), text.trim() || response.statusText, "", [], null,
      response.status);
  }
}

/** "UNAUTHENTICATED (API_KEY_INVALID): The API key is not valid.", with field violations after a ";". */
export function describe(code: Code, detail: string, reason = "", violations: readonly BadRequest_FieldViolation[] = []): string {
  const name = codeName(code);
  const head = reason && reason !== name ? `${name} (${reason})` : name;
  const notes = violations.map((v) => `${v.field}: ${v.description}`).filter((note) => !detail.includes(note));
  return [`${head}: ${detail}`, ...notes].join("; ");
}

function delayMs(duration: Duration | undefined): number | null {
  return duration === undefined ? null : durationMs(duration);
}

/** The gRPC code for an HTTP status, as gRPC's HTTP mapping has it, for errors that carry no Status. */
function codeFromHttp(status: number): Code {
  const codes: Record<number, Code> = {
    400: Code.InvalidArgument,
    401: Code.Unauthenticated,
    403: Code.PermissionDenied,
    404: Code.NotFound,
    409: Code.Aborted,
    429: Code.ResourceExhausted,
    499: Code.Canceled,
    501: Code.Unimplemented,
    502: Code.Unavailable,
    503: Code.Unavailable,
    504: Code.DeadlineExceeded,
  };
  return codes[status] ?? Code.Unknown;
}

/**
 * What the page sees of a gRPC-Web failure: a network failure as the TypeError fetch() raised (as on the REST
 * path), anything else as an ApiError.
 */
export function fromConnectError(error: unknown): unknown {
  if (!(error instanceof ConnectError)) return error;
  if (error.code === Code.Unknown && error.cause instanceof TypeError) return error.cause;
  return ApiError.fromConnect(error);
}

/** Whether trying the same call again may work: the network failed, or the server or gateway is unavailable. */
export function isTransient(error: unknown): boolean {
  if (error instanceof TypeError) return true; // fetch() or a body read: the network failed or was cut
  return error instanceof ApiError && (error.code === Code.Unavailable || [502, 503, 504].includes(error.httpStatus ?? 0));
}
