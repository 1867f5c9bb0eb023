"""Error text to the runbook's common issue: realistic Spark, YARN, Kafka, pandas and SQL failures."""

from __future__ import annotations

import pytest

from bot.domain.triage import triage
from tests.helpers_runbook import source

SPARK_NPE = """\
26/11/03 01:12:44 INFO DAGScheduler: ResultStage 7 (save at GrowthJob.scala:88) failed in 12.311 s
26/11/03 01:12:44 ERROR TaskSetManager: Task 3 in stage 7.0 failed 4 times; aborting job
Exception in thread "main" org.apache.spark.SparkException: Job aborted due to stage failure: Task 3 in stage 7.0 failed 4 times, most recent failure: Lost task 3.3 in stage 7.0 (TID 212) (ip-10-0-3-17.ec2.internal executor 4): java.lang.NullPointerException
	at org.apache.spark.sql.catalyst.expressions.GeneratedClass$GeneratedIteratorForCodegenStage2.processNext(Unknown Source)
	at org.apache.spark.sql.execution.BufferedRowIterator.hasNext(BufferedRowIterator.java:43)
	at org.apache.spark.sql.execution.WholeStageCodegenExec$$anon$1.hasNext(WholeStageCodegenExec.scala:760)
	at org.apache.spark.executor.Executor$TaskRunner.run(Executor.scala:551)
	at java.base/java.lang.Thread.run(Thread.java:829)

Driver stacktrace:
	at org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2672)
	at org.apache.spark.scheduler.DAGScheduler.$anonfun$abortStage$2(DAGScheduler.scala:2608)
Caused by: java.lang.NullPointerException: Cannot invoke "String.trim()" because the return value of "org.apache.spark.sql.Row.getString(int)" is null
	at com.example.growth.LicenseMapper.apply(LicenseMapper.scala:31)
	... 15 more
"""

KAFKA_ZERO_ROWS = """\
26/11/03 01:04:10 INFO KafkaSourceProvider: Kafka topic `platform.clicks.v2` partitions: 12
26/11/03 01:04:11 INFO KafkaRelation: GetBatch generating RDD of offset range: KafkaOffsetRange(platform.clicks.v2-0,4410923,4410923,None)
26/11/03 01:04:11 WARN KafkaRelation: Topic platform.clicks.v2 returned no records for the requested range
26/11/03 01:06:52 ERROR EngagementJob: Output check failed: wrote 0 rows to warehouse.engagement_daily for 2026-11-02 (expected > 0)
Traceback (most recent call last):
  File "/opt/jobs/engagement/main.py", line 141, in <module>
    check_output(df, table="warehouse.engagement_daily")
  File "/opt/jobs/engagement/checks.py", line 22, in check_output
    raise EmptyOutputError(f"wrote {count} rows to {table}")
checks.EmptyOutputError: wrote 0 rows to warehouse.engagement_daily
"""

YARN_OOM = """\
26/11/03 01:41:07 WARN YarnAllocator: Container from a bad node: container_1698912345678_0042_01_000017 on host: ip-10-0-5-22.ec2.internal. Exit status: 137. Diagnostics: [2026-11-03 01:41:07.226]Container killed on request. Exit code is 137
26/11/03 01:41:07 ERROR YarnScheduler: Lost executor 17 on ip-10-0-5-22.ec2.internal: Container killed by YARN for exceeding physical memory limits. 11.1 GB of 11 GB physical memory used. Consider boosting spark.executor.memoryOverhead.
26/11/03 01:41:07 WARN TaskSetManager: Lost task 41.0 in stage 3.0 (TID 988) (ip-10-0-5-22.ec2.internal executor 17): ExecutorLostFailure (executor 17 exited caused by one of the running tasks) Reason: Container killed by YARN for exceeding physical memory limits.
"""

JAVA_HEAP = """\
26/11/03 01:52:30 ERROR Executor: Exception in task 12.0 in stage 5.0 (TID 1301)
java.lang.OutOfMemoryError: Java heap space
	at java.base/java.util.Arrays.copyOf(Arrays.java:3745)
	at org.apache.spark.sql.catalyst.expressions.UnsafeRow.copy(UnsafeRow.java:479)
	at org.apache.spark.sql.execution.SortExec.$anonfun$doExecute$1(SortExec.scala:112)
"""

SPARK_DIVIDE_BY_ZERO = """\
Traceback (most recent call last):
  File "/opt/jobs/investors/aggregate.py", line 77, in <module>
    kpis.write.mode("overwrite").saveAsTable("reporting.investor_kpis")
pyspark.errors.exceptions.captured.ArithmeticException: [DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to tolerate divisor being 0 and return NULL instead. If necessary set "spark.sql.ansi.enabled" to "false" to bypass this error. SQLSTATE: 22012
== SQL (line 1, position 8) ==
SELECT revenue / active_accounts AS arpa FROM monthly
       ^^^^^^^^^^^^^^^^^^^^^^^^^
"""

PANDAS_NA = """\
Traceback (most recent call last):
  File "/opt/jobs/investors/kpis.py", line 58, in growth_rate
    if current["accounts"] > previous["accounts"]:
  File "pandas/_libs/missing.pyx", line 392, in pandas._libs.missing.NAType.__bool__
TypeError: boolean value of NA is ambiguous
"""

PANDAS_NAN_CAST = """\
  File "/usr/lib/python3.11/site-packages/pandas/core/dtypes/astype.py", line 101, in _astype_nansafe
    return _astype_float_to_int_nansafe(arr, dtype, copy)
pandas.errors.IntCastingNaNError: Cannot convert non-finite values (NA or inf) to integer
"""

PROFIT_MISMATCH = """\
2026-11-03 02:41:18,004 INFO  reconcile: comparing warehouse.revenue_daily with accounts ledger for 2026-11-02
2026-11-03 02:41:19,562 ERROR reconcile: totals differ: warehouse 1,204,331.17 USD vs ledger 1,203,127.00 USD (delta 1,204.17)
AssertionError: reconciliation failed for 2026-11-02
"""


def match(pipeline, text):
    return triage(source(), pipeline, text)


def test_spark_null_pointer_exception_is_growths_own_issue():
    m = match("growth", SPARK_NPE)
    assert m.title == "Spark task fails with NullPointerException"
    assert m.remediation.startswith("Check upstream")
    assert m.scope == "pipeline"
    assert "NullPointerException" in m.line and m.line.startswith("Exception in thread")
    assert SPARK_NPE.splitlines()[m.line_number - 1].strip() == m.line


def test_kafka_zero_rows_is_engagements_zero_rows():
    m = match("engagement", KAFKA_ZERO_ROWS)
    assert (m.title, m.scope) == ("Zero rows", "pipeline")
    assert "Kafka topics" in m.remediation
    assert "wrote 0 rows" in m.line


@pytest.mark.parametrize("text,needle", [
    (YARN_OOM, "Container killed by YARN for exceeding physical memory limits"),
    (JAVA_HEAP, "java.lang.OutOfMemoryError: Java heap space"),
])
def test_memory_failures_are_engagements_oom_issue(text, needle):
    m = match("engagement", text)
    assert (m.title, m.scope, m.remediation) == ("OOM issue", "pipeline", "Check the partitions for data skew.")
    assert needle in m.line


@pytest.mark.parametrize("text,needle", [
    (SPARK_DIVIDE_BY_ZERO, "[DIVIDE_BY_ZERO] Division by zero"),
    (PANDAS_NA, "boolean value of NA is ambiguous"),
    (PANDAS_NAN_CAST, "non-finite values (NA or inf)"),
    ("ZeroDivisionError: float division by zero", "ZeroDivisionError"),
])
def test_na_and_divide_by_zero_are_investors_issue(text, needle):
    m = match("investors", text)
    assert (m.title, m.scope) == ("Missing data caused by NA or divide by 0", "pipeline")
    assert needle in m.line


@pytest.mark.parametrize("text", [
    PROFIT_MISMATCH,
    "ValueError: revenue numbers don't align with accounts for 2026-11-02",
    "check_accounts: numbers do not match (warehouse=1204331.17, accounts=1203127.00)",
])
def test_accounting_mismatch_is_profits_issue(text):
    m = match("profit", text)
    assert (m.title, m.scope) == ("Numbers don't align with numbers on accounts", "pipeline")
    assert "accountant" in m.remediation


# Team-wide signatures, for pipelines without a matching issue of their own ------------------------

@pytest.mark.parametrize("pipeline,text,title", [
    ("profit", "psycopg2.errors.InsufficientPrivilege: permission denied for table accounts_ledger", "Permission denied"),
    ("growth", "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject operation: Access Denied",
     "Permission denied"),
    ("profit", "java.net.SocketTimeoutException: Read timed out\n\tat java.base/sun.nio.ch.NioSocketImpl.timedRead",
     "Timeout"),
    ("investors", "airflow.exceptions.AirflowTaskTimeout: Timeout, PID: 4242", "Timeout"),
    ("growth", "org.apache.spark.sql.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function "
     "parameter with name `license_tier` cannot be resolved. Did you mean one of the following? [`tier`, `license_id`]",
     "Schema mismatch"),
    ("profit", "Caused by: org.apache.spark.sql.execution.QueryExecutionException: Parquet column cannot be converted "
     "in file s3://lake/revenue/part-0001.parquet. Column: [amount], Expected: decimal(18,2), Found: DOUBLE",
     "Schema mismatch"),
    ("profit", JAVA_HEAP, "Out of memory"),
    ("profit", SPARK_NPE, "Null pointer"),
    ("growth", KAFKA_ZERO_ROWS, "Zero rows"),
    ("experiments", YARN_OOM, "Out of memory"),
    ("no-such-pipeline", SPARK_DIVIDE_BY_ZERO, "Division by zero"),
    (None, "PermissionError: [Errno 13] Permission denied: '/data/exports'", "Permission denied"),
])
def test_team_wide_signatures(pipeline, text, title):
    m = match(pipeline, text)
    assert (m.title, m.scope) == (title, "team")


def test_pipelines_own_issue_wins_over_the_team_signature():
    # Growth's own NPE issue and the team's "Null pointer" both match: Growth's comes first.
    assert match("growth", SPARK_NPE).scope == "pipeline"
    assert match("profit", SPARK_NPE).scope == "team"
    # Engagement's own OOM issue beats the team's "Out of memory".
    assert match("engagement", JAVA_HEAP).title == "OOM issue"
    assert match("growth", JAVA_HEAP).title == "Out of memory"


@pytest.mark.parametrize("text", [
    None,
    "",
    "   \n\t",
    "26/11/03 01:12:44 INFO SparkContext: Successfully stopped SparkContext",
    "py4j.protocol.Py4JJavaError: An error occurred while calling o123.saveAsTable.\n"
    ": org.apache.hadoop.fs.FileAlreadyExistsException: s3://lake/growth/dt=2026-11-02 already exists",
    "KeyError: 'license_status'",
])
def test_no_known_issue_matched(text):
    for pipeline in ("growth", "engagement", "profit", "investors", "experiments"):
        assert match(pipeline, text) is None, (pipeline, text)


def test_matched_line_and_pattern_are_reported():
    text = "step 1 ok\nstep 2 ok\n  wrote 0 rows to warehouse.engagement_daily  \nstep 4 skipped"
    m = match("engagement", text)
    assert m.line == "wrote 0 rows to warehouse.engagement_daily"
    assert m.line_number == 3
    assert m.pattern in source().pipelines["engagement"].common_issues[0].match


def test_matching_ignores_case():
    assert match("growth", "NULLPOINTEREXCEPTION in task 3").title.startswith("Spark task fails")
