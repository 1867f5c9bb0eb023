"""Error fingerprints: errors/s of fingerprint() + bands() on realistic 5, 20 and 50 KB stack traces.

Usage: python bench/fingerprint.py [--errors 300]
Each trace is a Spark job abort (executor frames, driver stack, cause) or an Airflow task's Python
traceback, with fresh task/stage ids, hosts, timestamps, UUIDs and temp dirs, so no two are alike.
Prints errors/s and ms per error for fingerprint() + bands() (one normalize() between them), for
normalize() alone, and, when datasketch is installed, its MinHash next to the one bands() computes.
Figures are printed, never asserted: they depend on the machine.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CLASSES = ["FileFormatWriter", "WholeStageCodegenExec", "MapPartitionsRDD", "DAGScheduler", "SortExec", "LicenseMapper"]
METHODS = ["run", "compute", "executeTask", "processNext", "hasNext", "apply", "$anonfun$doExecute$1", "iterator"]


def spark(rng: random.Random, size: int) -> str:
    task, stage, ip = rng.randint(0, 300), f"{rng.randint(1, 40)}.0", f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    lines = [f"26/11/{rng.randint(1, 28):02d} 02:{rng.randint(0, 59):02d}:07 ERROR FileFormatWriter: Aborting job {uuid.uuid4()}.",
             (f"org.apache.spark.SparkException: Job aborted due to stage failure: Task {task} in stage {stage} failed 4 times, "
              f"most recent failure: Lost task {task}.3 in stage {stage} (TID {rng.randint(100, 99999)}) "
              f"(ip-{ip.replace('.', '-')}.ec2.internal executor {ip}): java.lang.NullPointerException")]
    code = random.Random(0)  # one code path: the same frames in every trace
    while sum(map(len, lines)) < size - 60:
        cls = code.choice(CLASSES)
        lines.append(f"\tat org.apache.spark.sql.execution.{cls}.{code.choice(METHODS)}({cls}.scala:{code.randint(20, 3000)})")
    return "\n".join([*lines, "Caused by: java.lang.NullPointerException", f"\t... {rng.randint(10, 90)} more"])


def python(rng: random.Random, size: int) -> str:
    tmp = f"/tmp/tmp{rng.getrandbits(40):x}"
    lines = [f"[2026-11-{rng.randint(1, 28):02d}, 02:0{rng.randint(0, 9)}:11 UTC] {{taskinstance.py:2905}} ERROR - Task failed",
             "Traceback (most recent call last):"]
    while sum(map(len, lines)) < size - 40:
        lines += [f'  File "{tmp}/dags/etl.py", line {rng.randint(10, 900)}, in transform', "    return [ratio(r) for r in rows]"]
    return "\n".join([*lines, "ZeroDivisionError: division by zero"])


def rate(label: str, texts: list[str], fn) -> None:
    started = time.perf_counter()
    for text in texts:
        fn(text)
    elapsed = time.perf_counter() - started
    print(f"{label:<40} {len(texts) / elapsed:8.0f} errors/s {elapsed / len(texts) * 1000:7.2f} ms/error")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", type=int, default=300)
    args = parser.parse_args()
    from bot.domain import fingerprint as fp

    rng = random.Random(1)
    print(f"{args.errors} distinct errors per row, Python {sys.version.split()[0]}")
    for kb in (5, 20, 50):
        def fresh(n: int = args.errors, kb: int = kb) -> list[str]:
            return [(spark if i % 2 else python)(rng, kb * 1024) for i in range(n)]
        rate(f"{kb:2d} KB  fingerprint() + bands()", fresh(), lambda t: (fp.fingerprint(t), fp.bands(t)))
        rate(f"{kb:2d} KB  normalize() alone", fresh(), fp.normalize)
    try:
        from datasketch import MinHash
    except ImportError:
        print("MinHash of bands() vs datasketch: pip install 'datasketch>=2,<3' to compare")
        return
    shingles = [fp._shingles(fp.normalize(t)) for t in [spark(rng, 20 * 1024) for _ in range(args.errors)]]
    perms = MinHash(num_perm=fp._PERMS, seed=1, scheme="affine32").permutations

    def theirs(s: set[bytes]) -> list[int]:
        m = MinHash(num_perm=fp._PERMS, seed=1, scheme="affine32", permutations=perms)
        m.update_batch(s)
        return m.hashvalues.tolist()
    print(f"MinHash of {sum(map(len, shingles)) // len(shingles)} shingles (64 permutations):")
    rate("  hashlib SHAKE-128 slices (bands())", shingles, fp._minhash)
    rate("  datasketch MinHash.update_batch", shingles, theirs)


if __name__ == "__main__":
    main()
