// Stream framing for OVSDB JSON-RPC: the server sends concatenated JSON values with no delimiter.
// This splits a byte stream into JSON values, correct however the values are cut across chunks
// (multibyte UTF-8, braces and escaped quotes inside strings), in time linear in the bytes.
// Pure data in, data out: no sockets, no imports from other project folders.
//
// Algorithm. A scanner walks the bytes once, tracking only what it must: whether it is inside a
// string (and whether the previous byte was an unpaired backslash) and the bracket depth. Inside a
// string it jumps to the next '"' with Buffer.indexOf (memchr) and decides whether that quote is
// escaped by counting the backslashes just before it; the escape state carries across chunks.
// UTF-8 needs no care: every byte of a multibyte sequence is >= 0x80 and so never looks like a
// quote, a backslash or a bracket.
//
// The outer levels of each message (depth < unitDepth, default 3: the message object, its
// `result`/`params`, and e.g. the table object of a monitor reply) are built by the scanner itself;
// each value at unitDepth (e.g. one row update of a monitor reply) and every scalar is handed to
// JSON.parse on its own bytes. Bytes are kept as zero-copy views of the received chunks and joined
// once per value, so a 100 MB monitor reply is never held as one string next to its parsed copy,
// and an `onUnit` hook can shrink each unit (decode a row) as soon as it is parsed.
import { ProtocolError } from './errors.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const enum State {
  Value,
  ObjKeyOrEnd,
  ObjKey,
  Colon,
  CommaOrEnd,
  ArrValueOrEnd,
  Capture,
}

const enum Capture {
  Container,
  String,
  Bare,
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** Bytes that may appear in a number or in true/false/null. */
function isBare(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || b === 0x2d || b === 0x2b || b === 0x2e;
}

interface Frame {
  value: Record<string, unknown> | unknown[];
  isArray: boolean;
  key: string | undefined;
}

/** Returned by onUnit: the unit was taken over by the hook and is not stored in the message. */
export const SKIP: unique symbol = Symbol('skip');

export interface FramerOptions {
  /**
   * Containers shallower than this are built by the scanner; values at this depth are parsed one by
   * one. A function gets the key path of the value about to be read (e.g. ['result', 2, 'Logical_Flow'])
   * and returns the unit depth for it, so one reply shape can be cut deeper than another.
   */
  unitDepth?: number | ((path: readonly (string | number)[]) => number);
  /**
   * Called with each value completed at `unitDepth` and its key path (a reused array: copy it to
   * keep it); returns what to store in its place, or SKIP to store nothing.
   */
  onUnit?: (path: readonly (string | number)[], value: unknown) => unknown;
}

export class JsonStreamFramer {
  /** Bytes pushed so far. */
  bytesReceived = 0;

  private readonly unitDepthOpt: number | ((path: readonly (string | number)[]) => number);
  private readonly onUnit: FramerOptions['onUnit'];
  private frames: Frame[] = [];
  private state: State = State.Value;
  private failed: Error | undefined;

  // capture of one raw value (or key)
  private capKind: Capture = Capture.Container;
  private capIsKey = false;
  private capNest = 0;
  private capInString = false;
  private escape = false;
  private capStart = 0;
  private pieces: Buffer[] = [];
  private piecesLength = 0;
  private readonly path: (string | number)[] = [];

  constructor(
    private readonly onMessage: (message: unknown) => void,
    opts: FramerOptions = {},
  ) {
    this.unitDepthOpt = typeof opts.unitDepth === 'function' ? opts.unitDepth : Math.max(1, opts.unitDepth ?? 3);
    this.onUnit = opts.onUnit;
  }

  /** True when no message is partially received. */
  get idle(): boolean {
    return this.frames.length === 0 && this.state === State.Value;
  }

  /** Feeds bytes; calls onMessage for every message completed by them, in order. */
  push(chunk: Buffer): void {
    if (this.failed) throw this.failed;
    this.bytesReceived += chunk.length;
    try {
      this.scan(chunk);
    } catch (err) {
      this.failed = err instanceof ProtocolError ? err : new ProtocolError(`invalid JSON from server: ${(err as Error).message}`, { cause: err });
      this.pieces = [];
      this.frames = [];
      throw this.failed;
    }
  }

  private scan(buf: Buffer): void {
    const n = buf.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case State.Capture: {
          const end = this.scanCapture(buf, i);
          if (end < 0) {
            i = n;
            break;
          }
          this.finishCapture(buf, end);
          i = end;
          break;
        }
        case State.Value: {
          const b = buf[i]!;
          if (isSpace(b)) {
            i++;
            break;
          }
          const depth = this.frames.length;
          if (depth === 0 && b !== LBRACE && b !== LBRACKET) throw this.unexpected(buf, i, 'a JSON object or array');
          if ((b === LBRACE || b === LBRACKET) && depth < this.unitDepth()) {
            this.frames.push(b === LBRACE ? { value: {}, isArray: false, key: undefined } : { value: [], isArray: true, key: undefined });
            this.state = b === LBRACE ? State.ObjKeyOrEnd : State.ArrValueOrEnd;
            i++;
            break;
          }
          if (b === LBRACE || b === LBRACKET) this.startCapture(Capture.Container, false, i);
          else if (b === QUOTE) this.startCapture(Capture.String, false, i + 1);
          else if (isBare(b)) this.startCapture(Capture.Bare, false, i);
          else throw this.unexpected(buf, i, 'a JSON value');
          // a string capture starts after its opening quote; containers and bare values at their first byte
          i = b === QUOTE ? i + 1 : i;
          break;
        }
        case State.ObjKeyOrEnd:
        case State.ObjKey: {
          const b = buf[i]!;
          if (isSpace(b)) {
            i++;
          } else if (b === QUOTE) {
            this.startCapture(Capture.String, true, i + 1);
            i++;
          } else if (b === RBRACE && this.state === State.ObjKeyOrEnd) {
            i++;
            this.closeContainer();
          } else {
            throw this.unexpected(buf, i, 'an object key');
          }
          break;
        }
        case State.Colon: {
          const b = buf[i]!;
          if (isSpace(b)) i++;
          else if (b === COLON) {
            this.state = State.Value;
            i++;
          } else throw this.unexpected(buf, i, "':'");
          break;
        }
        case State.CommaOrEnd: {
          const b = buf[i]!;
          const top = this.frames[this.frames.length - 1]!;
          if (isSpace(b)) i++;
          else if (b === COMMA) {
            this.state = top.isArray ? State.Value : State.ObjKey;
            i++;
          } else if (b === (top.isArray ? RBRACKET : RBRACE)) {
            i++;
            this.closeContainer();
          } else throw this.unexpected(buf, i, top.isArray ? "',' or ']'" : "',' or '}'");
          break;
        }
        case State.ArrValueOrEnd: {
          const b = buf[i]!;
          if (isSpace(b)) i++;
          else if (b === RBRACKET) {
            i++;
            this.closeContainer();
          } else this.state = State.Value;
          break;
        }
      }
    }
    if (this.state === State.Capture) {
      // the value continues in the next chunk: keep a view of its bytes so far
      this.keepPiece(buf.subarray(this.capStart));
      this.capStart = 0;
    }
  }

  private startCapture(kind: Capture, isKey: boolean, at: number): void {
    this.state = State.Capture;
    this.capKind = kind;
    this.capIsKey = isKey;
    this.capNest = 0;
    this.capInString = false;
    this.escape = false;
    this.capStart = at;
  }

  private keepPiece(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.piecesLength += piece.length;
  }

  /** Scans a captured value from i; returns the index just past its end, or -1 if the chunk ended first. */
  private scanCapture(buf: Buffer, i: number): number {
    const n = buf.length;
    if (this.capKind === Capture.String) return this.scanStringBody(buf, i);
    if (this.capKind === Capture.Bare) {
      while (i < n && isBare(buf[i]!)) i++;
      return i < n ? i : -1;
    }
    for (;;) {
      if (this.capInString) {
        const j = this.scanStringBody(buf, i);
        if (j < 0) return -1;
        this.capInString = false;
        i = j;
      }
      for (; i < n; i++) {
        const b = buf[i]!;
        if (b === QUOTE) {
          this.capInString = true;
          i++;
          break;
        } else if (b === LBRACE || b === LBRACKET) {
          this.capNest++;
        } else if (b === RBRACE || b === RBRACKET) {
          if (--this.capNest === 0) return i + 1;
        }
      }
      if (!this.capInString) return -1;
    }
  }

  /** From inside a string: returns the index just past its closing quote, or -1 (escape state kept). */
  private scanStringBody(buf: Buffer, i: number): number {
    const n = buf.length;
    if (this.escape) {
      this.escape = false;
      i++; // the byte escaped by a backslash that ended the previous chunk
    }
    let s = i;
    for (;;) {
      const q = s < n ? buf.indexOf(QUOTE, s) : -1;
      if (q < 0) {
        let k = n - 1;
        let run = 0;
        while (k >= s && buf[k] === BACKSLASH) {
          run++;
          k--;
        }
        this.escape = (run & 1) === 1;
        return -1;
      }
      let k = q - 1;
      let run = 0;
      while (k >= s && buf[k] === BACKSLASH) {
        run++;
        k--;
      }
      if ((run & 1) === 0) return q + 1;
      s = q + 1;
    }
  }

  private finishCapture(buf: Buffer, end: number): void {
    let bytes: Buffer;
    if (this.pieces.length === 0) {
      bytes = buf.subarray(this.capStart, end);
    } else {
      this.keepPiece(buf.subarray(0, end));
      bytes = Buffer.concat(this.pieces, this.piecesLength);
      this.pieces = [];
      this.piecesLength = 0;
    }
    if (this.capIsKey) {
      // bytes = key body plus the closing quote (the opening quote was consumed before capture)
      const body = bytes.subarray(0, bytes.length - 1);
      const key = body.indexOf(BACKSLASH) < 0 ? body.toString('utf8') : (JSON.parse(`"${body.toString('utf8')}"`) as string);
      this.frames[this.frames.length - 1]!.key = key;
      this.state = State.Colon;
      return;
    }
    let value: unknown;
    if (this.capKind === Capture.String) {
      const body = bytes.subarray(0, bytes.length - 1);
      value = body.indexOf(BACKSLASH) < 0 ? body.toString('utf8') : JSON.parse(`"${body.toString('utf8')}"`);
    } else {
      value = JSON.parse(bytes.toString('utf8'));
      if (this.onUnit && this.capKind === Capture.Container && this.frames.length === this.unitDepth()) {
        value = this.onUnit(this.currentPath(), value);
        if (value === SKIP) {
          this.state = State.CommaOrEnd;
          return;
        }
      }
    }
    this.attach(value);
  }

  /** The unit depth for the value about to be read (its path is the current frames' keys). */
  private unitDepth(): number {
    const u = this.unitDepthOpt;
    if (typeof u === 'number') return u;
    return this.frames.length === 0 ? 1 : Math.max(1, u(this.currentPath()));
  }

  private currentPath(): (string | number)[] {
    const path = this.path;
    path.length = this.frames.length;
    for (let d = 0; d < this.frames.length; d++) {
      const f = this.frames[d]!;
      path[d] = f.isArray ? (f.value as unknown[]).length : f.key!;
    }
    return path;
  }

  private closeContainer(): void {
    const frame = this.frames.pop()!;
    if (this.frames.length === 0) {
      this.state = State.Value;
      this.onMessage(frame.value);
      return;
    }
    this.attach(frame.value);
  }

  private attach(value: unknown): void {
    const parent = this.frames[this.frames.length - 1]!;
    if (parent.isArray) (parent.value as unknown[]).push(value);
    else if (parent.key === '__proto__') Object.defineProperty(parent.value, '__proto__', { value, enumerable: true, writable: true, configurable: true });
    else (parent.value as Record<string, unknown>)[parent.key!] = value;
    this.state = State.CommaOrEnd;
  }

  private unexpected(buf: Buffer, i: number, wanted: string): ProtocolError {
    const offset = this.bytesReceived - buf.length + i;
    const near = buf.subarray(Math.max(0, i - 20), i + 20).toString('utf8');
    return new ProtocolError(`invalid JSON from server at byte ${offset}: expected ${wanted}, got ${JSON.stringify(String.fromCharCode(buf[i]!))} near ${JSON.stringify(near)}`);
  }
}
