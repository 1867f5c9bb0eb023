"""Error fingerprints: one shape for one error across runs, other shapes for other errors, and near
matches found through shared band keys. The traces are built here, 5 to 50 KB, with what varies
between runs (task and stage ids, executors, hosts, timestamps, temp dirs, application ids) drawn
from a seeded random source."""

from __future__ import annotations

import os
import random
import re
import time
import uuid

import pytest

from bot.alerts.model import MAX_ERROR
from bot.domain.fingerprint import NEAR, bands, fingerprint, normalize, similarity

PACKAGES = ["org.apache.spark.sql.execution", "org.apache.spark.sql.execution.datasources", "org.apache.spark.rdd",
            "org.apache.spark.scheduler", "org.apache.spark.executor", "com.example.growth.jobs"]
CLASSES = ["FileFormatWriter", "WholeStageCodegenExec", "MapPartitionsRDD", "DAGScheduler", "SortExec", "ShuffleExchangeExec",
           "BufferedRowIterator", "InsertIntoHadoopFsRelationCommand", "LicenseMapper", "UnsafeExternalRowSorter"]
METHODS = ["run", "compute", "executeTask", "processNext", "hasNext", "insertRow", "apply", "$anonfun$doExecute$1",
           "writeAndCommit", "handleTaskSetFailed", "iterator", "sideEffectResult$lzycompute"]


def frames(count: int, seed: int = 0) -> list[str]:
    """`count` JVM frames of one code path (the same for a given seed)."""
    pick = random.Random(seed)
    out = []
    for _ in range(count):
        cls = pick.choice(CLASSES)
        out.append(f"{pick.choice(PACKAGES)}.{cls}.{pick.choice(METHODS)}({cls}.scala:{pick.randint(20, 3000)})")
    return out


def ip(rng: random.Random) -> str:
    return f"10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def host(rng: random.Random) -> str:
    return rng.choice([f"ip-{ip(rng).replace('.', '-')}.ec2.internal", f"worker-{rng.randint(1, 40)}.cluster.local"])


def log4j(rng: random.Random) -> str:
    return f"26/{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:" \
           f"{rng.randint(0, 59):02d}"


def spark_failure(rng: random.Random, error: str = "java.lang.NullPointerException", depth: int = 60,
                  path: int = 0, extra_frame: str | None = None) -> str:
    """A Spark job abort as the driver logs it: the executor's exception and frames, the driver's stack,
    then the cause. `depth` frames per stack: 60 is about 16 KB."""
    stage, task = f"{rng.randint(1, 40)}.0", rng.randint(0, 300)
    executor_frames = frames(depth, seed=path)
    if extra_frame:
        executor_frames.insert(depth // 2, extra_frame)
    lines = [(f"{log4j(rng)} INFO SparkContext: Running Spark version 3.5.1, app application_{rng.randint(10**12, 10**13)}_"
             f"{rng.randint(1, 9999):04d}"),
             f"{log4j(rng)} ERROR TaskSetManager: Task {task} in stage {stage} failed 4 times; aborting job",
             f"{log4j(rng)} ERROR FileFormatWriter: Aborting job {uuid.UUID(int=rng.getrandbits(128))}.",
             (f"org.apache.spark.SparkException: Job aborted due to stage failure: Task {task} in stage {stage} failed 4 times, "
             f"most recent failure: Lost task {task}.3 in stage {stage} (TID {rng.randint(100, 99999)}) ({host(rng)} executor "
             f"{rng.randint(1, 60)}): {error}")]
    lines += [f"\tat {frame}" for frame in executor_frames]
    lines += ["", "Driver stacktrace:"] + [f"\tat {frame}" for frame in frames(depth, seed=100)]
    lines += [f"Caused by: {error}"] + [f"\tat {frame}" for frame in executor_frames[:depth // 2]]
    lines += [f"\t... {rng.randint(10, 90)} more"]
    return "\n".join(lines)


AIRFLOW = [("/usr/local/lib/python3.11/site-packages/airflow/models/taskinstance.py", "_run_raw_task",
            "self._execute_task_with_callbacks(context, test_mode, session=session)"),
           ("/usr/local/lib/python3.11/site-packages/airflow/models/taskinstance.py", "_execute_task",
            "result = execute_callable(context=context, **execute_callable_kwargs)"),
           ("/usr/local/lib/python3.11/site-packages/airflow/operators/python.py", "execute_callable",
            "return self.python_callable(*self.op_args, **self.op_kwargs)")]
USER = [("etl.py", "load", "rows = transform(batch)"), ("etl.py", "transform", "return [ratio(row) for row in rows]"),
        ("etl.py", "ratio", "return row['clicks'] / row['views']")]


def traceback(rng: random.Random, final: str = "ZeroDivisionError: division by zero", repeat: int = 1,
              user: list[tuple[str, str, str]] = USER) -> str:
    """An Airflow task log with a Python traceback; `repeat` deepens the stack (about 0.55 KB each)."""
    day = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    tmp = "/tmp/tmp" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789_") for _ in range(8))
    lines = [(f"[{day}, {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} UTC] "
             f"{{taskinstance.py:{rng.randint(1000, 3000)}}} ERROR - Task failed with exception"),
             "Traceback (most recent call last):"]
    for file, function, code in AIRFLOW * repeat + [(f"{tmp}/dags/{f}", fn, code) for f, fn, code in user]:
        lines += [f'  File "{file}", line {rng.randint(10, 3000)}, in {function}', f"    {code}"]
    lines += [final, (f"[{day}, 02:05:{rng.randint(10, 59)} UTC] {{taskinstance.py:1206}} INFO - Marking task as FAILED. "
                     f"dag_id=growth, task_id=load, run_id=scheduled__{day}T02:00:00+00:00")]
    return "\n".join(lines)


def test_one_error_in_two_runs_has_one_fingerprint():
    first, second = spark_failure(random.Random(1)), spark_failure(random.Random(2))
    assert first != second and 10_000 < len(first) < 30_000
    assert fingerprint(first) == fingerprint(second)
    assert len(fingerprint(first)) == 20 and int(fingerprint(first), 16) >= 0
    assert bands(first) == bands(second) and len(bands(first)) == 16
    assert similarity(normalize(first), normalize(second)) == 1.0


def test_the_spark_task_failure_in_another_stage_on_another_executor_is_the_same_error():
    one = ("Job aborted due to stage failure: Task 3 in stage 12.0 failed 4 times, most recent failure: Lost task 3.3 in "
           "stage 12.0 (TID 812) (ip-10-0-3-17.ec2.internal executor 10.0.3.17): java.lang.NullPointerException")
    other = ("Job aborted due to stage failure: Task 7 in stage 4.0 failed 4 times, most recent failure: Lost task 7.3 in "
             "stage 4.0 (TID 99) (ip-10-0-9-2.ec2.internal executor 10.0.9.2): java.lang.NullPointerException")
    assert fingerprint(one) == fingerprint(other)
    assert normalize(one) == ("job aborted due to stage failure: task <n> in stage <n> failed <n> times, most recent failure: "
                              "lost task <n> in stage <n> (tid <n>) (<host> executor <ip>): java.lang.nullpointerexception")


def test_python_tracebacks_differing_in_line_numbers_and_temp_paths_are_the_same_error():
    first, second = traceback(random.Random(1)), traceback(random.Random(2))
    assert first != second
    assert fingerprint(first) == fingerprint(second)
    shape = normalize(first)
    assert "file /tmp/<tmp>/dags/etl.py line <n>, in ratio" in shape
    assert "zerodivisionerror: division by zero" in shape


def test_s3_paths_with_date_partitions_keep_their_stable_parts():
    def failed(day: str, part: int, bucket: str = "growth-exports") -> str:
        return (f"org.apache.spark.sql.AnalysisException: [PATH_NOT_FOUND] Path does not exist: "
                f"s3://{bucket}/events/dt={day}/hour=0{part % 10}/part-{part:05d}-{uuid.uuid4()}-c000.snappy.parquet")
    assert fingerprint(failed("2026-11-30", 1)) == fingerprint(failed("2027-01-02", 17))
    assert ("s3://growth-exports/events/dt=<ts>/hour=<n>/part-<n>-<uuid>-c000.snappy.parquet"
            in normalize(failed("2026-11-30", 1)))
    assert fingerprint(failed("2026-11-30", 1)) != fingerprint(failed("2026-11-30", 1, bucket="billing-exports"))
    quoted = "FileNotFoundError: [Errno 2] No such file or directory: '/data/exports/dt={}/orders.csv'"
    assert normalize(quoted.format("2026-11-30")) == normalize(quoted.format("2026-12-01"))
    assert "'/data/exports/dt=<ts>/orders.csv'" in normalize(quoted.format("2026-11-30"))


def test_uuids_hex_ids_and_application_ids_are_placeholders():
    def submitted(rng: random.Random) -> str:
        return (f"YARN application application_{rng.randint(10**12, 10**13)}_{rng.randint(1, 9999):04d} failed 2 times: "
                f"container_e17_{rng.randint(10**12, 10**13)}_{rng.randint(1, 99):04d}_01_{rng.randint(1, 999999):06d} "
                f"exited with code 137 (run {uuid.UUID(int=rng.getrandbits(128))}, image sha256:{rng.getrandbits(256):064x}, "
                f"commit {rng.getrandbits(160):040x}, object 0x{rng.getrandbits(48):x}, at "
                f"2026-11-{rng.randint(10, 28)}T02:{rng.randint(10, 59)}:00.{rng.randint(100, 999)}Z)")
    first, second = submitted(random.Random(1)), submitted(random.Random(2))
    assert fingerprint(first) == fingerprint(second)
    assert normalize(first) == ("yarn application application_<n>_<n> failed <n> times: container_e17_<n>_<n>_<n>_<n> "
                                "exited with code <n> (run <uuid>, image sha256:<hex>, commit <hex>, object <hex>, at <ts>)")


def test_sql_errors_naming_another_column_have_the_same_shape():
    """A decision: a quoted value is a value. "column 'user_id' not found" and "... 'account_id' ..."
    are one kind of failure (a column went missing upstream); the incident's own text says which."""
    assert fingerprint("AnalysisException: column 'user_id' not found in table growth.licenses") == \
        fingerprint("AnalysisException: column 'account_id' not found in table growth.licenses")
    assert fingerprint('psycopg.errors.UndefinedColumn: column "user_id" does not exist\nLINE 1: select user_id from a') != \
        fingerprint('psycopg.errors.UndefinedTable: relation "user_id" does not exist\nLINE 1: select user_id from a')
    spark = ("[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name `{}` cannot be resolved. "
             "Did you mean one of the following? [`id`, `name`].;\n'Project ['{}, 'id]")
    assert fingerprint(spark.format("user_id", "user_id")) == fingerprint(spark.format("account_id", "account_id"))


def test_different_errors_have_different_fingerprints_low_similarity_and_no_shared_band():
    rng = random.Random(5)
    npe = "Exception in thread \"main\" java.lang.NullPointerException\n" + "\n".join(f"\tat {f}" for f in frames(80, seed=7))
    oom = spark_failure(rng, "java.lang.OutOfMemoryError: Java heap space", path=3)
    zero = traceback(rng, repeat=12)
    assert all(len(text) > 5_000 for text in (npe, oom, zero))
    for a, b in [(npe, oom), (npe, zero), (oom, zero)]:
        assert fingerprint(a) != fingerprint(b)
        assert similarity(normalize(a), normalize(b)) < NEAR
        assert not set(bands(a)) & set(bands(b))


def test_one_failure_with_another_cause_is_another_error_even_when_the_trace_around_it_is_the_same():
    """The frames of Spark's driver or Airflow's task runner are the same whatever failed: the exception
    names weigh in similarity(). Such pairs may share a band (a candidate), never reach NEAR."""
    rng = random.Random(6)
    npe, oom = spark_failure(rng, "java.lang.NullPointerException"), spark_failure(rng, "java.lang.OutOfMemoryError: x")
    zero, key = traceback(rng), traceback(rng, final="KeyError: 'views'")
    for a, b in [(npe, oom), (zero, key)]:
        assert fingerprint(a) != fingerprint(b)
        assert similarity(normalize(a), normalize(b)) < NEAR


def test_a_trace_with_one_frame_more_is_a_near_match():
    rng = random.Random(8)
    base = spark_failure(rng)
    more = spark_failure(rng, extra_frame="com.example.common.Retry.apply(Retry.scala:44)")
    assert fingerprint(base) != fingerprint(more)
    assert similarity(normalize(base), normalize(more)) >= NEAR
    assert set(bands(base)) & set(bands(more))
    shorter = traceback(rng, user=USER[:1] + USER[2:])
    assert fingerprint(traceback(rng)) != fingerprint(shorter)
    assert similarity(normalize(traceback(rng)), normalize(shorter)) >= NEAR
    assert set(bands(traceback(rng))) & set(bands(shorter))


def test_the_last_line_of_a_long_traceback_counts():
    """50 KB of frames: the exception is far below the 4,000 characters of the head, and still decides."""
    rng = random.Random(9)
    zero, key = traceback(rng, repeat=90), traceback(rng, final="KeyError: 'views'", repeat=90)
    assert len(zero) > 45_000
    assert len(normalize(zero)) <= 4000
    assert normalize(zero).endswith("| zerodivisionerror: division by zero")
    assert fingerprint(zero) != fingerprint(key)
    assert fingerprint(zero) == fingerprint(traceback(random.Random(10), repeat=90))


def test_a_text_cut_at_the_intake_limit_keeps_its_shape():
    """The intake keeps MAX_ERROR characters: where the cut falls moves with the length of the ids."""
    long_ones = [spark_failure(random.Random(seed), depth=300) for seed in (1, 2)]
    assert all(len(text) > MAX_ERROR for text in long_ones)
    assert fingerprint(long_ones[0][:MAX_ERROR]) == fingerprint(long_ones[1][:MAX_ERROR]) == fingerprint(long_ones[0])


def test_what_makes_the_error_stays():
    shape = normalize(spark_failure(random.Random(3), depth=12))
    for words in ("org.apache.spark.sparkexception: job aborted due to stage failure", "java.lang.nullpointerexception",
                  "driver stacktrace:", "caused by: java.lang.nullpointerexception", ".licensemapper.", "(sortexec.scala:<n>)"):
        assert words in shape
    assert re.search(r"(?<![a-z])\d", shape) is None  # no number left but in names: codegenstage2, log4j
    assert normalize("NullPointerException") == "nullpointerexception"
    for same in [("spark.driver.maxResultSize exceeded: 4.5 GB", "spark.driver.maxResultSize exceeded: 512 MiB"),
                 ("Task timed out after 30000 ms", "Task timed out after 1h 30m"),
                 ("connect to [2001:db8::8a2e:370:7334]:5432 refused", "connect to [fe80::1]:6432 refused"),
                 ("Connection refused: kafka-2.prod.example.com:9092", "Connection refused: kafka-11.prod.example.com:9093"),
                 ("\x1b[31mERROR\x1b[0m at 02:00:01", "ERROR at 14:31:59.250")]:
        assert normalize(same[0]) == normalize(same[1]), same
    assert normalize("log4j int32 s3a ec2") == "log4j int32 s3a ec2"


@pytest.mark.parametrize("text", [None, "", "   \n\t ", "\x00\x00\x00"])
def test_no_text_has_no_fingerprint_and_no_bands(text):
    assert normalize(text) == ""
    assert fingerprint(text) is None
    assert bands(text) == []


def test_big_texts_and_binary_junk_are_handled_quickly():
    junk = os.urandom(256 * 1024).decode(errors="replace")
    big = spark_failure(random.Random(4), depth=1200)
    one_line = ("x" * 5000 + " 10.0.0.1 ") * 50
    for text in (junk, big, one_line, "\x00" * 1000 + "boom", "\ud800 lone surrogate \x7f\x1b]0;title\x07"):
        started = time.perf_counter()
        shape = normalize(text)
        assert fingerprint(text) and len(bands(text)) == 16
        assert time.perf_counter() - started < 0.5
        assert 0 < len(shape) <= 4000
        assert not any(ord(ch) < 32 for ch in shape)
    assert len(big) > 256 * 1024
    assert fingerprint("\x00" * 300_000 + "boom") is None  # only the first 64 KiB are read, lines up to 2,000


def test_keys_are_the_same_in_every_process():
    """Fingerprints and bands are stored: they must not change with the process, the platform or
    PYTHONHASHSEED (a change of the rules must change _SCHEME, and this test)."""
    text = "java.lang.IllegalStateException: Task 3 in stage 12.0 failed on 10.0.3.17\n\tat a.B.c(B.java:12)"
    assert normalize(text) == "java.lang.illegalstateexception: task <n> in stage <n> failed on <ip> at a.b.c(b.java:<n>)"
    assert fingerprint(text) == "af8e8af07c4757fb3e30"
    assert bands(text)[:2] == ["6c80e30aa258edb9", "fb5fcbdaf56f7422"]


def test_similarity_is_a_score_between_zero_and_one():
    a, b = normalize(traceback(random.Random(1))), normalize(spark_failure(random.Random(1)))
    assert similarity(a, a) == 1.0
    assert 0.0 <= similarity(a, b) < NEAR
    assert similarity(a, b) == similarity(b, a)
    assert similarity("", a) == similarity("", "") == 0.0
