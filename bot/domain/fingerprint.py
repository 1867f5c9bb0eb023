"""Error fingerprints for incident memory: the stable shape of an error text, a hash of it, and keys
for finding near matches through a database index.

normalize() case-folds the text and replaces what varies between runs of one failure with placeholder
tokens: UUIDs, hex ids, ISO timestamps, IP addresses, numbered host names, temp directories, quoted
values, sizes, durations and every other number not glued to a letter (stage, task and attempt ids,
ports, line numbers of stack frames, dt= partitions). Words stay: exception classes, messages, the
function names of frames, the stable parts of paths. Quoted values are values: "column 'user_id' not
found" and "column 'account_id' not found" have one shape (a column went missing; which one is in
the incident's own text). A quoted path or URL keeps its stable parts.

Cost is bounded whatever the size. Only the first 64 KiB are read (what an alert keeps); the text is
normalized a few KiB at a time until 4,000 normalized characters are reached; exception headlines
further down ("Caused by: ...", the last line of a long Python traceback) are added within that
length. Every rule is local to a line, so a shape never depends on where longer ids moved a cut
(lines are cut at 2,000 characters: the one place a cut can move).

bands(): MinHash over the word 3-shingles of the shape, 64 hash values in 16 bands of 4 rows; a key
hashes a band's index and values. Errors whose shingle sets have Jaccard similarity s share at least
one key with probability 1 - (1 - s**4)**16: 0.9998 at s = 0.8, 0.64 at 0.5, 0.12 at 0.3, 0.0016 at
0.1. Store the keys in an indexed column, fetch the shapes sharing a key, rank them with similarity().
The 64 hash functions are 32-bit slices of one SHAKE-128 output per shingle (hashlib). datasketch's
MinHash.update_batch (fixed seed, scheme pinned) computes the same estimate 4x faster (0.07 vs 0.28 ms
for 100 shingles, bench/fingerprint.py) with the same band sharing (same-error pairs sharing a key:
321/321 here, 317/321 there), but that saves ~10% of a fingerprint() + bands() call and costs numpy +
scipy (160 MB), 0.35 s of import, and key values that move with the library's defaults (its 2.0
changed them), while stored keys must not. These change only with _SCHEME.

similarity(): rapidfuzz's fuzz.ratio (normalized Indel similarity, C++) of the two shapes, times
(1 + J) / 2 where J is the Jaccard similarity of the sets of exception names the shapes raise
("java.lang.outofmemoryerror: ..."). Measured on 13 families of realistic errors (Spark, Airflow,
psycopg, boto3, Kafka, plain JVM) with run-to-run ids and one frame more or less, 25,000 pairs:
every text measure alone scores different errors in one framework as alike as one error with a
frame more (ratio 0.99, token_set_ratio 0.99, Jaccard of shingles 0.91 for ZeroDivisionError vs
KeyError under the same Airflow frames); weighted by the exception names, same-error pairs score
>= 0.79 and different-error pairs <= 0.69. fuzz.ratio is order- and length-aware: token_set_ratio
had the wider gap but scores 1.0 whenever one text's words are a subset of the other's (a bare
"keyerror: <str>" against any KeyError traceback), and Jaccard of shingles fell to 0.47 for two
4-frame traces a frame apart. The same exception on the same framework path with a different
user frame (a NullPointerException in another mapper of one Spark job) still counts as close.
"""

from __future__ import annotations

import hashlib
import re
import struct
from functools import lru_cache

from rapidfuzz import fuzz

NEAR = 0.75  # similarity() at or above which two errors are the same or close: mid-gap of 0.69 .. 0.79

_WINDOW = 64 * 1024  # characters read: what an alert keeps (bot.alerts.model.MAX_ERROR)
_MAX = 4000  # normalized characters in a shape
_MAX_EXTRA = 1000  # of those, at most this many for headlines found below the head
_LINE_MAX = 2000  # raw characters of one line
_CHUNK = 4096  # raw characters normalized at a time, extended to the end of a line
_SCHEME = b"fp1"  # mixed into every hash: change it when the rules change
_PERMS, _BANDS = 64, 16
_ROWS = _PERMS // _BANDS
_UNPACK = struct.Struct(f"<{_PERMS}I").unpack

# Colour codes go; other control characters (NUL, \r, ...) become spaces; \n and \t stay.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
_CONTROLS = dict.fromkeys([*range(9), *range(11, 32), 127], " ")

# Applied in order to the case-folded text, each within one line. `\d(?<![0-9a-z]\d)` reads as "a digit
# not glued to a letter or digit before it": a pattern starting with a character class scans faster.
_RULES = [(re.compile(p), r) for p, r in [
    (r'file "([^"\n]*)", line \d+', r"file \1 line <n>"),  # File "/x/y.py", line 12: the path is no value
    (r"(?<![0-9a-z])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-z])", "<uuid>"),
    # 2026-11-30T02:00:01.123+00:00, 2026-11-30 02:00:01,123, 2026-11-30, 20261130T020001Z, 02:00:01.5
    (r"(?<!\d)\d{4}-\d\d-\d\d(?:[t ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:z|[+-]\d\d:?\d\d)?)?(?!\d)", "<ts>"),
    (r"(?<![0-9a-z])\d{8}t\d{6}(?:z|[+-]\d{4})?(?![0-9a-z])", "<ts>"),
    (r"\d(?<![\d:]\d)\d?:\d\d:\d\d(?:[.,]\d+)?(?:z|[+-]\d\d:?\d\d)?(?![\d:])", "<ts>"),
    (r"(?<![0-9a-z])0x[0-9a-f]+(?![0-9a-z])", "<hex>"),
    # runs of 8+ hex digits with a digit and a letter: commit, container, request and object ids
    (r"(?<![0-9a-z])(?=[a-f]*\d)(?=\d*[a-f])[0-9a-f]{8,}(?![0-9a-z])", "<hex>"),
    (r"(?<![\w.-])(/(?:var/)?tmp|(?:/private)?/var/folders/[^/\s]+/[^/\s]+/t)/[^/\s\"'`:,;)\]]+", r"\1/<tmp>"),
    # IPv6 (with a digit; bracketed, with a port), then IPv4 (with a port)
    (r"\[?(?<![\w:])(?=[0-9a-f:]*\d)(?:[0-9a-f]{1,4}:|:){2,7}(?::|[0-9a-f]{1,4})(?![\w:])(?:\](?::\d+)?)?", "<ip>"),
    (r"\d(?<![\d.]\d)\d{0,2}(?:\.\d{1,3}){3}(?::\d{1,5})?(?![\d.])", "<ip>"),
    # host names with a number: ip-10-0-3-17.ec2.internal, worker-7.cluster.local:7337, kafka-2.example.com
    ((r"(?<![\w.-])[a-z0-9-]*\d[a-z0-9-]*(?:\.[a-z0-9-]+)*\."
      r"(?:internal|local|localdomain|lan|corp|intra|svc|com|net|org|io|cloud|dev|ai|co)(?::\d+)?(?![\w.-])"), "<host>"),
    # quoted values, not a quoted path or URL; an attribute of a Spark plan: ['user_id, 'id]
    (r"(?<![0-9a-z])'(?!/|[a-z][a-z0-9+.-]*://)[^'\n]*'(?![0-9a-z])", "<str>"),
    (r'"(?!/|[a-z][a-z0-9+.-]*://)(?:[^"\\\n]|\\.)*"', "<str>"),
    (r"`[^`\n]*`", "<str>"),
    (r"(?<=[\[(,\s])'[a-z_][\w.#]*(?=[,)\]])", "<str>"),
    (r"(?<![0-9a-z])o\d+(?=\.[a-z])", "o<n>"),  # a py4j object: An error occurred while calling o123.save
    (r"\d(?<![0-9a-z]\d)\d*(?:\.\d+)?\s?(?:[kmgtpe]i?b|bytes?|b)(?![0-9a-z])", "<size>"),
    ((r"\d(?<![0-9a-z]\d)\d*(?:\.\d+)?\s?(?:ns|us|µs|ms|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)"
      r"(?![0-9a-z])"), "<dur>"),
    (r"<dur>(?:,?\s?(?:and\s)?<dur>)+", "<dur>"),  # 1h 30m, 2 minutes and 5 seconds
    # any other number not glued to a letter (log4j, s3, int32, ec2 stay): ids, counts, ports, line numbers
    (r"\d(?<![0-9a-z]\d)\d*(?:[.,]\d+)*", "<n>"),
]]

# The first line of a trace and of each cause: "Caused by: ...", "Suppressed: ...", a name ending in
# Error/Exception/Failure/Fault/Interrupt ("ZeroDivisionError: ...", "Exception in thread ..."), or a
# dotted name and a colon ("psycopg2.errors.UndefinedTable: ..."). Matched after a newline: fast.
_HEADLINE = re.compile(
    r"\n[ \t]*((?:caused by:|suppressed:|[a-z_][\w$.]*(?<=error|ption|ilure|fault|rrupt)(?![\w$.(])"
    r"|[a-z_][\w$]*\.[\w$.]*:\s)[^\n]*)", re.IGNORECASE)

# Exception names in a shape, not in a call or a frame ("raise keyerror(", "at x.throwfetchfailedexception(")
_EXCEPTION = re.compile(r"(?<![\w.$])(?:[a-z_][\w$]*\.)*[\w$]+(?:error|exception|failure|fault|exit|interrupt)(?![\w$(])")


def _shape(text: str) -> str:
    """The rules applied to whole lines; newlines stay."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    text = "\n".join(line[:_LINE_MAX] for line in text.translate(_CONTROLS).split("\n")).casefold()
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    return text


def normalize(error: str | None) -> str:
    """The stable shape of an error text: case-folded, what varies between runs replaced by <uuid>,
    <hex>, <ts>, <tmp>, <ip>, <host>, <str>, <size>, <dur> and <n>, whitespace collapsed, at most
    4,000 characters. Never raises; "" for no text."""
    if not error or not isinstance(error, str):
        return ""
    return _normalize(error)


@lru_cache(maxsize=16)  # fingerprint() and bands() of one error normalize it once
def _normalize(error: str) -> str:
    window = error[:_WINDOW]
    if len(error) >= _WINDOW and "\n" in window:  # cut by the alert intake: drop the partial last line
        window = window[:window.rindex("\n")]
    extras: list[str] = []
    length = 0
    headlines = "\n".join(m.group(1) for m in _HEADLINE.finditer("\n" + window))
    for line in _shape(headlines).split("\n"):
        line = " ".join(line.split())
        if line and line not in extras and length + len(line) + 3 <= _MAX_EXTRA:
            extras.append(line)
            length += len(line) + 3
    budget = _MAX - length
    head: list[str] = []
    size = start = 0
    while start < len(window) and size < budget:
        end = window.find("\n", start + _CHUNK)
        end = len(window) if end == -1 else end
        part = " ".join(_shape(window[start:end]).split())
        if part:
            head.append(part)
            size += len(part) + 1
        start = end + 1
    shape = " ".join(head)[:budget].strip()
    extra = " | ".join(line for line in extras if line not in shape)
    return f"{shape} | {extra}" if shape and extra else shape or extra


def fingerprint(error: str | None) -> str | None:
    """20 hex characters naming the error's shape; None when there is no text."""
    shape = normalize(error)
    if not shape:
        return None
    return hashlib.blake2b(shape.encode("utf-8", "surrogatepass"), digest_size=10, person=_SCHEME).hexdigest()


def _shingles(shape: str) -> set[bytes]:
    words = shape.split()
    words += [""] * (3 - len(words))  # one or two words: one shingle
    return {f"{a} {b} {c}".encode("utf-8", "surrogatepass") for a, b, c in zip(words, words[1:], words[2:])}


def _minhash(shingles: set[bytes]) -> list[int]:
    """Per hash function (a 32-bit slice of the shingle's SHAKE-128 output), the least value over the shingles."""
    return list(map(min, zip(*[_UNPACK(hashlib.shake_128(_SCHEME + s).digest(4 * _PERMS)) for s in shingles])))


def bands(error: str | None) -> list[str]:
    """16 keys (16 hex characters each) for near-duplicate search: errors of similar shape share at
    least one with high probability, unrelated ones almost never. [] when there is no text."""
    shape = normalize(error)
    if not shape:
        return []
    signature = _minhash(_shingles(shape))
    return [hashlib.blake2b(struct.pack(f"<B{_ROWS}I", band, *signature[band * _ROWS:(band + 1) * _ROWS]),
                            digest_size=8, person=_SCHEME).hexdigest() for band in range(_BANDS)]


def similarity(a: str, b: str) -> float:
    """How alike two normalize() outputs are: 1.0 equal, 0.0 nothing alike or a text missing."""
    if not a or not b:
        return 0.0
    names_a, names_b = set(_EXCEPTION.findall(a)), set(_EXCEPTION.findall(b))
    names = 1.0 if names_a == names_b else len(names_a & names_b) / len(names_a | names_b)
    return fuzz.ratio(a, b) / 100 * (1 + names) / 2
